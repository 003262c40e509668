"""Small helpers shared by the emulators (never by the production clients)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from multipublish.sandbox.state import SandboxState
from multipublish.sandbox.wire import DropConnection


def state_of(request: Request) -> SandboxState:
    """The app's sandbox state."""
    state: SandboxState = request.app.state.sandbox
    return state


def iso(ts: float) -> str:
    """RFC 3339 UTC timestamp with a ``Z``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


async def slow_down(seconds: float) -> None:
    """The ``slow`` fault: hold the response back."""
    await asyncio.sleep(max(0.0, seconds))


async def drain(request: Request) -> int:
    """Read and discard the rest of a request body, so an early answer reaches the client."""
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
    except ClientDisconnect:
        raise DropConnection from None
    return size


def content_length(request: Request) -> int:
    """The declared body size (0 when absent or not a number; the server checks the framing)."""
    raw = request.headers.get("content-length", "")
    return int(raw) if raw.isdigit() else 0
