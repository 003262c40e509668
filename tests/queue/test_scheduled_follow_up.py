"""Scheduled means scheduled: an upload upload-post accepted for later (202 with ``job_id``) is
``scheduled`` in the queue, followed up by job id when due, and a later failure fails the job.

Real manager, real HTTP to a sandbox whose clock the test moves, real database (both backends).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from multipublish.manager import PublishingManager
from multipublish.platforms.base import PublishConfig
from multipublish.queue import PublishingQueue, QueuedPublishConfig, QueueStatus
from multipublish.sandbox import SandboxServer
from tests.platforms.upload_post_support import arm, credentials, posts, sandbox_settings
from tests.queue.conftest import FakeClock


class HandClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def service_clock() -> HandClock:
    return HandClock()


@pytest.fixture
def service(service_clock: HandClock) -> Iterator[SandboxServer]:
    with SandboxServer(clock=service_clock) as running:
        yield running


@pytest.fixture
async def manager(
    service: SandboxServer, engine: Engine, db_url: str, secret_key: str
) -> AsyncIterator[PublishingManager]:
    mgr = PublishingManager(sandbox_settings(service.url, db_url, secret_key), engine=engine)
    mgr.add_account("acc", "tiktok", credentials("tiktok"))
    yield mgr
    await mgr.aclose()


def _job(video: Path) -> QueuedPublishConfig:
    later = datetime.now(UTC) + timedelta(hours=2)
    return QueuedPublishConfig(
        account_id="acc",
        platforms=["tiktok"],
        video_path=str(video),
        config=PublishConfig(title="later", scheduled_time=later),
    )


@pytest.mark.parametrize("fails", [False, True], ids=["published-when-due", "fails-when-due"])
async def test_scheduled_upload_is_followed_up_by_job_id(
    fails: bool,
    manager: PublishingManager,
    engine: Engine,
    service: SandboxServer,
    service_clock: HandClock,
    vertical_video: Path,
) -> None:
    clock = FakeClock()
    q = PublishingQueue(engine, manager, settings=manager.settings, clock=clock)
    if fails:
        arm(service.url, "tiktok", "reject", code="tiktok_privacy_unavailable")
    q.add_job("s1", _job(vertical_video))
    job = await q.process_one()
    assert job is not None
    assert job.status == QueueStatus.SCHEDULED, job.error_message
    assert job.results["tiktok"]["status"] == "scheduled"
    assert job.results["tiktok"]["reference"].startswith("job:")
    assert job.attempts == 0  # accepted for later is not a failed attempt
    # The service keeps the post for later (a refused one shows up only as its job's failure).
    assert [p["status"] for p in posts(service.url)] == ([] if fails else ["scheduled"])
    # Not due yet at our side: nothing runs.
    clock.advance(600)
    assert await q.process_one() is None
    # Past the scheduled time at the service and ours: followed up through the job id.
    service_clock.now += 2 * 3600 + 120
    clock.advance(2 * 3600)
    job = await q.process_one()
    assert job is not None
    if fails:
        assert job.status == QueueStatus.FAILED, job.error_message
        assert job.results["tiktok"]["status"] == "failed"
        assert job.results["tiktok"]["error_kind"] == "permanent"
    else:
        assert job.status == QueueStatus.COMPLETED, job.error_message
        assert job.results["tiktok"]["status"] == "published"
    assert len(posts(service.url)) == (0 if fails else 1)  # never uploaded again
    assert len(service.state.requests) == 1
