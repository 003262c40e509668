"""CLI command: ``multipublish mcp``, the MCP server over stdio for a local AI assistant."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add ``multipublish mcp`` to ``app``."""

    @app.command("mcp")
    def mcp() -> None:
        """Serve the MCP tools (validate, publish, schedule, jobs, stats, accounts) over stdio.

        Standard output carries the protocol; logs go to standard error. The same tools are served
        over streamable HTTP at /mcp by `multipublish serve`, behind the API token.
        """
        from multipublish.bootstrap import build_service
        from multipublish.logging import configure_logging
        from multipublish.mcp_server import run_stdio
        from multipublish.settings import get_settings

        settings = get_settings()
        configure_logging(settings)  # before the SDK's own basicConfig, so ours wins
        run_stdio(build_service(settings))
