"""CLI commands of the service: ``serve``, ``tokens create|list|revoke``, ``schedule``, ``db upgrade``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from multipublish.errors import MultipublishError
from multipublish.settings import Settings, get_settings

if TYPE_CHECKING:
    from multipublish.bootstrap import Service

tokens_app = typer.Typer(help="API tokens for the REST API and the dashboard.", no_args_is_help=True)
db_app = typer.Typer(help="The project database.", no_args_is_help=True)


def _fail(exc: MultipublishError, code: int | None = None) -> typer.Exit:
    """Print the one-line error; exit 2 for a usage or configuration error, else 1 (README)."""
    from multipublish.errors import ConfigurationError, InputError

    typer.echo(f"error: {exc.message}", err=True)
    if code is None:
        code = 2 if isinstance(exc, InputError | ConfigurationError) else 1
    return typer.Exit(code)


def _where(settings: Settings) -> str:
    """The database the settings name, as a user can compare it (password hidden)."""
    from multipublish.db.engine import parse_database_url

    return f"database {parse_database_url(settings.database_url).render_as_string(hide_password=True)}"


def _service(settings: Settings) -> Service:
    from multipublish.bootstrap import build_service

    return build_service(settings)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    sandbox: Annotated[
        bool, typer.Option("--sandbox", help="Also run the sandbox platforms and publish to them.")
    ] = False,
    no_workers: Annotated[
        bool, typer.Option("--no-workers", help="API and dashboard only (no queue workers).")
    ] = False,
    workers: Annotated[int, typer.Option(help="Concurrent queue workers.")] = 4,
) -> None:
    """Run the REST API, the queue workers and the dashboard in one process."""
    from multipublish.api import create_app
    from multipublish.bootstrap import build_service
    from multipublish.cli.listen import bind, run
    from multipublish.errors import InputError
    from multipublish.logging import configure_logging

    settings = get_settings()
    configure_logging(settings)
    try:
        sock = bind(host, port)
    except InputError as exc:
        raise _fail(exc, 2) from None
    server = None
    if sandbox:
        from multipublish.sandbox import SandboxServer

        server = SandboxServer().start()
        settings.sandbox_url = server.url
        typer.echo(f"sandbox platforms: {server.url}", err=True)
    try:
        try:
            service = build_service(settings)
        except MultipublishError as exc:
            raise _fail(exc) from None
        app = create_app(service, start_workers=not no_workers, workers=workers)
        if not service.tokens.has_active():
            typer.echo(
                "no API token yet: create one with `multipublish tokens create --name admin`",
                err=True,
            )
        typer.echo(f"{_where(settings)} (tokens from `multipublish tokens create` on it)", err=True)
        typer.echo(f"multipublish: http://{host}:{port}/ (API docs at /docs)", err=True)
        # A keep-alive longer than the default 5 s: under load the loop may read a pending request
        # only after that timer fired, and the client would see its connection dropped.
        run(app, sock, timeout_keep_alive=30)
    finally:
        sock.close()
        if server is not None:
            server.stop()


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Option("--name", help="Who or what uses this token.")],
) -> None:
    """Create a token and print it (only the token, on standard output). It is shown once."""
    settings = get_settings()
    try:
        token, _info = _service(settings).tokens.create(name)
    except MultipublishError as exc:
        raise _fail(exc) from None
    typer.echo(token)
    # A token is valid for the server that reads this database only (the demo keeps its own).
    typer.echo(f"token stored in {_where(settings)}; a server on another database refuses it", err=True)


@tokens_app.command("list")
def tokens_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List tokens (names and prefixes; the tokens themselves are not stored)."""
    tokens = _service(get_settings()).tokens.list()
    if as_json:
        typer.echo(json.dumps([t.to_dict() for t in tokens], indent=2))
        return
    if not tokens:
        typer.echo("no tokens")
        return
    for t in tokens:
        state = "active" if t.active else f"revoked {t.revoked_at:%Y-%m-%d %H:%M}"
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        typer.echo(f"{t.id:>4}  {t.name:<24} {t.prefix}…  created {t.created_at:%Y-%m-%d %H:%M}"
                   f"  used {used}  {state}")


