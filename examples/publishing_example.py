"""The brief's tour of multipublish, runnable as it is against the sandbox platforms.

    python examples/publishing_example.py --sandbox          # starts the sandbox in this process
    MULTIPUBLISH_SANDBOX_URL=http://127.0.0.1:8765 python examples/publishing_example.py

(``multipublish sandbox --port 8765`` serves the sandbox on its own.) It walks through account setup,
video validation, single- and multi-platform publishing, scheduled publishing, a batch of jobs and
queue management (list, inspect, cancel, retry). Everything happens in a scratch directory (its own
SQLite database and encryption key), so it never touches your accounts or your database. Against
the real services you would use the same calls with real credentials; see docs/upload-post.md and
docs/youtube.md for where those come from.

Exit status 0 when every step did what it should.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from multipublish import PublishConfig, PublishingManager, PublishingQueue, QueuedPublishConfig, Settings
from multipublish.queue import QueueStatus

ACCOUNT = "my_account"
FINISHED = (QueueStatus.COMPLETED, QueueStatus.FAILED, QueueStatus.CANCELLED)


def setup_accounts(manager: PublishingManager) -> None:
    """1. Account setup: upload-post carries TikTok, Instagram, Facebook and LinkedIn; YouTube is
    reached directly with a Google OAuth client and the refresh token of a consented channel."""
    upload_post = {"api_key": "your-upload-post-api-key", "user": "your-upload-post-profile"}
    for platform in ("tiktok", "instagram", "linkedin"):
        manager.add_account(ACCOUNT, platform, upload_post)
    manager.add_account(ACCOUNT, "facebook", {**upload_post, "page_id": "100000000000001"})
    manager.add_account(
        ACCOUNT,
        "youtube",
        {
            "client_id": "1234567890-example.apps.googleusercontent.com",
            "client_secret": "your-oauth-client-secret",
            "refresh_token": "from `multipublish accounts auth my_account`",
            "channel_name": "MyChannel",
        },
    )
    for entry in manager.list_accounts(ACCOUNT):  # credentials come back masked
        print(f"   {entry['account_id']}/{entry['platform']}: {sorted(entry['credentials'])}")


def validate(manager: PublishingManager, video: Path) -> bool:
    """2. Video validation: each platform's rules, before anything is uploaded."""
    report = manager.validate_video_for_platforms(video, ["tiktok", "instagram:stories", "youtube"])
    for platform, entry in report.items():
        verdict = "valid" if entry["valid"] else "invalid: " + "; ".join(entry["errors"])
        print(f"   {platform}: {verdict}")
    return all(entry["valid"] for entry in report.values())


async def publish_now(manager: PublishingManager, video: Path) -> bool:
    """3 and 4. Publishing to one platform, then to several at once."""
    config = PublishConfig(
        title="My Awesome Video",
        description="Check out this content!",
        tags=["viral", "trending"],
        platform_specific={"tiktok": {"privacy": "public", "allow_comments": True}},
    )
    result = await manager.publish_to_platform(ACCOUNT, "tiktok", str(video), config)
    print(f"   tiktok: success={result.success} url={result.url}")
    results = await manager.publish_multi_platform(
        ACCOUNT, ["instagram", "facebook", "linkedin", "youtube"], str(video), config
    )
    for platform, res in results.items():
        print(f"   {platform}: {res.status} {res.url or res.error}")
    return result.success and all(r.success for r in results.values())


