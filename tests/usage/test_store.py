"""The usage store and quota gate on real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from multipublish.errors import ErrorKind
from multipublish.platforms.base import PublishConfig
from multipublish.settings import Settings
from multipublish.usage import QuotaGate, UsageStore
from multipublish.usage.resets import next_local_midnight
from multipublish.usage.tables import usage_records
from tests.usage.conftest import FakeClock, failed, ok


def _state(store: UsageStore, account: str, bucket: str) -> dict[str, object]:
    rows = [s for s in store.quota_states(account) if s["platform"] == bucket]
    assert len(rows) == 1
    return rows[0]


def test_youtube_daily_units_defer_until_midnight_pacific(engine: Engine, clock: FakeClock) -> None:
    # The older rule (inserts in units): room for two inserts of 1600.
    settings = Settings(youtube_daily_units=3500, youtube_daily_uploads=None)
    store = UsageStore(engine, settings, clock=clock)
    gate = QuotaGate(store)
    for _ in range(2):
        decision = gate.reserve("chan", "youtube")
        assert decision.allowed and decision.reservation is not None
        gate.settle(decision.reservation, "chan", ok("youtube"), job_id="j", duration_s=2.0)
    third = gate.reserve("chan", "youtube")
    assert not third.allowed
    assert third.wait_until == next_local_midnight(clock())
    assert "3200/3500" in third.reason
    # another account has its own quota
    assert gate.reserve("other", "youtube").allowed
    # a thumbnail makes the insert 1650 units
    assert store.charges_for("youtube", PublishConfig(thumbnail_path="t.jpg"))[0].amount == 1650
    # after midnight Pacific the counter starts again
    assert third.wait_until is not None
    clock.current = third.wait_until
    assert gate.check("chan", "youtube").allowed
    again = gate.reserve("chan", "youtube")
    assert again.allowed
    assert _state(store, "chan", "youtube")["used"] == 1600


def test_failed_attempt_gives_back_its_reservation(engine: Engine, clock: FakeClock) -> None:
    store = UsageStore(engine, Settings(upload_post_monthly_limit=2, youtube_daily_uploads=None), clock=clock)
    gate = QuotaGate(store)
    d = gate.reserve("acct", "tiktok")
    assert d.allowed and _state(store, "acct", "upload-post")["used"] == 1
    gate.settle(d.reservation, "acct", failed("tiktok", ErrorKind.TRANSIENT))
    assert _state(store, "acct", "upload-post")["used"] == 0
    # YouTube keeps the units of an upload that had started sending bytes
    d = gate.reserve("acct", "youtube")
    gate.settle(d.reservation, "acct", failed("youtube", ErrorKind.TRANSIENT, bytes_sent=10))
    assert _state(store, "acct", "youtube")["used"] == 1600
    # released reservations come back whole
    d = gate.reserve("acct", "instagram")
    assert d.reservation is not None
    gate.release(d.reservation)
    assert _state(store, "acct", "upload-post")["used"] == 0


def test_upload_post_platforms_share_the_monthly_plan(engine: Engine, clock: FakeClock) -> None:
    store = UsageStore(engine, Settings(upload_post_monthly_limit=3), clock=clock)
    gate = QuotaGate(store)
    for platform in ("tiktok", "instagram", "linkedin"):
        d = gate.reserve("acct", platform)
        assert d.allowed
        gate.settle(d.reservation, "acct", ok(platform))
    denied = gate.reserve("acct", "facebook")
    assert not denied.allowed
    assert denied.wait_until == datetime(2026, 12, 1, tzinfo=UTC)


def test_service_usage_block_and_rate_headers_update_quota(engine: Engine, clock: FakeClock) -> None:
    store = UsageStore(engine, Settings(upload_post_monthly_limit=10), clock=clock)
    gate = QuotaGate(store)
    d = gate.reserve("acct", "tiktok")
    reset_unix = int((clock() + timedelta(seconds=90)).timestamp())
    result = ok(
        "tiktok",
        usage={"count": 119, "limit": 120, "last_reset": "2026-11-10T00:00:00Z"},
        rate_limit={
            "X-RateLimit-Limit": "60",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset_unix),
        },
    )
    gate.settle(d.reservation, "acct", result)
    plan = _state(store, "acct", "upload-post")
    assert (plan["limit"], plan["used"], plan["remaining"]) == (120, 119, 1)
    assert plan["limit_source"] == "service"
    assert plan["reset_at"] == datetime(2026, 12, 10, tzinfo=UTC)
    rate = _state(store, "acct", "upload-post:rate")
    assert (rate["limit"], rate["remaining"]) == (60, 0)
    # the rate window is closed: wait until its reset
    blocked = gate.check("acct", "instagram")
    assert not blocked.allowed
    assert blocked.wait_until == datetime.fromtimestamp(reset_unix, UTC)
    clock.advance(seconds=91)
    assert gate.reserve("acct", "instagram").allowed  # the last plan upload
    assert not gate.reserve("acct", "tiktok").allowed  # 120/120


def test_quota_error_from_the_service_marks_exhausted_until_reset(engine: Engine, clock: FakeClock) -> None:
    store = UsageStore(engine, Settings(), clock=clock)
    gate = QuotaGate(store)
    d = gate.reserve("chan", "youtube")
    verdict = gate.settle(d.reservation, "chan", failed("youtube", ErrorKind.QUOTA))
    midnight = next_local_midnight(clock())
    assert verdict is not None and not verdict.allowed
    assert verdict.wait_until == midnight
    assert _state(store, "chan", "youtube")["used"] == 0  # a refused call costs nothing
    assert not gate.check("chan", "youtube").allowed
    clock.current = midnight
    assert gate.reserve("chan", "youtube").allowed
    # the refusal is still on record as a failed attempt with its kind
    with engine.connect() as conn:
        kind = usage_records.c.error_kind
        kinds = conn.execute(select(kind, func.count()).group_by(kind))
        assert dict(kinds.all()) == {"quota": 1}


def test_newer_docs_model_counts_inserts_in_their_own_bucket(engine: Engine, clock: FakeClock) -> None:
    store = UsageStore(engine, Settings(youtube_daily_uploads=2), clock=clock)
    gate = QuotaGate(store)
    assert gate.reserve("chan", "youtube").allowed
    assert gate.reserve("chan", "youtube").allowed
    third = gate.reserve("chan", "youtube")
    assert not third.allowed and "youtube:videos.insert" in third.reason


def test_per_account_override_and_limit_larger_than_quota(engine: Engine, clock: FakeClock) -> None:
    settings = Settings(account_quota_limits={"small": {"youtube": 1000}}, youtube_daily_uploads=None)
    gate = QuotaGate(UsageStore(engine, settings, clock=clock))
    never = gate.reserve("small", "youtube")
    assert not never.allowed and never.wait_until is None
    assert "more than the whole limit" in never.reason
    assert gate.reserve("big", "youtube").allowed


def test_manager_path_without_reservation_still_counts(engine: Engine, clock: FakeClock) -> None:
    store = UsageStore(engine, Settings(upload_post_monthly_limit=1), clock=clock)
    store.record_attempt("acct", ok("tiktok"), duration_s=1.5)
    assert _state(store, "acct", "upload-post")["used"] == 1
    assert not QuotaGate(store).check("acct", "tiktok").allowed


def test_youtube_day_across_the_spring_dst_change(engine: Engine) -> None:
    """Used up on Saturday evening PST: free again at Sunday 00:00 PST (08:00 UTC); Sunday is a
    23-hour day, so Monday's reset is at 00:00 PDT (07:00 UTC)."""
    clock = FakeClock(datetime(2026, 3, 8, 5, 0, tzinfo=UTC))  # Sat Mar 7, 21:00 PST
    gate = QuotaGate(
        UsageStore(engine, Settings(youtube_daily_units=1600, youtube_daily_uploads=None), clock=clock)
    )
    assert gate.reserve("chan", "youtube").allowed
    denied = gate.reserve("chan", "youtube")
    assert denied.wait_until == datetime(2026, 3, 8, 8, 0, tzinfo=UTC)
    clock.current = datetime(2026, 3, 8, 8, 0, tzinfo=UTC)
    assert gate.reserve("chan", "youtube").allowed
    clock.advance(hours=22, minutes=59)  # Sunday 23:59 PDT
    assert gate.reserve("chan", "youtube").wait_until == datetime(2026, 3, 9, 7, 0, tzinfo=UTC)
    clock.advance(minutes=1)
    assert gate.reserve("chan", "youtube").allowed


