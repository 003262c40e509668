"""``auto_fix`` through the queue: the job detail and the webhook say what was done; a retry
reuses the finished rendition (real clips, the sandbox over HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from multipublish.manager import PublishingManager
from multipublish.platforms.base import PublishConfig
from multipublish.queue import PublishingQueue, QueuedPublishConfig, QueueStatus
from multipublish.webhooks import build_payload
from tests.fixtures.videos import VideoFactory
from tests.platforms.upload_post_support import arm, credentials, posts, sandbox_settings
from tests.queue.conftest import FakeClock


@pytest.fixture
async def manager(
    sandbox_url: str, engine: Engine, db_url: str, secret_key: str, tmp_path: Path
) -> AsyncIterator[PublishingManager]:
    settings = sandbox_settings(sandbox_url, db_url, secret_key, renditions_dir=tmp_path / "renditions")
    mgr = PublishingManager(settings, engine=engine)
    for platform in ("tiktok", "instagram"):
        mgr.add_account("acc", platform, credentials(platform))
    yield mgr
    await mgr.aclose()


async def test_queued_auto_fix_is_reported_and_reused_on_retry(
    manager: PublishingManager, engine: Engine, sandbox_url: str, video_factory: VideoFactory, tmp_path: Path
) -> None:
    wide = video_factory("mp4", width=640, height=360, duration=3.2, fps=30)  # TikTok takes it, Reels not
    clock = FakeClock()
    q = PublishingQueue(engine, manager, settings=manager.settings, clock=clock)
    arm(sandbox_url, "instagram", "http_500", times=1)
    cfg = QueuedPublishConfig(
        account_id="acc",
        platforms=["tiktok", "instagram:reels"],
        video_path=str(wide),
        config=PublishConfig(title="fixed"),
        auto_fix=True,
        retry_delay=30.0,
    )
    q.add_job("fix", cfg)
    job = await q.process_one()
    assert job is not None and job.status == QueueStatus.RETRYING
    [rendition] = (tmp_path / "renditions").glob("*.mp4")
    made = rendition.stat().st_mtime_ns
    clock.advance(60)
    job = await q.process_one()
    assert job is not None and job.status == QueueStatus.COMPLETED, job.error_message
    reels = job.results["instagram"]  # the default post type keeps the bare name
    assert reels["preparation"]["actions"] == ["reframe_pad"]
    assert reels["preparation"]["path"] == str(rendition)
    assert "preparation" not in job.results["tiktok"]  # valid as it was: sent untouched
    assert list((tmp_path / "renditions").glob("*.mp4")) == [rendition]
    assert rendition.stat().st_mtime_ns >= made  # reused (touched), not rewritten elsewhere
    assert [p["size"] for p in posts(sandbox_url, "instagram")] == [rendition.stat().st_size]
    assert [p["size"] for p in posts(sandbox_url, "tiktok")] == [wide.stat().st_size]
    payload = build_payload(job, "job.completed")
    assert payload["results"]["instagram"]["preparation"]["actions"] == ["reframe_pad"]
