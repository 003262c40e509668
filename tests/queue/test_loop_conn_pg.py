"""PostgreSQL: the committer finishes jobs on an asyncio connection of its own (one function call
awaited on the event loop, no thread hand-off). When that connection dies, the finishes go to the
thread pool and the connection is opened again; no job is lost or published twice."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from sqlalchemy import text

import multipublish.queue.worker as worker_mod
from multipublish.db import make_engine
from multipublish.platforms.base import PublishResult
from multipublish.queue import PublishingQueue, QueuedPublishConfig, QueueStatus
from multipublish.queue.store import JobStore
from tests.queue.conftest import queue_settings
from tests.queue.publishers import RecordingPublisher


def cfg() -> QueuedPublishConfig:
    return QueuedPublishConfig(account_id="a", platforms=["tiktok"], video_path="/v.mp4")


class KillingPublisher(RecordingPublisher):
    """Publishes; at the ``at``-th publish, terminates the committer's connection on the server
    (the connection then sits idle: at one job in flight the previous finish has returned)."""

    def __init__(self, url: str, at: int) -> None:
        super().__init__()
        self.url = url
        self.at = at
        self.queue: PublishingQueue | None = None
        self.killed: int | None = None

    async def publish_to_platform(self, *args: Any, **kwargs: Any) -> PublishResult:
        if len(self.calls) + 1 == self.at:
            assert self.queue is not None
            conn = self.queue._committer_conn.connection
            assert conn is not None and not conn.closed, "the earlier finishes did not use it"
            self.killed = conn.info.backend_pid
            admin = make_engine(self.url)
            with admin.connect() as c:
                assert c.execute(text("SELECT pg_terminate_backend(:p)"), {"p": self.killed}).scalar()
            admin.dispose()
        return await super().publish_to_platform(*args, **kwargs)


async def test_a_dead_loop_connection_loses_nothing(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(worker_mod, "_LOOP_CONN_RETRY", 0.0)
    engine = make_engine(pg_url)
    pub = KillingPublisher(pg_url, at=8)
    queue = PublishingQueue(engine, pub, settings=queue_settings())
    pub.queue = queue
    n = 30
    for i in range(n):
        queue.add_job(f"j{i:02d}", cfg())
    caplog.set_level(logging.WARNING, logger="multipublish.queue.worker")
    await queue.start(1)
    try:
        assert await queue.wait_idle(timeout=60)
        again = queue._committer_conn.connection
        assert again is not None and not again.closed
        assert again.info.backend_pid != pub.killed  # opened again after the failure
    finally:
        await queue.stop()
    assert queue._committer_conn.connection is None  # closed with the workers
    assert pub.killed is not None
    assert any("finishing on the loop's connection failed" in r.getMessage() for r in caplog.records)
    jobs = [queue.get_job(f"j{i:02d}") for i in range(n)]
    assert [j.status for j in jobs] == [QueueStatus.COMPLETED] * n, [j.error_message for j in jobs]
    published = sorted(rid for _, _, rid in pub.calls)
    assert len(published) == n and len(set(published)) == n  # each job published once
    engine.dispose()


async def test_sqlite_opens_no_loop_connection(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    pub = RecordingPublisher()
    queue = PublishingQueue(engine, pub, settings=queue_settings())
    queue.add_job("one", cfg())
    await queue.start(1)
    try:
        assert await queue.wait_idle(timeout=30)
        await asyncio.sleep(0)
        assert queue._committer_conn.connection is None
    finally:
        await queue.stop()
    assert queue.get_job("one").status == QueueStatus.COMPLETED
    engine.dispose()


async def test_a_declined_finish_is_not_tried_again_on_the_thread(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the function declines (here: always), the finish goes to the transaction at once;
    planning it for the function a second time on the thread would be wasted work."""
    planned: list[int] = []

    def decline(self: JobStore, items: Any, now: Any) -> None:
        planned.append(len(items))

    monkeypatch.setattr(JobStore, "_plan_finish_and_claim", decline)
    engine = make_engine(pg_url)
    pub = RecordingPublisher()
    queue = PublishingQueue(engine, pub, settings=queue_settings())
    n = 6
    for i in range(n):
        queue.add_job(f"d{i}", cfg())
    await queue.start(1)
    try:
        assert await queue.wait_idle(timeout=60)
    finally:
        await queue.stop()
    assert [queue.get_job(f"d{i}").status for i in range(n)] == [QueueStatus.COMPLETED] * n
    assert len(pub.calls) == n
    assert sum(planned) == n, planned  # each job's finish planned for the function once
    engine.dispose()


async def test_a_silent_server_fails_the_loop_connect_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that accepts the TCP connection and never answers: the committer's connect gives
    up after ``LOOP_CONNECT_TIMEOUT`` (libpq alone would wait for ever, and every finish with it)."""
    import socket

    import psycopg

    from multipublish.db import engine as db_engine

    monkeypatch.setattr(db_engine, "LOOP_CONNECT_TIMEOUT", 1)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{silent.getsockname()[1]}/x")
        with pytest.raises(psycopg.OperationalError):
            await asyncio.wait_for(db_engine.loop_connection(engine), timeout=15)
        engine.dispose()
