"""Report figures checked against the attempts that made them (expected values computed here from
the inputs, independently of the analytics code), and costs across months and time zones."""

from __future__ import annotations

import csv
import io
import json
import math
import random
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from multipublish.cli import app as cli_app
from multipublish.errors import ErrorKind
from multipublish.platforms.base import PublishResult, PublishStatus
from multipublish.settings import Settings
from multipublish.usage import UsageStore
from multipublish.usage.analytics import build_report, monthly_costs, parse_since, success_rate_chart

PRICES = {"tiktok": 0.25, "instagram": 0.4, "youtube": 0.0}
UNIT_PRICE = {"youtube": 0.002}
PLAN_FEE = 16.0


@dataclass
class Attempt:
    account: str
    platform: str
    job: str
    attempt: int
    success: bool
    kind: ErrorKind | None
    duration: float
    bytes_sent: int
    at: datetime


def _settings(**extra: Any) -> Settings:
    return Settings(
        price_per_upload=PRICES,
        price_per_quota_unit=UNIT_PRICE,
        upload_post_plan_price=PLAN_FEE,
        quota_enforce=False,
        youtube_daily_uploads=None,  # inserts priced in units (the older rule): 1600 each
        **extra,
    )


def _make_attempts(seed: int, start: datetime, days: int) -> list[Attempt]:
    rng = random.Random(seed)
    out: list[Attempt] = []
    for n in range(50):
        account = rng.choice(["acme", "blue"])
        platform = rng.choice(["tiktok", "instagram", "youtube"])
        job = f"job{n // 2}"
        success = rng.random() < 0.7
        kind = None if success else rng.choice([ErrorKind.TRANSIENT, ErrorKind.PERMANENT, ErrorKind.QUOTA])
        at = start + timedelta(minutes=rng.randrange(days * 24 * 60))
        out.append(
            Attempt(
                account=account,
                platform=platform,
                job=job,
                attempt=rng.choice([1, 1, 1, 2, 3]),
                success=success,
                kind=kind,
                duration=round(rng.uniform(0.5, 40.0), 3),
                bytes_sent=rng.randrange(0, 5_000_000) if not success else 4_000_000,
                at=at,
            )
        )
    return out


def _record(store: UsageStore, attempts: list[Attempt]) -> None:
    for a in attempts:
        result = PublishResult(
            platform=a.platform,
            success=a.success,
            status=PublishStatus.PUBLISHED if a.success else PublishStatus.FAILED,
            error=None if a.success else f"{a.kind} error",
            error_kind=a.kind,
            bytes_sent=a.bytes_sent,
        )
        store.record_attempt(
            a.account, result, job_id=a.job, attempt=a.attempt, duration_s=a.duration, occurred_at=a.at
        )


def _nearest_rank(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(pct * len(ordered) / 100)) - 1]


def _expected_cost(a: Attempt) -> float:
    """The documented pricing: a successful attempt costs its upload price plus its units; a failed
    one costs nothing, except a YouTube upload that had started sending bytes (its units)."""
    units = 1600 if a.platform == "youtube" else 0
    if a.success:
        return PRICES[a.platform] + units * UNIT_PRICE.get(a.platform, 0.0)
    if a.platform == "youtube" and a.bytes_sent > 0 and a.kind != ErrorKind.QUOTA:
        return PRICES[a.platform] + units * UNIT_PRICE["youtube"]
    return 0.0


def _expected_group(attempts: list[Attempt]) -> dict[str, Any]:
    ok = [a for a in attempts if a.success]
    durations = [a.duration for a in ok]
    reasons: dict[str, int] = defaultdict(int)
    for a in attempts:
        if not a.success:
            reasons[str(a.kind)] += 1
    return {
        "attempts": len(attempts),
        "successes": len(ok),
        "failures": len(attempts) - len(ok),
        "success_rate": round(len(ok) / len(attempts), 4),
        "retries": sum(1 for a in attempts if a.attempt > 1),
        "median_s": round(statistics.median(durations), 3) if durations else None,
        "p95_s": round(_nearest_rank(durations, 95), 3) if durations else None,
        "bytes_sent": sum(a.bytes_sent for a in attempts),
        "failure_reasons": dict(reasons),
        "cost": round(sum(_expected_cost(a) for a in attempts), 6),
    }


