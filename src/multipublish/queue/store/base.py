"""The part of ``JobStore`` the others stand on: the engine, the clock, the transactions (SQLite's
``BEGIN IMMEDIATE``, PostgreSQL's snapshot reads) and loading one job with its results.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from multipublish.db import jobs, utcnow
from multipublish.db.engine import single_statement
from multipublish.errors import ConflictError, NotFoundError
from multipublish.queue.models import Job, as_utc
from multipublish.queue.schema import jobs_archive
from multipublish.queue.store.claims import Clock
from multipublish.queue.store.rows import _job_from_row, _result_dict
from multipublish.queue.store.statements import _H_NOTIFY, _H_RESULTS, _H_RESULTS_ONE, _ResultRow
from multipublish.queue.store.writes import _notify_payload
from multipublish.settings import Settings


class _Base:
    """What every part of the store shares: the engine, the clock, transactions, loading a job."""

    def __init__(
        self,
        engine: Engine,
        *,
        settings: Settings,
        clock: Clock = utcnow,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.rand = rand
        self.is_pg = engine.dialect.name == "postgresql"
        self._next_recovery: datetime | None = None
        #: The same pool; connections from it run each statement as its own transaction.
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._single_engine = single_statement(engine)

    # -- plumbing -------------------------------------------------------------------------------
    def now(self) -> datetime:
        value = as_utc(self.clock())
        assert value is not None
        return value

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """A write transaction (SQLite: ``BEGIN IMMEDIATE``, so writers queue instead of failing)."""
        with self.engine.connect() as conn:
            if not self.is_pg:
                conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                yield conn

    def _single(self) -> Connection:
        """A connection for one statement outside any transaction (``db.engine.single_statement``)."""
        return self._single_engine.connect()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def _any(self, stmt: Any) -> bool:
        """Whether ``stmt`` finds a row, read without the write lock (SQLite's probe before a write
        transaction that would otherwise make a committing writer wait for nothing)."""
        with self._read() as conn:
            return conn.execute(stmt.limit(1)).first() is not None

    def _notify(self, conn: Connection, run_at: datetime | None = None) -> None:
        """Wake listening workers; a future ``run_at`` only moves their timers (no claim storm)."""
        if self.is_pg:
            _H_NOTIFY.rows(conn, {"p": _notify_payload(run_at)})

    def _results_for(self, conn: Connection, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {i: {} for i in ids}
        if not ids:
            return out
        rows = (
            _H_RESULTS_ONE.rows(conn, {"b_j": ids[0]})
            if len(ids) == 1
            else _H_RESULTS[self.is_pg].rows(conn, {"b_ids": list(ids)})
        )
        for row in rows:
            out.setdefault(row[0], {})[row[1]] = _result_dict(_ResultRow._make(row[1:]))
        return out

    def _load(
        self, conn: Connection, job_id: str, *, lock: bool = False, display: bool = False
    ) -> Job | None:
        stmt = select(jobs).where(jobs.c.id == job_id)
        if lock and self.is_pg:
            stmt = stmt.with_for_update(of=jobs)
        row = conn.execute(stmt).first()
        if row is None:
            return None
        return _job_from_row(row, self._results_for(conn, [job_id])[job_id], display=display)

    def _require(self, conn: Connection, job_id: str) -> Job:
        job = self._load(conn, job_id, lock=True)
        if job is not None:
            return job
        archived = conn.execute(select(jobs_archive.c.status).where(jobs_archive.c.job_id == job_id)).scalar()
        if archived is not None:
            raise ConflictError(f"job {job_id!r} is {archived} (archived)")
        raise NotFoundError("job", job_id)

    @contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        """A read transaction whose statements all see one snapshot (SQLite's always do)."""
        with self.engine.connect() as conn:
            if self.is_pg:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn
