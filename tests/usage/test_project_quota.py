"""YouTube quota belongs to the Google Cloud project (the OAuth client), not to the channel.

Google counts a project's units and ``videos.insert`` calls over every channel authorised through its
OAuth client (developers.google.com/youtube/v3/determine_quota_cost), so two channels on one client
share one budget, and two on different clients do not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from multipublish.accounts import AccountStore
from multipublish.manager import PublishingManager
from multipublish.platforms.base import PublishConfig
from multipublish.queue import PublishingQueue, QueuedPublishConfig, QueueStatus
from multipublish.settings import Settings
from multipublish.usage import QuotaGate, UsageStore
from multipublish.usage.resets import next_local_midnight
from multipublish.usage.tables import usage_records
from tests.fixtures.youtube import set_config, youtube_state
from tests.usage.conftest import FakeClock, ok

PROJECT_1 = "project-1.apps.googleusercontent.com"
PROJECT_2 = "project-2.apps.googleusercontent.com"


def _channel(store: AccountStore, account: str, client_id: str) -> None:
    store.add(
        account,
        "youtube",
        {"client_id": client_id, "client_secret": "s", "refresh_token": f"rt-{account}"},
    )


def test_channels_on_one_oauth_client_share_its_quota(
    engine: Engine, clock: FakeClock, secret_key: str
) -> None:
    # The older rule (inserts in units): two inserts of 1600.
    settings = Settings(secret_key=secret_key, youtube_daily_units=3500, youtube_daily_uploads=None)
    accounts = AccountStore(engine, settings)
    _channel(accounts, "brand-a", PROJECT_1)
    _channel(accounts, "brand-b", PROJECT_1)
    _channel(accounts, "brand-c", PROJECT_2)
    usage = UsageStore(engine, settings, clock=clock)
    gate = QuotaGate(usage)
    for account in ("brand-a", "brand-b"):
        decision = gate.reserve(account, "youtube")
        assert decision.allowed and decision.reservation is not None
        gate.settle(decision.reservation, account, ok("youtube"), job_id="j", duration_s=1.0)
    # brand-a's channel has used only 1600, but the project has used 3200 of 3500.
    refused = gate.reserve("brand-a", "youtube")
    assert not refused.allowed and "3200/3500" in refused.reason
    assert not gate.check("brand-b", "youtube").allowed
    assert gate.reserve("brand-c", "youtube").allowed  # another project, another quota
    [row] = [r for r in usage.quota_states("brand-b") if r["platform"] == "youtube"]
    assert row["account_id"] == f"google-project:{PROJECT_1}"
    assert row["used"] == 3200
    counter = usage.quota_state("brand-c", "youtube")
    assert counter is not None and counter["used"] == 1600
    # A metrics read by one channel (the insights collector's path) spends the project's units.
    assert usage.spend("brand-b", "youtube", 300).allowed
    assert not usage.spend("brand-a", "youtube", 1).allowed
    # An account without readable YouTube credentials keeps counters of its own; other buckets too.
    assert usage.quota_key("nobody", "youtube") == "nobody"
    assert usage.quota_key("brand-a", "upload-post") == "brand-a"
    assert usage.quota_key("brand-a", "youtube:videos.insert") == f"google-project:{PROJECT_1}"


def test_a_limit_set_for_the_project_applies_to_its_channels(
    engine: Engine, clock: FakeClock, secret_key: str
) -> None:
    settings = Settings(
        secret_key=secret_key,
        account_quota_limits={f"google-project:{PROJECT_1}": {"youtube": 1700}},
        youtube_daily_uploads=None,
    )
    accounts = AccountStore(engine, settings)
    _channel(accounts, "brand-a", PROJECT_1)
    _channel(accounts, "brand-b", PROJECT_1)
    usage = UsageStore(engine, settings, clock=clock)
    assert usage.configured_limit("brand-b", "youtube") == 1700
    assert usage.reserve("brand-a", "youtube").allowed
    refused = usage.reserve("brand-b", "youtube")
    assert not refused.allowed and "1600/1700" in refused.reason


def _posts(sandbox_url: str) -> list[dict[str, object]]:
    r = httpx.get(f"{sandbox_url}/_sandbox/posts", params={"platform": "youtube"}, timeout=10)
    r.raise_for_status()
    return list(r.json()["posts"])


@pytest.fixture
async def manager(
    engine: Engine, sandbox_url: str, secret_key: str, yt_client_secrets: Path
) -> AsyncIterator[PublishingManager]:
    settings = Settings(
        sandbox_url=sandbox_url,
        secret_key=secret_key,
        http_timeout=10.0,
        youtube_chunk_size=256 * 1024,
        youtube_daily_uploads=1,  # one upload a day per project (videos.insert's own bucket)
        status_poll_interval=0.01,  # processing polls without the 5 s waits
        status_poll_max_interval=0.02,
    )
    m = PublishingManager(settings, engine=engine)
    # Two channels through the same downloaded client secrets (one Cloud project) ...
    for account in ("brand-a", "brand-b"):
        m.add_account(
            account,
            "youtube",
            {"client_secrets_file": str(yt_client_secrets), "refresh_token": f"1//rt-{account}"},
        )
    # ... and one through a client of another project.
    m.add_account(
        "brand-c",
        "youtube",
        {"client_id": PROJECT_2, "client_secret": "other-secret", "refresh_token": "1//rt-brand-c"},
    )
    yield m
    await m.aclose()


async def test_second_channel_of_a_project_is_deferred_when_the_first_spent_its_quota(
    manager: PublishingManager, engine: Engine, clock: FakeClock, sandbox_url: str, vertical_video: Path
) -> None:
    store = UsageStore(engine, manager.settings, clock=clock)
    queue = PublishingQueue(
        engine, manager, settings=manager.settings, clock=clock, quota_gate=QuotaGate(store)
    )

    def job(account: str) -> QueuedPublishConfig:
        return QueuedPublishConfig(
            account_id=account,
            platforms=["youtube"],
            video_path=str(vertical_video),
            config=PublishConfig(title=f"Upload of {account}", description="d"),
        )

    queue.add_job("a", job("brand-a"))
    done = await queue.process_one()
    assert done is not None and done.status == QueueStatus.COMPLETED, done

    queue.add_job("b", job("brand-b"))
    held = await queue.process_one()
    assert held is not None and held.status == QueueStatus.SCHEDULED
    assert held.results["youtube"]["status"] == "deferred"
    assert held.wait_reason and "quota" in held.wait_reason
    # the project's counter, not brand-b's own (which has not uploaded anything)
    assert "youtube:videos.insert quota: 1/1" in str(held.results["youtube"]["error"])
    assert held.run_at == next_local_midnight(clock())

    queue.add_job("c", job("brand-c"))
    other = await queue.process_one()
    assert other is not None and other.status == QueueStatus.COMPLETED, other
    titles = sorted(str(p.get("title")) for p in _posts(sandbox_url))
    assert titles == ["Upload of brand-a", "Upload of brand-c"]  # brand-b never reached YouTube


async def test_every_call_of_a_publish_is_counted_as_google_charges_it(
    manager: PublishingManager,
    engine: Engine,
    clock: FakeClock,
    sandbox_url: str,
    vertical_video: Path,
    yt_thumbnail: Path,
) -> None:
    """Processing polls (videos.list), thumbnails.set and playlistItems.insert are all spent from
    the project's units: the counter ends where the service's own count of units does."""
    polls = 3
    set_config(sandbox_url, youtube_processing_polls=polls)
    settings = manager.settings
    store = UsageStore(engine, settings, clock=clock)
    queue = PublishingQueue(engine, manager, settings=settings, clock=clock, quota_gate=QuotaGate(store))
    before = youtube_state(sandbox_url)["quota_used"]
    queue.add_job(
        "polled",
        QueuedPublishConfig(
            account_id="brand-a",
            platforms=["youtube"],
            video_path=str(vertical_video),
            config=PublishConfig(
                title="Polled",
                description="d",
                thumbnail_path=str(yt_thumbnail),
                platform_specific={"youtube": {"playlist_id": "PLcounted"}},
            ),
        ),
    )
    done = await queue.process_one()
    assert done is not None and done.status == QueueStatus.COMPLETED, done
    spent = youtube_state(sandbox_url)["quota_used"] - before
    cost = settings.youtube_unit_cost
    # polls looks see it processing, the next one sees it processed
    expected = (polls + 1) * cost("videos.list") + cost("thumbnails.set") + cost("playlistItems.insert")
    assert spent == expected  # what the service charged ...
    counter = store.quota_state("brand-a", "youtube")
    assert counter is not None and counter["used"] == expected  # ... is what the project's counter says
    inserts = store.quota_state("brand-b", "youtube:videos.insert")
    assert inserts is not None and inserts["used"] == 1
    with engine.connect() as conn:
        units = conn.execute(
            select(usage_records.c.quota_units).where(usage_records.c.job_id == "polled")
        ).scalars().all()
    assert units == [expected]