def test_counting_without_enforcing(engine: Engine, clock: FakeClock) -> None:
    store = UsageStore(engine, Settings(quota_enforce=False, upload_post_monthly_limit=1), clock=clock)
    gate = QuotaGate(store)
    for _ in range(3):
        d = gate.reserve("acct", "tiktok")
        assert d.allowed
        gate.settle(d.reservation, "acct", ok("tiktok"))
    assert _state(store, "acct", "upload-post")["used"] == 3


def test_documented_costs_are_the_defaults_and_a_setting_changes_what_is_counted(
    engine: Engine, clock: FakeClock
) -> None:
    """determine_quota_cost today: videos.insert is one call of its own bucket of 100 a day; the
    thumbnail (50) and the playlist item (50) come out of the 10,000 daily units."""
    with_both = PublishConfig(thumbnail_path="t.jpg", platform_specific={"youtube": {"playlist_id": "PL1"}})
    store = UsageStore(engine, Settings(), clock=clock)
    assert (store.settings.youtube_daily_uploads, store.settings.youtube_daily_units) == (100, 10_000)
    charges = {c.bucket: c.amount for c in store.charges_for("youtube", with_both)}
    assert charges == {"youtube:videos.insert": 1, "youtube": 100}
    d = store.reserve("chan", "youtube", config=with_both)
    assert d.allowed
    assert _state(store, "chan", "youtube")["used"] == 100
    assert _state(store, "chan", "youtube:videos.insert")["limit"] == 100

    # A cost set for one method changes only that one; the others keep their documented figure.
    dear = UsageStore(engine, Settings(youtube_unit_costs={"thumbnails.set": 70}), clock=clock)
    charges = {c.bucket: c.amount for c in dear.charges_for("youtube", with_both)}
    assert charges["youtube"] == 70 + 50
    d = dear.reserve("other", "youtube", config=with_both)
    assert d.allowed and _state(dear, "other", "youtube")["used"] == 120
    # The older rule, with its insert cost set too.
    legacy = Settings(youtube_daily_uploads=None, youtube_unit_costs={"videos.insert": 1000})
    assert [(c.bucket, c.amount) for c in UsageStore(engine, legacy).charges_for("youtube")] == [
        ("youtube", 1000)
    ]