async def wait(queue: PublishingQueue, job_ids: list[str], timeout: float = 120.0) -> None:
    """Poll until every job has finished (workers run in this process meanwhile)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not all(queue.get_job(j).status in FINISHED for j in job_ids):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"jobs still running after {timeout:.0f} s")
        await asyncio.sleep(0.2)


async def queue_tour(manager: PublishingManager, video: Path, sandbox_url: str) -> bool:
    """5, 6 and 7. A scheduled job, a batch, then managing the queue: list, inspect, cancel, retry."""
    queue = PublishingQueue(manager.engine, manager, settings=manager.settings)
    config = PublishConfig(title="Scheduled Video", description="Coming soon!")
    soon = datetime.now(UTC) + timedelta(seconds=2)
    scheduled = queue.add_job(
        None,
        QueuedPublishConfig(
            account_id=ACCOUNT, platforms=["tiktok", "instagram"], video_path=str(video),
            config=config, scheduled_time=soon, priority=8,
        ),
    )
    print(f"   5. scheduled {scheduled.id} for {soon:%H:%M:%S} UTC ({scheduled.status})")

    batch = [
        queue.add_job(
            None,
            QueuedPublishConfig(
                account_id=ACCOUNT, platforms=[platform], video_path=str(video),
                config=PublishConfig(title=f"Batch video {i + 1}"), priority=5,
            ),
        )
        for i, platform in enumerate(["linkedin", "facebook", "youtube"])
    ]
    later = queue.add_job(
        None,
        QueuedPublishConfig(
            account_id=ACCOUNT, platforms=["tiktok"], video_path=str(video), config=config,
            scheduled_time=datetime.now(UTC) + timedelta(days=1),
        ),
    )
    print(f"   6. batch of {len(batch)} jobs and one for tomorrow added")

    # Sandbox only: make the next TikTok upload fail for good, to show a failed job and its retry.
    httpx.post(f"{sandbox_url}/_sandbox/faults", json={"platform": "tiktok", "fault": "reject"}, timeout=10)
    doomed = queue.add_job(
        None,
        QueuedPublishConfig(
            account_id=ACCOUNT, platforms=["tiktok"], video_path=str(video),
            config=PublishConfig(title="This one fails first"), max_retries=0,
        ),
    )

    await queue.start(concurrency=4)
    try:
        await wait(queue, [scheduled.id, doomed.id, *(j.id for j in batch)])
        print("   7. queue management:")
        for job in queue.list_jobs(limit=10):
            print(f"      {job.id} {job.status} p{job.priority} {','.join(job.platforms)}")
        failed = queue.get_job(doomed.id)
        print(f"      {failed.id} failed: {failed.error_message}")
        cancelled = queue.cancel_job(later.id)
        print(f"      cancelled {cancelled.id}: {cancelled.status}")
        retried = queue.retry_job(failed.id)
        print(f"      retried {retried.id}: {retried.status}")
        await wait(queue, [failed.id])
        stats = queue.get_queue_stats()
        print(f"      stats: {({k: v for k, v in stats.items() if isinstance(v, int)})}")
    finally:
        await queue.stop()

    jobs = [queue.get_job(j.id) for j in (scheduled, doomed, *batch)]
    return (
        failed.status == QueueStatus.FAILED
        and all(j.status == QueueStatus.COMPLETED for j in jobs)
        and queue.get_job(later.id).status == QueueStatus.CANCELLED
    )


async def tour(settings: Settings, video: Path) -> bool:
    manager = PublishingManager(settings)
    try:
        print("1. Account setup")
        setup_accounts(manager)
        print("2. Validation")
        valid = validate(manager, video)
        print("3-4. Publishing now")
        published = await publish_now(manager, video)
        print("5-7. The queue")
        assert settings.sandbox_url is not None
        queued = await queue_tour(manager, video, settings.sandbox_url)
    finally:
        await manager.aclose()
    return valid and published and queued


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sandbox", action="store_true", help="start the sandbox platforms here")
    parser.add_argument("--video", type=Path, help="a video to publish (default: make a sample)")
    parser.add_argument("--dir", type=Path, help="scratch directory (default: a temporary one)")
    args = parser.parse_args(argv)

    with ExitStack() as stack:
        sandbox_url = os.environ.get("MULTIPUBLISH_SANDBOX_URL")
        if args.sandbox:
            from multipublish.sandbox import SandboxServer

            sandbox_url = stack.enter_context(SandboxServer()).url
        if not sandbox_url:
            print("error: set MULTIPUBLISH_SANDBOX_URL or pass --sandbox (this example publishes "
                  "only to the sandbox platforms)", file=sys.stderr)
            return 2
        workdir = args.dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        workdir.mkdir(parents=True, exist_ok=True)
        video = args.video
        if video is None:
            from multipublish.media.sample import make_video

            video = make_video(workdir / "video.mp4", width=1080, height=1920, duration=3.0, fps=30)
        elif not video.is_file():
            print(f"error: --video: no such file: {video}", file=sys.stderr)
            return 2
        settings = Settings(
            database_url=f"sqlite:///{workdir / 'example.db'}",
            secret_key=Fernet.generate_key().decode(),  # type: ignore[arg-type]
            sandbox_url=sandbox_url,
            status_poll_interval=0.2,
            status_poll_max_interval=0.5,
        )
        print(f"sandbox: {sandbox_url}; scratch directory: {workdir}")
        ok = asyncio.run(tour(settings, video.resolve()))
    print("all steps succeeded" if ok else "some step did not do what it should")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
