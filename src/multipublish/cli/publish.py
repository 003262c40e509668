"""``multipublish publish FILE|URL --account A --platforms tiktok,youtube --title ...``.

Publishes now, to every platform at once, with a progress bar per platform and a result table (or
``--json``). Exit status: 0 every platform published, 1 any failed or is unknown, 2 a usage error.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from multipublish.cli.accounts import cli_errors


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def parse_options(items: list[str]) -> dict[str, dict[str, Any]]:
    """``tiktok.privacy=public`` -> ``{"tiktok": {"privacy": "public"}}`` (JSON for ``[``/``{``)."""
    from multipublish.errors import InputError

    options: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        platform, dot, name = key.strip().partition(".")
        if not sep or not dot or not platform or not name:
            raise InputError("--option", f"expected platform.option=value, got {item!r}")
        value: Any = raw
        if raw.strip()[:1] in ("[", "{"):
            try:
                value = json.loads(raw)
            except ValueError:
                raise InputError(f"--option {key}", "value looks like JSON but does not parse") from None
        options.setdefault(platform.lower(), {})[name] = value
    return options


def publish(
    file: Annotated[
        str,
        typer.Argument(
            help="Video file to publish, or an http(s):// URL upload-post fetches (not YouTube).",
            metavar="FILE|URL",
            show_default=False,
        ),
    ],
    account: Annotated[str, typer.Option("--account", "-a", help="Account id.")],
    platforms: Annotated[
        str, typer.Option("--platforms", "-p", help="Comma-separated, e.g. tiktok,instagram:stories.")
    ],
    title: Annotated[str, typer.Option(help="Title / caption.")] = "",
    description: Annotated[str, typer.Option(help="Description.")] = "",
    tags: Annotated[str | None, typer.Option(help="Comma-separated tags.")] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option", "-o", help="platform.option=value (repeatable), e.g. tiktok.privacy=public."
        ),
    ] = None,
    thumbnail: Annotated[
        str | None, typer.Option(help="Custom thumbnail (YouTube): an image, or 'auto' to pick a frame.")
    ] = None,
    schedule: Annotated[
        str | None, typer.Option(help="Native scheduling time, ISO-8601 (not LinkedIn: use the queue).")
    ] = None,
    no_validate: Annotated[bool, typer.Option("--no-validate", help="Skip validation.")] = False,
    auto_fix: Annotated[
        bool,
        typer.Option("--auto-fix", help="Fix what a platform refuses (reframe, remux, re-encode) first."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Publish FILE (or a video URL) to one or more platforms of one account, now."""
    from multipublish.errors import InputError
    from multipublish.platforms.base import PublishConfig

    with cli_errors():
        names = _split(platforms)
        if not names:
            raise InputError("--platforms", "give at least one platform")
        when = None
        if schedule:
            try:
                when = datetime.fromisoformat(schedule.replace("Z", "+00:00"))
            except ValueError:
                raise InputError("--schedule", f"not an ISO-8601 date-time: {schedule!r}") from None
        config = PublishConfig(
            title=title,
            description=description,
            tags=_split(tags),
            platform_specific=parse_options(option or []),
            thumbnail_path=str(thumbnail) if thumbnail else None,
            scheduled_time=when,
            auto_fix=auto_fix,
        )
        results = asyncio.run(_run(file, account, names, config, quiet=as_json, validate=not no_validate))
    if as_json:
        typer.echo(json.dumps({p: r.to_dict() for p, r in results.items()}, indent=2))
    else:
        _print_table(results)
    if not all(r.success for r in results.values()):
        raise typer.Exit(1)


async def _run(
    file: str, account: str, names: list[str], config: Any, *, quiet: bool, validate: bool
) -> dict[str, Any]:
    from multipublish.bootstrap import build_service
    from multipublish.media.remote import video_url_of

    manager = build_service().manager
    progress = Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
        disable=quiet,
    )
    source: str | Path = file if video_url_of(file) else Path(file)
    size = source.stat().st_size if isinstance(source, Path) and source.is_file() else 0
    tasks = {name.strip().lower(): progress.add_task(name.strip().lower(), total=size) for name in names}

    def on_progress(platform: str, sent: int, total: int) -> None:
        task = tasks.get(platform)
        if task is not None:
            progress.update(task, completed=sent, total=total)

    try:
        with progress:
            return await manager.publish_multi_platform(
                account, names, source, config, progress=on_progress, validate=validate
            )
    finally:
        await manager.aclose()


def _print_table(results: dict[str, Any]) -> None:
    table = Table("platform", "status", "video", "error")
    for platform, result in results.items():
        style = "green" if result.success else ("yellow" if result.status == "unknown" else "red")
        error = escape(f"[{result.error_kind}] {result.error}") if result.error else ""
        if result.reference and result.status == "unknown":
            error += f" (reference {result.reference})"
        table.add_row(
            platform,
            f"[{style}]{result.status}[/{style}]",
            escape(result.url or result.video_id or ""),
            error,
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add ``publish`` to ``app``."""
    app.command("publish")(publish)
