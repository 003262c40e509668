"""The outermost guard of the HTTP face: body size caps and a last answer for unexpected errors.

A pure ASGI middleware (not ``BaseHTTPMiddleware``: that one would buffer and re-raise):

* **Size caps, before reading.** A declared ``Content-Length`` above the cap of its route (JSON
  bodies: ``max_json_body_bytes``; uploads: ``max_upload_bytes`` and the free disk space) is answered
  413 at once, the body unread, with ``Connection: close`` (draining gigabytes to keep the connection
  would cost more than a new one). A chunked body is counted as it streams and refused the moment
  it passes the cap.
* **A busy database** (a transient error left after the stores' own retries) is a 503 with
  ``Retry-After``, not a 500: the request changed nothing (its transaction rolled back).
* **Unexpected errors.** Starlette's outermost error middleware answers a bug with a 500 and then
  re-raises it, and uvicorn closes a connection whose application raised, without a
  ``Connection: close``: the client's next request on that keep-alive connection is lost. Here the
  error is logged with an id, answered as a 500 carrying that id, and not re-raised, so the
  connection stays usable.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from multipublish.db.retry import is_transient

log = logging.getLogger("multipublish.api")

#: Routes whose body is a video stream (the upload cap applies): the upload route and everything
#: under it (resumable upload chunks).
UPLOAD_PREFIX = "/api/publishing/uploads"


def is_upload(path: str) -> bool:
    return path == UPLOAD_PREFIX or path.startswith(UPLOAD_PREFIX + "/")
#: Room left on the disk after an upload (the database and logs need some too).
DISK_MARGIN = 64 * 1024 * 1024


class BodyTooLarge(HTTPException):
    """A body passed its cap while streaming (raised from ``receive``; FastAPI lets it through)."""

    def __init__(self, limit: int, setting: str) -> None:
        super().__init__(
            413,
            f"request body larger than {human_bytes(limit)} (the limit is {setting})",
            headers={"Connection": "close"},
        )


def human_bytes(n: int) -> str:
    """``1 MiB``, ``256 GiB``: a size for a message."""
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "bytes" or value == int(value) else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} bytes"  # pragma: no cover


def error_id() -> str:
    """A short id that ties a 500 answer to its line in the server log."""
    return uuid.uuid4().hex[:16]


def internal_error_body(ident: str) -> dict[str, Any]:
    from multipublish.api.errors import error_body

    return error_body(
        "internal",
        f"internal server error (error id {ident}; the server log has the details)",
        details={"error_id": ident},
    )


def busy_body(ident: str) -> dict[str, Any]:
    from multipublish.api.errors import error_body

    return error_body(
        "busy",
        f"the database is busy; nothing was changed, retry in a second (error id {ident})",
        details={"error_id": ident},
    )


class RequestGuard:
    """Size caps and the 500 answer (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        json_limit: int,
        upload_limit: int,
        upload_dir: Callable[[], Path | None] = lambda: None,
    ) -> None:
        self.app = app
        self.json_limit = json_limit
        self.upload_limit = upload_limit
        self.upload_dir = upload_dir

    def _limit(self, scope: Scope) -> tuple[int, str]:
        if is_upload(str(scope.get("path", ""))):
            return self.upload_limit, "MULTIPUBLISH_MAX_UPLOAD_BYTES"
        return self.json_limit, "MULTIPUBLISH_MAX_JSON_BODY_BYTES"

    def _free_space(self) -> int | None:
        try:
            directory = self.upload_dir()
            return None if directory is None else shutil.disk_usage(directory).free - DISK_MARGIN
        except OSError:
            return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self._limit(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, 413, f"request body of {human_bytes(declared)} is larger than "
                          f"{human_bytes(limit)} (the limit is {setting})")
            return
        if declared is not None and is_upload(str(scope.get("path", ""))):
            free = self._free_space()
            if free is not None and declared > free:
                await _refuse(send, 413, f"request body of {human_bytes(declared)} does not fit in "
                              f"the {human_bytes(max(free, 0))} free on the server's disk")
                return
        seen = 0

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit, setting)
            return message

        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except ClientDisconnect:
            # The client stopped sending halfway: nobody is left to answer; the route cleaned up.
            log.info("client went away mid-request: %s %s", scope.get("method"), scope.get("path"))
        except Exception as exc:
            ident = error_id()
            if is_transient(exc) and not started:
                # A database busy beyond its retries is a wait, not a bug: 503 with Retry-After.
                log.warning(
                    "database busy (%s) on %s %s: answered 503", ident, scope.get("method"),
                    scope.get("path"),
                )
                await _send_json(send, 503, busy_body(ident), close=False, retry_after=1)
                return
            log.exception(
                "unhandled error %s on %s %s", ident, scope.get("method"), scope.get("path")
            )
            if started:  # half an answer is out: only closing the connection can tell the client
                raise
            await _send_json(send, 500, internal_error_body(ident), close=False)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, status: int, message: str) -> None:
    from multipublish.api.errors import error_body

    body = error_body("payload_too_large", message, field="body", reason=message)
    await _send_json(send, status, body, close=True)


async def _send_json(
    send: Send, status: int, body: dict[str, Any], *, close: bool, retry_after: int | None = None
) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


__all__ = ["BodyTooLarge", "RequestGuard", "error_id", "human_bytes", "internal_error_body"]
