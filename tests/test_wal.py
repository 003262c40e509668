"""SQLite's WAL is checkpointed on a thread (``db.wal``), never inside a writer's commit, and the
file stays bounded while writes go on."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import text

from multipublish.db import make_engine, wal
from multipublish.db.engine import loop_engine
from multipublish.queue import PublishingQueue, QueuedPublishConfig
from tests.queue.conftest import queue_settings
from tests.queue.publishers import RecordingPublisher

PAGE = 4096


def _until(check: object, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_enqueues_leave_the_checkpoint_to_the_keeper_and_the_wal_stays_bounded(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'q.db'}")
    keeper = wal.wal_keeper(engine)
    assert keeper is not None
    queue = PublishingQueue(engine, RecordingPublisher(), settings=queue_settings())
    wal_file = tmp_path / "q.db-wal"
    largest = 0
    job = QueuedPublishConfig(account_id="a", platforms=["tiktok"], video_path="/v.mp4")
    try:
        for i in range(3000):  # about 30,000 WAL pages
            queue.add_job(f"j{i}", job)
            if i % 50 == 0:
                largest = max(largest, wal_file.stat().st_size)
        largest = max(largest, wal_file.stat().st_size)
        # SQLite's own checkpoint, inside the commit that crosses 1,000 pages, would keep the
        # file near 4 MB: it grew past that, so no enqueue checkpointed...
        assert largest > 2 * 1000 * PAGE, largest
        # ...and the keeper's restarts kept it well under the backstop (40 MB), where SQLite's
        # own checkpoint would have stopped it without them.
        assert largest < 0.8 * wal.BACKSTOP_PAGES * PAGE, largest
        assert keeper.checkpoints >= 10 and keeper.restarts >= 2, (keeper.checkpoints, keeper.restarts)
        assert queue.get_queue_stats()["pending"] == 3000
    finally:
        engine.dispose()


def test_the_keeper_counts_sqlalchemy_commits_and_its_thread_ends_when_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wal, "IDLE_SECONDS", 0.2)
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    keeper = wal.wal_keeper(engine)
    assert keeper is not None
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (n INTEGER)"))
        for i in range(wal.CHECKPOINT_EVERY):
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": i})
        assert _until(lambda: keeper.checkpoints >= 1)
        assert _until(lambda: keeper._thread is None)  # idle: no thread left behind
        with engine.connect() as conn:  # every commit is in the database file's view
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == wal.CHECKPOINT_EVERY
    finally:
        engine.dispose()


def test_no_keeper_where_the_checkpoint_is_done_another_way(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    inline = loop_engine(engine)
    assert inline is not None
    try:
        # The workers' loop connection: its committer checkpoints and waits (test_loop_writes).
        assert wal.wal_keeper(inline) is None
        memory = make_engine("sqlite://")
        assert wal.wal_keeper(memory) is None
        memory.dispose()
    finally:
        inline.dispose()
        engine.dispose()
