"""``multipublish report`` and ``multipublish costs``: publishing analytics and money spent.

``report --since 7d`` shows success rate, failure reasons, retries and median/p95 publish time per
platform and per account, jobs per day and the costs of the months the window touches.
``costs --month 2026-11`` shows one month's costs. Both print a table, ``--format json`` or
``--format csv`` (for spreadsheets). Exit 0; 2 on a usage error (bad ``--since``/``--month``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table, json or csv.")]
AccountOpt = Annotated[str | None, typer.Option("--account", help="Only this account.")]
PlatformOpt = Annotated[str | None, typer.Option("--platform", help="Only this platform.")]


def _engine_settings() -> tuple[Any, Any]:
    from multipublish.bootstrap import build_service

    service = build_service()
    return service.engine, service.settings


def _fmt(value: Any, pct: bool = False) -> str:
    if value is None:
        return "-"
    if pct:
        return f"{100.0 * float(value):.1f}%"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value else "0"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
    return str(value)


def _stats_table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    columns: tuple[str, ...] = ("", "attempts", "ok", "failed", "success", "retries", "median s", "p95 s")
    columns += ("failure reasons", "fixes")
    for col in columns:
        table.add_column(col, justify="left" if col in ("", "failure reasons", "fixes") else "right")
    for r in rows:
        table.add_row(
            r["key"],
            _fmt(r["attempts"]),
            _fmt(r["successes"]),
            _fmt(r["failures"]),
            _fmt(r["success_rate"], pct=True),
            _fmt(r["retries"]),
            _fmt(r["median_s"]),
            _fmt(r["p95_s"]),
            _fmt(r["failure_reasons"]),
            _fmt(r.get("fixes") or {}),
        )
    return table


def _cost_tables(console: Console, months: list[dict[str, Any]]) -> None:
    for m in months:
        table = Table(title=f"Costs {m['month']} ({m['timezone']}, {m['currency']})")
        for col in ("account", "platform", "attempts", "plan uploads", "quota units", "cost"):
            table.add_column(col, justify="left" if col in ("account", "platform") else "right")
        for r in m["rows"]:
            table.add_row(
                r["account_id"],
                r["platform"],
                _fmt(r["attempts"]),
                _fmt(r["plan_uploads"]),
                _fmt(r["quota_units"]),
                f"{r['cost']:.2f}",
            )
        for f in m["plan_fees"]:
            table.add_row(f["account_id"], "upload-post plan", "", "", "", f"{f['fee']:.2f}")
        table.add_row("total", "", "", "", "", f"{m['total']:.2f}", style="bold")
        console.print(table)


def report(
    since: Annotated[str, typer.Option(help="Window: 7d, 12h, 30m, 2w or an ISO date.")] = "7d",
    fmt: FormatOpt = Format.table,
    account: AccountOpt = None,
    platform: PlatformOpt = None,
) -> None:
    """Success rate, failure reasons, retries, publish times, jobs per day and costs."""
    from multipublish.errors import InputError
    from multipublish.usage.analytics import build_report, parse_since
    from multipublish.usage.export import report_csv, to_json

    now = datetime.now(UTC)
    try:
        start = parse_since(since, now)
    except InputError as exc:
        raise typer.BadParameter(exc.reason, param_hint="--since") from None
    engine, settings = _engine_settings()
    try:
        data = build_report(engine, settings, start, now, account_id=account, platform=platform)
    except InputError as exc:  # e.g. an unknown MULTIPUBLISH_USAGE_TIMEZONE
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    if fmt is Format.json:
        typer.echo(to_json(data))
        return
    if fmt is Format.csv:
        typer.echo(report_csv(data), nl=False)
        return
    console = Console()
    console.print(f"Publishing {data['since']} .. {data['until']}")
    console.print(_stats_table("By platform", data["by_platform"]))
    console.print(_stats_table("By account", data["by_account"]))
    days = Table(title=f"Jobs per day ({data['timezone']})")
    for col in ("day", "jobs", "attempts", "ok"):
        days.add_column(col, justify="left" if col == "day" else "right")
    for d in data["jobs_per_day"]:
        days.add_row(d["day"], str(d["jobs"]), str(d["attempts"]), str(d["successes"]))
    console.print(days)
    _cost_tables(console, data["costs"])


def costs(
    month: Annotated[str | None, typer.Option(help="YYYY-MM (default: this month).")] = None,
    fmt: FormatOpt = Format.table,
    account: AccountOpt = None,
    platform: PlatformOpt = None,
) -> None:
    """Money spent in one month, per account and platform, with upload-post plan fees."""
    from multipublish.errors import InputError
    from multipublish.usage.analytics import monthly_costs
    from multipublish.usage.export import costs_csv, to_json
    from multipublish.usage.resets import month_bounds, month_of

    engine, settings = _engine_settings()
    try:
        try:
            chosen = month or month_of(datetime.now(UTC), settings.usage_timezone)
            month_bounds(chosen, settings.usage_timezone)
        except InputError as exc:
            if exc.field != "month":
                typer.echo(f"error: {exc.message}", err=True)
                raise typer.Exit(2) from None
            raise typer.BadParameter(exc.reason, param_hint="--month") from None
        data = monthly_costs(engine, settings, chosen, account_id=account, platform=platform)
    finally:
        engine.dispose()
    if fmt is Format.json:
        typer.echo(to_json(data))
    elif fmt is Format.csv:
        typer.echo(costs_csv([data]), nl=False)
    else:
        _cost_tables(Console(), [data])


def register(app: typer.Typer) -> None:
    """Add ``report`` and ``costs`` to ``app``."""
    app.command("report")(report)
    app.command("costs")(costs)