@tokens_app.command("revoke")
def tokens_revoke(
    token: Annotated[str, typer.Argument(help="Token id or name (every active token of it).")],
) -> None:
    """Revoke tokens by id or name; requests with them are refused from now on."""
    try:
        count = _service(get_settings()).tokens.revoke(token)
    except MultipublishError as exc:
        raise _fail(exc) from None
    typer.echo(f"revoked {count} token(s)")


def schedule(
    plan: Annotated[
        Path, typer.Option("--from", help="A plan: .csv (one row per job) or .json (a list).")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check the plan; add nothing.")] = False,
    validate: Annotated[
        bool, typer.Option("--validate/--no-validate", help="Check videos against platform rules.")
    ] = True,
) -> None:
    """Schedule every job of a plan file: all of them are added, or none (errors name the row).

    A CSV plan has a header row and one job per row, rows numbered from 1. Separated by ',' or
    ';' (a UTF-8 byte-order mark, as Excel writes, is fine). Columns: account_id, platforms and
    video_path (required); title, description, tags, scheduled_time (ISO-8601, e.g.
    2026-11-07T10:00:00Z; empty: as soon as possible), priority (1-10, default 5), max_retries
    (0-100), retry_delay (seconds; default MULTIPUBLISH_RETRY_BASE_DELAY), webhook_url,
    thumbnail_path ('auto': a picked frame), auto_fix (true/false: prepare what a platform
    refuses), platform_specific and callback_data (JSON objects), job_id. Lists (platforms, tags)
    are separated by ';' in a ','-separated file and by ',' in a ';'-separated one. A relative
    video_path is relative to the plan file. A JSON plan is a list of objects with the same fields.
    """
    from multipublish.errors import InputError
    from multipublish.media.remote import video_url_of
    from multipublish.scheduling import prepare, read_plan, schedule_batch

    settings = get_settings()
    try:
        if not plan.is_file():
            raise InputError("--from", f"no such file: {plan}")
        items = read_plan(plan)
        for item in items:  # relative paths are relative to the plan file
            if not video_url_of(item.video_path) and not Path(item.video_path).is_absolute():
                item.video_path = str((plan.parent / item.video_path).resolve())
            if item.thumbnail_path not in (None, "", "auto") and not Path(item.thumbnail_path).is_absolute():
                item.thumbnail_path = str((plan.parent / item.thumbnail_path).resolve())
        service = _service(settings)
        manager = service.manager
        if dry_run:
            for i, item in enumerate(items):
                try:
                    prepare(item, None, manager, validate=validate)
                except InputError as exc:
                    raise InputError(f"row {i + 1}: {exc.field}", exc.reason) from None
            typer.echo(f"plan OK: {len(items)} job(s)")
            return
        jobs = schedule_batch(
            items,
            roots=None,
            manager=manager,
            queue=service.queue,
            field_prefix="row",
            validate=validate,
        )
    except InputError as exc:
        raise _fail(exc, 2) from None
    except MultipublishError as exc:
        raise _fail(exc) from None
    for job in jobs:
        when = job.scheduled_time.isoformat() if job.scheduled_time else "now"
        typer.echo(f"{job.id}\t{job.status}\t{when}\t{','.join(job.platforms)}")


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply the database migrations (SQLite or PostgreSQL, from MULTIPUBLISH_DATABASE_URL)."""
    from multipublish.db import make_engine
    from multipublish.db.engine import upgrade

    settings = get_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine, revision)
    engine.dispose()
    typer.echo(f"database upgraded to {revision}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("serve")(serve)
    app.command("schedule")(schedule)
    app.add_typer(tokens_app, name="tokens")
    app.add_typer(db_app, name="db")
