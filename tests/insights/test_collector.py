"""Metrics collected back from the emulator on the schedule, with quotas, deletions and revoked scopes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine

from multipublish.accounts import AccountStore
from multipublish.insights import InsightStore, MetricsCollector
from multipublish.sandbox.audience import Audience, counters
from multipublish.settings import Settings
from multipublish.usage.store import UsageStore
from tests.insights.conftest import REFRESH_TOKEN, UP_ACCOUNT, YT_ACCOUNT, FakeClock, arm, seed, set_audience


def _collector(db: Engine, settings: Settings, clock: FakeClock, accounts: AccountStore) -> MetricsCollector:
    return MetricsCollector(db, settings, clock=clock.dt, worker_id="w1", accounts=accounts)


async def test_youtube_metrics_follow_the_schedule(
    sb: str, settings: Settings, db: Engine, clock: FakeClock, accounts: AccountStore, yt_channel: str
) -> None:
    aud = set_audience(sb, yt_channel, base=2000.0, peaks=[10], noise=0.0)
    posts = seed(sb, "youtube", [clock.dt()] * 3, refresh_token=REFRESH_TOKEN)
    store = InsightStore(db, settings, clock=clock.dt)
    ids = [store.register(YT_ACCOUNT, "youtube", p["video_id"], clock.dt()) for p in posts]
    collector = _collector(db, settings, clock, accounts)

    assert (await collector.run_once()).claimed == 0  # first sample is due at 15 minutes
    clock.advance(15 * 60)
    r = await collector.run_once()
    assert (r.sampled, r.calls, r.quota_units) == (3, 1, 1)  # one videos.list call for all three
    row = store.post(ids[0])
    assert row["next_sample_at"] == clock.dt() + timedelta(minutes=15)

    # Late by 40 minutes: one sample now (no backfill of the 30 min sample), next at 2 h.
    clock.advance(45 * 60)
    r = await collector.run_once()
    assert r.sampled == 3
    row = store.post(ids[0])
    assert row["next_sample_at"] == datetime.fromtimestamp(clock.now - 3600 + 7200, UTC)
    pub = clock.now - 3600
    expected = counters(Audience(**aud), f"{yt_channel}:{pub}", pub, [], clock.now)
    assert row["views"] == expected["views"] and row["likes"] == expected["likes"]
    assert row["comments"] == expected["comments"]
    assert row["views_1h"] == expected["views"]  # sampled exactly at 1 h
    samples = store.samples(ids[0])
    assert [round(s["age_s"]) for s in samples] == [900, 3600]
    assert samples[0]["views"] < samples[1]["views"]

    # Quota counted in the shared counters (the channel's Google Cloud project's): 2 units so far.
    counter = UsageStore(db, settings).quota_state(YT_ACCOUNT, "youtube")
    assert counter is not None and counter["used"] == 2
    assert counter["account_id"].startswith("google-project:")

    # Run the whole schedule: 26 ages, ending at 30 days; then the post is done.
    for _ in range(40):
        due = store.next_due_at()
        if due is None:
            break
        clock.now = max(clock.now, due.timestamp())
        await collector.run_once()
    row = store.post(ids[0])
    assert row["state"] == "done" and row["next_sample_at"] is None
    assert row["views_24h"] is not None and row["views_7d"] is not None
    assert row["views_1h"] < row["views_24h"] < row["views_7d"] <= row["views"]
    ages = [s["age_s"] for s in store.samples(ids[0])]
    assert ages == sorted(ages) and ages[-1] == 30 * 86400


async def test_quota_stop_then_resume_and_a_deleted_video(
    sb: str, settings: Settings, db: Engine, clock: FakeClock, accounts: AccountStore, yt_channel: str
) -> None:
    posts = seed(sb, "youtube", [clock.dt()] * 2, refresh_token=REFRESH_TOKEN)
    store = InsightStore(db, settings, clock=clock.dt)
    ids = [store.register(YT_ACCOUNT, "youtube", p["video_id"], clock.dt()) for p in posts]
    collector = _collector(db, settings, clock, accounts)
    clock.advance(15 * 60)
    arm(sb, "youtube", "quota_exceeded", on="list")
    r = await collector.run_once()
    assert r.sampled == 0 and r.deferred == 2
    row = store.post(ids[0])
    assert row["state"] == "active" and "quota reset" in row["state_reason"]
    reset = row["next_sample_at"]
    assert reset > clock.dt()  # midnight Pacific after "now"
    counter = UsageStore(db, settings).quota_state(YT_ACCOUNT, "youtube")
    assert counter is not None and counter["exhausted_until"] == reset
    # Nothing is tried before the reset...
    clock.advance(60)
    assert (await collector.run_once()).claimed == 0
    # ... and collection resumes by itself after it.
    clock.now = reset.timestamp() + 1
    httpx.delete(f"{sb}/_sandbox/audience/videos/{posts[1]['video_id']}", timeout=10).raise_for_status()
    r = await collector.run_once()
    assert (r.sampled, r.deleted) == (1, 1)
    assert store.post(ids[0])["state"] == "active" and store.post(ids[0])["samples"] == 1
    gone = store.post(ids[1])
    assert gone["state"] == "deleted" and "no longer on YouTube" in gone["state_reason"]


async def test_upload_post_metrics_one_call_per_upload_and_a_revoked_scope(
    sb: str, settings: Settings, db: Engine, clock: FakeClock, accounts: AccountStore
) -> None:
    tk = seed(sb, "tiktok", [clock.dt()] * 2, user="brandprofile")
    store = InsightStore(db, settings, clock=clock.dt)
    ids = [
        store.register(UP_ACCOUNT, "tiktok", p["video_id"], clock.dt(), reference=p["request_id"]) for p in tk
    ]
    collector = _collector(db, settings, clock, accounts)
    clock.advance(3600)
    r = await collector.run_once()
    assert (r.sampled, r.calls, r.quota_units) == (2, 2, 0)
    row = store.post(ids[0])
    assert row["views"] > 0 and row["shares"] is not None

    # The analytics permission is withdrawn: paused with the reason, retried later by itself.
    arm(sb, "tiktok", "reject", on="analytics", times=2)
    clock.advance(3600)
    r = await collector.run_once()
    assert r.paused == 2
    row = store.post(ids[0])
    assert row["state"] == "paused" and "403" in row["state_reason"]
    clock.advance(6 * 3600 + 1)
    r = await collector.run_once()
    assert r.sampled == 2
    assert store.post(ids[0])["state"] == "active"


async def test_a_crashed_collector_lease_expires_and_another_takes_over(
    sb: str, settings: Settings, db: Engine, clock: FakeClock, accounts: AccountStore
) -> None:
    tk = seed(sb, "tiktok", [clock.dt()], user="brandprofile")
    store = InsightStore(db, settings, clock=clock.dt)
    pid = store.register(UP_ACCOUNT, "tiktok", tk[0]["video_id"], clock.dt(), reference=tk[0]["request_id"])
    clock.advance(900)
    assert [t.id for t in store.claim("dead-worker", limit=10)] == [pid]  # ... and it never reports
    other = _collector(db, settings, clock, accounts)
    assert (await other.run_once()).claimed == 0  # leased
    clock.advance(settings.insights_lease_seconds + 1)
    assert (await other.run_once()).sampled == 1


async def test_quota_exhausted_mid_collection_defers_the_rest_until_the_reset(
    sb: str, settings: Settings, db: Engine, clock: FakeClock, accounts: AccountStore
) -> None:
    # 60 videos: two videos.list calls; Google refuses the second (the project's quota is spent).
    posts = seed(sb, "youtube", [clock.dt()] * 60, refresh_token=REFRESH_TOKEN)
    store = InsightStore(db, settings, clock=clock.dt)
    ids = [store.register(YT_ACCOUNT, "youtube", p["video_id"], clock.dt()) for p in posts]
    httpx.post(f"{sb}/_sandbox/config", json={"youtube_quota": 1}, timeout=10).raise_for_status()
    collector = _collector(db, settings, clock, accounts)
    clock.advance(15 * 60)
    r = await collector.run_once()
    assert (r.sampled, r.deferred) == (50, 10)
    rows = [store.post(i) for i in ids]
    waiting = [row for row in rows if row["samples"] == 0]
    assert len(waiting) == 10
    assert all(row["state"] == "active" and "quota reset" in row["state_reason"] for row in waiting)
    reset = waiting[0]["next_sample_at"]
    assert reset > clock.dt()
    # The reset comes (the emulator's quota too): every post is sampled again, by itself.
    httpx.post(f"{sb}/_sandbox/config", json={"youtube_quota": 10000}, timeout=10).raise_for_status()
    clock.now = reset.timestamp() + 1
    r = await collector.run_until_idle()
    assert r.sampled >= 10
    assert all(store.post(i)["samples"] >= 1 and store.post(i)["state"] == "active" for i in ids)


async def test_a_post_deleted_on_upload_post_is_final(
    sb: str, settings: Settings, db: Engine, clock: FakeClock, accounts: AccountStore
) -> None:
    [tk] = seed(sb, "tiktok", [clock.dt()], user="brandprofile")
    store = InsightStore(db, settings, clock=clock.dt)
    pid = store.register(UP_ACCOUNT, "tiktok", tk["video_id"], clock.dt(), reference=tk["request_id"])
    collector = _collector(db, settings, clock, accounts)
    clock.advance(900)
    assert (await collector.run_once()).sampled == 1
    httpx.delete(f"{sb}/_sandbox/audience/videos/{tk['video_id']}", timeout=10).raise_for_status()
    clock.advance(900)
    r = await collector.run_once()
    row = store.post(pid)
    assert r.deleted == 1 and row["state"] == "deleted" and row["next_sample_at"] is None
    assert row["views"] > 0  # what was collected before stays
    clock.advance(86400)
    assert (await collector.run_once()).claimed == 0  # final: never asked again
