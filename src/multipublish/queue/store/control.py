"""Enqueue and the API's side of the queue: read, list, cancel, retry, update and archive. Each is
one transaction; the enqueue is one statement on PostgreSQL and three on SQLite.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, exists, func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from multipublish.db import job_results, jobs
from multipublish.errors import ConflictError, InputError, NotFoundError
from multipublish.queue.models import (
    FINISHED,
    WAITING,
    Job,
    QueuedPublishConfig,
    QueueStatus,
    as_utc,
    check_priority,
    platform_base,
    platform_key,
)
from multipublish.queue.schema import jobs_archive
from multipublish.queue.store.claims import CHANNEL, request_id_for
from multipublish.queue.store.outbox import _Outbox
from multipublish.queue.store.rows import _fresh_result, _job_from_row, _result_dict, _Row, job_from_doc
from multipublish.queue.store.statements import (
    _ENQUEUE_RESULT_VARYING,
    _H_ENQUEUE_CHECKED_PG,
    _H_ENQUEUE_PG,
    _H_JOB_WITH_RESULTS,
    _I_JOB_SQLITE,
    _I_RESULTS_SQLITE,
    _N_JOB,
    _JobRow,
    _ResultRow,
)
from multipublish.queue.store.writes import _cancel_unstarted, _notify_payload

if TYPE_CHECKING:
    from psycopg import AsyncConnection


class _Control(_Outbox):
    """Enqueue, read, list, cancel, retry, update and archive jobs (the API's side of the queue)."""

    # -- enqueue and control --------------------------------------------------------------------
    def add(self, job_id: str | None, cfg: QueuedPublishConfig) -> Job:
        """Insert the job and one result row per platform in one transaction."""
        job_id, row, results, payload = self._new_rows(job_id, cfg)
        if self.is_pg:
            self._add_pg(job_id, row, results, payload)
        else:
            self._add_sqlite(job_id, row, results)
        return _added_job(row, results)

    async def add_on(
        self,
        aconn: AsyncConnection[Any],
        job_id: str | None,
        cfg: QueuedPublishConfig,
        *,
        account: tuple[str, list[str]] | None = None,
    ) -> Job | None:
        """PostgreSQL: ``add``'s one statement awaited on a psycopg asyncio connection (no thread).
        A driver error other than a duplicate id propagates as SQLAlchemy's (a lost connection is
        an ``OperationalError``, as on the thread path).

        ``account``: ``(account_id, platforms)``, and the job is written only when that account
        has every one of those platforms, checked in the same statement (the API's schedule saves
        the round trip of reading them first). ``None`` then when nothing was written: the
        account lacks one, or the id is archived; the caller's full check says which."""
        import psycopg  # PostgreSQL's driver, installed with the package; imported where used

        job_id, row, results, payload = self._new_rows(job_id, cfg)
        params = self._pg_params(row, results, payload)
        hot = _H_ENQUEUE_PG
        if account is not None:
            wanted = sorted(set(account[1]))
            params.update(a_id=account[0], a_platforms=wanted, a_n=len(wanted))
            hot = _H_ENQUEUE_CHECKED_PG
        try:
            inserted = await hot.rows_on(aconn, self.engine.dialect, params)
        except psycopg.errors.UniqueViolation:
            raise ConflictError(f"job {job_id!r} already exists") from None
        except psycopg.Error as exc:
            raise DBAPIError.instance(
                "enqueue", None, exc, psycopg.Error, dialect=self.engine.dialect
            ) from exc
        if not inserted:
            if account is not None:
                return None
            raise ConflictError(f"job {job_id!r} already exists (archived)")
        return _added_job(row, results)

    def _new_rows(
        self, job_id: str | None, cfg: QueuedPublishConfig
    ) -> tuple[str, dict[str, Any], list[dict[str, Any]], str]:
        """The job's row, its results' rows and the wake-up's payload (``add`` writes them)."""
        if job_id is None:
            job_id = f"job_{uuid.uuid4().hex}"
        if not isinstance(job_id, str) or not job_id.strip() or len(job_id) > 128:
            raise InputError("job_id", "must be a non-empty string of at most 128 characters")
        if not isinstance(cfg, QueuedPublishConfig):  # checked when built (frozen): the type is the proof
            raise InputError("config", "must be a QueuedPublishConfig")
        now = self.now()
        run_at = cfg.scheduled_time if cfg.scheduled_time and cfg.scheduled_time > now else now
        status = QueueStatus.SCHEDULED if run_at > now else QueueStatus.PENDING
        title = (cfg.config.title or "")[:500]
        row = {
            "id": job_id,
            "account_id": cfg.account_id,
            "platforms": list(cfg.platforms),
            "video_path": str(cfg.video_path),
            "config": cfg.config.to_dict(),
            "title": title,
            "status": str(status),
            "priority": cfg.priority,
            "scheduled_time": cfg.scheduled_time,
            "run_at": run_at,
            "attempts": 0,
            "max_retries": cfg.max_retries,
            "retry_delay": cfg.retry_delay if cfg.retry_delay is not None else self.settings.retry_base_delay,
            "cancel_requested": False,
            "webhook_url": cfg.webhook_url,
            "callback_data": cfg.callback_data,
            "wait_reason": f"scheduled for {run_at.isoformat()}" if run_at > now else None,
            "created_at": now,
            "updated_at": now,
        }
        results = [
            {
                "job_id": job_id,
                "platform": key,
                "platform_name": platform_base(key),
                "status": "pending",
                "success": False,
                "attempts": 0,
                "bytes_sent": 0,
                "request_id": request_id_for(job_id, key),
                "updated_at": now,
            }
            for key in cfg.platforms
        ]
        return job_id, row, results, _notify_payload(run_at if run_at > now else None)

    @staticmethod
    def _pg_params(row: dict[str, Any], results: list[dict[str, Any]], payload: str) -> dict[str, Any]:
        params = {**row, "c": CHANNEL, "p": payload}
        for col in _ENQUEUE_RESULT_VARYING:
            params[f"r_{col}"] = [r[col] for r in results]
        return params

    def _add_pg(
        self, job_id: str, row: dict[str, Any], results: list[dict[str, Any]], payload: str
    ) -> None:
        """One statement in autocommit: the job, its results, the archive check and the wake-up.

        Atomic as any statement is; one round trip instead of five (BEGIN, the archive check with
        ``pg_notify``, two INSERTs, COMMIT). The NOTIFY goes out when the statement commits.
        """
        params = self._pg_params(row, results, payload)
        try:
            with self._autocommit.connect() as conn:
                inserted = _H_ENQUEUE_PG.rows(conn, params)
        except IntegrityError:
            raise ConflictError(f"job {job_id!r} already exists") from None
        if not inserted:  # the NOT EXISTS found it in the archive: nothing was written
            raise ConflictError(f"job {job_id!r} already exists (archived)")

    def _add_sqlite(self, job_id: str, row: dict[str, Any], results: list[dict[str, Any]]) -> None:
        """The enqueue on the driver's cursor: BEGIN IMMEDIATE, the job (unless archived), its results.

        Three statements, compiled once (``_I_JOB_SQLITE``, ``_I_RESULTS_SQLITE``); the archive
        check is part of the job's INSERT, so it costs no statement of its own.
        """
        dialect = self.engine.dialect
        dbapi = self.engine.dialect.loaded_dbapi
        fairy = self.engine.raw_connection()
        sql = "BEGIN IMMEDIATE"
        try:
            cur = fairy.cursor()
            try:
                cur.execute(sql)
                try:
                    sql = _I_JOB_SQLITE.sql(dialect)
                    cur.execute(sql, _I_JOB_SQLITE.args(dialect, row))
                    if cur.rowcount == 0:  # its id is in the archive: nothing was inserted
                        raise ConflictError(f"job {job_id!r} already exists (archived)")
                    sql = _I_RESULTS_SQLITE.sql(dialect)
                    cur.executemany(sql, [_I_RESULTS_SQLITE.args(dialect, r) for r in results])
                    sql = "COMMIT"
                    fairy.commit()
                except BaseException:
                    fairy.rollback()
                    raise
            finally:
                cur.close()
        except dbapi.IntegrityError:
            raise ConflictError(f"job {job_id!r} already exists") from None
        except dbapi.Error as exc:
            # As SQLAlchemy would raise it (callers retry on ``OperationalError``, "database is locked").
            invalidated = self.engine.dialect.is_disconnect(exc, fairy.dbapi_connection, None)
            if invalidated:
                fairy.invalidate(exc)
            raise DBAPIError.instance(
                sql, None, exc, dbapi.Error, connection_invalidated=invalidated, dialect=self.engine.dialect
            ) from exc
        finally:
            fairy.close()

    async def get_on(self, aconn: AsyncConnection[Any], job_id: str) -> Job | None:
        """PostgreSQL: ``get``'s statement awaited on a psycopg asyncio connection; ``None`` when
        the job is not among the live ones (``get`` then looks in the archive)."""
        rows = await _H_JOB_WITH_RESULTS.rows_on(aconn, self.engine.dialect, {"b_j": job_id})
        return _job_of_rows(rows) if rows else None

    def get(self, job_id: str) -> Job:
        """The job and its results in one statement (the API's status read)."""
        with self._single() as conn:
            rows = _H_JOB_WITH_RESULTS.rows(conn, {"b_j": job_id})
        if rows:
            return _job_of_rows(rows)
        with self._read() as conn:
            doc = conn.execute(select(jobs_archive.c.data).where(jobs_archive.c.job_id == job_id)).scalar()
        if doc is None:
            raise NotFoundError("job", job_id)
        return job_from_doc(dict(doc))

    def list_jobs(
        self,
        status: str | QueueStatus | None = None,
        account_id: str | None = None,
        platform: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Job]:
        """Jobs of the hot table, newest first (archived jobs: ``get`` only)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise InputError("limit", "must be from 1 to 1000")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InputError("offset", "must be 0 or more")
        stmt = select(jobs)
        if status is not None:
            stmt = stmt.where(jobs.c.status == str(QueueStatus.parse(status)))
        if account_id is not None:
            stmt = stmt.where(jobs.c.account_id == account_id)
        if platform is not None:
            try:
                key = platform_key(platform)
            except InputError:
                raise InputError("platform", f"unknown platform {platform!r}") from None
            sub = select(job_results.c.job_id).where(
                job_results.c.job_id == jobs.c.id,
                or_(job_results.c.platform == key, job_results.c.platform_name == key),
            )
            stmt = stmt.where(exists(sub))
        stmt = stmt.order_by(jobs.c.seq.desc()).limit(limit).offset(offset)
        with self._read() as conn:
            rows = conn.execute(stmt).all()
            results = self._results_for(conn, [r.id for r in rows])
        return [_job_from_row(r, results[r.id], display=True) for r in rows]

    def cancel(self, job_id: str) -> Job:
        now = self.now()
        with self._tx() as conn:
            job = self._require(conn, job_id)
            if job.status in WAITING:
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id)
                    .values(
                        status=str(QueueStatus.CANCELLED),
                        wait_reason=None,
                        error_message="cancelled by user",
                        completed_at=now,
                        updated_at=now,
                    )
                )
                _cancel_unstarted(conn, job_id, now)
            elif job.status == QueueStatus.PROCESSING:
                conn.execute(
                    update(jobs).where(jobs.c.id == job_id).values(cancel_requested=True, updated_at=now)
                )
            else:
                raise ConflictError(
                    f"job {job_id!r} is {job.status}; only waiting or running jobs can be cancelled"
                )
            out = self._load(conn, job_id)
        assert out is not None
        return out

    def retry(self, job_id: str) -> Job:
        """Put a failed job back in the queue with a fresh attempt budget."""
        now = self.now()
        with self._tx() as conn:
            job = self._require(conn, job_id)
            if job.status != QueueStatus.FAILED:
                raise ConflictError(f"job {job_id!r} is {job.status}; only failed jobs can be retried")
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(
                    status=str(QueueStatus.PENDING),
                    attempts=0,
                    run_at=now,
                    error_message=None,
                    wait_reason=None,
                    completed_at=None,
                    cancel_requested=False,
                    updated_at=now,
                )
            )
            for key, res in job.results.items():
                if res["status"] == "published":
                    continue
                conn.execute(
                    update(job_results)
                    .where(job_results.c.job_id == job_id, job_results.c.platform == key)
                    .values(
                        status="unknown" if res["status"] == "unknown" else "pending",
                        error=None,
                        error_kind=None,
                        request_id=request_id_for(job_id, key, f"m{now.strftime('%Y%m%d%H%M%S%f')}")
                        if res["status"] == "failed"
                        else res["request_id"],
                        updated_at=now,
                    )
                )
            self._notify(conn)
            out = self._load(conn, job_id)
        assert out is not None
        return out

    def update(
        self, job_id: str, *, priority: int | None = None, scheduled_time: datetime | None = None
    ) -> Job:
        """Change the priority or the time of a waiting job."""
        if priority is not None:
            check_priority(priority)
        when = as_utc(scheduled_time)
        now = self.now()
        with self._tx() as conn:
            job = self._require(conn, job_id)
            if job.status not in WAITING:
                raise ConflictError(f"job {job_id!r} is {job.status}; only waiting jobs can be changed")
            values: dict[str, Any] = {"updated_at": now}
            if priority is not None:
                values["priority"] = priority
            if when is not None:
                values["scheduled_time"] = when
                values["run_at"] = max(when, now)
                if when > now:
                    values["status"] = str(QueueStatus.SCHEDULED)
                    values["wait_reason"] = f"scheduled for {when.isoformat()}"
                elif job.status == QueueStatus.SCHEDULED:
                    values["status"] = str(QueueStatus.PENDING)
                    values["wait_reason"] = None
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))
            self._notify(conn)
            out = self._load(conn, job_id)
        assert out is not None
        return out

    def archive(self, older_than: datetime | None = None, batch: int = 500) -> int:
        """Move finished jobs older than the retention into ``jobs_archive``; returns how many."""
        cutoff = older_than or (self.now() - timedelta(seconds=self.settings.job_retention_seconds))
        now = self.now()
        due = select(jobs).where(
            jobs.c.status.in_(FINISHED),
            func.coalesce(jobs.c.completed_at, jobs.c.updated_at) < cutoff,
        )
        if not self.is_pg and not self._any(due):  # as in ``claim_webhooks``: read before locking
            return 0
        with self._tx() as conn:
            rows = conn.execute(due.order_by(jobs.c.seq).limit(batch)).all()
            if not rows:
                return 0
            ids = [r.id for r in rows]
            results = self._results_for(conn, ids)
            docs = []
            for r in rows:
                job = _job_from_row(r, results[r.id])
                docs.append(
                    {
                        "job_id": job.id,
                        "account_id": job.account_id,
                        "status": str(job.status),
                        "created_at": job.created_at,
                        "completed_at": job.completed_at,
                        "archived_at": now,
                        "data": json.loads(json.dumps(job.to_dict(), default=str)),
                    }
                )
            conn.execute(insert(jobs_archive), docs)
            conn.execute(delete(job_results).where(job_results.c.job_id.in_(ids)))
            conn.execute(delete(jobs).where(jobs.c.id.in_(ids)))
        return len(ids)


def _added_job(row: dict[str, Any], results: list[dict[str, Any]]) -> Job:
    """The job ``add`` wrote, from its rows (no read back)."""
    return _job_from_row(
        _Row(
            {
                **row,
                "locked_by": None,
                "lease_expires_at": None,
                "error_message": None,
                "started_at": None,
                "completed_at": None,
            }
        ),
        {str(r["platform"]): _fresh_result(r) for r in results},
    )


def _job_of_rows(rows: list[tuple[Any, ...]]) -> Job:
    """A job and its results from ``_H_JOB_WITH_RESULTS``'s rows (one per result)."""
    results = {
        r[_N_JOB]: _result_dict(_ResultRow._make(r[_N_JOB:])) for r in rows if r[_N_JOB] is not None
    }
    return _job_from_row(_JobRow._make(rows[0][:_N_JOB]), results, display=True)
