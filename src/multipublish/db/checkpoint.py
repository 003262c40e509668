"""SQLite: the WAL's checkpoints on a thread of their own, off the writers' commits.

SQLite's auto-checkpoint runs inside the commit that takes the WAL past 1,000 pages: that commit
copies the pages into the database file and fsyncs both files, several milliseconds, once every
hundred or so enqueues. Measured on one-by-one enqueues: the commit's median is 45 us, its mean
90 us, and the top 1% of commits (the checkpoints) is 46% of all commit time. With the copying
done here, every 50 ms or so on a connection of this thread's own (``PRAGMA
wal_checkpoint(PASSIVE)``, which never blocks a writer or waits for one), the mean commit was 55-60
us, and enqueues were ahead in every paired alternation against SQLite's default (5,462-5,790
against 4,256-5,276 jobs/s; ``docs/scaling.md``).

A passive checkpoint racing the writers rarely reaches the WAL's very end, and SQLite restarts the
WAL from its beginning only when it has, so the writers keep a larger auto-checkpoint of their own
(``BACKSTOP_PAGES``) that bounds the file: when it comes, most pages are already copied and it is
short. The thread slows down while the WAL does not move (up to one check a second) and stops
when its engine is disposed or collected; it never creates the database file.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import event

log = logging.getLogger(__name__)

#: The writers' own auto-checkpoint, in WAL pages (16 MB at 4 KB pages): the WAL's bound.
BACKSTOP_PAGES = 4000
#: Seconds between checkpoints while the WAL grows; doubled while it does not, up to ``IDLE_MAX``.
INTERVAL = 0.05
IDLE_MAX = 1.0


class WalCheckpointer:
    """Checkpoints ``path``'s WAL on a daemon thread while ``start``ed (see the module's text)."""

    def __init__(self, path: Path, interval: float = INTERVAL) -> None:
        self.path = path
        self.interval = interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether a thread checkpoints (one asked to stop does not count: ``start`` replaces it)."""
        thread = self._thread
        return thread is not None and thread.is_alive() and not self._stop.is_set()

    def start(self) -> None:
        """Start the thread unless it runs (idempotent; cheap enough for every pool connect)."""
        if self.running:
            return
        with self._lock:
            if self.running:
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(self._stop,), name=f"mp-wal-checkpoint:{self.path.name}", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end (it closes its connection); it may finish a checkpoint first."""
        self._stop.set()

    def _run(self, stop: threading.Event) -> None:
        try:
            # ``mode=rw``: a database removed meanwhile is not created again here.
            uri = f"file:{quote(str(self.path))}?mode=rw"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            log.debug("WAL checkpointer for %s not started: %s", self.path.name, exc)
            return
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
            wait = self.interval
            #: The WAL's pages and those checkpointed, as the last checkpoint found them.
            last: tuple[int, int] | None = None
            while not stop.wait(wait):
                try:
                    row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as exc:  # a lock held elsewhere, a disk error: later, slower
                    log.debug("WAL checkpoint of %s failed: %s", self.path.name, exc)
                    if not self.path.exists():  # the database removed: nothing left to do
                        return
                    wait = IDLE_MAX
                    continue
                pages = (int(row[1]), int(row[2])) if row else (0, 0)
                idle = pages == last and pages[0] == pages[1]
                last = pages
                wait = min(IDLE_MAX, wait * 2) if idle else self.interval
        finally:
            conn.close()


def checkpoint_in_background(engine: Any, path: Path) -> WalCheckpointer:
    """Attach a ``WalCheckpointer`` to ``engine`` (a SQLite file's): started by the pool's first
    connect (so the file exists and has its schema's owner), stopped when the engine is disposed
    (a later connect starts it again) or garbage-collected."""
    checkpointer = WalCheckpointer(path)

    @event.listens_for(engine, "connect")
    def _start(_dbapi_conn: Any, _record: Any) -> None:
        checkpointer.start()

    @event.listens_for(engine, "engine_disposed")
    def _stop(_engine: Any) -> None:
        checkpointer.stop()

    weakref.finalize(engine, checkpointer.stop)
    return checkpointer


__all__ = ["BACKSTOP_PAGES", "WalCheckpointer", "checkpoint_in_background"]
