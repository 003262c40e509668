"""Writes that wait instead of failing: immediate write transactions, retried on transient errors.

SQLite in WAL mode applies its busy timeout only when a transaction *starts* as a writer. A deferred
transaction that reads first and then writes cannot wait for the lock: when another writer
committed since its read, SQLite refuses at once with "database is locked" (``SQLITE_BUSY``), the
busy timeout notwithstanding. So every read-then-write takes the write lock up front
(``BEGIN IMMEDIATE``), and what still fails transiently (a lock held longer than the timeout, a
PostgreSQL restart, a serialisation failure) is retried with backoff instead of reaching the user.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Attempts of one write before the error is let through, and the first backoff (doubling, jittered).
WRITE_ATTEMPTS = 8
BASE_DELAY = 0.05
MAX_DELAY = 2.0

_TRANSIENT_WORDS = (
    "database is locked",
    "database table is locked",
    "could not serialize access",
    "deadlock detected",
    "server closed the connection",
    "connection refused",
    "terminating connection",
    "connection is closed",
)


def is_transient(exc: BaseException) -> bool:
    """Whether a database error is worth retrying (locks, lost connections, serialisation)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, DBAPIError):
        return False
    text = str(exc.orig if exc.orig is not None else exc).lower()
    if isinstance(exc, OperationalError) and any(word in text for word in _TRANSIENT_WORDS):
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    # 40001 serialization_failure, 40P01 deadlock, 08xxx connection, 57P01 admin shutdown.
    return isinstance(sqlstate, str) and (
        sqlstate in ("40001", "40P01", "57P01", "57P02", "57P03") or sqlstate.startswith("08")
    )


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the write lock from its first statement (SQLite ``BEGIN IMMEDIATE``).

    On PostgreSQL the option is ignored: row locks and MVCC already let writers wait.
    """
    with engine.connect() as conn:
        conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn


def retry_write(
    fn: Callable[[], T],
    *,
    what: str = "database write",
    attempts: int = WRITE_ATTEMPTS,
    base_delay: float = BASE_DELAY,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``fn`` (one whole transaction), again with backoff while it fails transiently."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except DBAPIError as exc:
            if attempt >= attempts or not is_transient(exc):
                raise
            delay = min(MAX_DELAY, base_delay * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
            log.warning(
                "%s: transient database error (%s), attempt %d of %d, retrying in %.2fs",
                what, type(exc.orig or exc).__name__, attempt, attempts, delay,
            )
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


__all__ = ["is_transient", "retry_write", "write_transaction"]
