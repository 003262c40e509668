"""An upload-post 429 with ``Retry-After: 3`` and ``X-RateLimit-Remaining: 0`` is a 3-second wait,
not a 60-second quota park: real manager, real quota gate, the sandbox over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from multipublish.manager import PublishingManager
from multipublish.platforms.base import PublishConfig
from multipublish.queue import PublishingQueue, QueuedPublishConfig, QueueStatus
from multipublish.settings import Settings
from multipublish.usage import QuotaGate, UsageStore
from tests.platforms.upload_post_support import arm, credentials, posts
from tests.queue.conftest import FakeClock


@pytest.fixture
async def manager(engine: Engine, sandbox_url: str, secret_key: str) -> AsyncIterator[PublishingManager]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        sandbox_url=sandbox_url,
        secret_key=secret_key,
        http_timeout=10.0,
    )
    mgr = PublishingManager(settings, engine=engine)
    mgr.add_account("brand", "tiktok", credentials("tiktok"))
    yield mgr
    await mgr.aclose()


async def test_429_with_retry_after_waits_that_long_and_is_not_a_quota(
    manager: PublishingManager, engine: Engine, sandbox_url: str, vertical_video: Path
) -> None:
    clock = FakeClock()
    gate = QuotaGate(UsageStore(engine, manager.settings, clock=clock))
    queue = PublishingQueue(engine, manager, settings=manager.settings, clock=clock, quota_gate=gate)
    arm(sandbox_url, "tiktok", "rate_limit", times=1, seconds=3)
    queue.add_job(
        "limited",
        QueuedPublishConfig(
            account_id="brand",
            platforms=["tiktok"],
            video_path=str(vertical_video),
            config=PublishConfig(title="rate", description="limited"),
            retry_delay=300.0,
            max_retries=1,
        ),
    )
    job = await queue.process_one()
    assert job is not None
    assert job.status == QueueStatus.RETRYING, job.wait_reason  # not "scheduled" (a quota park)
    assert job.run_at == clock.now + timedelta(seconds=3)  # Retry-After, not 60 s, not 300 s
    assert job.wait_reason is not None and "rate limited" in job.wait_reason
    assert job.attempts == 0  # a wait the service asked for is not a failed attempt
    clock.advance(2)
    assert await queue.process_one() is None
    clock.advance(1)
    job = await queue.process_one()  # the gate's rate window opened with Retry-After too
    assert job is not None and job.status == QueueStatus.COMPLETED, job.wait_reason
    assert len(posts(sandbox_url, "tiktok")) == 1
