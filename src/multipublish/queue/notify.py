"""Wake-ups instead of busy polling: an in-process event, fed by PostgreSQL LISTEN/NOTIFY.

Writers (``add_job``, retries, hand-backs) call ``pg_notify`` inside their transaction on
PostgreSQL, so every listening worker on every machine wakes when it commits. On SQLite the queue
sets the event of its own process directly; other processes fall back to their timer.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import UTC, datetime

from sqlalchemy import Engine

from multipublish.db.engine import pg_conninfo

log = logging.getLogger(__name__)


class Waker:
    """A thread-safe wake-up for the workers of one process."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._lock = threading.Lock()
        self._due = True
        self._hint: datetime | None = None

    def take(self) -> tuple[bool, datetime | None]:
        """``(due, hint)`` since the last call: a job may be due now; the earliest new run time."""
        with self._lock:
            due, hint = self._due, self._hint
            self._due, self._hint = False, None
            return due, hint

    def wake_at(self, when: datetime) -> None:
        """A job becomes due at ``when``: move the timer, do not claim now."""
        with self._lock:
            self._hint = when if self._hint is None else min(self._hint, when)
        self._set()

    def bind(self) -> asyncio.Event:
        """Create the event on the running loop (call from inside it)."""
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._event = asyncio.Event()
            return self._event

    def wake(self) -> None:
        """Wake the workers to claim; safe from any thread, a no-op before ``bind``."""
        with self._lock:
            self._due = True
        self._set()

    def _set(self) -> None:
        with self._lock:
            loop, event = self._loop, self._event
        if loop is None or event is None or loop.is_closed():
            return
        try:
            if asyncio.get_running_loop() is loop:
                event.set()
                return
        except RuntimeError:
            pass
        loop.call_soon_threadsafe(event.set)


async def listen(engine: Engine, channel: str, waker: Waker, stop: asyncio.Event) -> None:
    """LISTEN on ``channel`` until ``stop``; reconnects with backoff when the server goes away."""
    import psycopg

    delay = 0.5
    while not stop.is_set():
        try:
            conn = await psycopg.AsyncConnection.connect(pg_conninfo(engine), autocommit=True)
        except Exception as exc:  # server down: the timer keeps the workers going meanwhile
            log.warning("LISTEN connection failed (%s); retrying in %.1fs", type(exc).__name__, delay)
            await _sleep_or_stop(stop, delay)
            delay = min(delay * 2, 30.0)
            continue
        delay = 0.5
        try:
            async with conn:
                await conn.execute(f'LISTEN "{channel}"')
                waker.wake()  # anything committed while we were not listening
                while not stop.is_set():
                    async for note in conn.notifies(timeout=1.0):
                        _dispatch(note.payload, waker)
        except Exception as exc:
            if stop.is_set():
                return
            log.warning("LISTEN connection lost (%s); reconnecting", type(exc).__name__)
            await _sleep_or_stop(stop, delay)


def _dispatch(payload: str, waker: Waker) -> None:
    """An empty payload means "claim now"; an epoch in the future only moves the timer."""
    try:
        when = float(payload) if payload else 0.0
    except ValueError:
        when = 0.0
    if when > time.time() + 0.002:
        waker.wake_at(datetime.fromtimestamp(when, tz=UTC))
    else:
        waker.wake()


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
