"""The quota gate inside the real queue, real manager and real sandbox: a YouTube account at its
daily limit waits for midnight Pacific (status ``scheduled``, reason visible) while the same job's
TikTok post goes ahead; a ``quota_exceeded`` refusal from the service is handled the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from multipublish.manager import PublishingManager
from multipublish.platforms.base import PublishConfig
from multipublish.queue import PublishingQueue, QueuedPublishConfig, QueueStatus
from multipublish.settings import Settings
from multipublish.usage import QuotaGate, UsageStore
from multipublish.usage.resets import next_local_midnight
from multipublish.usage.tables import usage_records
from tests.usage.conftest import FakeClock

REFRESH_TOKEN = "1//refresh-token-of-the-test-account"


def _posts(sandbox_url: str, platform: str) -> int:
    r = httpx.get(f"{sandbox_url}/_sandbox/posts", params={"platform": platform}, timeout=10)
    r.raise_for_status()
    return len(r.json()["posts"])


def _arm(sandbox_url: str, platform: str, fault: str, times: int = 1) -> None:
    body = {"platform": platform, "fault": fault, "times": times}
    httpx.post(f"{sandbox_url}/_sandbox/faults", json=body, timeout=10).raise_for_status()


@pytest.fixture
async def world(
    engine: Engine,
    sandbox_url: str,
    secret_key: str,
    yt_client_secrets: Path,
    clock: FakeClock,
) -> AsyncIterator[Callable[..., tuple[PublishingQueue, UsageStore]]]:
    """Manager with a TikTok and a YouTube account on the sandbox; a queue with the quota gate."""
    managers: list[PublishingManager] = []

    def make(**overrides: Any) -> tuple[PublishingQueue, UsageStore]:
        settings = Settings(
            sandbox_url=sandbox_url,
            secret_key=secret_key,
            http_timeout=10.0,
            youtube_chunk_size=256 * 1024,
            status_poll_interval=0.05,
            status_poll_max_interval=0.1,
            **{"youtube_daily_uploads": None, **overrides},  # inserts counted in units (older rule)
        )
        manager = PublishingManager(settings, engine=engine)
        managers.append(manager)
        manager.add_account("brand", "tiktok", {"api_key": "test-key-0123456789abcdef", "user": "brand"})
        manager.add_account(
            "brand",
            "youtube",
            {"client_secrets_file": str(yt_client_secrets), "refresh_token": REFRESH_TOKEN},
        )
        store = UsageStore(engine, settings, clock=clock)
        queue = PublishingQueue(engine, manager, settings=settings, clock=clock, quota_gate=QuotaGate(store))
        return queue, store

    yield make
    for m in managers:
        await m.aclose()


def _job(video: Path, platforms: list[str]) -> QueuedPublishConfig:
    return QueuedPublishConfig(
        account_id="brand",
        platforms=platforms,
        video_path=str(video),
        config=PublishConfig(title="Quota test", description="d", tags=["t"]),
    )


async def test_youtube_at_daily_limit_waits_for_midnight_pacific_while_tiktok_goes_ahead(
    world: Callable[..., tuple[PublishingQueue, UsageStore]],
    clock: FakeClock,
    sandbox_url: str,
    vertical_video: Path,
    engine: Engine,
) -> None:
    # two uploads a day: each an insert and one processing read (videos.list, 1 unit)
    queue, store = world(youtube_daily_units=2 * 1601)
    for n in range(2):
        queue.add_job(f"yt{n}", _job(vertical_video, ["youtube"]))
        done = await queue.process_one()
        assert done is not None and done.status == QueueStatus.COMPLETED, done
    assert _posts(sandbox_url, "youtube") == 2

    queue.add_job("both", _job(vertical_video, ["tiktok", "youtube"]))
    job = await queue.process_one()
    assert job is not None
    midnight = next_local_midnight(clock())
    assert job.status == QueueStatus.SCHEDULED
    assert job.results["tiktok"]["success"] is True
    assert not job.results["youtube"]["success"]
    assert job.results["youtube"]["status"] == "deferred"
    assert job.wait_reason and "quota" in job.wait_reason and midnight.isoformat() in job.wait_reason
    assert job.run_at == midnight
    assert _posts(sandbox_url, "tiktok") == 1
    assert _posts(sandbox_url, "youtube") == 2  # the gate held it back: no call was made

    clock.current = midnight - timedelta(seconds=1)
    assert await queue.process_one() is None  # not a second early
    clock.current = midnight
    job = await queue.process_one()
    assert job is not None and job.status == QueueStatus.COMPLETED
    assert _posts(sandbox_url, "youtube") == 3
    assert _posts(sandbox_url, "tiktok") == 1  # never posted twice
    youtube = [s for s in store.quota_states("brand") if s["platform"] == "youtube"]
    assert youtube[0]["used"] == 1601  # the new Pacific day holds only the deferred upload
    with engine.connect() as conn:
        rows = conn.execute(select(usage_records.c.platform, usage_records.c.success)).all()
    # three YouTube uploads and one TikTok upload recorded; the deferral itself is not an attempt
    assert sorted(rows) == sorted([("youtube", True)] * 3 + [("tiktok", True)])


async def test_service_quota_refusal_defers_to_reset_and_other_platform_goes_ahead(
    world: Callable[..., tuple[PublishingQueue, UsageStore]],
    clock: FakeClock,
    sandbox_url: str,
    vertical_video: Path,
) -> None:
    queue, store = world()
    _arm(sandbox_url, "youtube", "quota_exceeded", times=1)
    queue.add_job("both", _job(vertical_video, ["tiktok", "youtube"]))
    job = await queue.process_one()
    assert job is not None
    midnight = next_local_midnight(clock())
    assert job.status == QueueStatus.SCHEDULED, job
    assert job.run_at == midnight
    assert job.results["tiktok"]["success"] is True
    assert job.results["youtube"]["error_kind"] == "quota"
    assert job.results["youtube"]["status"] == "deferred"
    assert _posts(sandbox_url, "youtube") == 0
    # the bucket is marked exhausted: other YouTube jobs of the account wait too
    decision = QuotaGate(store).check("brand", "youtube")
    assert not decision.allowed and decision.wait_until == midnight
    assert datetime(2026, 11, 25, 8, 0, tzinfo=UTC) == midnight
    clock.current = midnight
    job = await queue.process_one()
    assert job is not None and job.status == QueueStatus.COMPLETED
    assert (_posts(sandbox_url, "tiktok"), _posts(sandbox_url, "youtube")) == (1, 1)


async def test_direct_manager_publish_is_recorded_once(
    world: Callable[..., tuple[PublishingQueue, UsageStore]],
    sandbox_url: str,
    vertical_video: Path,
    engine: Engine,
) -> None:
    queue, store = world(price_per_upload={"tiktok": 0.5})
    manager = queue.manager
    results = await manager.publish_multi_platform(  # type: ignore[attr-defined]
        "brand", ["tiktok", "youtube"], vertical_video, PublishConfig(title="Direct", description="d")
    )
    assert all(r.success for r in results.values()), results
    with engine.connect() as conn:
        rows = conn.execute(
            select(usage_records.c.platform, usage_records.c.job_id, usage_records.c.cost)
        ).all()
    assert sorted(rows) == [("tiktok", None, 0.5), ("youtube", None, 0.0)]
    states = {s["platform"]: s["used"] for s in store.quota_states("brand")}
    assert states["youtube"] == 1600 + 1  # the insert and the processing read (videos.list)
    # the service's usage block, when the sandbox sends one, is the plan count
    assert states["upload-post"] >= 1
