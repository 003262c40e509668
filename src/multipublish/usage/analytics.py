"""Publishing analytics from the usage records: success rates, failure reasons, retries, timings,
jobs per day and monthly costs.

Definitions (so figures can be checked by hand):

* an *attempt* is one usage record; *success rate* = successful attempts / attempts;
* *retries* = attempts whose ``attempt`` number is above 1 (a repeat of the same job and platform);
* *publish time* = ``duration_s`` of successful attempts; median, and p95 by nearest rank;
* days and months are calendar days/months in ``Settings.usage_timezone`` (default UTC): a publish
  at 2026-11-30T23:30-08:00 is 2026-12-01T07:30Z, so it counts in December unless the reporting
  zone is set to ``America/Los_Angeles``;
* *jobs per day* = distinct job ids with an attempt that day (manager publishes have no job and
  count as attempts only);
* *cost* = the prices recorded with each attempt, plus ``upload_post_plan_price`` once per account
  that used upload-post in the month.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row, func, select

from multipublish import catalogue
from multipublish.errors import InputError
from multipublish.settings import Settings
from multipublish.usage.resets import day_of, month_bounds, month_of, zone
from multipublish.usage.store import UPLOAD_POST_PLATFORMS
from multipublish.usage.tables import usage_records

_SINCE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

#: Columns of the per-group statistics, in export order.
STAT_COLUMNS = (
    "group",
    "key",
    "attempts",
    "successes",
    "failures",
    "unknown",
    "success_rate",
    "retries",
    "median_s",
    "p95_s",
    "bytes_sent",
    "plan_uploads",
    "quota_units",
    "cost",
    "failure_reasons",
    "fixes",
)
#: Columns of the monthly cost table, in export order.
COST_COLUMNS = (
    "month",
    "account_id",
    "platform",
    "attempts",
    "plan_uploads",
    "quota_units",
    "bytes_sent",
    "cost",
)


def parse_since(text: str, now: datetime) -> datetime:
    """``7d``, ``12h``, ``30m``, ``2w`` before ``now``, or an ISO date/datetime (UTC if naive)."""
    match = _SINCE.match(text or "")
    if match:
        amount, unit = int(match.group(1)), match.group(2).lower()
        return now - timedelta(**{_UNITS[unit]: amount})
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (ValueError, AttributeError) as exc:
        raise InputError(
            "since", f"expected a span like 7d, 12h, 30m, 2w or an ISO date, got {text!r}"
        ) from exc
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (``None`` for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """A half-open time window [since, until) in UTC."""

    since: datetime
    until: datetime


def _records(
    engine: Engine,
    since: datetime,
    until: datetime,
    account_id: str | None = None,
    platform: str | None = None,
) -> list[Row[Any]]:
    u = usage_records.c
    query = (
        select(
            u.occurred_at,
            u.account_id,
            u.platform,
            u.job_id,
            u.attempt,
            u.outcome,
            u.success,
            u.error_kind,
            u.bytes_sent,
            u.duration_s,
            u.plan_uploads,
            u.quota_units,
            u.cost,
            u.fixes,
        )
        .where(usage_records.c.occurred_at >= since, usage_records.c.occurred_at < until)
        .order_by(usage_records.c.occurred_at, usage_records.c.id)
    )
    if account_id:
        query = query.where(usage_records.c.account_id == account_id)
    if platform:
        query = query.where(usage_records.c.platform == catalogue.base_platform(platform))
    with engine.connect() as conn:
        return list(conn.execute(query))


def _stats(group: str, key: str, rows: list[Row[Any]]) -> dict[str, Any]:
    successes = [r for r in rows if r.success]
    failed = [r for r in rows if not r.success and r.outcome == "failed"]
    durations = [float(r.duration_s) for r in successes]
    median = statistics.median(durations) if durations else None
    return {
        "group": group,
        "key": key,
        "attempts": len(rows),
        "successes": len(successes),
        "failures": len(failed),
        "unknown": len(rows) - len(successes) - len(failed),
        "success_rate": round(len(successes) / len(rows), 4) if rows else None,
        "retries": sum(1 for r in rows if (r.attempt or 1) > 1),
        "median_s": round(median, 3) if median is not None else None,
        "p95_s": round(p95, 3) if (p95 := percentile(durations, 95)) is not None else None,
        "bytes_sent": sum(int(r.bytes_sent or 0) for r in rows),
        "plan_uploads": sum(int(r.plan_uploads or 0) for r in rows),
        "quota_units": sum(int(r.quota_units or 0) for r in rows),
        "cost": round(sum(float(r.cost or 0.0) for r in rows), 6),
        "failure_reasons": dict(Counter(r.error_kind or "unspecified" for r in failed).most_common()),
        # auto_fix: attempts whose file was prepared, per action (one attempt may count several)
        "fixes": dict(Counter(a for r in rows for a in (r.fixes or "").split(",") if a).most_common()),
    }


def _grouped(rows: list[Row[Any]], by: str) -> list[dict[str, Any]]:
    groups: dict[str, list[Row[Any]]] = defaultdict(list)
    for r in rows:
        groups[getattr(r, "platform" if by == "platform" else "account_id")].append(r)
    return [_stats(by, key, groups[key]) for key in sorted(groups)]


def publishing_stats(
    engine: Engine,
    since: datetime,
    until: datetime | None = None,
    *,
    by: str = "platform",
    account_id: str | None = None,
    platform: str | None = None,
) -> list[dict[str, Any]]:
    """Per platform (``by="platform"``) or per account (``by="account"``) statistics of a window."""
    if by not in ("platform", "account"):
        raise InputError("by", "expected 'platform' or 'account'")
    rows = _records(engine, since, until or datetime.now(UTC), account_id, platform)
    return _grouped(rows, by)


def jobs_per_day(
    engine: Engine,
    settings: Settings,
    since: datetime,
    until: datetime | None = None,
    *,
    account_id: str | None = None,
    platform: str | None = None,
) -> list[dict[str, Any]]:
    """Per calendar day (``usage_timezone``): distinct jobs, attempts and successful attempts."""
    rows = _records(engine, since, until or datetime.now(UTC), account_id, platform)
    return _per_day(rows, settings.usage_timezone)


def _per_day(rows: list[Row[Any]], tz: str) -> list[dict[str, Any]]:
    days: dict[str, dict[str, Any]] = {}
    job_ids: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        day = day_of(r.occurred_at, tz)
        entry = days.setdefault(day, {"day": day, "jobs": 0, "attempts": 0, "successes": 0})
        entry["attempts"] += 1
        entry["successes"] += int(bool(r.success))
        if r.job_id:
            job_ids[day].add(r.job_id)
    for day, entry in days.items():
        entry["jobs"] = len(job_ids[day])
    return [days[d] for d in sorted(days)]


def monthly_costs(
    engine: Engine,
    settings: Settings,
    month: str,
    *,
    account_id: str | None = None,
    platform: str | None = None,
) -> dict[str, Any]:
    """Money spent in a calendar month (``YYYY-MM`` in ``usage_timezone``), per account and platform."""
    start, end = month_bounds(month, zone(settings.usage_timezone, "usage_timezone").key)
    u = usage_records.c
    query = (
        select(
            u.account_id,
            u.platform,
            func.count(),
            func.sum(u.plan_uploads),
            func.sum(u.quota_units),
            func.sum(u.bytes_sent),
            func.sum(u.cost),
        )
        .where(u.occurred_at >= start, u.occurred_at < end)
        .group_by(u.account_id, u.platform)
        .order_by(u.account_id, u.platform)
    )
    if account_id:
        query = query.where(u.account_id == account_id)
    if platform:
        query = query.where(u.platform == catalogue.base_platform(platform))
    with engine.connect() as conn:
        sums = conn.execute(query).all()
    table = {
        (acct, plat): {
            "month": month,
            "account_id": acct,
            "platform": plat,
            "attempts": int(n),
            "plan_uploads": int(uploads or 0),
            "quota_units": int(units or 0),
            "bytes_sent": int(sent or 0),
            "cost": float(cost or 0.0),
        }
        for acct, plat, n, uploads, units, sent, cost in sums
    }
    plan_accounts = {acct for acct, plat in table if plat in UPLOAD_POST_PLATFORMS}
    fee = float(settings.upload_post_plan_price)
    plan_fees: list[dict[str, Any]] = (
        [{"account_id": a, "fee": fee} for a in sorted(plan_accounts)] if fee else []
    )
    items = [table[k] for k in sorted(table)]
    for item in items:
        item["cost"] = round(item["cost"], 6)
    by_account: dict[str, float] = defaultdict(float)
    for item in items:
        by_account[item["account_id"]] += item["cost"]
    for f in plan_fees:
        by_account[f["account_id"]] += f["fee"]
    return {
        "month": month,
        "timezone": settings.usage_timezone,
        "currency": settings.usage_currency,
        "rows": items,
        "plan_fees": plan_fees,
        "by_account": {k: round(v, 6) for k, v in sorted(by_account.items())},
        "total": round(sum(i["cost"] for i in items) + sum(f["fee"] for f in plan_fees), 6),
    }


def months_between(since: datetime, until: datetime, tz: str) -> list[str]:
    """The calendar months (in ``tz``) that [since, until) touches, oldest first."""
    months: list[str] = []
    current = month_of(since, tz)
    last = month_of(until - timedelta(microseconds=1), tz)
    while True:
        months.append(current)
        if current >= last:
            return months
        year, mon = int(current[:4]), int(current[5:])
        current = f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"


def build_report(
    engine: Engine,
    settings: Settings,
    since: datetime,
    until: datetime | None = None,
    *,
    account_id: str | None = None,
    platform: str | None = None,
) -> dict[str, Any]:
    """Everything ``multipublish report`` and the stats endpoint show, as plain data."""
    until = until or datetime.now(UTC)
    rows = _records(engine, since, until, account_id, platform)
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "timezone": settings.usage_timezone,
        "totals": _stats("total", "all", rows),
        "by_platform": _grouped(rows, "platform"),
        "by_account": _grouped(rows, "account"),
        "jobs_per_day": _per_day(rows, settings.usage_timezone),
        "costs": [
            monthly_costs(engine, settings, m, account_id=account_id, platform=platform)
            for m in months_between(since, until, settings.usage_timezone)
        ],
    }


def success_rate_chart(
    engine: Engine,
    settings: Settings,
    since: datetime,
    until: datetime | None = None,
    *,
    account_id: str | None = None,
) -> dict[str, Any]:
    """Data for the dashboard's success-rate chart: one series per platform, one point per day
    (``None`` on days without attempts)."""
    tz = settings.usage_timezone
    rows = _records(engine, since, until or datetime.now(UTC), account_id)
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    days: set[str] = set()
    platforms: set[str] = set()
    for r in rows:
        day = day_of(r.occurred_at, tz)
        days.add(day)
        platforms.add(r.platform)
        c = counts[(r.platform, day)]
        c[0] += int(bool(r.success))
        c[1] += 1
    labels = sorted(days)
    series = {
        p: [round(counts[(p, d)][0] / counts[(p, d)][1], 4) if (p, d) in counts else None for d in labels]
        for p in sorted(platforms)
    }
    return {"days": labels, "series": series}


def cost_table(engine: Engine, settings: Settings, month: str) -> dict[str, Any]:
    """Data for the dashboard's cost table (the same figures as ``monthly_costs``)."""
    return monthly_costs(engine, settings, month)


