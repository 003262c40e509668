"""SQLite's WAL copied back into the database file on a thread of its own, not inside a commit.

SQLite checkpoints inside the commit that takes the WAL past ``wal_autocheckpoint`` pages (1,000 by
default): that one commit copies every page back and syncs the file, 5-7 ms here, once every
110 or so enqueues, a third of an enqueue's mean time. A ``WalKeeper`` runs the checkpoint on a
thread instead, every ``CHECKPOINT_EVERY`` commits, so no writer waits for it; SQLite's own
checkpoint stays as a backstop at ``BACKSTOP_PAGES`` (for a process whose keeper is not running).

A passive checkpoint never waits, but while writes go on it never reaches the end of the WAL, and
SQLite starts the file over only after a checkpoint that did: the file would grow without end.
Past ``RESTART_PAGES`` the keeper asks for a ``RESTART`` checkpoint, which holds writers back for
the few pages the passive runs left (waiting at most ``RESTART_WAIT_MS`` a try for the lock
or a reader) so the next
write starts the file over. https://www.sqlite.org/wal.html#automatic_checkpoint and
https://www.sqlite.org/c3ref/wal_checkpoint_v2.html
"""

from __future__ import annotations

import logging
import threading
import weakref

from sqlalchemy import Engine

log = logging.getLogger(__name__)

#: Commits between two checkpoints (about 1,200 WAL pages of enqueues).
CHECKPOINT_EVERY = 128
#: The WAL size, in pages, past which the keeper makes SQLite start the file over.
RESTART_PAGES = 4000
#: SQLite's own checkpoint, inside a commit, when the keeper has not kept up.
BACKSTOP_PAGES = 10000
#: How long a ``RESTART`` checkpoint waits for a writer or a reader before it gives up for now.
RESTART_WAIT_MS = 50
#: Tries of a ``RESTART`` checkpoint per run (a busy file is tried again at the next run).
RESTART_TRIES = 5
#: A keeper's thread ends after this long without a commit (and starts again with the next).
IDLE_SECONDS = 2.0

_keepers: weakref.WeakKeyDictionary[Engine, WalKeeper] = weakref.WeakKeyDictionary()


class WalKeeper:
    """Checkpoints one SQLite file's WAL on a thread, woken by every ``CHECKPOINT_EVERY`` commits."""

    def __init__(self, engine: Engine) -> None:
        self._engine = weakref.ref(engine)
        self._commits = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        #: Checkpoints run and WAL restarts asked for (tests and benchmarks read them).
        self.checkpoints = 0
        self.restarts = 0

    def committed(self) -> None:
        """Count a commit; every ``CHECKPOINT_EVERY``-th wakes the thread (starting it if idle)."""
        self._commits += 1  # a lost increment between threads only delays a checkpoint
        if self._commits < CHECKPOINT_EVERY:
            return
        self._commits = 0
        with self._lock:
            self._wake.set()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="multipublish-wal", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(IDLE_SECONDS)
            with self._lock:
                if not self._wake.is_set():  # idle: end (a commit starts another thread)
                    self._thread = None
                    return
                self._wake.clear()
            try:
                self.checkpoint()
            except Exception as exc:  # the next run catches up; SQLite's backstop bounds the file
                log.warning("WAL checkpoint failed: %s", type(exc).__name__)

    def checkpoint(self) -> None:
        """A passive checkpoint, then a ``RESTART`` one when the file has grown past
        ``RESTART_PAGES`` (passive runs racing the writes never let SQLite start it over)."""
        engine = self._engine()
        if engine is None:
            return
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            try:
                _, pages, _ = cur.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                self.checkpoints += 1
                if pages >= RESTART_PAGES:
                    # A short wait per try: once it has the write lock, a RESTART holds writers
                    # back while it waits for readers. Between tries, writers go on.
                    timeout = cur.execute("PRAGMA busy_timeout").fetchone()[0]
                    cur.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
                    try:
                        for _ in range(RESTART_TRIES):
                            busy, _, _ = cur.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                            if not busy:
                                self.restarts += 1
                                break
                    finally:
                        cur.execute(f"PRAGMA busy_timeout={int(timeout)}")
            finally:
                cur.close()
        finally:
            raw.close()


def keep_wal(engine: Engine) -> WalKeeper:
    """Give ``engine`` (a SQLite file's) a keeper, counting every commit made through SQLAlchemy;
    a path that commits on the DBAPI connection itself calls ``committed`` too."""
    from sqlalchemy import event

    keeper = _keepers[engine] = WalKeeper(engine)

    @event.listens_for(engine, "commit")
    def _counted(_conn: object) -> None:
        keeper.committed()

    return keeper


def wal_keeper(engine: Engine) -> WalKeeper | None:
    """The keeper of ``engine``, if it has one (SQLite files made by ``make_engine``)."""
    return _keepers.get(engine)
