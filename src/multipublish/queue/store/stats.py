"""Queue statistics read from the counters the triggers keep (cost flat in the jobs), their recount
from the rows, the workers' timers, and the planner's upkeep (``ANALYZE``/``VACUUM`` when due).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, text

from multipublish.db import job_results, jobs
from multipublish.queue.models import WAITING, QueueStatus
from multipublish.queue.schema import jobs_archive
from multipublish.queue.store.base import _Base
from multipublish.queue.store.statements import (
    _FOLD_AT,
    _FOLD_PG,
    _FUTURE_BOUND,
    _S_BLOATED_PG,
    _S_COUNT_ROWS,
    _S_COUNTS,
    _S_DUE_PG,
    _S_DUE_SQLITE,
    _S_FUTURE_PG,
    _S_FUTURE_SQLITE,
    _S_NEXT_RUN_PG,
    _S_NEXT_RUN_SQLITE,
    _S_STALE_PG,
)


class _Stats(_Base):
    """Queue statistics from the counters, the timers' reads and the planner's upkeep."""

    def stats(self) -> dict[str, Any]:
        """Counts by status and success rates, read from ``queue_counts`` (cost flat in the jobs).

        The counters move with the rows (triggers); only ``scheduled_future`` depends on the clock,
        and it is counted on the partial ``run_at`` index, bounded by ``_FUTURE_BOUND`` entries on
        each side of now (both sides past the bound: a full count, the one case that grows).
        """
        now = self.now()
        if self.is_pg:
            self._fold_counts()
        counts = {str(s): 0 for s in QueueStatus}
        rates: dict[str, dict[str, Any]] = {}
        with self._snapshot() as conn:
            for kind, platform, status, n in conn.execute(_S_COUNTS):
                if kind == "job":
                    counts[status] = counts.get(status, 0) + int(n)
                elif status in ("published", "failed") and n:
                    _tally(rates, platform, status, int(n))
            waiting = sum(counts[str(s)] for s in WAITING)
            future = self._future(conn, now, waiting)
        return _summary(counts, rates, int(future))

    def _future(self, conn: Connection, now: datetime, waiting: int) -> int:
        """Waiting jobs not due yet, from whichever side of ``now`` is small."""
        bound = {"b_now": now, "b_lim": _FUTURE_BOUND}
        later = int(conn.execute(_S_FUTURE_PG if self.is_pg else _S_FUTURE_SQLITE, bound).scalar_one())
        if later < _FUTURE_BOUND:
            return later
        due = int(conn.execute(_S_DUE_PG if self.is_pg else _S_DUE_SQLITE, bound).scalar_one())
        if due < _FUTURE_BOUND:
            return waiting - due
        everything = {**bound, "b_lim": -1}
        return int(conn.execute(_S_FUTURE_PG if self.is_pg else _S_FUTURE_SQLITE, everything).scalar_one())

    def _fold_counts(self) -> None:
        """PostgreSQL: merge counter rows of other connections into shard 0 once they pile up."""
        with self.engine.begin() as conn:
            if int(conn.execute(_S_COUNT_ROWS).scalar_one()) > _FOLD_AT:
                conn.execute(_FOLD_PG)

    def recount_stats(self) -> dict[str, Any]:
        """``stats()`` counted from the rows themselves (full scans): checks the counters."""
        now = self.now()
        counts = {str(s): 0 for s in QueueStatus}
        with self._snapshot() as conn:
            for status, n in conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status)):
                counts[status] = counts.get(status, 0) + int(n)
            for status, n in conn.execute(
                select(jobs_archive.c.status, func.count()).group_by(jobs_archive.c.status)
            ):
                counts[status] = counts.get(status, 0) + int(n)
            future = conn.execute(
                select(func.count()).select_from(jobs).where(jobs.c.status.in_(WAITING), jobs.c.run_at > now)
            ).scalar_one()
            rates: dict[str, dict[str, Any]] = {}
            rows = conn.execute(
                select(job_results.c.platform_name, job_results.c.status, func.count())
                .where(job_results.c.status.in_(("published", "failed")))
                .group_by(job_results.c.platform_name, job_results.c.status)
            )
            for name, status, n in rows:
                _tally(rates, name, status, int(n))
        return _summary(counts, rates, int(future))

    def next_run_at(self) -> datetime | None:
        """Earliest ``run_at`` of a waiting job (the worker's timer)."""
        with self._read() as conn:
            value: datetime | None = conn.execute(
                _S_NEXT_RUN_PG if self.is_pg else _S_NEXT_RUN_SQLITE
            ).scalar()
        return value

    def earliest_lease(self) -> datetime | None:
        with self._read() as conn:
            value: datetime | None = conn.execute(
                select(func.min(jobs.c.lease_expires_at)).where(jobs.c.status == str(QueueStatus.PROCESSING))
            ).scalar()
        return value

    # -- housekeeping ---------------------------------------------------------------------------
    def refresh_statistics(self) -> list[str]:
        """PostgreSQL: ``ANALYZE`` the queue's tables whose statistics are far from the rows, and
        ``VACUUM`` those mostly made of dead rows that nobody vacuumed lately (``_S_BLOATED_PG``).

        The claim reads ``ix_jobs_claim_order`` in order only when the planner knows the queue is
        deep. A table never analysed (a new install's first burst of jobs) is planned as a few
        rows: every claim then sorts every waiting job, and autovacuum analyses only after its
        naptime. Returns what was done, as ``jobs`` (analysed) or ``vacuum jobs`` (SQLite: none;
        its queries pin their index, and its deleted rows leave no dead versions behind).
        """
        if not self.is_pg:
            return []
        with self.engine.connect() as conn:
            stale = [str(name) for name in conn.execute(_S_STALE_PG).scalars()]
            bloated = [str(name) for name in conn.execute(_S_BLOATED_PG).scalars()]
            conn.rollback()
            for name in stale:  # names from our own list: safe to put in the statement
                conn.execute(text(f"ANALYZE {name}"))
                conn.commit()
        if bloated:
            with self._autocommit.connect() as conn:  # VACUUM runs outside a transaction
                for name in bloated:
                    conn.execute(text(f"VACUUM (ANALYZE) {name}"))
        return stale + [f"vacuum {name}" for name in bloated]


def _tally(rates: dict[str, dict[str, Any]], platform: str, status: str, n: int) -> None:
    """Add ``n`` results of ``status`` (published or failed) to the platform's success rate."""
    entry = rates.setdefault(platform, {"success": 0, "total": 0, "rate": 0.0})
    entry["total"] += n
    if status == "published":
        entry["success"] += n


def _summary(counts: dict[str, int], rates: dict[str, dict[str, Any]], future: int) -> dict[str, Any]:
    """``stats()``'s answer, the same whether counted by the triggers or from the rows."""
    for entry in rates.values():
        entry["rate"] = round(entry["success"] / entry["total"] * 100, 2) if entry["total"] else 0.0
    return {
        **counts,
        "scheduled_future": future,
        "total": sum(counts.values()),
        "success_rate": dict(sorted(rates.items())),
    }
