"""Every YouTube protocol step is stored before the next, and an attempt cut at any step is taken up
from what was stored: no session -> start over; a session -> ask its offset and resume; a video id
-> only the steps left. Real manager, real sandbox over HTTP, real database (both backends).

An attempt is cut by cancelling its task while the sandbox holds a request (``slow`` fault): like a
killed worker, it writes nothing more; the lease then expires on the test's clock. The SIGKILL of
real worker processes at every step is ``bench/killpoints.py`` (slow test ``test_killpoints``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from multipublish.manager import PublishingManager
from multipublish.platforms.base import PublishConfig
from multipublish.queue import PublishingQueue, QueuedPublishConfig, QueueStatus
from multipublish.settings import Settings
from tests.fixtures.youtube import arm, youtube_posts, youtube_state
from tests.queue.conftest import FakeClock

REFRESH_TOKEN = "1//refresh-token-of-the-test-account"
PLAYLIST = "PLsteps0001"


@pytest.fixture
async def make(
    engine: Engine, sandbox_url: str, secret_key: str, yt_client_secrets: Path
) -> AsyncIterator[Callable[..., tuple[PublishingQueue, FakeClock]]]:
    managers: list[PublishingManager] = []

    def build() -> tuple[PublishingQueue, FakeClock]:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            sandbox_url=sandbox_url,
            secret_key=secret_key,
            http_timeout=10.0,
            youtube_chunk_size=256 * 1024,
            lease_seconds=30,
        )
        manager = PublishingManager(settings, engine=engine)
        managers.append(manager)
        manager.add_account(
            "brand",
            "youtube",
            {"client_secrets_file": str(yt_client_secrets), "refresh_token": REFRESH_TOKEN},
        )
        clock = FakeClock()
        return PublishingQueue(engine, manager, settings=settings, clock=clock), clock

    yield build
    for m in managers:
        await m.aclose()


def hold(sandbox_url: str, on: str, *, seconds: float) -> None:
    """The sandbox holds the next ``on`` request ``seconds`` before handling it."""
    body = {"platform": "youtube", "fault": "slow", "on": on, "seconds": seconds}
    httpx.post(f"{sandbox_url}/_sandbox/faults", json=body, timeout=10).raise_for_status()


def youtube_job(video: Path, thumbnail: Path, **kw: Any) -> QueuedPublishConfig:
    return QueuedPublishConfig(
        account_id="brand",
        platforms=["youtube"],
        video_path=str(video),
        config=PublishConfig(
            title="Steps",
            description="d",
            thumbnail_path=str(thumbnail),
            platform_specific={"youtube": {"playlist_id": PLAYLIST}},
        ),
        retry_delay=0.0,
        **kw,
    )


async def cut_when(queue: PublishingQueue, predicate: Callable[[dict[str, Any]], bool]) -> None:
    """Run one attempt and cancel it (a crash: nothing more is written) once ``predicate`` holds
    for the stored YouTube result."""
    task = asyncio.create_task(queue.process_one())
    for _ in range(400):
        await asyncio.sleep(0.025)
        if predicate(queue.get_job("steps").results["youtube"]):
            break
    else:
        task.cancel()
        raise AssertionError("the step was never stored")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def assert_one_complete_video(sandbox_url: str) -> None:
    [post] = youtube_posts(sandbox_url)
    state = youtube_state(sandbox_url)
    assert post["playlists"] == [PLAYLIST]
    assert [i["snippet"]["resourceId"]["videoId"] for i in state["playlist_items"]] == [post["video_id"]]
    assert post["thumbnail"], post


@pytest.mark.parametrize(
    ("held", "stored"),
    [
        ("insert", lambda r: True),  # the session request unanswered: nothing stored yet
        ("chunk", lambda r: "/upload/" in (r["reference"] or "")),  # session stored, no byte
        ("thumbnail", lambda r: bool(r["video_id"])),  # the video is live, the rest is not
        ("playlist", lambda r: "thumbnail" in (r["reference"] or "")),
    ],
    ids=["session-unanswered", "session-created", "video-made", "thumbnail-set"],
)
async def test_attempt_cut_at_a_step_is_finished_from_what_was_stored(
    make: Callable[..., tuple[PublishingQueue, FakeClock]],
    sandbox_url: str,
    yt_clip: Path,
    yt_thumbnail: Path,
    held: str,
    stored: Callable[[dict[str, Any]], bool],
) -> None:
    queue, clock = make()
    queue.add_job("steps", youtube_job(yt_clip, yt_thumbnail))
    hold(sandbox_url, held, seconds=1.0)
    await cut_when(queue, stored)
    await asyncio.sleep(1.5)  # the held request reaches the platform after the "crash"
    clock.advance(31)  # the lease expires
    job = await queue.process_one()
    assert job is not None and job.status == QueueStatus.COMPLETED, (job.status, job.error_message)
    assert job.attempts == 2
    result = job.results["youtube"]
    assert result["video_id"] and f"video={result['video_id']}" in result["reference"]
    assert_one_complete_video(sandbox_url)


async def test_upload_cut_mid_file_resumes_from_the_session_offset(
    make: Callable[..., tuple[PublishingQueue, FakeClock]],
    sandbox_url: str,
    yt_clip: Path,
    yt_thumbnail: Path,
) -> None:
    queue, clock = make()
    queue.add_job("steps", youtube_job(yt_clip, yt_thumbnail))
    # Every chunk held a little, so the cut lands mid-file however fast the machine uploads.
    body = {"platform": "youtube", "fault": "slow", "on": "chunk", "seconds": 0.2, "times": 3}
    httpx.post(f"{sandbox_url}/_sandbox/faults", json=body, timeout=10).raise_for_status()
    await cut_when(queue, lambda r: r["bytes_sent"] >= 512 * 1024)  # two chunks confirmed
    httpx.delete(f"{sandbox_url}/_sandbox/faults", timeout=10).raise_for_status()
    clock.advance(31)
    job = await queue.process_one()
    assert job is not None and job.status == QueueStatus.COMPLETED, job.error_message
    assert_one_complete_video(sandbox_url)
    # one session only: the second attempt continued it rather than starting the file again
    assert len(youtube_state(sandbox_url)["sessions"]) == 1


async def test_job_given_up_while_unknown_is_retried_and_reconciled_not_reposted(
    make: Callable[..., tuple[PublishingQueue, FakeClock]],
    sandbox_url: str,
    yt_clip: Path,
    yt_thumbnail: Path,
) -> None:
    queue, clock = make()
    queue.add_job("steps", youtube_job(yt_clip, yt_thumbnail, max_retries=0))
    arm(sandbox_url, "slow", on="chunk")
    await cut_when(queue, lambda r: "/upload/" in (r["reference"] or ""))
    clock.advance(31)
    assert queue.store.recover_expired() == 1  # attempts spent: the job gives up...
    job = queue.get_job("steps")
    assert job.status == QueueStatus.FAILED
    assert job.results["youtube"]["status"] == "unknown"  # ...but the platform is never "failed"
    assert "jobs retry steps" in (job.error_message or ""), job.error_message
    assert youtube_posts(sandbox_url) == []
    queue.retry_job("steps")
    job = await queue.process_one()
    assert job is not None and job.status == QueueStatus.COMPLETED, job.error_message
    assert_one_complete_video(sandbox_url)
