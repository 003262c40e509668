"""SQLite: the workers' hot writes run on the event loop, on a connection that never waits.

A lock held elsewhere (another process's transaction) must not stall the loop: the write goes to
a thread that waits for it. The loop's connection never checkpoints at commit, so the committer
does it on a thread: the WAL file must stay bounded over a long drain.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import Any

from multipublish.db import make_engine
from multipublish.platforms.base import PublishResult
from multipublish.queue import PublishingQueue, QueuedPublishConfig, QueueStatus
from tests.queue.conftest import queue_settings
from tests.queue.publishers import RecordingPublisher


def cfg() -> QueuedPublishConfig:
    return QueuedPublishConfig(account_id="acct", platforms=["tiktok"], video_path="/v.mp4")


class GatedPublisher(RecordingPublisher):
    """Publishes once ``gate`` opens, after saying it started (``started``)."""

    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()
        self.gate = asyncio.Event()

    async def publish_to_platform(self, *args: Any, **kwargs: Any) -> PublishResult:
        self.started.set()
        await self.gate.wait()
        return await super().publish_to_platform(*args, **kwargs)


async def test_a_lock_held_elsewhere_never_stalls_the_loop(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    pub = GatedPublisher()
    queue = PublishingQueue(engine, pub, settings=queue_settings())
    queue.add_job("locked", cfg())
    await queue.start(1)
    other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        await asyncio.wait_for(pub.started.wait(), timeout=10)
        other.execute("BEGIN IMMEDIATE")  # another process's write transaction
        pub.gate.set()
        # The finish cannot commit while the lock is held; the loop must keep running meanwhile.
        # (A loop blocked in SQLite's busy handler would sit out its 30 s timeout in one sleep.)
        loop = asyncio.get_running_loop()
        gaps = []
        for _ in range(20):
            t = loop.time()
            await asyncio.sleep(0.01)
            gaps.append(loop.time() - t)
        assert max(gaps) < 5, max(gaps)
        assert queue.get_job("locked").status == QueueStatus.PROCESSING
        other.execute("COMMIT")
        assert await queue.wait_idle(timeout=30)
    finally:
        other.close()
        await queue.stop()
        engine.dispose()
    job = queue.get_job("locked")
    assert job.status == QueueStatus.COMPLETED, job.error_message
    assert len(pub.calls) == 1  # finished once, published once


async def test_the_wal_stays_bounded_over_a_long_drain(sqlite_url: str, tmp_path: Path) -> None:
    engine = make_engine(sqlite_url)
    queue = PublishingQueue(engine, RecordingPublisher(), settings=queue_settings())
    n = 1000
    for i in range(n):
        queue.add_job(f"j{i}", cfg())
    wal = tmp_path / "multipublish.db-wal"
    before = wal.stat().st_size
    await queue.start(1)
    try:
        assert await queue.wait_idle(timeout=120)
        grown = os.path.getsize(wal) - before  # (the last connection to close deletes the file)
    finally:
        await queue.stop()
        engine.dispose()
    assert queue.get_queue_stats()["completed"] == n
    # Each finished job writes about eight pages (4 KiB each): without checkpoints the drain alone
    # would leave the file near 33 MB; with one every 128 commits it is reused from the start.
    assert grown < 12 * 1024 * 1024, grown
