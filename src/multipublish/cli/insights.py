"""``multipublish insights``: how the published posts did; ``multipublish best-times``: when to post.

``insights [--account A] [--platform P] [--since 30d] [--format table|json|csv]`` shows, per account
and platform, mean views at 1 h, 24 h and 7 d, engagement rate, best and worst posts and the weekly
trend (CSV: one row per post). ``insights collect`` runs collection rounds now (``--loop`` keeps
going; workers started by ``serve`` and ``worker`` collect by themselves). Exit 0; 2 on a usage error.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

insights_app = typer.Typer(
    help="Views, engagement and trends of published posts; collection of their metrics.",
    invoke_without_command=True,
    no_args_is_help=False,
)


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _engine_settings() -> tuple[Any, Any]:
    from multipublish.db import ensure_schema, make_engine
    from multipublish.settings import get_settings

    settings = get_settings()
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    return engine, settings


def _n(value: Any, pct: bool = False) -> str:
    if value is None:
        return "-"
    if pct:
        return f"{100.0 * float(value):.2f}%"
    return f"{float(value):,.0f}" if isinstance(value, float) else str(value)


@insights_app.callback()
def insights(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Option("--account", help="Only this account.")] = None,
    platform: Annotated[str | None, typer.Option("--platform", help="Only this platform.")] = None,
    since: Annotated[str, typer.Option("--since", help="Window: 30d, 12h, 2w or an ISO date.")] = "30d",
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table, json or csv.")] = Format.table,
) -> None:
    """Views at 1 h / 24 h / 7 d, engagement rate, best and worst posts, weekly trend."""
    if ctx.invoked_subcommand is not None:
        return
    from multipublish.errors import InputError
    from multipublish.insights.report import build_insights, insights_csv
    from multipublish.platforms.base import parse_platform
    from multipublish.usage.analytics import parse_since
    from multipublish.usage.export import to_json

    now = datetime.now(UTC)
    try:
        start = parse_since(since, now)
        base = parse_platform(platform)[0] if platform else None
    except InputError as exc:
        raise typer.BadParameter(exc.reason, param_hint=f"--{exc.field}") from None
    engine, _settings = _engine_settings()
    try:
        data = build_insights(engine, start, now, account_id=account, platform=base,
                              posts_limit=100_000 if fmt is Format.csv else 20)
    finally:
        engine.dispose()
    if fmt is Format.json:
        typer.echo(to_json(data))
        return
    if fmt is Format.csv:
        typer.echo(insights_csv(data), nl=False)
        return
    console = Console()
    console.print(f"Insights {data['since']} .. {data['until']}")
    table = Table(title="By account and platform")
    for col in ("account", "platform", "posts", "views 1h", "views 24h", "views 7d", "total views",
                "engagement", "trend 24h", "best post", "worst post"):
        table.add_column(col, justify="left" if col in ("account", "platform", "best post", "worst post")
                         else "right")
    for g in data["groups"]:
        best, worst = g["best_post"] or {}, g["worst_post"] or {}
        table.add_row(
            g["account_id"], g["platform"], str(g["posts"]), _n(g["avg_views_1h"]), _n(g["avg_views_24h"]),
            _n(g["avg_views_7d"]), _n(g["total_views"]), _n(g["engagement_rate"], pct=True),
            _n(g["trend_24h"], pct=True), (best.get("title") or best.get("video_id") or "-")[:40],
            (worst.get("title") or worst.get("video_id") or "-")[:40],
        )
    console.print(table)
    if not data["groups"]:
        console.print("No published posts followed in this window yet.")


@insights_app.command("collect")
def collect(
    loop: Annotated[bool, typer.Option("--loop", help="Keep collecting until interrupted.")] = False,
) -> None:
    """Sample the metrics of every post that is due now (once, or in a loop)."""
    from multipublish.insights.collector import MetricsCollector

    engine, settings = _engine_settings()
    collector = MetricsCollector(engine, settings)

    async def run() -> None:
        if loop:
            await collector.start()
            try:
                await asyncio.Event().wait()
            finally:
                await collector.stop()
        stats = await collector.run_until_idle()
        typer.echo(
            f"followed {stats.discovered} new, sampled {stats.sampled}, deleted {stats.deleted}, "
            f"deferred {stats.deferred}, paused {stats.paused}; {stats.calls} calls, "
            f"{stats.quota_units} YouTube units"
        )

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    finally:
        engine.dispose()


def best_times(
    account: Annotated[str, typer.Option("--account", help="The account.")],
    platform: Annotated[str, typer.Option("--platform", help="The platform.")],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = Format.table,
    timezone: Annotated[
        str, typer.Option("--timezone", help="IANA zone the hours are in (e.g. Europe/Paris).")
    ] = "UTC",
) -> None:
    """The hours of the week this account's posts do best (learned from its own posts)."""
    from multipublish.errors import InputError
    from multipublish.insights.besttimes import fit_account
    from multipublish.platforms.base import parse_platform
    from multipublish.usage.export import to_json
    from multipublish.workspace.slots import zone

    try:
        base = parse_platform(platform)[0]
    except InputError as exc:
        raise typer.BadParameter(exc.reason, param_hint="--platform") from None
    try:
        tz = zone(timezone)
    except InputError as exc:
        raise typer.BadParameter(exc.reason, param_hint="--timezone") from None
    engine, _settings = _engine_settings()
    try:
        data = fit_account(engine, account, base, tz=tz).to_dict()
    finally:
        engine.dispose()
    if fmt is not Format.table:
        data.pop("hours")
        typer.echo(to_json(data))
        return
    table = Table(title=f"Best times for {account} on {base} ({data['posts']} posts, "
                  f"confidence {data['confidence']})")
    for col in ("hour", "expected views", "90% band", "posts nearby"):
        table.add_column(col, justify="left" if col == "hour" else "right")
    for h in data["best"]:
        table.add_row(h["label"], _n(h["expected_views"]), f"{_n(h['low'])} - {_n(h['high'])}",
                      f"{h['posts_nearby']:.1f}")
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add ``insights`` (with ``collect``) and ``best-times`` to ``app``."""
    app.add_typer(insights_app, name="insights")
    app.command("best-times")(best_times)
