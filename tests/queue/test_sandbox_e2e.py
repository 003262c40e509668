"""The queue with the real PublishingManager over real HTTP to the sandbox, and real worker
processes (``multipublish worker``) that get killed."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from multipublish.manager import PublishingManager
from multipublish.platforms.base import PublishConfig
from multipublish.queue import PublishingQueue, QueuedPublishConfig, QueueStatus
from tests.platforms.upload_post_support import arm, credentials, posts, sandbox_settings
from tests.queue.conftest import FakeClock, wait_for, worker_env


@pytest.fixture
async def manager(
    sandbox_url: str, engine: Engine, db_url: str, secret_key: str
) -> AsyncIterator[PublishingManager]:
    mgr = PublishingManager(sandbox_settings(sandbox_url, db_url, secret_key), engine=engine)
    for platform in ("tiktok", "instagram", "linkedin"):
        mgr.add_account("acc", platform, credentials(platform))
    yield mgr
    await mgr.aclose()


def job_cfg(video: Path, platforms: list[str], **kw: Any) -> QueuedPublishConfig:
    return QueuedPublishConfig(
        account_id="acc",
        platforms=platforms,
        video_path=str(video),
        config=PublishConfig(title="Queue e2e", description="through the queue"),
        **kw,
    )


async def test_partial_failure_then_retry_posts_only_the_missing_platform(
    manager: PublishingManager, engine: Engine, sandbox_url: str, vertical_video: Path
) -> None:
    clock = FakeClock()
    q = PublishingQueue(engine, manager, settings=manager.settings, clock=clock)
    arm(sandbox_url, "instagram", "http_500", times=1)
    q.add_job("e2e", job_cfg(vertical_video, ["tiktok", "instagram"], retry_delay=30.0))
    job = await q.process_one()
    assert job is not None and job.status == QueueStatus.RETRYING
    assert job.results["tiktok"]["status"] == "published"
    assert job.results["instagram"]["error_kind"] == "transient"
    assert len(posts(sandbox_url, "tiktok")) == 1 and posts(sandbox_url, "instagram") == []
    clock.advance(60)
    job = await q.process_one()
    assert job is not None and job.status == QueueStatus.COMPLETED, job.error_message
    assert len(posts(sandbox_url, "tiktok")) == 1
    assert len(posts(sandbox_url, "instagram")) == 1
    assert job.results["instagram"]["video_id"]


async def test_lost_response_never_posts_twice(
    manager: PublishingManager, engine: Engine, sandbox_url: str, vertical_video: Path
) -> None:
    clock = FakeClock()
    q = PublishingQueue(engine, manager, settings=manager.settings, clock=clock)
    arm(sandbox_url, "linkedin", "lose_response", times=1)
    q.add_job("lost", job_cfg(vertical_video, ["linkedin"], retry_delay=1.0))
    for _ in range(4):
        job = await q.process_one()
        if job is not None and job.status == QueueStatus.COMPLETED:
            break
        clock.advance(30)
    assert q.get_job("lost").status == QueueStatus.COMPLETED
    assert len(posts(sandbox_url, "linkedin")) == 1


# -- real processes --------------------------------------------------------------------------


@pytest.mark.slow
async def test_worker_killed_mid_upload_then_finished_elsewhere_without_duplicate(
    manager: PublishingManager,
    engine: Engine,
    db_url: str,
    sandbox_url: str,
    secret_key: str,
    vertical_video: Path,
    spawn: Any,
) -> None:
    q = PublishingQueue(engine, manager, settings=manager.settings)
    arm(sandbox_url, "tiktok", "slow", times=1, seconds=60)
    q.add_job("killed", job_cfg(vertical_video, ["tiktok"], retry_delay=1.0))
    env = worker_env(db_url, sandbox_url, secret_key)
    first = spawn(env, "--concurrency", "2")
    # The sandbox has accepted the post and is holding its answer back: kill the worker now.
    wait_for(lambda: len(posts(sandbox_url, "tiktok")) == 1, 60, "the upload to reach the sandbox")
    assert q.get_job("killed").status == QueueStatus.PROCESSING
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    spawn(env, "--concurrency", "2")
    wait_for(lambda: q.get_job("killed").status == QueueStatus.COMPLETED, 60, "the second worker")
    job = q.get_job("killed")
    assert job.attempts == 2
    assert len(posts(sandbox_url, "tiktok")) == 1  # reconciled, not reposted
    assert job.results["tiktok"]["success"]


@pytest.mark.slow
def test_two_worker_processes_drain_1000_jobs_exactly_once(
    pg_url: str, tmp_path: Path, secret_key: str, spawn: Any
) -> None:
    from tests.queue.conftest import queue_settings
    from tests.queue.publishers import RecordingPublisher

    q = PublishingQueue(pg_url, RecordingPublisher(), settings=queue_settings())
    platforms = ["tiktok", "instagram", "facebook", "linkedin", "youtube"]
    for i in range(1000):
        q.add_job(
            f"bulk-{i:04d}",
            QueuedPublishConfig(
                account_id=f"acct{i % 40}",
                platforms=[platforms[i % 5]],
                video_path="/videos/clip.mp4",
                priority=1 + i % 10,
            ),
        )
    log = tmp_path / "published.log"
    # Quotas are not what this drains: 40 accounts' plan and YouTube limits would defer most jobs to
    # their reset (the workers enforce quotas, as production does; tests/usage covers that).
    env = worker_env(
        pg_url, None, secret_key, MP_TEST_PUBLISH_LOG=str(log), MULTIPUBLISH_QUOTA_ENFORCE="false"
    )
    workers = [
        spawn(env, "--concurrency", "8", "--publisher", "tests.queue.publishers:noop") for _ in range(2)
    ]
    wait_for(lambda: q.get_queue_stats()["completed"] == 1000, 240, "1000 completed jobs")
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
    for proc in workers:
        assert proc.wait(timeout=30) == 0
    lines = log.read_text().splitlines()
    ids = [line.split("\t")[0] for line in lines]
    assert len(ids) == 1000 and len(set(ids)) == 1000
    assert {f"mp-bulk-{i:04d}-{platforms[i % 5]}" for i in range(1000)} == set(ids)
    stats = q.get_queue_stats()
    assert stats["completed"] == 1000 and stats["processing"] == 0
    workers_seen = {j.locked_by for j in q.list_jobs(limit=1000)}
    assert workers_seen == {None}
