"""The gate's one-statement reservations and records leave exactly what the general path does."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from multipublish.errors import ErrorKind
from multipublish.platforms.base import PublishResult
from multipublish.settings import Settings
from multipublish.usage import QuotaGate, UsageStore
from multipublish.usage.models import Reservation
from multipublish.usage.tables import quota_state, usage_records
from tests.usage.conftest import FakeClock, failed, ok

PLATFORMS = ["tiktok", "instagram", "linkedin", "youtube"]


def _result(rng: random.Random, platform: str, clock: FakeClock) -> PublishResult:
    """What a service might answer, including reports the in-place path must leave alone."""
    reset = int((clock() + timedelta(seconds=rng.choice([-30, 45, 90]))).timestamp())
    roll = rng.random()
    if roll < 0.25:
        return ok(platform, usage={"count": rng.randint(0, 12), "limit": rng.choice([10, 12, 15]),
                                   "last_reset": "2026-11-10T00:00:00Z"},
                  rate_limit={"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": str(rng.randint(0, 5)),
                              "X-RateLimit-Reset": str(reset)})
    if roll < 0.35:
        return ok(platform, usage={"count": rng.randint(0, 12)})  # no limit: the row decides
    if roll < 0.45:
        return ok(platform, rate_limit={"X-RateLimit-Remaining": "2"})  # no limit, no reset
    if roll < 0.6:
        return ok(platform)
    if roll < 0.7:
        return failed(platform, ErrorKind.QUOTA)
    if roll < 0.8:
        result = failed(platform, ErrorKind.RATE_LIMITED)
        result.retry_after = 20.0
        return result
    return failed(platform, rng.choice([ErrorKind.TRANSIENT, ErrorKind.PERMANENT]),
                  bytes_sent=rng.choice([0, 500]))


def _play(engine: Engine, clock: FakeClock, account: str, in_place: bool, seed: int) -> list[Any]:
    rng = random.Random(seed)
    settings = Settings(upload_post_monthly_limit=10, youtube_daily_units=8000)
    store = UsageStore(engine, settings, clock=clock)
    store.in_place = in_place
    gate = QuotaGate(store)
    trace: list[Any] = []
    held: list[Reservation] = []
    for _ in range(120):
        roll = rng.random()
        platform = rng.choice(PLATFORMS)
        if roll < 0.5:
            d = gate.reserve(account, platform)
            trace.append(("reserve", platform, d.allowed, d.wait_until, d.reason.replace(account, "A")))
            if d.reservation is not None:
                held.append(d.reservation)
        elif roll < 0.85 and held:
            r = held.pop(rng.randrange(len(held)))
            verdict = gate.settle(r, account, _result(rng, r.platform, clock), job_id="j")
            trace.append(("settle", r.platform, verdict and (verdict.allowed, verdict.wait_until)))
        elif roll < 0.9 and held:
            gate.release(held.pop())
            trace.append(("release",))
        else:
            clock.advance(seconds=rng.choice([5, 61, 3600, 86400 * 20]))
            trace.append(("advance",))
    return trace


def _rows(engine: Engine, account: str) -> tuple[list[Any], list[Any]]:
    with engine.connect() as conn:
        counters = conn.execute(
            select(quota_state).where(quota_state.c.account_id == account).order_by(quota_state.c.platform)
        ).all()
        records = conn.execute(
            select(usage_records).where(usage_records.c.account_id == account).order_by(usage_records.c.id)
        ).all()
    return (
        [tuple(r)[1:] for r in counters],
        [tuple(r._mapping[c] for c in r._mapping if c not in ("id", "account_id")) for r in records],
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_same_run_leaves_the_same_counters_records_and_decisions(engine: Engine, seed: int) -> None:
    traces = [
        _play(engine, FakeClock(_noon()), account, in_place, seed)
        for account, in_place in (("fast", True), ("slow", False))
    ]
    assert traces[0] == traces[1]
    assert _rows(engine, "fast") == _rows(engine, "slow")


def test_a_plain_reservation_and_record_are_one_statement_each(engine: Engine) -> None:
    """The common case: a reservation within quota, and a success carrying upload-post's usage
    block and rate headers, recorded in one transaction of three statements."""
    clock = FakeClock(_noon())
    store = UsageStore(engine, Settings(upload_post_monthly_limit=10), clock=clock)
    gate = QuotaGate(store)
    gate.reserve("acct", "tiktok")  # the first one creates the counter the general way
    seen: list[str] = []

    def grab(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        seen.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", grab)
    try:
        d = gate.reserve("acct", "linkedin")
        assert d.allowed and seen == ["UPDATE"]
        seen.clear()
        reset = int((clock() + timedelta(seconds=60)).timestamp())
        gate.settle(d.reservation, "acct", ok("linkedin", usage={"count": 2, "limit": 10},
                                               rate_limit={"X-RateLimit-Limit": "5",
                                                           "X-RateLimit-Remaining": "4",
                                                           "X-RateLimit-Reset": str(reset)}))
        assert seen == ["INSERT", "INSERT", "INSERT"]
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    counters = {s["platform"]: s for s in store.quota_states("acct")}
    assert (counters["upload-post"]["used"], counters["upload-post"]["remaining"]) == (2, 8)
    assert (counters["upload-post:rate"]["limit"], counters["upload-post:rate"]["used"]) == (5, 1)


def _noon() -> datetime:
    return datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
