"""SQLite: the workers' hot writes and the API's enqueue run on the event loop, on a connection
that never waits.

A lock held elsewhere (another process's transaction) must not stall the loop: the write goes to
a thread that waits for it (an enqueue first sleeps on the loop a moment and tries again). The WAL
file must stay bounded over a long drain.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from multipublish.db import make_engine
from multipublish.db.engine import PgLoopConnection, PgLoopPool
from multipublish.errors import ConflictError, NotFoundError
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


async def _gaps_while(fut: asyncio.Future[Any]) -> float:
    """The longest the loop went without running this coroutine while ``fut`` was pending."""
    loop = asyncio.get_running_loop()
    worst = 0.0
    while not fut.done():
        t = loop.time()
        await asyncio.sleep(0.005)
        worst = max(worst, loop.time() - t)
    return worst


@pytest.fixture
def locked_queue(sqlite_url: str) -> Iterator[tuple[PublishingQueue, sqlite3.Connection]]:
    """A queue on SQLite, and another connection to hold its write lock as another process does."""
    engine = make_engine(sqlite_url)
    queue = PublishingQueue(engine, RecordingPublisher(), settings=queue_settings())
    other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    yield queue, other
    other.close()
    queue.close()
    engine.dispose()


async def test_an_enqueue_on_the_loop_waits_out_a_short_lock_without_stalling_it(
    locked_queue: tuple[PublishingQueue, sqlite3.Connection],
) -> None:
    queue, other = locked_queue
    first = await queue.add_job_on_loop("free", cfg())
    assert first is not None and first.status == QueueStatus.PENDING
    other.execute("BEGIN IMMEDIATE")  # another process's write, for less than the patience
    add = asyncio.ensure_future(queue.add_job_on_loop("short", cfg()))
    asyncio.get_running_loop().call_later(0.02, other.execute, "COMMIT")
    worst = await _gaps_while(add)
    job = add.result()
    assert job is not None and job.id == "short"
    assert worst < 0.5, worst  # SQLite's busy handler on the loop would have slept it through
    assert queue.get_job("short").status == QueueStatus.PENDING
    # A duplicate id is refused as by add_job, and nothing else was written.
    with pytest.raises(ConflictError):
        await queue.add_job_on_loop("short", cfg())
    assert queue.get_queue_stats()["total"] == 2


async def test_an_enqueue_on_the_loop_declines_a_long_lock_and_writes_nothing(
    locked_queue: tuple[PublishingQueue, sqlite3.Connection],
) -> None:
    queue, other = locked_queue
    other.execute("BEGIN IMMEDIATE")
    add = asyncio.ensure_future(queue.add_job_on_loop("long", cfg()))
    worst = await _gaps_while(add)
    assert add.result() is None  # the caller goes to a thread that waits
    assert worst < 0.5, worst
    other.execute("COMMIT")
    assert queue.get_queue_stats()["total"] == 0
    assert queue.add_job("long", cfg()).id == "long"  # the thread path, once
    assert queue.get_queue_stats()["total"] == 1


async def test_postgresql_enqueues_and_reads_awaited_on_an_asyncio_connection(pg_url: str) -> None:
    engine = make_engine(pg_url)
    queue = PublishingQueue(engine, RecordingPublisher(), settings=queue_settings())
    conn = PgLoopConnection(engine)
    try:
        assert not queue.writes_on_loop
        # Without a connection both decline, with nothing written: the caller uses a thread.
        assert await queue.add_job_on_loop("pg", cfg()) is None
        assert queue.get_queue_stats()["total"] == 0
        aconn = await conn.get()
        assert aconn is not None
        job = await queue.add_job_on_loop("pg", cfg(), aconn)
        assert job is not None and job.status == QueueStatus.PENDING
        assert queue.get_job("pg").to_dict() == job.to_dict()  # what the thread path reads back
        with pytest.raises(ConflictError):
            await queue.add_job_on_loop("pg", cfg(), aconn)
        assert queue.get_queue_stats()["total"] == 1
        read, seen = await queue.get_job_on_loop("pg", aconn)
        assert read and seen is not None and seen.to_dict() == queue.get_job("pg").to_dict()
        assert await queue.get_job_on_loop("pg") == (False, None)
        assert await queue.get_job_on_loop("unknown", aconn) == (False, None)  # the archive: a thread
    finally:
        await conn.close()
        queue.close()
        engine.dispose()


async def test_a_status_read_on_the_loop_is_not_kept_from_it_by_a_writer(
    locked_queue: tuple[PublishingQueue, sqlite3.Connection],
) -> None:
    queue, other = locked_queue
    queue.add_job("seen", cfg())
    read, job = await queue.get_job_on_loop("seen")
    assert read and job is not None and job.id == "seen"
    with pytest.raises(NotFoundError):
        await queue.get_job_on_loop("unknown")
    # A write in progress elsewhere: a reader in WAL mode reads the last commit, without waiting.
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE jobs SET priority = 9 WHERE id = 'seen'")
    read, job = await queue.get_job_on_loop("seen")
    assert read and job is not None and job.priority != 9
    other.execute("COMMIT")
    read, job = await queue.get_job_on_loop("seen")
    assert read and job is not None and job.priority == 9


async def test_the_api_pool_lends_connections_and_declines_when_it_cannot(
    pg_url: str, sqlite_url: str
) -> None:
    engine = make_engine(pg_url)
    pool = PgLoopPool(engine, size=2)
    try:
        async with pool.connection() as a, pool.connection() as b:
            assert a is not None and b is not None and a is not b  # two statements in flight
            assert (await (await a.execute("SELECT 1")).fetchone()) == (1,)
    finally:
        await pool.close()
        engine.dispose()
    lite = make_engine(sqlite_url)
    async with PgLoopPool(lite).connection() as none:
        assert none is None  # SQLite: the caller uses its own loop path or a thread
    lite.dispose()
    # A server that does not accept connections: ``None`` after ``wait``, then at once for a while.
    dead = make_engine("postgresql://postgres@127.0.0.1:1/test")
    gone = PgLoopPool(dead, wait=0.3, retry_after=30)
    try:
        loop = asyncio.get_running_loop()
        t = loop.time()
        async with gone.connection() as c:
            assert c is None
        assert loop.time() - t < 5
        t = loop.time()
        async with gone.connection() as c:
            assert c is None
        assert loop.time() - t < 0.1
    finally:
        await gone.close()
        dead.dispose()