def test_a_cost_for_a_method_that_is_not_called_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"youtube_unit_costs\.video\.insert: not a method"):
        Settings(youtube_unit_costs={"video.insert": 10})
    with pytest.raises(ValueError, match=r"youtube_unit_costs\.videos\.list: must be a whole number"):
        Settings(youtube_unit_costs={"videos.list": -1})


def test_the_calls_an_attempt_reports_are_what_it_is_charged(engine: Engine, clock: FakeClock) -> None:
    """A YouTube result names the calls its attempt made: each costs its setting, failed or not;
    the insert only when its upload started (the module's insert rule)."""
    store = UsageStore(engine, Settings(youtube_unit_costs={"videos.list": 2}), clock=clock)
    gate = QuotaGate(store)
    held = gate.reserve("chan", "youtube")
    assert held.allowed and held.reservation is not None
    calls = {"videos.insert": 1, "videos.list": 4, "thumbnails.set": 2, "playlistItems.list": 1}
    gate.settle(held.reservation, "chan", ok("youtube", youtube_calls=calls), duration_s=1.0)
    assert _state(store, "chan", "youtube")["used"] == 4 * 2 + 2 * 50 + 1
    assert _state(store, "chan", "youtube:videos.insert")["used"] == 1
    # Refused before the upload started: the channel-status read is spent, the insert given back.
    held = gate.reserve("chan", "youtube")
    assert held.allowed and held.reservation is not None
    refused = failed("youtube", ErrorKind.PERMANENT, youtube_calls={"channels.list": 1, "bogus": 9})
    gate.settle(held.reservation, "chan", refused, duration_s=1.0)
    assert _state(store, "chan", "youtube")["used"] == 4 * 2 + 2 * 50 + 1 + 1
    assert _state(store, "chan", "youtube:videos.insert")["used"] == 1
    with engine.connect() as conn:
        units = conn.execute(select(usage_records.c.quota_units).order_by(usage_records.c.id)).scalars().all()
    assert units == [109, 1]


def test_a_429_without_rate_headers_blocks_until_its_retry_after_and_no_longer(
    engine: Engine, clock: FakeClock
) -> None:
    """The window a bare 429 leaves (no ``X-RateLimit-*``: its limit is unknown, stored as 0)
    ends at its Retry-After; it used to start again for a minute at every check."""
    gate = QuotaGate(UsageStore(engine, Settings(upload_post_monthly_limit=10), clock=clock))
    d = gate.reserve("acct", "tiktok")
    limited = failed("tiktok", ErrorKind.RATE_LIMITED)
    limited.retry_after = 20.0
    gate.settle(d.reservation, "acct", limited)
    blocked = gate.reserve("acct", "tiktok")
    assert not blocked.allowed and blocked.rate_limited
    assert blocked.wait_until == clock() + timedelta(seconds=20)
    clock.advance(seconds=21)
    assert gate.check("acct", "tiktok").allowed
    assert gate.reserve("acct", "tiktok").allowed
    clock.advance(minutes=5)
    assert gate.reserve("acct", "instagram").allowed
