"""The ``multipublish`` command: one Typer app, one module per command group.

Each module exposes ``register(app)``; this file only wires them, so no module knows everything.
Exit status: 0 success, 1 a verdict or operation failed, 2 a usage error.
"""

from __future__ import annotations

import importlib

import typer

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
    "insights",  # multipublish insights [collect] ; best-times
)

for _name in _COMMAND_MODULES:
    importlib.import_module(f"multipublish.cli.{_name}").register(app)


def main() -> None:
    """Console-script entry point."""
    app()
