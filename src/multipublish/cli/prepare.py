"""``multipublish prepare`` and ``multipublish thumbnail``: make a video fit, pick its cover.

``prepare FILE --platforms tiktok,instagram:reels [--out DIR] [--trim] [--fit pad|crop|letterbox]
[--json]`` writes one file per distinct target and prints, per platform as given, ``path`` (the
original when nothing needed fixing), ``actions`` and ``valid``. Exit status 0 when every platform
got a valid file, 1 when any could not be fixed (the reason is printed), 2 for a usage error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

_FITS = ("pad", "crop", "letterbox")


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def prepare(
    file: Annotated[Path, typer.Argument(help="The video to prepare.", metavar="FILE", show_default=False)],
    platforms: Annotated[
        str,
        typer.Option(
            "--platforms",
            "-p",
            help="Comma-separated platforms, optionally with a post type (instagram:reels).",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the prepared files (default: the renditions cache)."),
    ] = None,
    trim: Annotated[
        bool, typer.Option("--trim", help="Cut a video longer than a platform's limit to the limit.")
    ] = False,
    fit: Annotated[
        str,
        typer.Option("--fit", help="Reach an accepted aspect ratio by: pad (blurred fill), crop, letterbox."),
    ] = "pad",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Make FILE acceptable to each platform with the least change (remux before re-encode)."""
    from multipublish.catalogue import parse_platform
    from multipublish.errors import MultipublishError, UnknownPlatformError
    from multipublish.manager import PublishingManager
    from multipublish.settings import get_settings

    names = _split(platforms)
    if not names:
        raise typer.BadParameter("give at least one platform", param_hint="--platforms")
    for name in names:
        try:
            parse_platform(name)
        except UnknownPlatformError as exc:
            raise typer.BadParameter(exc.reason, param_hint="--platforms") from None
    if fit not in _FITS:
        raise typer.BadParameter(f"must be one of {', '.join(_FITS)}", param_hint="--fit")
    manager = PublishingManager(get_settings())
    try:
        manager.rules  # noqa: B018 - a broken rules file is a usage error, reported once
    except MultipublishError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None

    console = Console(stderr=True)
    show_progress = not as_json and sys.stderr.isatty()
    shown: dict[str, int] = {}

    def progress(platform: str, fraction: float) -> None:
        step = int(fraction * 10)
        if show_progress and shown.get(platform) != step:
            shown[platform] = step
            console.print(f"{platform}: {fraction:.0%}", highlight=False)

    try:
        result = manager.prepare_video_for_platforms(
            file, names, out_dir=out, trim=trim, fit=fit, progress=progress
        )
    except MultipublishError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        _print_table(file, result)
    raise typer.Exit(0 if all(entry["valid"] for entry in result.values()) else 1)


def _print_table(file: Path, result: dict[str, dict[str, Any]]) -> None:
    table = Table(title=str(file), show_lines=True)
    table.add_column("Platform", style="bold")
    table.add_column("Result")
    table.add_column("Actions")
    table.add_column("File or reason")
    for platform, entry in result.items():
        verdict = Text("valid", style="green") if entry["valid"] else Text("not fixed", "red")
        actions = ", ".join(entry["actions"]) or "none (already valid)"
        table.add_row(platform, verdict, actions, entry.get("error") or entry["path"])
    Console().print(table)


def thumbnail(
    file: Annotated[Path, typer.Argument(help="The video.", metavar="FILE", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="The JPEG to write.", show_default=False)],
    at: Annotated[
        float | None, typer.Option("--at", help="Take the frame at this time (seconds) instead of choosing.")
    ] = None,
    platform: Annotated[
        str, typer.Option("--platform", help="youtube (1280x720 JPEG), tiktok or instagram (cover time).")
    ] = "youtube",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Write a thumbnail of FILE: the sharpest well-exposed frame of its first third, or --at."""
    from multipublish.catalogue import base_platform
    from multipublish.errors import InputError, MultipublishError
    from multipublish.media.thumbnail import PLATFORM_THUMBNAILS, make_thumbnail

    if base_platform(platform) not in PLATFORM_THUMBNAILS:
        known = ", ".join(PLATFORM_THUMBNAILS)
        raise typer.BadParameter(f"no thumbnail for {platform!r} (known: {known})", param_hint="--platform")
    if at is not None and at < 0:
        raise typer.BadParameter("must not be negative", param_hint="--at")
    try:
        result = make_thumbnail(file, out, at=at, platform=platform)
    except (InputError, MultipublishError) as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    line = (
        f"wrote {result['path']} ({result['width']}x{result['height']}, {result['bytes'] / 1024:.0f} KB) "
        f"from the frame at {result['time']:.2f} s"
    )
    if "option" in result:
        line += f"; upload with {result['option']}={result['value']}"
    typer.echo(line)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("prepare")(prepare)
    app.command("thumbnail")(thumbnail)
