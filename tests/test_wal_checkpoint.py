"""SQLite: the WAL is checkpointed on the engine's own thread, not by the writers' commits, and
stays bounded while writes never stop."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from multipublish.db import engine as engine_mod
from multipublish.db import make_engine
from multipublish.db.checkpoint import WalCheckpointer


def _threads(path: Path) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"mp-wal-checkpoint:{path.name}" and t.is_alive()]


def _write(url: str, commits: int, *, checkpoint_thread: bool) -> tuple[int, int]:
    """``commits`` one-row transactions of about 3 KB each; the database and WAL file sizes
    a moment later (the thread's checkpoints come every 50 ms)."""
    eng = make_engine(url, checkpoint_thread=checkpoint_thread)
    path = Path(url.removeprefix("sqlite:///"))
    try:
        with eng.begin() as conn:
            conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)"))
        for i in range(commits):
            with eng.begin() as conn:
                conn.execute(text("INSERT INTO t (body) VALUES (:b)"), {"b": f"{i:06d}" * 500})
        deadline = time.monotonic() + 5
        while checkpoint_thread and time.monotonic() < deadline:
            if path.stat().st_size > commits * 3000:
                break
            time.sleep(0.02)
        sizes = path.stat().st_size, Path(f"{path}-wal").stat().st_size
        with eng.connect() as conn:  # nothing lost either way
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == commits
        return sizes
    finally:
        eng.dispose()


def test_the_thread_copies_the_wal_into_the_database_without_a_commit_doing_it(tmp_path: Path) -> None:
    # 300 commits stay far below the writers' own auto-checkpoint (BACKSTOP_PAGES): only the
    # thread can have copied the pages into the database file.
    with_thread, _ = _write(f"sqlite:///{tmp_path / 'a.db'}", 300, checkpoint_thread=True)
    without, wal = _write(f"sqlite:///{tmp_path / 'b.db'}", 300, checkpoint_thread=False)
    assert with_thread > 300 * 3000
    assert without < 100_000 < wal  # the pages are still in the WAL alone


def test_the_wal_stays_bounded_while_writes_never_pause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Passive checkpoints racing back-to-back commits rarely reach the WAL's end, so SQLite never
    # restarts it from its beginning on their account: the writers' backstop must bound it.
    monkeypatch.setattr(engine_mod, "BACKSTOP_PAGES", 100)
    _, wal = _write(f"sqlite:///{tmp_path / 'c.db'}", 1500, checkpoint_thread=True)
    assert wal < 3 * 100 * 4096  # SQLite's default of 1,000 pages would let it reach about 4 MB


def test_the_thread_ends_with_its_engine_and_comes_back_on_use(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    eng = make_engine(f"sqlite:///{path}")
    with eng.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert len(_threads(path)) == 1
    eng.dispose()
    deadline = time.monotonic() + 3
    while _threads(path) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _threads(path)
    with eng.connect() as conn:  # a disposed engine used again checkpoints again
        conn.execute(text("SELECT 1"))
    assert len(_threads(path)) == 1
    eng.dispose()


def test_a_missing_database_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "gone.db"
    checkpointer = WalCheckpointer(path)
    checkpointer.start()
    deadline = time.monotonic() + 3
    while checkpointer.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not checkpointer.running
    assert not path.exists()


def test_started_again_at_once_after_a_stop_it_still_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    sqlite3.connect(path).close()
    checkpointer = WalCheckpointer(path)
    checkpointer.start()
    checkpointer.stop()
    checkpointer.start()  # the stopped thread has not ended yet: a new one replaces it
    time.sleep(0.2)
    assert checkpointer.running
    assert len(_threads(path)) == 1
    checkpointer.stop()
