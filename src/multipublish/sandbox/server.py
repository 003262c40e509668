"""The sandbox app factory, and a uvicorn server in a background thread for tests and ``serve``."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from multipublish.sandbox import audience, control, upload_post, youtube
from multipublish.sandbox.state import SandboxState
from multipublish.sandbox.wire import ConnectionDropper


def create_app(
    state: SandboxState | None = None,
    *,
    data_dir: Path | None = None,
    clock: Callable[[], float] = time.time,
) -> ASGIApp:
    """One ASGI app serving every emulator under the real services' paths.

    ``/api/...`` upload-post, ``/upload/youtube/v3/...`` and ``/youtube/v3/...`` YouTube, ``/token``
    Google OAuth, ``/_sandbox/...`` control. The state is reachable as ``app.state.sandbox`` of the
    inner Starlette app and as the returned app's ``sandbox`` attribute.
    """
    sandbox = state if state is not None else SandboxState(data_dir=data_dir, clock=clock)
    # audience first: it adds statistics to videos.list and the analytics calls (hidden audiences).
    inner = Starlette(routes=[*control.routes, *audience.routes, *upload_post.routes, *youtube.routes])
    inner.state.sandbox = sandbox
    app = ConnectionDropper(inner)
    app.sandbox = sandbox  # type: ignore[attr-defined]
    return app


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class SandboxServer:
    """All emulators on one port, served by uvicorn in a daemon thread.

    ``with SandboxServer() as sb: sb.url`` -> ``http://127.0.0.1:PORT``; ``stop()`` shuts it down.
    ``http`` picks uvicorn's HTTP implementation (``auto``, ``httptools`` or ``h11``); ``clock``
    (epoch seconds) drives token expiry, schedules and quota months, so tests can move time.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        data_dir: Path | None = None,
        log_level: str = "warning",
        http: str = "auto",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.state = SandboxState(data_dir=data_dir, clock=clock)
        self.app = create_app(self.state)
        config = uvicorn.Config(
            self.app,
            host=host,
            port=self.port,
            log_level=log_level,
            access_log=False,
            http=http,
            lifespan="off",
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> SandboxServer:
        """Start serving; returns once the socket accepts connections."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._server.run, name="sandbox", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"sandbox server failed to start on {self.url}")
            time.sleep(0.01)
        return self

    def reset(self) -> None:
        """Forget posts, faults, sessions, tokens, usage and config (as ``DELETE /_sandbox/posts``)."""
        self.state.reset()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and remove received files."""
        if self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout)
            self._thread = None
        self.state.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
