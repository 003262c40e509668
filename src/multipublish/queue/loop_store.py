"""SQLite statements made on an event loop: the API's enqueue and status read, the workers' finish,
without a thread hand-off.

Why: under wrk's POSTs a schedule spent more of the server's time handing its work to a thread and
back (the GIL passed between 40 threads and the loop, the loop woken through its self-pipe) than
doing it; made on the loop the same request costs about half (docs/scaling.md). For a worker at
concurrency 1 the hand-off was half of a drained job's time.

They go through one connection that never waits (``db.engine.loop_engine``: ``busy_timeout`` 0):
when another connection holds the write lock (or, for a read, a checkpoint or a recovery holds
the file), the statement fails before it changed anything and the caller makes it on a thread
that waits, as before.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from multipublish.db.engine import loop_engine, loop_engine_possible

T = TypeVar("T")
S = TypeVar("S")

#: Seconds ``run_soon`` keeps trying on the loop before the caller goes to a thread that waits
#: (SQLite's busy timeout here is 30 s): long enough for another connection's transaction.
PATIENCE = 0.05


class LoopStore(Generic[S]):
    """One never-waiting SQLite connection and the store ``make`` builds on it, used by one caller
    at a time (a second one, from another thread or a nested call, is told to use a thread)."""

    def __init__(self, engine: Engine, make: Callable[[Engine], S]) -> None:
        self.engine = engine
        self._make = make
        self._store: S | None = None
        self._inline: Engine | None = None
        #: ``False``: this database has no loop connection (PostgreSQL, memory, a URI).
        self.usable = loop_engine_possible(engine)
        self._lock = threading.Lock()

    def run(self, write: Callable[[S], T]) -> tuple[bool, T | None]:
        """``(True, write(store))`` when made here; ``(False, None)`` when the caller must make it
        on a thread (nothing was written). Errors of the write itself (a duplicate id) propagate."""
        if not self.usable or not self._lock.acquire(blocking=False):
            return False, None
        try:
            store = self._store
            if store is None:
                inline = loop_engine(self.engine)
                if inline is None:
                    self.usable = False
                    return False, None
                self._inline, store = inline, self._make(inline)
                self._store = store
            try:
                out = write(store)
            except IntegrityError:
                raise
            except DBAPIError:  # the lock is held elsewhere (or a blip): a thread waits
                return False, None
            return True, out
        finally:
            self._lock.release()

    async def run_soon(self, write: Callable[[S], T], patience: float = PATIENCE) -> tuple[bool, T | None]:
        """``run``, tried again after short sleeps on the loop while the lock is held elsewhere,
        for up to ``patience`` seconds; ``(False, None)`` after that (or at once when this
        database has no loop connection).

        Why not go to a thread at the first refusal: a thread's transaction holds the lock while
        it waits for the GIL, which the loop holds; every loop write in that time was refused and
        sent to a thread too, and under wrk's POSTs more than half of them ended up there
        (2,398 of about 4,300), at half the throughput. Sleeping lets the holder finish.
        """
        delay = 0.0005
        deadline = time.monotonic() + patience
        while True:
            done, out = self.run(write)
            if done or not self.usable or time.monotonic() + delay > deadline:
                return done, out
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.008)

    def close(self) -> None:
        """Close the connection (a later ``run`` opens another)."""
        with self._lock:
            inline, self._inline, self._store = self._inline, None, None
            if inline is not None:
                inline.dispose()
