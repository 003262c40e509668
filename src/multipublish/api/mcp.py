"""The MCP tools over streamable HTTP at ``/mcp``, behind the API's bearer token.

The SDK's session manager serves the protocol; this module only puts our token check in front of it
(the same tokens as the REST API: ``multipublish tokens create``) and hands the app its lifespan.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from multipublish.api.errors import error_body

if TYPE_CHECKING:
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

    from multipublish.api.deps import ServiceState

PATH = "/mcp"


class _Guarded:
    """ASGI app: 401 without an active API token, else the MCP session manager."""

    def __init__(self, state: ServiceState, sessions: StreamableHTTPSessionManager) -> None:
        self.state = state
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scheme, _, token = Request(scope).headers.get("authorization", "").partition(" ")
        info = None
        if scheme.lower() == "bearer" and token.strip():
            info = await run_in_threadpool(self.state.tokens.verify, token.strip())
        if info is None:
            refused = JSONResponse(
                error_body("unauthorized", "a valid API token is required (Authorization: Bearer <token>)"),
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await refused(scope, receive, send)
            return
        await self.sessions.handle_request(scope, receive, send)


def mount_mcp(app: FastAPI, state: ServiceState) -> AbstractAsyncContextManager[None]:
    """Serve the tools at ``/mcp`` on ``app``; returns the context the app's lifespan must enter."""
    from multipublish.mcp_server import build_mcp

    server = build_mcp(state.service, roots=state.settings.media_root_paths())
    # Stateless and JSON answers: any API node can answer any request (no sticky sessions).
    server.streamable_http_app(streamable_http_path=PATH, stateless_http=True, json_response=True)
    sessions = server.session_manager
    app.router.routes.append(
        Route(PATH, endpoint=_Guarded(state, sessions), methods=["GET", "POST", "DELETE"],
              include_in_schema=False)
    )
    return sessions.run()
