"""``multipublish accounts add|list|remove`` and ``multipublish keygen``.

Credentials are given as ``--credential key=value`` (repeatable) or ``--credentials-file`` (a JSON
object); they are checked, encrypted with ``MULTIPUBLISH_SECRET_KEY`` and never printed back in
clear. Exit status: 0 success, 1 the operation failed (not found...), 2 a usage error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from multipublish.cli.accounts_auth import add_auth_command

accounts_app = typer.Typer(
    name="accounts", help="Add, list, check and remove platform accounts.", no_args_is_help=True
)
_err = Console(stderr=True)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Our errors become one clear line and an exit status, never a traceback."""
    from multipublish.errors import ConfigurationError, InputError, MultipublishError

    try:
        yield
    except (InputError, ConfigurationError) as exc:
        _err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    except MultipublishError as exc:
        _err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None


def _manager() -> Any:
    from multipublish.bootstrap import build_service

    return build_service().manager


def _parse_credentials(pairs: list[str], file: Path | None) -> dict[str, Any]:
    from multipublish.errors import InputError

    creds: dict[str, Any] = {}
    if file is not None:
        try:
            loaded = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(
                "--credentials-file", f"cannot read a JSON object: {type(exc).__name__}"
            ) from None
        if not isinstance(loaded, dict):
            raise InputError("--credentials-file", "must hold a JSON object")
        creds.update(loaded)
    inline: set[str] = set()
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError("--credential", f"expected key=value, got {key.strip() or pair!r}")
        creds[key.strip()] = value
        inline.add(key.strip())
    if not creds:
        raise InputError("--credential", "give credentials with --credential key=value or --credentials-file")
    return _absolute_paths(creds, None if file is None else file.parent, inline)


#: Credential fields that name a file or a folder on this machine.
_PATH_FIELDS = ("client_secrets_file", "oauth_storage_dir")


def _absolute_paths(creds: dict[str, Any], file_dir: Path | None, inline: set[str]) -> dict[str, Any]:
    """Paths are stored absolute, so a worker started elsewhere finds the same file: a relative
    path is taken from the current folder (``--credential``) or the credentials file's folder."""
    from multipublish.errors import InputError

    for key in _PATH_FIELDS:
        value = creds.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        path = Path(value.strip()).expanduser()
        if not path.is_absolute():
            base = file_dir if file_dir is not None and key not in inline else Path.cwd()
            path = base / path
        path = path.resolve()
        if key == "client_secrets_file" and not path.is_file():
            raise InputError(f"credentials.{key}", f"no such file: {path}")
        creds[key] = str(path)
    return creds


@accounts_app.command("add")
def add(
    account_id: Annotated[str, typer.Argument(help="Account id (one id may hold several platforms).")],
    platform: Annotated[
        str, typer.Option("--platform", "-p", help="tiktok, instagram, facebook, linkedin, youtube.")
    ],
    credential: Annotated[
        list[str] | None, typer.Option("--credential", "-c", help="key=value (repeatable).")
    ] = None,
    credentials_file: Annotated[
        Path | None, typer.Option("--credentials-file", help="JSON object of credentials.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the stored account as JSON.")] = False,
) -> None:
    """Store (or replace) one platform's credentials under ACCOUNT_ID."""
    with cli_errors():
        creds = _parse_credentials(credential or [], credentials_file)
        view = _manager().add_account(account_id, platform, creds)
    if as_json:
        typer.echo(json.dumps(view, indent=2))
    else:
        typer.echo(f"stored {view['platform']} credentials for account {view['account_id']}")


@accounts_app.command("list")
def list_(
    account_id: Annotated[str | None, typer.Argument(help="Only this account id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List accounts and platforms (credentials masked)."""
    with cli_errors():
        rows = _manager().list_accounts(account_id)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("account", "platform", "credentials", "updated")
    for row in rows:
        creds = ", ".join(f"{k}={v}" for k, v in row["credentials"].items())
        table.add_row(row["account_id"], row["platform"], creds, row["updated_at"] or "")
    Console().print(table if rows else "no accounts")


@accounts_app.command("remove")
def remove(
    account_id: Annotated[str, typer.Argument(help="Account id.")],
    platform: Annotated[
        str | None, typer.Option("--platform", "-p", help="Only this platform (default: all).")
    ] = None,
) -> None:
    """Remove one platform of ACCOUNT_ID, or all of them."""
    with cli_errors():
        count = _manager().remove_account(account_id, platform)
    typer.echo(f"removed {count} platform account(s) of {account_id}")


@accounts_app.command("check")
def check(
    account_id: Annotated[str, typer.Argument(help="Account id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Verify ACCOUNT_ID against its services without uploading (exit 1 when a check fails).

    upload-post: key valid, profile exists, platform connected, plan; YouTube: the token still
    refreshes and opens a channel; both: the quota left.
    """
    import asyncio

    from multipublish.account_check import check_account
    from multipublish.bootstrap import build_service
    from multipublish.usage import UsageStore

    async def run() -> dict[str, Any]:
        service = build_service()
        try:
            usage = UsageStore(service.engine, service.settings)
            return await check_account(service.manager, account_id, usage)
        finally:
            await service.aclose()

    with cli_errors():
        report = asyncio.run(run())
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        for entry in report["platforms"]:
            typer.echo(f"{account_id}/{entry['platform']}: {'ok' if entry['ok'] else 'FAILED'}")
            for item in entry["checks"]:
                typer.echo(f"  {'ok  ' if item['ok'] else 'FAIL'} {item['name']}: {item['detail']}")
    if not report["ok"]:
        raise typer.Exit(1)


def keygen() -> None:
    """Print a new Fernet key for MULTIPUBLISH_SECRET_KEY (credential encryption)."""
    from cryptography.fernet import Fernet

    typer.echo(Fernet.generate_key().decode())


# -- `multipublish accounts auth ID` (YouTube consent flow) ----------------------------------------
# Lives in cli/accounts_auth.py (the YouTube client's side); registered on this group here.
add_auth_command(accounts_app)


def register(app: typer.Typer) -> None:
    """Add ``accounts`` and ``keygen`` to ``app``."""
    app.add_typer(accounts_app, name="accounts")
    app.command("keygen")(keygen)
