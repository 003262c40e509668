"""Wire-level tricks the emulators need: dropping a connection without any response.

An ASGI app cannot close its socket: uvicorn answers 500 when the app raises before starting a
response. So a handler raises ``DropConnection`` (a ``BaseException``, so Starlette's error
middleware lets it through untouched), and ``ConnectionDropper``, the outermost layer, aborts the
transport that uvicorn's ``receive`` callable is bound to. The client sees the socket reset or closed
with no status line (httpx: ``RemoteProtocolError``/``ReadError``/``WriteError``), exactly like a
proxy dying mid-upload. If the transport cannot be found (another server), the layer falls back to
starting a response and raising, which makes uvicorn close the socket with the body incomplete.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class DropConnection(BaseException):
    """Raised by a handler to close the client's connection without answering."""


def _transport(receive: Receive) -> asyncio.BaseTransport | None:
    owner: Any = getattr(receive, "__self__", None)
    transport = getattr(owner, "transport", None)
    if isinstance(transport, asyncio.BaseTransport):
        return transport
    return None


class ConnectionDropper:
    """Outermost ASGI layer turning ``DropConnection`` into an aborted TCP connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except DropConnection:
            transport = _transport(receive)
            if transport is not None and hasattr(transport, "abort"):
                transport.abort()
                # Let the server's connection_lost run, so it marks the cycle disconnected and
                # sends nothing (no 500) for a response that never started.
                for _ in range(3):
                    await asyncio.sleep(0)
                return
            if not started:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [(b"content-length", b"1000")],
                    }
                )
            raise RuntimeError("sandbox dropped the connection") from None
