"""CLI command: ``multipublish sandbox``, the local emulators of every remote service."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add ``multipublish sandbox`` to ``app``."""

    @app.command("sandbox")
    def sandbox(
        host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
        port: int = typer.Option(8765, help="TCP port (0 picks a free one)."),
        data_dir: Path | None = typer.Option(
            None, help="Where received media is kept (default: a temporary directory)."
        ),
        log_level: str = typer.Option("info", help="uvicorn log level."),
    ) -> None:
        """Serve the upload-post, YouTube and Google OAuth emulators on one port.

        Point the clients at it with MULTIPUBLISH_SANDBOX_URL=http://HOST:PORT; read what was
        published at /_sandbox/posts; arm faults with POST /_sandbox/faults.
        """
        import uvicorn

        from multipublish.sandbox import SandboxState, create_app, free_port

        state = SandboxState(data_dir=data_dir)
        chosen = port or free_port(host)
        typer.echo(f"sandbox listening on http://{host}:{chosen}")
        try:
            uvicorn.run(create_app(state), host=host, port=chosen, log_level=log_level,
                        lifespan="off")
        finally:
            state.close()
