"""Serving an ASGI app from the CLI: bind the port first, then say where we listen.

Binding before uvicorn starts turns "address already in use" into one line naming the port and the
fix, and the "listening on" line is printed only once it is true.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

from multipublish.errors import InputError


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, or ``InputError`` naming the option to change."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise InputError("--host", f"{host!r} is not an address of this machine") from None
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise InputError(
                "--port",
                f"{host}:{port} is already in use by another program; stop it or choose "
                "another port with --port",
            ) from None
        if exc.errno == errno.EACCES:
            raise InputError("--port", f"not allowed to listen on port {port}; use one above 1023") from None
        raise InputError("--host", f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def run(app: Any, sock: socket.socket, **options: Any) -> None:
    """Serve ``app`` on the bound ``sock`` until interrupted (uvicorn, the project's logging)."""
    import uvicorn

    config = uvicorn.Config(app, log_config=None, proxy_headers=False, **options)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
