"""The ``multipublish`` command: one Typer app, one module per command group.

Each module exposes ``register(app)``; this file only wires them, so no module knows everything.
Exit status: 0 success, 1 a verdict or operation failed, 2 a usage error.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from multipublish import __version__

app = typer.Typer(
    name="multipublish",
    help="Publish one video to TikTok, Instagram, Facebook, LinkedIn and YouTube.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

_COMMAND_MODULES = (
    "validate",  # multipublish validate FILE... --platforms ...
    "demo",  # multipublish demo: the embedded default end to end
    "accounts",  # multipublish accounts add|list|remove|auth
    "publish",  # multipublish publish FILE --account A --platforms ...
    "sandbox",  # multipublish sandbox --host --port
    "jobs",  # multipublish jobs list|show ; worker
    "serve",  # multipublish serve ; tokens ; schedule ; db
    "report",  # multipublish report
    "mcp_server",  # multipublish mcp: the MCP tools over stdio
    "insights",  # multipublish insights [collect] ; best-times
    "prepare",  # multipublish prepare FILE --platforms ... ; thumbnail FILE --out FILE.jpg
)



def _version(value: bool) -> None:
    if value:
        typer.echo(f"multipublish {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Publish one video to TikTok, Instagram, Facebook, LinkedIn and YouTube."""


for _name in _COMMAND_MODULES:
    importlib.import_module(f"multipublish.cli.{_name}").register(app)


def main() -> None:
    """Console-script entry point: a user sees one line naming the problem, never a traceback.

    Commands word their own errors; this is the net for what escapes them (a database that is down
    when a command first opens it, say). ``MULTIPUBLISH_TRACEBACK=1`` shows the traceback.
    """
    try:
        app()
    except Exception as exc:
        if os.environ.get("MULTIPUBLISH_TRACEBACK") == "1":
            raise
        message, code = _one_line(exc)
        print(f"error: {message}", file=sys.stderr)
        sys.exit(code)


def _one_line(exc: Exception) -> tuple[str, int]:
    """The user's line for an escaped exception and the exit status (README: 1 failed, 2 usage)."""
    from sqlalchemy import exc as sa_exc

    from multipublish.errors import ConfigurationError, InputError, MultipublishError

    if isinstance(exc, InputError | ConfigurationError):
        return exc.message, 2
    if isinstance(exc, MultipublishError):
        return exc.message, 1
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        from multipublish.db import make_engine
        from multipublish.db.engine import unreachable
        from multipublish.settings import get_settings

        return unreachable(make_engine(get_settings().database_url), exc).message, 1
    return (
        f"unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
        "(please report it; MULTIPUBLISH_TRACEBACK=1 shows where)",
        1,
    )