def dashboard_panel(
    engine: Engine, settings: Settings, now: datetime | None = None, days: int = 14
) -> dict[str, Any]:
    """Everything the dashboard's usage panel draws: a success-rate chart of the last ``days`` days
    (one row of daily bars per platform, geometry precomputed so the template stays dumb) and this
    month's cost table."""
    now = now or datetime.now(UTC)
    chart = success_rate_chart(engine, settings, now - timedelta(days=days), now)
    cell, height, left = 22, 24, 90
    rows = []
    for i, (platform, rates) in enumerate(chart["series"].items()):
        y = i * (height + 10)
        bars = [
            {
                "x": left + j * cell,
                "y": y + height - round(height * rate),
                "h": round(height * rate),
                "title": f"{chart['days'][j]}: {round(100 * rate, 1)}%",
            }
            for j, rate in enumerate(rates)
            if rate is not None
        ]
        rows.append({"platform": platform, "y": y, "text_y": y + height - 6, "bars": bars})
    return {
        "days": chart["days"],
        "rows": rows,
        "cell": cell - 4,
        "track_height": height,
        "left": left,
        "width": left + max(1, len(chart["days"])) * cell,
        "height": max(1, len(rows)) * (height + 10),
        "costs": monthly_costs(engine, settings, month_of(now, settings.usage_timezone)),
    }
