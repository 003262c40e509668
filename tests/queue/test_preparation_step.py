"""Media preparation as its own step of a queued job: the job detail shows ``preparing`` with the
fraction encoded, then the upload; what was done reaches the stats; a worker process SIGKILLed
while it encodes leaves the job to be taken up again, and it completes with one post (real clips,
the sandbox over HTTP, a real ``multipublish worker`` process)."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from multipublish.cli import app
from multipublish.manager import PublishingManager
from multipublish.platforms.base import PublishConfig
from multipublish.queue import PublishingQueue, QueuedPublishConfig, QueueStatus
from multipublish.queue.models import FINISHED
from multipublish.usage.analytics import build_report
from tests.fixtures.videos import VideoFactory
from tests.platforms.upload_post_support import credentials, posts, sandbox_settings
from tests.queue.conftest import wait_for, worker_env


@pytest.fixture
async def manager(
    sandbox_url: str, engine: Engine, db_url: str, secret_key: str, tmp_path: Path
) -> AsyncIterator[PublishingManager]:
    settings = sandbox_settings(
        sandbox_url,
        db_url,
        secret_key,
        renditions_dir=tmp_path / "renditions",
        webhook_secret="whsec_" + base64.b64encode(os.urandom(24)).decode(),
        webhook_allow_hosts="127.0.0.1",
    )
    mgr = PublishingManager(settings, engine=engine)
    mgr.add_account("acc", "instagram", credentials("instagram"))
    yield mgr
    await mgr.aclose()


def _reels_job(video: Path, webhook_url: str | None = None) -> QueuedPublishConfig:
    # A 16:9 clip: Reels take 9:16 only, so auto_fix pads it (TikTok takes 16:9 as it is).
    return QueuedPublishConfig(
        account_id="acc",
        platforms=["instagram:reels"],
        video_path=str(video),
        config=PublishConfig(title="prepared"),
        auto_fix=True,
        webhook_url=webhook_url,
    )


async def test_preparation_shows_its_progress_then_the_job_publishes(
    manager: PublishingManager, engine: Engine, sandbox_url: str, video_factory: VideoFactory, tmp_path: Path
) -> None:
    wide = video_factory("mp4", width=640, height=360, duration=10.0, fps=30)
    q = PublishingQueue(engine, manager, settings=manager.settings)
    q.add_job("prep", _reels_job(wide, webhook_url="http://127.0.0.1:9/hook"))
    started = datetime.now(UTC)
    run = asyncio.create_task(q.process_one())
    seen: list[dict[str, Any]] = []
    while not run.done():
        job = await asyncio.to_thread(q.get_job, "prep")
        res = job.to_dict()["results"]["instagram"]  # what GET /jobs/{id} answers
        if res.get("phase"):
            seen.append(res)
        await asyncio.sleep(0.05)
    job = await run
    assert job is not None and job.status == QueueStatus.COMPLETED, job and job.error_message

    preparing = [r["progress"] for r in seen if r["phase"] == "preparing"]
    assert preparing, seen
    assert preparing == sorted(preparing)  # the fraction only grows
    assert any(0.0 < p < 1.0 for p in preparing), preparing  # seen part-way, not only at the ends
    assert {r["phase"] for r in seen} <= {"preparing", "uploading"}

    done = job.results["instagram"]
    assert "phase" not in done  # a written result ends the step
    assert done["preparation"]["actions"] == ["reframe_pad"]
    [rendition] = (tmp_path / "renditions").glob("*.mp4")
    assert done["preparation"]["path"] == str(rendition)
    assert [p["size"] for p in posts(sandbox_url, "instagram")] == [rendition.stat().st_size]
    [message] = q.webhook_log("prep")  # the outbox's job.completed, as it will be sent
    assert message["payload"]["results"]["instagram"]["preparation"]["actions"] == ["reframe_pad"]
    report = build_report(engine, manager.settings, started - timedelta(minutes=1), datetime.now(UTC))
    [instagram] = [g for g in report["by_platform"] if g["key"] == "instagram"]
    assert instagram["fixes"] == {"reframe_pad": 1}
    assert report["totals"]["fixes"] == {"reframe_pad": 1}


@pytest.mark.slow
def test_worker_killed_while_preparing_is_taken_up_again_and_posts_once(
    engine: Engine,
    db_url: str,
    secret_key: str,
    sandbox_url: str,
    video_factory: VideoFactory,
    tmp_path: Path,
    spawn: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wide = video_factory("mp4", width=640, height=360, duration=10.0, fps=30)
    renditions = tmp_path / "renditions"
    settings = sandbox_settings(sandbox_url, db_url, secret_key, renditions_dir=renditions)
    manager = PublishingManager(settings, engine=engine)
    manager.add_account("acc", "instagram", credentials("instagram"))
    q = PublishingQueue(engine, manager, settings=settings)
    q.add_job("killed", _reels_job(wide))
    env = worker_env(db_url, sandbox_url, secret_key, MULTIPUBLISH_RENDITIONS_DIR=str(renditions))

    def instagram() -> dict[str, Any]:
        return q.get_job("killed").to_dict()["results"]["instagram"]

    def mid_encode() -> bool:
        res = instagram()
        return res.get("phase") == "preparing" and 0.0 < (res.get("progress") or 0.0) < 1.0

    try:
        first = spawn(env, "--concurrency", "1")
        wait_for(mid_encode, 120, "the preparation part-way")
        first.send_signal(signal.SIGKILL)
        first.wait(10)

        # The job detail says where it stopped (the CLI reads the same row the API does).
        monkeypatch.setenv("MULTIPUBLISH_DATABASE_URL", db_url)
        monkeypatch.setenv("MULTIPUBLISH_SECRET_KEY", secret_key)
        out = CliRunner().invoke(app, ["jobs", "show", "killed"])
        assert out.exit_code == 0, out.output
        assert "instagram: processing (preparing: " in out.output, out.output
        # Nothing half-written looks finished: only a hidden temporary file may be there.
        assert [p for p in renditions.iterdir() if not p.name.startswith(".")] == []
        assert posts(sandbox_url, "instagram") == []

        spawn(env, "--concurrency", "1")
        wait_for(lambda: q.get_job("killed").status in FINISHED, 180, "the job to finish")
        final = q.get_job("killed").to_dict()
        assert final["status"] == "completed", final
        assert final["attempts"] == 2
        res = final["results"]["instagram"]
        assert res["preparation"]["actions"] == ["reframe_pad"]
        [rendition] = list(renditions.glob("*.mp4"))
        assert res["preparation"]["path"] == str(rendition)
        assert [p["size"] for p in posts(sandbox_url, "instagram")] == [rendition.stat().st_size]
    finally:
        asyncio.run(manager.aclose())