def _compare(got: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        if key == "cost":
            assert got[key] == pytest.approx(value), key
        else:
            assert got[key] == value, key


def test_report_figures_match_the_attempts(engine: Engine) -> None:
    settings = _settings()
    store = UsageStore(engine, settings)
    start = datetime(2026, 11, 10, tzinfo=UTC)
    attempts = _make_attempts(7, start, days=10)
    _record(store, attempts)
    since, until = start + timedelta(days=2), start + timedelta(days=9)
    window = [a for a in attempts if since <= a.at < until]
    report = build_report(engine, settings, since, until)

    by_platform: dict[str, list[Attempt]] = defaultdict(list)
    by_account: dict[str, list[Attempt]] = defaultdict(list)
    for a in window:
        by_platform[a.platform].append(a)
        by_account[a.account].append(a)
    assert [r["key"] for r in report["by_platform"]] == sorted(by_platform)
    for row in report["by_platform"]:
        _compare(row, _expected_group(by_platform[row["key"]]))
    assert [r["key"] for r in report["by_account"]] == sorted(by_account)
    for row in report["by_account"]:
        _compare(row, _expected_group(by_account[row["key"]]))
    _compare(report["totals"], _expected_group(window))

    days: dict[str, set[str]] = defaultdict(set)
    for a in window:
        days[a.at.strftime("%Y-%m-%d")].add(a.job)
    assert {d["day"]: d["jobs"] for d in report["jobs_per_day"]} == {k: len(v) for k, v in days.items()}

    # filters narrow the same figures
    only = build_report(engine, settings, since, until, account_id="acme", platform="youtube")
    subset = [a for a in window if a.account == "acme" and a.platform == "youtube"]
    _compare(only["totals"], _expected_group(subset))

    chart = success_rate_chart(engine, settings, since, until)
    tiktok_day = [
        a for a in window if a.platform == "tiktok" and a.at.strftime("%Y-%m-%d") == chart["days"][0]
    ]
    point = chart["series"]["tiktok"][0]
    if tiktok_day:
        assert point == round(sum(a.success for a in tiktok_day) / len(tiktok_day), 4)
    else:
        assert point is None


def _cost_by_month(attempts: list[Attempt], tz: str) -> dict[str, dict[str, float]]:
    from zoneinfo import ZoneInfo

    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    plan: dict[str, set[str]] = defaultdict(set)
    for a in attempts:
        month = a.at.astimezone(ZoneInfo(tz)).strftime("%Y-%m")
        out[month][a.account] += _expected_cost(a)
        if a.platform != "youtube":
            plan[month].add(a.account)
    for month, accounts in plan.items():
        for account in accounts:
            out[month][account] += PLAN_FEE
    return out


@pytest.mark.parametrize("tz", ["UTC", "America/Los_Angeles", "Asia/Tokyo"])
def test_costs_summed_per_month_in_the_reporting_zone(engine: Engine, tz: str) -> None:
    settings = _settings(usage_timezone=tz)
    store = UsageStore(engine, settings)
    # straddles the Oct/Nov/Dec month ends and the Nov 1 DST change
    attempts = _make_attempts(11, datetime(2026, 10, 25, tzinfo=UTC), days=45)
    late_evening = datetime.fromisoformat("2026-11-30T23:30:00-08:00")
    attempts.append(Attempt("acme", "tiktok", "edge", 1, True, None, 3.0, 100, late_evening.astimezone(UTC)))
    _record(store, attempts)
    expected = _cost_by_month(attempts, tz)
    for month in ("2026-10", "2026-11", "2026-12"):
        got = monthly_costs(engine, settings, month)
        assert got["by_account"] == pytest.approx(dict(expected.get(month, {}))), month
        assert got["total"] == pytest.approx(sum(expected.get(month, {}).values()))
    # the documented choice: months are calendar months of usage_timezone (default UTC)
    edge_month = "2026-11" if tz == "America/Los_Angeles" else "2026-12"
    rows = monthly_costs(engine, settings, edge_month, account_id="acme", platform="tiktok")["rows"]
    assert rows and rows[0]["attempts"] == sum(
        1
        for a in attempts
        if a.account == "acme" and a.platform == "tiktok" and _month(a.at, tz) == edge_month
    )


def _month(when: datetime, tz: str) -> str:
    from zoneinfo import ZoneInfo

    return when.astimezone(ZoneInfo(tz)).strftime("%Y-%m")


def test_cli_report_csv_and_json_match_the_attempts(engine: Engine, db_url: str) -> None:
    settings = _settings()
    store = UsageStore(engine, settings)
    now = datetime.now(UTC)
    attempts = _make_attempts(3, now - timedelta(days=6), days=5)
    _record(store, attempts)
    env = {
        "MULTIPUBLISH_DATABASE_URL": db_url,
        "MULTIPUBLISH_PRICE_PER_UPLOAD": json.dumps(PRICES),
        "MULTIPUBLISH_UPLOAD_POST_PLAN_PRICE": str(PLAN_FEE),
    }
    runner = CliRunner()
    res = runner.invoke(cli_app, ["report", "--since", "7d", "--format", "csv"], env=env)
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.output)))
    by_platform: dict[str, list[Attempt]] = defaultdict(list)
    for a in attempts:
        by_platform[a.platform].append(a)
    platform_rows = {r["key"]: r for r in rows if r["group"] == "platform"}
    assert set(platform_rows) == set(by_platform)
    for key, row in platform_rows.items():
        exp = _expected_group(by_platform[key])
        assert int(row["attempts"]) == exp["attempts"]
        assert int(row["successes"]) == exp["successes"]
        assert float(row["success_rate"]) == exp["success_rate"]
        assert int(row["retries"]) == exp["retries"]
        assert float(row["p95_s"]) == exp["p95_s"]
    res = runner.invoke(
        cli_app, ["report", "--since", "7d", "--format", "json", "--account", "blue"], env=env
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    _compare(data["totals"], _expected_group([a for a in attempts if a.account == "blue"]))
    month = now.strftime("%Y-%m")
    res = runner.invoke(cli_app, ["costs", "--month", month, "--format", "json"], env=env)
    assert res.exit_code == 0, res.output
    this_month = [a for a in attempts if a.at.strftime("%Y-%m") == month]
    assert json.loads(res.output)["total"] == pytest.approx(
        sum(_cost_by_month(this_month, "UTC").get(month, {}).values())
    )
    table = runner.invoke(cli_app, ["report", "--since", "7d"], env=env)
    assert table.exit_code == 0 and "By platform" in table.output


@pytest.mark.parametrize("bad", ["7x", "yesterday", ""])
def test_bad_since_is_refused_with_its_field(bad: str) -> None:
    from multipublish.errors import InputError

    with pytest.raises(InputError) as info:
        parse_since(bad, datetime.now(UTC))
    assert info.value.field == "since"
    res = CliRunner().invoke(cli_app, ["report", "--since", bad or "??"])
    assert res.exit_code == 2
    assert "--since" in res.output


def test_unknown_reporting_zone_is_a_clear_error(engine: Engine, db_url: str) -> None:
    env = {"MULTIPUBLISH_DATABASE_URL": db_url, "MULTIPUBLISH_USAGE_TIMEZONE": "Mars/Olympus"}
    for args in (["report", "--since", "1d"], ["costs"]):
        res = CliRunner().invoke(cli_app, args, env=env)
        assert res.exit_code == 2, res.output
        assert "Mars/Olympus" in res.output and "Traceback" not in res.output
