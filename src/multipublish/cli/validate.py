"""``multipublish validate FILE... --platforms tiktok,instagram``: will the platforms take it?

Prints a table per file (or, with ``--json``, ``{file: {platform: report}}``). Exit status 0 when
every file is valid for every platform, 1 when any is not, 2 on a usage error. A file that cannot
be read is reported like any other verdict; the other files are still checked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from multipublish.platforms.base import PLATFORMS


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def validate(
    files: Annotated[
        list[Path], typer.Argument(help="Video files to check.", metavar="FILE...", show_default=False)
    ],
    platforms: Annotated[
        str,
        typer.Option(
            "--platforms",
            "-p",
            help="Comma-separated platforms, optionally with a post type (instagram:stories).",
        ),
    ] = ",".join(PLATFORMS),
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    title: Annotated[str | None, typer.Option(help="Also check this title.")] = None,
    description: Annotated[str | None, typer.Option(help="Also check this description.")] = None,
    tags: Annotated[str | None, typer.Option(help="Also check these comma-separated tags.")] = None,
    rules: Annotated[
        Path | None, typer.Option(help="Rules file (overrides MULTIPUBLISH_RULES_FILE).")
    ] = None,
) -> None:
    """Check video files against each platform's rules (duration, size, format, text...)."""
    from multipublish.errors import MultipublishError
    from multipublish.manager import PublishingManager
    from multipublish.platforms.base import PublishConfig
    from multipublish.settings import get_settings

    names = _split(platforms)
    if not names:
        raise typer.BadParameter("give at least one platform", param_hint="--platforms")
    config = None
    if title is not None or description is not None or tags is not None:
        config = PublishConfig(title=title or "", description=description or "", tags=_split(tags or ""))
    settings = get_settings()
    if rules is not None:
        settings.rules_file = rules
    manager = PublishingManager(settings)
    try:
        manager.rules  # noqa: B018 - load the rules file once, reporting its errors as usage errors
    except MultipublishError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None

    results: dict[str, dict[str, dict[str, Any]]] = {}
    for file in files:
        results[str(file)] = manager.validate_video_for_platforms(file, names, config=config)
    all_valid = all(entry["valid"] for report in results.values() for entry in report.values())
    if as_json:
        typer.echo(json.dumps(results, indent=2, ensure_ascii=False))
    else:
        _print_tables(results)
    raise typer.Exit(0 if all_valid else 1)


def _print_tables(results: dict[str, dict[str, dict[str, Any]]]) -> None:
    console = Console()
    for file, report in results.items():
        media = next((e["media"] for e in report.values() if e.get("media")), None)
        table = Table(title=f"{file}", caption=_media_summary(media), show_lines=True)
        table.add_column("Platform", style="bold")
        table.add_column("Verdict")
        table.add_column("Errors")
        table.add_column("Warnings")
        for platform, entry in report.items():
            verdict = Text("valid", style="green") if entry["valid"] else Text("invalid", "red")
            table.add_row(platform, verdict, "\n".join(entry["errors"]), "\n".join(entry["warnings"]))
        console.print(table)


def _media_summary(media: dict[str, Any] | None) -> str:
    if not media:
        return "not a readable video"
    audio = media.get("audio_codec") or "no audio"
    return (
        f"{str(media['container']).upper()} · {media['width']}x{media['height']} · "
        f"{media['duration']:.1f} s · {media['video_codec']}/{audio} · "
        f"{media['frame_rate']:.3g} fps · {media['size'] / 1e6:.3g} MB"
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("validate")(validate)
