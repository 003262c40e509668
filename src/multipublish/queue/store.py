"""JobStore: every database operation of the queue (synchronous SQLAlchemy Core).

Claim, lease and completion rules (lessons from other queues' bug trackers):

* The claim is one short transaction: SQLite ``BEGIN IMMEDIATE``; PostgreSQL locks the
  ``queue_state`` row (so the concurrency caps hold across processes) and picks jobs with
  ``FOR UPDATE SKIP LOCKED``. The attempt is counted at claim time, so a job that kills its worker
  cannot loop forever.
* Every claim first recovers expired leases (no task the user must remember): such jobs go back to
  ``retrying`` (or ``failed`` when their attempts are spent) and their in-flight platforms become
  ``unknown``, to be reconciled before any repost.
* A worker renews all its leases with one statement; the answer also carries the cancel flags.
* Every write of a result is fenced by (``locked_by``, ``attempts``, ``status='processing'``) under a
  row lock on the job, so a worker that lost its lease cannot overwrite the new owner's result.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Connection,
    Engine,
    Float,
    Integer,
    String,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    column,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    not_,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.types import TypeDecorator

from multipublish.db import UTCDateTime, job_results, jobs, utcnow
from multipublish.errors import ConflictError, ErrorKind, InputError, NotFoundError
from multipublish.platforms.base import ProtocolStep, PublishConfig, PublishResult, PublishStatus
from multipublish.queue.backoff import webhook_delay
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
from multipublish.queue.policy import FINAL_KIND_NAMES, decide, is_runnable
from multipublish.queue.rawsql import Hot
from multipublish.queue.schema import (
    jobs_archive,
    queue_counts,
    queue_state,
    webhook_attempts,
    webhook_messages,
)
from multipublish.settings import Settings
from multipublish.webhooks import build_payload

Clock = Callable[[], datetime]

#: PostgreSQL channel that wakes workers when a job becomes due.
CHANNEL = "multipublish_jobs"


@dataclass(slots=True)
class PlatformTask:
    """One platform to run within a claimed job."""

    key: str
    request_id: str
    #: Status before this claim: ``unknown`` means reconcile before any repost.
    previous_status: str
    reference: str | None


@dataclass(slots=True)
class Claim:
    """A job held under lease by ``worker_id`` for attempt ``attempt`` (the fence)."""

    job: Job
    worker_id: str
    attempt: int
    tasks: list[PlatformTask] = field(default_factory=list)
    #: Columns written by ``record`` during this attempt, per platform.
    recorded: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class ClaimBatch:
    claims: list[Claim]
    #: Some due jobs waited because a concurrency cap was full.
    capped: bool = False


@dataclass(slots=True)
class Outcome:
    """What became of a job after an attempt (returned by ``finish``)."""

    job: Job
    event: str | None
    #: A webhook message was written to the outbox.
    webhook: bool = False
    #: Jobs claimed in the same transaction to take this one's place (``claim_next``).
    next_claims: list[Claim] = field(default_factory=list)


#: A decided job: (item index, job as decided, columns written, webhook event, next run time).
_Decided = tuple[int, Job, dict[str, Any], tuple[str, ...], datetime | None]


def request_id_for(job_id: str, key: str, suffix: str = "") -> str:
    """Deterministic request id of (job, platform): repeats are recognisable by the service."""
    base = f"mp-{job_id}-{key.replace(':', '-')}"
    return f"{base}-{suffix}" if suffix else base


def _result_dict(row: Any) -> dict[str, Any]:
    out = {
        "platform": row.platform,
        "status": row.status,
        "success": bool(row.success),
        "video_id": row.video_id,
        "url": row.url,
        "error": row.error,
        "error_kind": row.error_kind,
        "attempts": row.attempts,
        "request_id": row.request_id,
        "reference": row.reference,
        "bytes_sent": row.bytes_sent,
        "retry_after": (row.details or {}).get("retry_after") if isinstance(row.details, dict) else None,
        "updated_at": row.updated_at.isoformat() if row.updated_at else None,
        "published_at": row.published_at.isoformat() if row.published_at else None,
    }
    when = row.details.get("scheduled_date") if isinstance(row.details, dict) else None
    if when and row.status == "scheduled":  # the time the service will publish it
        out["scheduled_date"] = when
    preparation = row.details.get("preparation") if isinstance(row.details, dict) else None
    if preparation:  # auto_fix: what was done to the file before the upload
        out["preparation"] = preparation
    phase = getattr(row, "phase", None)
    if phase:  # the step in flight: ``preparing`` (with its progress) or ``uploading``
        out["phase"] = phase
        progress = getattr(row, "progress", None)
        out["progress"] = None if progress is None else round(float(progress), 4)
    return out


def _job_from_row(row: Any, results: dict[str, dict[str, Any]], *, display: bool = False) -> Job:
    platforms = list(row.platforms)
    ordered = {key: results[key] for key in platforms if key in results}
    if display and row.status == QueueStatus.PROCESSING:
        # Platforms still to run of a running job are in flight right now.
        for res in ordered.values():
            if _runnable(_ResultView(res)):
                res["status"] = "processing"
    return Job(
        id=row.id,
        account_id=row.account_id,
        platforms=platforms,
        video_path=row.video_path,
        config=PublishConfig.from_dict(dict(row.config or {})),
        title=row.title,
        status=QueueStatus(row.status),
        priority=row.priority,
        scheduled_time=row.scheduled_time,
        attempts=row.attempts,
        max_retries=row.max_retries,
        retry_delay=row.retry_delay,
        webhook_url=row.webhook_url,
        callback_data=row.callback_data,
        error_message=row.error_message,
        wait_reason=row.wait_reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        completed_at=row.completed_at,
        results=ordered,
        run_at=row.run_at,
        locked_by=row.locked_by,
        lease_expires_at=row.lease_expires_at,
        cancel_requested=bool(row.cancel_requested),
    )


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None


def job_from_doc(doc: dict[str, Any]) -> Job:
    """Rebuild a ``Job`` from its ``to_dict()`` (the archive's format)."""
    return Job(
        id=doc["id"],
        account_id=doc["account_id"],
        platforms=list(doc["platforms"]),
        video_path=doc["video_path"],
        config=PublishConfig.from_dict(doc.get("config") or {}),
        title=doc.get("title") or "",
        status=QueueStatus(doc["status"]),
        priority=int(doc["priority"]),
        scheduled_time=_dt(doc.get("scheduled_time")),
        attempts=int(doc["attempts"]),
        max_retries=int(doc["max_retries"]),
        retry_delay=float(doc["retry_delay"]),
        webhook_url=doc.get("webhook_url"),
        callback_data=doc.get("callback_data"),
        error_message=doc.get("error_message"),
        wait_reason=doc.get("wait_reason"),
        created_at=_dt(doc["created_at"]) or utcnow(),
        updated_at=_dt(doc["updated_at"]) or utcnow(),
        started_at=_dt(doc.get("started_at")),
        completed_at=_dt(doc.get("completed_at")),
        results=dict(doc.get("results") or {}),
        run_at=_dt(doc.get("run_at")),
    )


def _runnable(row: Any) -> bool:
    """Whether a platform of a claimed job still has to run (the policy's rule)."""
    return is_runnable(row.status, row.error_kind)


# -- prebuilt statements of the hot path (built once: SQLAlchemy then reuses their compiled form) --


def _b(name: str, type_: Any = None, **kw: Any) -> Any:
    return bindparam(name, type_=type_, **kw)


class _JsonIds(TypeDecorator[Sequence[str]]):
    """SQLite: a list of ids sent as one JSON array, read back by ``json_each``."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Sequence[str] | None, dialect: Any) -> str | None:
        return None if value is None else json.dumps(list(value))


def _ids_in(col: Any, pg: bool) -> Any:
    """``col`` is one of the ids in ``:b_ids``, sent as one parameter (a PostgreSQL array, a JSON
    array on SQLite): the SQL is the same for any number of ids, so the statement is compiled once
    and runs as a ``Hot`` one (an expanding ``IN`` is rendered again on every execution). Both
    forms are index lookups (``= ANY`` on the unique index; SQLite reads the list, then searches)."""
    if pg:
        return col == any_(_b("b_ids", ARRAY(String())))
    return col.in_(select(column("value")).select_from(func.json_each(_b("b_ids", _JsonIds()))))


_NOW = _b("b_now", UTCDateTime())
_RUNNABLE = and_(
    job_results.c.status != "published",
    not_(
        and_(
            job_results.c.status == "failed",
            # plain parameters, not a list: an expanding ``IN`` is rendered again on every run
            func.coalesce(job_results.c.error_kind, "").in_([literal(k) for k in sorted(FINAL_KIND_NAMES)]),
        )
    ),
)
_S_LOCK = select(queue_state.c.id).where(queue_state.c.id == 1).with_for_update()
#: The uploads in flight, one row each (counted in Python: a GROUP BY would sort them).
_S_IN_FLIGHT = (
    select(job_results.c.platform_name, jobs.c.account_id)
    .select_from(job_results.join(jobs, jobs.c.id == job_results.c.job_id))
    .where(jobs.c.status == str(QueueStatus.PROCESSING), _RUNNABLE)
)
_S_EXPIRED = select(jobs.c.id).where(
    jobs.c.status == str(QueueStatus.PROCESSING), jobs.c.lease_expires_at < _NOW
)
_S_EXPIRED_PG = _S_EXPIRED.with_for_update(skip_locked=True, of=jobs)
#: The result columns ``_result_dict`` reads (a job's view of its platforms).
_RESULT_READ = (
    "platform",
    "status",
    "success",
    "video_id",
    "url",
    "error",
    "error_kind",
    "attempts",
    "request_id",
    "reference",
    "bytes_sent",
    "details",
    "updated_at",
    "published_at",
    "phase",
    "progress",
)
_ResultRow = namedtuple("_ResultRow", _RESULT_READ)  # type: ignore[misc]
_Fence = namedtuple("_Fence", "id locked_by attempts status cancel_requested")
#: Several jobs' results (per database: see ``_ids_in``).
_H_RESULTS = {
    pg: Hot(
        select(job_results.c.job_id, *[job_results.c[n] for n in _RESULT_READ]).where(
            _ids_in(job_results.c.job_id, pg)
        )
    )
    for pg in (False, True)
}
#: One job's results: a plain parameter, so the compiled statement is reused as it is (an
#: expanding ``IN`` is rendered again on every execution).
_S_RESULTS_ONE = select(job_results.c.job_id, *[job_results.c[n] for n in _RESULT_READ]).where(
    job_results.c.job_id == _b("b_j")
)
_CANDIDATES: dict[tuple[bool, bool, bool], Any] = {}


#: The waiting test written as the partial indexes' own WHERE clause: SQLite (and PostgreSQL's
#: planner without values at hand) use a partial index only for a query that states its predicate.
_WAITING_LIT = "jobs.status IN ('pending', 'scheduled', 'retrying')"
#: SQLite's planner, without statistics, prefers the status index's three lookups and a sort of
#: every waiting job; ``INDEXED BY`` pins the claim order index (and fails loudly if it is gone).
_SQLITE_CANDIDATES = (
    "SELECT jobs.seq, jobs.id, jobs.account_id, jobs.platforms FROM jobs"
    " INDEXED BY ix_jobs_claim_order WHERE " + _WAITING_LIT + " AND jobs.run_at <= :b_now{extra}"
    " ORDER BY jobs.priority DESC, jobs.seq LIMIT :b_lim"
)
_SQLITE_BY_ACCOUNT = " AND jobs.account_id NOT IN :b_accts"
_SQLITE_BY_PLATFORM = (
    " AND NOT EXISTS (SELECT 1 FROM job_results WHERE job_results.job_id = jobs.id"
    " AND job_results.platform_name IN :b_plats AND job_results.status != 'published')"
)


#: A candidate's platforms come back as their JSON text, decoded only for the candidates the claim
#: looks at (usually the first of the ``4 * want + 4`` it reads): decoding every row's was about a
#: tenth of a chained job's CPU on PostgreSQL.
_PLATFORMS_TEXT = column("platforms", Text())


def _platforms_of(value: str | Sequence[str]) -> Sequence[str]:
    return json.loads(value) if isinstance(value, str) else value


def _candidates(by_account: bool, by_platform: bool, pg: bool) -> Any:
    """The claim's candidate query (cached per shape), read in the order of ``ix_jobs_claim_order``."""
    key = (by_account, by_platform, pg)
    if key not in _CANDIDATES:
        if not pg:
            extra = (_SQLITE_BY_ACCOUNT if by_account else "") + (_SQLITE_BY_PLATFORM if by_platform else "")
            binds = [_b("b_now", UTCDateTime()), _b("b_lim", Integer())]
            if by_account:
                binds.append(_b("b_accts", expanding=True))
            if by_platform:
                binds.append(_b("b_plats", expanding=True))
            _CANDIDATES[key] = (
                text(_SQLITE_CANDIDATES.format(extra=extra))
                .bindparams(*binds)
                .columns(jobs.c.seq, jobs.c.id, jobs.c.account_id, _PLATFORMS_TEXT)
            )
            return _CANDIDATES[key]
        stmt = select(
            jobs.c.seq, jobs.c.id, jobs.c.account_id, cast(jobs.c.platforms, Text).label("platforms")
        ).where(text(_WAITING_LIT), jobs.c.run_at <= _NOW)
        if by_account:
            stmt = stmt.where(jobs.c.account_id.not_in(_b("b_accts", expanding=True)))
        if by_platform:
            stmt = stmt.where(
                ~exists(
                    select(job_results.c.job_id).where(
                        job_results.c.job_id == jobs.c.id,
                        job_results.c.platform_name.in_(_b("b_plats", expanding=True)),
                        job_results.c.status != "published",
                    )
                )
            )
        stmt = stmt.order_by(jobs.c.priority.desc(), jobs.c.seq).limit(_b("b_lim", Integer()))
        stmt = stmt.with_for_update(skip_locked=True, of=jobs)
        _CANDIDATES[key] = stmt
    return _CANDIDATES[key]


def _candidates_with_use(pg: bool, lim: int | None = None) -> Any:
    """The uncapped candidates, each row also carrying the uploads in flight (``_S_IN_FLIGHT`` as one
    JSON array, an uncorrelated subquery run once): the claim's two reads in one round trip. With
    no candidate there is no row, and nothing to claim either; when a cap is full the claim
    reads the capped shape after it."""
    use = _S_IN_FLIGHT.subquery("in_use")
    row = (func.json_build_array if pg else func.json_array)(*use.c)
    agg = (func.json_agg if pg else func.json_group_array)(row)
    in_use = select(cast(agg, Text) if pg else agg).select_from(use).scalar_subquery().label("in_use")
    # Its constants are written in the SQL, not sent as parameters: PostgreSQL's generic plan of
    # the prepared statement can then read the in-flight jobs by status, and need not be planned
    # again on every execution (half a millisecond per claim).
    dialect: Any = postgresql.dialect() if pg else None  # type: ignore[no-untyped-call]
    sql = str(select(in_use).compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    sql = sql[len("SELECT ") :]
    base = _candidates(False, False, pg)
    if pg:
        # The LIMIT written in too (see ``_pg_candidates``).
        stmt = base.add_columns(literal_column(sql))  # labelled "in_use" in its own SQL
        return stmt.limit(literal_column(str(lim))) if lim is not None else stmt
    # SQLite's shape is written out (``INDEXED BY``): the subquery goes in its select list.
    return (
        text(_SQLITE_CANDIDATES.format(extra="").replace(" FROM jobs", f", {sql} FROM jobs", 1))
        .bindparams(_b("b_now", UTCDateTime()), _b("b_lim", Integer()))
        .columns(jobs.c.seq, jobs.c.id, jobs.c.account_id, _PLATFORMS_TEXT, column("in_use", Text()))
    )


_H_CANDIDATES_WITH_USE_SQLITE = Hot(_candidates_with_use(False))
_H_CANDIDATES_WITH_USE_PG: dict[int, Hot] = {}


def _pg_candidates(want: int) -> tuple[Hot, int]:
    """PostgreSQL's candidates statement for at least ``want`` rows, and the rows it reads.

    A ``LIMIT`` sent as a parameter made the planner estimate a tenth of the table for the
    prepared statement's generic plan, so it planned every execution anew (half a millisecond,
    as long as running it). The limit is written in the SQL instead, rounded up to a power of
    two so a process prepares only a few shapes; the generic plan is then as cheap as a custom
    one and is kept.
    """
    lim = 8
    while lim < want:
        lim *= 2
    hot = _H_CANDIDATES_WITH_USE_PG.get(lim)
    if hot is None:
        hot = _H_CANDIDATES_WITH_USE_PG[lim] = Hot(_candidates_with_use(True, lim))
    return hot, lim


def _in_use(doc: str | None) -> tuple[dict[str, int], dict[str, int]]:
    """Uploads in flight per platform and per account, across every worker (``_S_IN_FLIGHT``'s
    rows as the JSON array ``_candidates_with_use`` carries)."""
    plat: dict[str, int] = {}
    acct: dict[str, int] = {}
    for name, account in json.loads(doc) if doc else ():
        plat[name] = plat.get(name, 0) + 1
        acct[account] = acct.get(account, 0) + 1
    return plat, acct

_S_COUNTS = select(
    queue_counts.c.kind, queue_counts.c.platform, queue_counts.c.status, func.sum(queue_counts.c.n)
).group_by(queue_counts.c.kind, queue_counts.c.platform, queue_counts.c.status)
_S_COUNT_ROWS = select(func.count()).select_from(queue_counts)
#: Counter rows (PostgreSQL) past which ``stats`` folds shards: about 40 keys per connection.
_FOLD_AT = 2000
#: Rows of other connections not in use right now move into shard 0 (SKIP LOCKED: nobody waits).
_FOLD_PG = text(
    "WITH moved AS (DELETE FROM queue_counts WHERE (kind, platform, status, shard) IN ("
    " SELECT kind, platform, status, shard FROM queue_counts"
    " WHERE shard <> 0 AND shard <> pg_backend_pid() FOR UPDATE SKIP LOCKED)"
    " RETURNING kind, platform, status, n) "
    "INSERT INTO queue_counts AS c (kind, platform, status, shard, n)"
    " SELECT kind, platform, status, 0, sum(n) FROM moved GROUP BY kind, platform, status"
    " ORDER BY kind, platform, status"
    " ON CONFLICT (kind, platform, status, shard) DO UPDATE SET n = c.n + excluded.n"
)
#: How many index entries ``stats`` reads at most on each side of now for ``scheduled_future``.
_FUTURE_BOUND = 5000


def _bounded_count(pg: bool, cond: str) -> Any:
    """``count(*)`` of waiting jobs matching ``cond``, reading at most ``:b_lim`` index entries."""
    index = "" if pg else " INDEXED BY ix_jobs_waiting_run_at"
    limit = " LIMIT :b_lim" if not pg else " LIMIT CASE WHEN :b_lim < 0 THEN NULL ELSE :b_lim END"
    return text(
        f"SELECT count(*) FROM (SELECT 1 FROM jobs{index} WHERE {_WAITING_LIT} AND {cond}{limit}) AS w"
    ).bindparams(_b("b_now", UTCDateTime()), _b("b_lim", Integer()))


_S_FUTURE_PG = _bounded_count(True, "jobs.run_at > :b_now")
_S_FUTURE_SQLITE = _bounded_count(False, "jobs.run_at > :b_now")
_S_DUE_PG = _bounded_count(True, "jobs.run_at <= :b_now")
_S_DUE_SQLITE = _bounded_count(False, "jobs.run_at <= :b_now")


#: Earliest due time of a waiting job: the first entry of the partial ``run_at`` index.
_S_NEXT_RUN_PG = select(func.min(jobs.c.run_at)).where(text(_WAITING_LIT))
_S_NEXT_RUN_SQLITE = text(
    "SELECT min(jobs.run_at) AS run_at FROM jobs INDEXED BY ix_jobs_waiting_run_at WHERE " + _WAITING_LIT
).columns(jobs.c.run_at)


_CLAIM_VALUES = {
    "status": str(QueueStatus.PROCESSING),
    "locked_by": _b("b_w"),
    "lease_expires_at": _b("b_exp", UTCDateTime()),
    "attempts": jobs.c.attempts + 1,
    "started_at": func.coalesce(jobs.c.started_at, _NOW),
    "wait_reason": None,
    "updated_at": _NOW,
}
#: What a claim reads back: the job's columns the claim did not just write itself (status, owner,
#: lease, wait reason and update time are known without reading them).
_CLAIMED = (
    "id",
    "account_id",
    "platforms",
    "video_path",
    "config",
    "title",
    "priority",
    "scheduled_time",
    "attempts",
    "max_retries",
    "retry_delay",
    "webhook_url",
    "callback_data",
    "error_message",
    "created_at",
    "started_at",
    "completed_at",
    "run_at",
    "cancel_requested",
)

def _claim_ids(pg: bool) -> Any:
    """The claim of the picked jobs (those still waiting), returning what ``_CLAIMED`` names."""
    return (
        update(jobs)
        # SQLite would read the waiting jobs by status rather than look the few ids up: the
        # unary ``+`` keeps the status test off the index.
        .where(_ids_in(jobs.c.id, pg), text(_WAITING_LIT if pg else "+" + _WAITING_LIT))
        .values(**_CLAIM_VALUES)
        .returning(*[jobs.c[n] for n in _CLAIMED])
    )


#: The claim of one job (the chained claim of a finishing slot): no expanding ``IN`` to render.
_U_CLAIM_ONE = (
    update(jobs)
    .where(jobs.c.id == _b("b_j"), text(_WAITING_LIT))
    .values(**_CLAIM_VALUES)
    .returning(*[jobs.c[n] for n in _CLAIMED])
)
_U_RID = (
    update(job_results)
    .where(job_results.c.job_id == _b("b_j"), job_results.c.platform == _b("b_p"))
    .values(request_id=_b("b_rid"))
)
_U_RENEW = (
    update(jobs)
    .where(
        jobs.c.id.in_(
            select(jobs.c.id)
            .where(jobs.c.locked_by == _b("b_w"), jobs.c.status == str(QueueStatus.PROCESSING))
            .order_by(jobs.c.id)
            .with_for_update()
            .scalar_subquery()
        ),
        jobs.c.locked_by == _b("b_w"),
        jobs.c.status == str(QueueStatus.PROCESSING),
    )
    .values(lease_expires_at=_b("b_exp", UTCDateTime()))
    .returning(jobs.c.id, jobs.c.attempts, jobs.c.cancel_requested)
)
_FENCE = (
    jobs.c.id == _b("b_j"),
    jobs.c.locked_by == _b("b_w"),
    jobs.c.attempts == _b("b_att", Integer()),
    jobs.c.status == str(QueueStatus.PROCESSING),
)
_U_FENCE = update(jobs).where(*_FENCE).values(updated_at=_NOW).returning(jobs.c.id, jobs.c.cancel_requested)
_DECISION = {
    "status": _b("b_status"),
    "run_at": _b("b_run_at", UTCDateTime()),
    "attempts": _b("b_attempts", Integer()),
    "completed_at": _b("b_completed", UTCDateTime()),
    "error_message": _b("b_errmsg"),
    "wait_reason": _b("b_wait"),
    "locked_by": None,
    "lease_expires_at": None,
    "updated_at": _NOW,
}


def _fence_ids(pg: bool) -> Any:
    """Several finishing jobs' rows, read as their fence (on PostgreSQL locked, in id order)."""
    stmt = (
        select(jobs.c.id, jobs.c.locked_by, jobs.c.attempts, jobs.c.status, jobs.c.cancel_requested)
        .where(_ids_in(jobs.c.id, pg))
        .order_by(jobs.c.id)
    )
    return stmt.with_for_update(of=jobs) if pg else stmt


_H_FENCE = {pg: Hot(_fence_ids(pg)) for pg in (False, True)}
_U_DECIDE = update(jobs).where(jobs.c.id == _b("b_j")).values(**_DECISION)
#: The decision of one job with its fence in the ``WHERE``: no row back means the lease was lost.
_U_DECIDE_FENCED = update(jobs).where(*_FENCE).values(**_DECISION).returning(jobs.c.cancel_requested)
_RESULT_VALUES = {
    "status": _b("b_rstatus"),
    "success": _b("b_success", Boolean()),
    "error": _b("b_error"),
    "error_kind": _b("b_kind"),
    "bytes_sent": _b("b_bytes", BigInteger()),
    "details": _b("b_details", JSON()),
    "updated_at": _NOW,
    "video_id": func.coalesce(_b("b_vid", String()), job_results.c.video_id),
    "url": func.coalesce(_b("b_url", Text()), job_results.c.url),
    "reference": func.coalesce(_b("b_ref", Text()), job_results.c.reference),
    "request_id": func.coalesce(_b("b_rid", String()), job_results.c.request_id),
    "published_at": func.coalesce(_b("b_pub", UTCDateTime()), job_results.c.published_at),
    "attempts": job_results.c.attempts + 1,
    "phase": None,  # a written result ends the step in flight
}
_U_RESULT = (
    update(job_results)
    .where(job_results.c.job_id == _b("b_j"), job_results.c.platform == _b("b_p"))
    .values(**_RESULT_VALUES)
)
#: PostgreSQL: that decision and the job's one result in one statement (the result's ``UPDATE``
#: reads the decision's ``RETURNING``: written only when the fence held).
_DECIDED = (
    update(jobs)
    .where(*_FENCE)
    .values(**_DECISION)
    .returning(jobs.c.id, jobs.c.cancel_requested)
    .cte("decided")
)
_WRITTEN = (
    update(job_results)
    .where(job_results.c.job_id.in_(select(_DECIDED.c.id)), job_results.c.platform == _b("b_p"))
    .values(**_RESULT_VALUES)
    .cte("written")
)
_U_DECIDE_WITH_RESULT_PG = select(_DECIDED.c.cancel_requested).add_cte(_WRITTEN)
#: PostgreSQL, when the finishing transaction goes on to claim: the claim's ``queue_state`` lock
#: taken by the finishing statement itself (joined to what it decided, so it is taken whenever a
#: job was decided, and nothing is claimed otherwise), one round trip less per transaction.
_CLAIM_LOCK = _S_LOCK.cte("claim_lock")
_U_DECIDE_LOCKING_PG = select(_DECIDED.c.cancel_requested).select_from(_DECIDED).join(_CLAIM_LOCK, true())
_U_DECIDE_WITH_RESULT_LOCKING_PG = _U_DECIDE_LOCKING_PG.add_cte(_WRITTEN)
#: The step a running platform is in (media preparation, then the upload) and its progress.
_U_PHASE = (
    update(job_results)
    .where(job_results.c.job_id == _b("b_j"), job_results.c.platform == _b("b_p"))
    .values(phase=_b("b_phase", String()), progress=_b("b_progress", Float()), updated_at=_NOW)
)
_STEP_VALUES = {
    "reference": _b("b_ref", Text()),
    "video_id": func.coalesce(_b("b_vid", String()), job_results.c.video_id),
    "url": func.coalesce(_b("b_url", Text()), job_results.c.url),
    "bytes_sent": func.coalesce(_b("b_bytes", BigInteger()), job_results.c.bytes_sent),
    "updated_at": _NOW,
}
_U_STEP = (
    update(job_results)
    .where(job_results.c.job_id == _b("b_j"), job_results.c.platform == _b("b_p"))
    .values(**_STEP_VALUES)
)


def _fenced_write_pg(values: dict[str, Any]) -> Any:
    """PostgreSQL: a write of one platform's result row with the lease fence in one statement, run
    in autocommit (one round trip instead of four: BEGIN, fence, write, COMMIT). The row's
    ``UPDATE`` reads the fence's ``RETURNING``, so it is written only when the lease held; the
    count says whether it did."""
    fenced = update(jobs).where(*_FENCE).values(updated_at=_NOW).returning(jobs.c.id).cte("fenced")
    write = (
        update(job_results)
        .where(job_results.c.job_id.in_(select(fenced.c.id)), job_results.c.platform == _b("b_p"))
        .values(**values)
        .cte("written")
    )
    return select(func.count()).select_from(fenced).add_cte(write)


_H_RECORD_PG = Hot(_fenced_write_pg(_RESULT_VALUES))
_H_STEP_PG = Hot(_fenced_write_pg(_STEP_VALUES))
_IN_FLIGHT_VALUES = {
    "status": "unknown",
    "error": _b("b_err"),
    "error_kind": str(ErrorKind.UNKNOWN),
    "updated_at": _NOW,
    "phase": None,
}
#: Every platform still to run of a job whose worker vanished: it may have been sent.
_U_IN_FLIGHT_UNKNOWN = (
    update(job_results).where(job_results.c.job_id == _b("b_j"), _RUNNABLE).values(**_IN_FLIGHT_VALUES)
)
_U_KEYS_UNKNOWN = (
    update(job_results)
    .where(
        job_results.c.job_id == _b("b_j"),
        job_results.c.platform.in_(_b("b_keys", expanding=True)),
        _RUNNABLE,
    )
    .values(**_IN_FLIGHT_VALUES)
)


#: A job with its result rows (labelled ``r_*``): one round trip for a status read.
_S_JOB_WITH_RESULTS = (
    select(jobs, *[c.label(f"r_{c.name}") for c in job_results.c])
    .select_from(jobs.outerjoin(job_results, job_results.c.job_id == jobs.c.id))
    .where(jobs.c.id == _b("b_j"))
)


def _with_results(claim: Any) -> Any:
    """PostgreSQL: the claim's ``UPDATE`` and the claimed jobs' result rows in one statement."""
    claimed = claim.cte("claimed")
    return select(claimed, *[job_results.c[n].label(f"r_{n}") for n in _RESULT_READ]).select_from(
        claimed.outerjoin(job_results, job_results.c.job_id == claimed.c.id)
    )


#: The claim of several jobs: with their results on PostgreSQL (SQLite reads them after).
_H_CLAIM = {False: Hot(_claim_ids(False)), True: Hot(_with_results(_claim_ids(True)))}
_U_CLAIM_ONE_WITH_RESULTS_PG = _with_results(_U_CLAIM_ONE)
#: SQLite (no writable CTE): the claimed job's results as one JSON array in the claim's own
#: ``RETURNING`` (a subquery), instead of a second statement. ``details`` is carried
#: as its stored text (decoded here as the JSON type would: SQLite's ``json()`` rejects NaN).
_U_CLAIM_ONE_WITH_RESULTS_SQLITE = _U_CLAIM_ONE.returning(
    select(func.json_group_array(func.json_array(*[job_results.c[n] for n in _RESULT_READ])))
    .where(job_results.c.job_id == _b("b_j"))  # the claimed id: a correlated one would scan
    .scalar_subquery()
    .label("results")
)
_RESULT_COLS = [c.name for c in job_results.c]

# The hot path's statements on the DBAPI cursor (``queue/rawsql.py``): the chained claim and the
# finish of one job, what a worker at concurrency 1 sends per job.
_H_LOCK = Hot(_S_LOCK)
_H_RESULTS_ONE = Hot(_S_RESULTS_ONE)
_H_CLAIM_ONE_WITH_RESULTS_SQLITE = Hot(_U_CLAIM_ONE_WITH_RESULTS_SQLITE)
_H_CLAIM_ONE_WITH_RESULTS_PG = Hot(_U_CLAIM_ONE_WITH_RESULTS_PG)
_H_DECIDE_FENCED = Hot(_U_DECIDE_FENCED)
_H_DECIDE_WITH_RESULT_PG = Hot(_U_DECIDE_WITH_RESULT_PG)
_H_DECIDE_LOCKING_PG = Hot(_U_DECIDE_LOCKING_PG)
_H_DECIDE_WITH_RESULT_LOCKING_PG = Hot(_U_DECIDE_WITH_RESULT_LOCKING_PG)
_H_FENCE_LOCKING_PG = Hot(_fence_ids(True).join_from(jobs, _CLAIM_LOCK, true()))
_H_RESULT = Hot(_U_RESULT)
_H_DECIDE = Hot(_U_DECIDE)
_H_RID = Hot(_U_RID)
_N_CLAIMED = len(_CLAIMED)
_I_ATTEMPTS = _CLAIMED.index("attempts")

#: PostgreSQL: a worker's finish of one or several jobs and the claim that refills their slots in
#: one statement (migration ``0018_finish_many_and_claim``; ``JobStore._finish_and_claim``). Its
#: rows: each finishing job's outcome (``done``/``lost``, its id where a job's id goes), then the
#: claimed jobs as ``_H_CLAIM_ONE_WITH_RESULTS_PG`` returns them, after the outcome and a flag.
_FINISH_AND_CLAIM_TYPES: list[Any] = (
    [column("o_outcome", Text()), column("o_cancel", Boolean())]
    + [column(f"o_{n}", jobs.c[n].type) for n in _CLAIMED]
    + [column(f"r_{n}", job_results.c[n].type) for n in _RESULT_READ]
)
_H_FINISH_AND_CLAIM_PG = Hot(
    text(
        "SELECT * FROM mp_finish_many_and_claim(CAST(:b_jobs AS json), :b_w, :b_now, :b_exp,"
        " :b_channel, CAST(:b_caps AS jsonb), CAST(:b_acap AS integer), CAST(:b_final AS text[]))"
    )
    .bindparams(
        *[_b(n, UTCDateTime()) for n in ("b_now", "b_exp")],
        *[_b(n, Text()) for n in ("b_jobs", "b_w", "b_channel", "b_caps")],
    )
    .columns(*_FINISH_AND_CLAIM_TYPES)
)
#: Candidates the function reads at most (its LIMIT, a constant in its SQL).
_FINISH_AND_CLAIM_SCAN = 256
#: Decisions that wake the listening workers (a job waiting again).
_WAKING = (QueueStatus.RETRYING, QueueStatus.SCHEDULED)


def _claimed_job(
    row: Sequence[Any],
    results: dict[str, dict[str, Any]],
    worker_id: str,
    lease_until: datetime,
    now: datetime,
) -> Job:
    """The job a claim just took, from the columns it read back (``_CLAIMED``) and what it wrote."""
    data = dict(zip(_CLAIMED, row, strict=False))
    data.update(
        status=QueueStatus.PROCESSING,
        locked_by=worker_id,
        lease_expires_at=lease_until,
        wait_reason=None,
        updated_at=now,
    )
    return _job_from_row(_Row(data), results)


_R_SUCCESS, _R_DETAILS, _R_UPDATED, _R_PUBLISHED = (
    _RESULT_READ.index(n) for n in ("success", "details", "updated_at", "published_at")
)


def _results_from_json(text: str | None, dialect: Any) -> dict[str, dict[str, Any]]:
    """SQLite: the results array of ``_U_CLAIM_ONE_WITH_RESULTS_SQLITE``, as ``_results_for``'s."""
    to_dt: Any = job_results.c.updated_at.type._cached_result_processor(dialect, None)
    out: dict[str, dict[str, Any]] = {}
    for values in json.loads(text or "[]"):
        values[_R_SUCCESS] = bool(values[_R_SUCCESS])
        if values[_R_DETAILS] is not None:
            values[_R_DETAILS] = json.loads(values[_R_DETAILS])
        for i in (_R_UPDATED, _R_PUBLISHED):
            if values[i] is not None:
                values[i] = to_dt(values[i])
        out[values[0]] = _result_dict(_ResultRow._make(values))
    return out


def _split_claimed(
    rows: Sequence[Sequence[Any]],
) -> tuple[dict[str, Any], dict[str, dict[str, dict[str, Any]]]]:
    """PostgreSQL: rows of claimed jobs joined to their results, as job rows and results by id."""
    by_id: dict[str, Any] = {}
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        job_id = r[0]
        by_id.setdefault(job_id, r)
        per_job = results.setdefault(job_id, {})
        if r[_N_CLAIMED] is not None:
            per_job[r[_N_CLAIMED]] = _result_dict(_ResultRow._make(r[_N_CLAIMED:]))
    return by_id, results


def _split_joined(rows: Sequence[Any]) -> tuple[dict[str, Any], dict[str, dict[str, dict[str, Any]]]]:
    """Rows of jobs outer-joined to their results (``r_*``): the job rows and results by job id."""
    by_id: dict[str, Any] = {}
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_id.setdefault(r.id, r)
        per_job = results.setdefault(r.id, {})
        if r.r_platform is not None:
            per_job[r.r_platform] = _result_dict(_Row({c: getattr(r, f"r_{c}") for c in _RESULT_COLS}))
    return by_id, results


_NOTIFY = text("SELECT pg_notify(:c, :p)").bindparams(c=CHANNEL)
_H_NOTIFY = Hot(_NOTIFY)

#: Columns an enqueue writes (the others keep their NULL or server state).
_ENQUEUE_JOB_COLS = (
    "id", "account_id", "platforms", "video_path", "config", "title", "status", "priority",
    "scheduled_time", "run_at", "attempts", "max_retries", "retry_delay", "cancel_requested",
    "webhook_url", "callback_data", "wait_reason", "created_at", "updated_at",
)
_ENQUEUE_RESULT_COLS = (
    "job_id", "platform", "platform_name", "status", "success", "attempts", "bytes_sent",
    "request_id", "updated_at",
)


def _enqueue_pg() -> Any:
    """The PostgreSQL enqueue as one statement (``JobStore._add_pg``).

    The job is inserted only when its id is not in the archive (then nothing is written and no row
    comes back); its results come from arrays, one element per platform, and are joined to the
    inserted job, so they exist exactly when it does. The counters' statement triggers fire for
    each of the two INSERTs as for separate statements.
    """
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]

    def sql_type(table: Table, name: str) -> str:
        # Strings as TEXT: a cast to VARCHAR(n) would cut a long value where the column refuses it.
        type_ = table.c[name].type
        return "TEXT" if isinstance(type_, String) else str(type_.compile(dialect=dialect))

    job_values = ", ".join(f"CAST(:{c} AS {sql_type(jobs, c)})" for c in _ENQUEUE_JOB_COLS)
    arrays = ", ".join(f"CAST(:r_{c} AS {sql_type(job_results, c)}[])" for c in _ENQUEUE_RESULT_COLS)
    result_cols = ", ".join(_ENQUEUE_RESULT_COLS)
    stmt = text(
        f"WITH fresh AS (INSERT INTO jobs ({', '.join(_ENQUEUE_JOB_COLS)}) SELECT {job_values}"
        " WHERE NOT EXISTS (SELECT 1 FROM jobs_archive WHERE job_id = :id) RETURNING id),"
        f" results AS (INSERT INTO job_results ({result_cols})"
        f" SELECT {', '.join(f'r.{c}' for c in _ENQUEUE_RESULT_COLS)}"
        f" FROM fresh CROSS JOIN unnest({arrays}) AS r({result_cols}))"
        " SELECT pg_notify(:c, :p) FROM fresh"
    )
    # Typed where the value needs the column's own conversion (JSON documents, aware datetimes).
    typed = [
        bindparam(c, type_=jobs.c[c].type)
        for c in _ENQUEUE_JOB_COLS
        if isinstance(jobs.c[c].type, JSON | UTCDateTime)
    ]
    return stmt.bindparams(*typed)


_H_ENQUEUE_PG = Hot(_enqueue_pg())


#: SQLite's enqueue (run on the driver's cursor by ``JobStore._add_sqlite``): the job unless its id
#: is archived (no row inserted: the archive holds it), then its results.
_I_JOB_SQLITE = Hot(
    insert(jobs).from_select(
        list(_ENQUEUE_JOB_COLS),
        select(*[_b(c, jobs.c[c].type) for c in _ENQUEUE_JOB_COLS]).where(
            ~exists().where(jobs_archive.c.job_id == _b("id", jobs.c.id.type))
        ),
    )
)
_I_RESULTS_SQLITE = Hot(
    insert(job_results).values({c: _b(c, job_results.c[c].type) for c in _ENQUEUE_RESULT_COLS})
)


#: Queue tables whose row count is far from what the planner last learnt (never analysed, or
#: grown fourfold since): ``refresh_statistics`` analyses them.
_S_STALE_PG = text(
    "SELECT s.relname FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid"
    " WHERE s.relname IN ('jobs', 'job_results') AND s.schemaname = current_schema()"
    " AND s.n_live_tup > CASE WHEN c.reltuples < 0 THEN 100 ELSE 4 * c.reltuples + 1000 END"
    " ORDER BY s.relname"
)


#: Queue tables holding more dead row versions than live ones (and 1,000 more) that nobody
#: vacuumed in the last minute: ``refresh_statistics`` vacuums them. Every job leaves three dead
#: versions behind; with autovacuum off, or behind a fast queue, the claim's index scan reads
#: them all again on every claim (a table with autovacuum on is left to it otherwise).
_S_BLOATED_PG = text(
    "SELECT relname FROM pg_stat_user_tables"
    " WHERE relname IN ('jobs', 'job_results', 'queue_counts') AND schemaname = current_schema()"
    " AND n_dead_tup > n_live_tup + 1000"
    " AND coalesce(greatest(last_vacuum, last_autovacuum), '-infinity') < now() - interval '1 minute'"
    " ORDER BY relname"
)


def _notify_payload(run_at: datetime | None) -> str:
    """What a wake-up says: the due time of a future job (workers move their timers), or nothing."""
    return f"{run_at.timestamp():.6f}" if run_at else ""


class _Row:
    """Attribute access to a dict (a row we just wrote, without reading it back)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update(data)


def _fresh_result(r: dict[str, Any]) -> dict[str, Any]:
    return _result_dict(
        _Row(
            {
                **r,
                "video_id": None,
                "url": None,
                "error": None,
                "error_kind": None,
                "reference": None,
                "details": None,
                "published_at": None,
            }
        )
    )


#: PostgreSQL: a batch's decisions and results in one statement, each set of rows sent as arrays
#: (one per column) and read back with ``unnest``: one round trip and one execution instead of an
#: ``UPDATE`` per job and per result. The rows were fenced (and locked) by ``_fence_ids`` first.
#: Each ``SET`` is ``_DECISION``'s and ``_RESULT_VALUES``' own (``tests/queue`` checks the rows).
_H_FINISH_BATCH_PG = Hot(
    text(
        "WITH d AS (SELECT * FROM unnest(CAST(:d_id AS TEXT[]), CAST(:d_status AS TEXT[]),"
        " CAST(:d_run_at AS TIMESTAMPTZ[]), CAST(:d_attempts AS INTEGER[]),"
        " CAST(:d_completed AS TIMESTAMPTZ[]), CAST(:d_errmsg AS TEXT[]), CAST(:d_wait AS TEXT[]),"
        " CAST(:d_now AS TIMESTAMPTZ[]))"
        " AS d(id, status, run_at, attempts, completed_at, error_message, wait_reason, updated_at)),"
        " decided AS (UPDATE jobs SET status = d.status, run_at = d.run_at, attempts = d.attempts,"
        " completed_at = d.completed_at, error_message = d.error_message,"
        " wait_reason = d.wait_reason, locked_by = NULL, lease_expires_at = NULL,"
        " updated_at = d.updated_at FROM d WHERE jobs.id = d.id RETURNING jobs.id)"
        " UPDATE job_results SET status = r.status, success = r.success, error = r.error,"
        " error_kind = r.error_kind, bytes_sent = r.bytes_sent, details = r.details,"
        " updated_at = r.updated_at, video_id = coalesce(r.video_id, job_results.video_id),"
        " url = coalesce(r.url, job_results.url),"
        " reference = coalesce(r.reference, job_results.reference),"
        " request_id = coalesce(r.request_id, job_results.request_id),"
        " published_at = coalesce(r.published_at, job_results.published_at),"
        " attempts = job_results.attempts + 1, phase = NULL"
        " FROM unnest(CAST(:r_j AS TEXT[]), CAST(:r_p AS TEXT[]), CAST(:r_status AS TEXT[]),"
        " CAST(:r_success AS BOOLEAN[]), CAST(:r_error AS TEXT[]), CAST(:r_kind AS TEXT[]),"
        " CAST(:r_bytes AS BIGINT[]), CAST(:r_details AS JSON[]), CAST(:r_now AS TIMESTAMPTZ[]),"
        " CAST(:r_vid AS TEXT[]), CAST(:r_url AS TEXT[]), CAST(:r_ref AS TEXT[]),"
        " CAST(:r_rid AS TEXT[]), CAST(:r_pub AS TIMESTAMPTZ[]))"
        " AS r(job_id, platform, status, success, error, error_kind, bytes_sent, details,"
        " updated_at, video_id, url, reference, request_id, published_at)"
        " WHERE job_results.job_id = r.job_id AND job_results.platform = r.platform"
    )
)
_BATCH_DECISION = (
    ("d_id", "b_j"), ("d_status", "b_status"), ("d_run_at", "b_run_at"),
    ("d_attempts", "b_attempts"), ("d_completed", "b_completed"), ("d_errmsg", "b_errmsg"),
    ("d_wait", "b_wait"), ("d_now", "b_now"),
)
_BATCH_RESULT = (
    ("r_j", "b_j"), ("r_p", "b_p"), ("r_status", "b_rstatus"), ("r_success", "b_success"),
    ("r_error", "b_error"), ("r_kind", "b_kind"), ("r_bytes", "b_bytes"), ("r_now", "b_now"),
    ("r_vid", "b_vid"), ("r_url", "b_url"), ("r_ref", "b_ref"), ("r_rid", "b_rid"),
    ("r_pub", "b_pub"),
)


def _finish_batch_params(
    decisions: Sequence[dict[str, Any]], writes: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """``_H_FINISH_BATCH_PG``'s arrays from the per-job parameters of ``_U_DECIDE``/``_U_RESULT``
    (JSON as its text, times in UTC, as their columns' bind processors send them)."""
    params: dict[str, Any] = {}
    for name, key in _BATCH_DECISION:
        params[name] = [d[key] for d in decisions]
    for name, key in _BATCH_RESULT:
        params[name] = [w[key] for w in writes]
    params["r_details"] = [None if w["b_details"] is None else json.dumps(w["b_details"]) for w in writes]
    for name in ("d_run_at", "d_completed", "d_now", "r_now", "r_pub"):
        params[name] = [None if v is None else v.astimezone(UTC) for v in params[name]]
    return params


def _decision_params(job: Job, values: dict[str, Any]) -> dict[str, Any]:
    return {
        "b_status": values["status"],
        "b_run_at": values.get("run_at", job.run_at),
        "b_attempts": values.get("attempts", job.attempts),
        "b_completed": values.get("completed_at", job.completed_at),
        "b_errmsg": values.get("error_message", job.error_message),
        "b_wait": values.get("wait_reason", job.wait_reason),
        "b_now": values["updated_at"],
    }


def _result_params(
    job_id: str, key: str, r: PublishResult, rid: str | None, now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Bind parameters of ``_U_RESULT`` and the row as it will read afterwards."""
    view = _preview(r)
    params: dict[str, Any] = {
        "b_j": job_id,
        "b_p": key,
        "b_rstatus": view["status"],
        "b_success": view["success"],
        "b_error": view["error"],
        "b_kind": view["error_kind"],
        "b_bytes": int(r.bytes_sent or 0),
        "b_details": {**(r.details or {}), "retry_after": r.retry_after},
        "b_now": now,
        "b_vid": r.video_id,
        "b_url": r.url,
        "b_ref": r.reference,
        "b_rid": rid,
        "b_pub": now if r.success else None,
    }
    view["bytes_sent"] = params["b_bytes"]
    view["updated_at"] = now.isoformat()
    for col, value in (
        ("video_id", r.video_id),
        ("url", r.url),
        ("reference", r.reference),
        ("request_id", rid),
    ):
        if value is not None:
            view[col] = value
    if r.success:
        view["published_at"] = now.isoformat()
    preparation = (r.details or {}).get("preparation")
    if preparation:  # as ``_result_dict`` reads it back (the webhook is built from this view)
        view["preparation"] = preparation
    return params, view


def _preview(r: PublishResult) -> dict[str, Any]:
    """The row status a result will be stored as (decisions are made before the write)."""
    if r.status == PublishStatus.SCHEDULED:
        status = "scheduled"  # accepted by the service for later; followed up at its time
    elif r.success:
        status = "published"
    elif r.status == PublishStatus.UNKNOWN or r.error_kind == ErrorKind.UNKNOWN:
        status = "unknown"
    elif r.error_kind == ErrorKind.QUOTA:
        status = "deferred"  # waits for the quota reset; not a failure of this platform
    else:
        status = "failed"
    view = {
        "status": status,
        "success": bool(r.success),
        "error": None if r.success else r.error,
        "error_kind": None if r.success or not r.error_kind else str(r.error_kind),
        "retry_after": r.retry_after,
    }
    if status == "scheduled" and (r.details or {}).get("scheduled_date"):
        view["scheduled_date"] = r.details["scheduled_date"]
    return view


def _newly_scheduled(claim: Claim, changed: dict[str, dict[str, Any]]) -> bool:
    """A platform the service accepted for later during this attempt (not already so at claim)."""
    return any(
        t.previous_status != "scheduled" and changed.get(t.key, {}).get("status") == "scheduled"
        for t in claim.tasks
    )


def _cancel_unstarted(conn: Connection, job_id: str, now: datetime) -> None:
    """A cancelled job's platforms that never ran say so, instead of waiting forever as pending."""
    conn.execute(
        update(job_results)
        .where(job_results.c.job_id == job_id, job_results.c.status.in_(("pending", "deferred")))
        .values(status="cancelled", updated_at=now)
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _result_doc(w: dict[str, Any]) -> dict[str, Any]:
    """One result write (``_result_params``) as the function's JSON takes it."""
    return {
        "platform": w["b_p"],
        "status": w["b_rstatus"],
        "success": w["b_success"],
        "error": w["b_error"],
        "kind": w["b_kind"],
        "bytes": w["b_bytes"],
        "details": w["b_details"],
        "vid": w["b_vid"],
        "url": w["b_url"],
        "ref": w["b_ref"],
        "rid": w["b_rid"],
        "published": w["b_pub"] is not None,
    }


def _claims_from(
    by_id: dict[str, Any],
    results: dict[str, dict[str, dict[str, Any]]],
    ids: Sequence[str],
    worker_id: str,
    lease_until: datetime,
    now: datetime,
) -> tuple[list[Claim], list[dict[str, Any]]]:
    """The claims of the jobs a claim took (``ids`` in claim order; a missing one was taken by
    somebody else), and the request ids it must write before any upload starts."""
    claims: list[Claim] = []
    new_rids: list[dict[str, Any]] = []
    for jid in ids:  # keep claim order
        row = by_id.get(jid)
        if row is None:
            continue
        job = _claimed_job(row, results[jid], worker_id, lease_until, now)
        claim = Claim(job=job, worker_id=worker_id, attempt=row[_I_ATTEMPTS])
        for key in job.platforms:
            res = job.results.get(key)
            if res is None or not _runnable(_ResultView(res)):
                continue
            rid = res["request_id"] or request_id_for(jid, key)
            if res["status"] == "failed":
                # A confirmed failure: a new request id, so the service does not answer
                # with the old failure; still deterministic per (job, platform, attempt).
                # Written before the upload starts, so a crash leaves it to reconcile.
                rid = request_id_for(jid, key, f"a{job.attempts}")
                new_rids.append({"b_j": jid, "b_p": key, "b_rid": rid})
            claim.tasks.append(PlatformTask(key, rid, res["status"], res["reference"]))
        claims.append(claim)
    return claims, new_rids


class JobStore:
    """The queue's tables behind one narrow port; every method is one transaction."""

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

    # -- enqueue and control --------------------------------------------------------------------
    def add(self, job_id: str | None, cfg: QueuedPublishConfig) -> Job:
        """Insert the job and one result row per platform in one transaction."""
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
        if self.is_pg:
            self._add_pg(job_id, row, results, _notify_payload(run_at if run_at > now else None))
        else:
            self._add_sqlite(job_id, row, results)
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

    def _add_pg(
        self, job_id: str, row: dict[str, Any], results: list[dict[str, Any]], payload: str
    ) -> None:
        """One statement in autocommit: the job, its results, the archive check and the wake-up.

        Atomic as any statement is; one round trip instead of five (BEGIN, the archive check with
        ``pg_notify``, two INSERTs, COMMIT). The NOTIFY goes out when the statement commits.
        """
        params = {**row, "c": CHANNEL, "p": payload}
        for col in _ENQUEUE_RESULT_COLS:
            params[f"r_{col}"] = [r[col] for r in results]
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

    def get(self, job_id: str) -> Job:
        """The job and its results in one statement (the API's status read)."""
        with self._read() as conn:
            rows = conn.execute(_S_JOB_WITH_RESULTS, {"b_j": job_id}).all()
            if rows:
                _, results = _split_joined(rows)
                return _job_from_row(rows[0], results[job_id], display=True)
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

    def _require(self, conn: Connection, job_id: str) -> Job:
        job = self._load(conn, job_id, lock=True)
        if job is not None:
            return job
        archived = conn.execute(select(jobs_archive.c.status).where(jobs_archive.c.job_id == job_id)).scalar()
        if archived is not None:
            raise ConflictError(f"job {job_id!r} is {archived} (archived)")
        raise NotFoundError("job", job_id)

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
                    entry = rates.setdefault(platform, {"success": 0, "total": 0, "rate": 0.0})
                    entry["total"] += int(n)
                    if status == "published":
                        entry["success"] += int(n)
            waiting = sum(counts[str(s)] for s in WAITING)
            future = self._future(conn, now, waiting)
        for entry in rates.values():
            entry["rate"] = round(entry["success"] / entry["total"] * 100, 2) if entry["total"] else 0.0
        return {
            **counts,
            "scheduled_future": int(future),
            "total": sum(counts.values()),
            "success_rate": dict(sorted(rates.items())),
        }

    @contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        """A read transaction whose statements all see one snapshot (SQLite's always do)."""
        with self.engine.connect() as conn:
            if self.is_pg:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

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
                entry = rates.setdefault(name, {"success": 0, "total": 0, "rate": 0.0})
                entry["total"] += int(n)
                if status == "published":
                    entry["success"] += int(n)
        for entry in rates.values():
            entry["rate"] = round(entry["success"] / entry["total"] * 100, 2) if entry["total"] else 0.0
        return {
            **counts,
            "scheduled_future": int(future),
            "total": sum(counts.values()),
            "success_rate": dict(sorted(rates.items())),
        }

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

    # -- claim ----------------------------------------------------------------------------------
    def claim(self, worker_id: str, limit: int, lease_seconds: float | None = None) -> ClaimBatch:
        """Claim up to ``limit`` due jobs in priority then FIFO order, within the caps."""
        if limit <= 0:
            return ClaimBatch([])
        with self._tx() as conn:
            return self._claim_in(conn, worker_id, limit, lease_seconds, self.now())

    def _claim_in(
        self,
        conn: Connection,
        worker_id: str,
        limit: int,
        lease_seconds: float | None,
        now: datetime,
        *,
        locked: bool = False,
    ) -> ClaimBatch:
        """Claim in ``conn``'s transaction; ``locked``: it holds the ``queue_state`` lock already."""
        lease = float(lease_seconds or self.settings.lease_seconds)
        if self.is_pg and not locked:
            _H_LOCK.rows(conn, {})
        if self._recovery_due(now):
            self._recover_expired(conn, now)
        params: dict[str, Any] = {"b_now": now, "b_lim": limit * 4 + 4}
        if self.is_pg:
            hot, params["b_lim"] = _pg_candidates(params["b_lim"])
        else:
            hot = _H_CANDIDATES_WITH_USE_SQLITE
        found = hot.rows(conn, params)
        plat_use, acct_use = _in_use(found[0][4] if found else None)
        caps = self.settings.platform_concurrency
        acct_cap = self.settings.account_concurrency
        full_plats = [p for p, n in plat_use.items() if n >= caps.get(p, 1 << 30)]
        full_accts = [a for a, n in acct_use.items() if n >= acct_cap]
        capped = bool(full_plats or full_accts)
        candidates: Sequence[Sequence[Any]] = found
        if capped:  # read again without the jobs a full cap excludes, so the limit is not spent on them
            if full_accts:
                params["b_accts"] = full_accts
            if full_plats:
                params["b_plats"] = full_plats
            shape = _candidates(bool(full_accts), bool(full_plats), self.is_pg)
            candidates = conn.execute(shape, params).all()
        picked: list[Any] = []
        for cand in candidates:
            if len(picked) >= limit:
                break
            account, plats = cand[2], _platforms_of(cand[3])
            names: dict[str, int] = {}
            for key in plats:
                names[platform_base(key)] = names.get(platform_base(key), 0) + 1
            a_used = acct_use.get(account, 0)
            n = len(plats)
            fits = a_used == 0 or a_used + n <= acct_cap
            for name, k in names.items():
                used = plat_use.get(name, 0)
                cap = caps.get(name, 1 << 30)
                if not (used == 0 or used + k <= cap):
                    fits = False
            if not fits:
                capped = True
                continue
            acct_use[account] = a_used + n
            for name, k in names.items():
                plat_use[name] = plat_use.get(name, 0) + k
            picked.append(cand)
        if not picked:
            return ClaimBatch([], capped)
        ids = [c[1] for c in picked]
        lease_until = now + timedelta(seconds=lease)
        params = {"b_ids": ids, "b_j": ids[0], "b_w": worker_id, "b_exp": lease_until, "b_now": now}
        rows: Sequence[Sequence[Any]]
        if len(ids) == 1:
            hot = _H_CLAIM_ONE_WITH_RESULTS_PG if self.is_pg else _H_CLAIM_ONE_WITH_RESULTS_SQLITE
            rows = hot.rows(conn, params)
        else:
            rows = _H_CLAIM[self.is_pg].rows(conn, params)
        if self.is_pg:
            by_id, results = _split_claimed(rows)
        elif len(ids) == 1:
            by_id = {r[0]: r for r in rows}
            results = {r[0]: _results_from_json(r[_N_CLAIMED], conn.dialect) for r in rows}
        else:
            by_id = {r[0]: r for r in rows}
            results = self._results_for(conn, list(by_id))
        claims, new_rids = _claims_from(by_id, results, ids, worker_id, lease_until, now)
        _H_RID.run_many(conn, new_rids)
        return ClaimBatch(claims, capped)

    def _recovery_due(self, now: datetime) -> bool:
        """Look for expired leases at most every second per process (and on every explicit call)."""
        if self._next_recovery is not None and now < self._next_recovery:
            return False
        self._next_recovery = now + timedelta(seconds=1)
        return True

    def _recover_expired(self, conn: Connection, now: datetime) -> list[Outcome]:
        """Give jobs whose lease expired back to the queue (or fail them when attempts are spent)."""
        expired = [r.id for r in conn.execute(_S_EXPIRED_PG if self.is_pg else _S_EXPIRED, {"b_now": now})]
        outcomes: list[Outcome] = []
        for jid in expired:
            conn.execute(
                _U_IN_FLIGHT_UNKNOWN,
                {
                    "b_j": jid,
                    "b_now": now,
                    "b_err": "worker lost its lease during the upload; outcome to be reconciled",
                },
            )
            job = self._load(conn, jid)
            assert job is not None
            values, event, next_at = self._plan(job, now, lost_lease=True)
            outcomes.append(self._commit_plan(conn, job, values, event, next_at, now))
        return outcomes

    def recover_expired(self) -> int:
        """Run lease recovery now (the claim does it too); returns how many jobs it moved."""
        with self._tx() as conn:
            return len(self._recover_expired(conn, self.now()))

    # -- leases ---------------------------------------------------------------------------------
    def renew(self, worker_id: str, lease_seconds: float | None = None) -> dict[str, tuple[int, bool]]:
        """Extend every lease of ``worker_id`` in one statement.

        Returns ``{job_id: (attempt, cancel_requested)}`` for the jobs it still holds; a job missing
        from the answer was lost (its lease expired and another worker took it).
        """
        lease = float(lease_seconds or self.settings.lease_seconds)
        now = self.now()
        with self._tx() as conn:
            rows = conn.execute(_U_RENEW, {"b_w": worker_id, "b_exp": now + timedelta(seconds=lease)}).all()
        return {r.id: (int(r.attempts), bool(r.cancel_requested)) for r in rows}

    def _fence_params(self, claim: Claim, now: datetime) -> dict[str, Any]:
        return {"b_j": claim.job.id, "b_w": claim.worker_id, "b_att": claim.attempt, "b_now": now}

    def _fence(self, conn: Connection, claim: Claim, now: datetime) -> Any:
        """Lock the job row if ``claim`` still owns it (the fence of every write); the row or None."""
        return conn.execute(_U_FENCE, self._fence_params(claim, now)).first()

    def _write_result(
        self, conn: Connection, job_id: str, key: str, r: PublishResult, rid: str | None, now: datetime
    ) -> dict[str, Any]:
        """Write one platform's result; returns the columns as they now are (for in-memory views)."""
        params, view = _result_params(job_id, key, r, rid, now)
        conn.execute(_U_RESULT, params)
        return view

    def _rid(self, claim: Claim, key: str) -> str | None:
        return next((t.request_id for t in claim.tasks if t.key == key), None)

    def record(self, claim: Claim, key: str, result: PublishResult) -> bool:
        """Store one platform's result as soon as it is known; ``False`` when the lease was lost."""
        now = self.now()
        if self.is_pg:
            params, view = _result_params(claim.job.id, key, result, self._rid(claim, key), now)
            with self._autocommit.connect() as conn:
                held = _H_RECORD_PG.rows(conn, {**params, **self._fence_params(claim, now)})[0][0]
            if held:
                claim.recorded[key] = view
            return bool(held)
        with self._tx() as conn:
            if self._fence(conn, claim, now) is None:
                return False
            claim.recorded[key] = self._write_result(
                conn, claim.job.id, key, result, self._rid(claim, key), now
            )
        return True

    def checkpoint(self, claim: Claim, key: str, step: ProtocolStep) -> bool:
        """Store one protocol step of a platform in flight (its reference, video id, bytes), fenced
        like a result; ``False`` when the lease was lost. Reconcile reads what this wrote."""
        now = self.now()
        params = {
            "b_j": claim.job.id,
            "b_p": key,
            "b_ref": step.reference,
            "b_vid": step.video_id,
            "b_url": step.url,
            "b_bytes": step.bytes_sent,
            "b_now": now,
        }
        if self.is_pg:
            with self._autocommit.connect() as conn:
                return bool(_H_STEP_PG.rows(conn, {**params, **self._fence_params(claim, now)})[0][0])
        with self._tx() as conn:
            if self._fence(conn, claim, now) is None:
                return False
            conn.execute(_U_STEP, params)
        return True

    def stage(
        self,
        claim: Claim,
        key: str,
        phase: str,
        progress: float | None,
        preparation: dict[str, Any] | None = None,
    ) -> bool:
        """Store the step a platform in flight is in (``preparing`` with the fraction done, then
        ``uploading``), fenced like a result; ``False`` when the lease was lost.

        ``preparation`` (what was done to the file, and the rendition) goes into the result's
        details with the step that ends the preparation, before the upload starts: a worker lost
        after it leaves the job detail saying what was prepared, and the next attempt finds the
        finished rendition in the cache.
        """
        now = self.now()
        with self._tx() as conn:
            if self._fence(conn, claim, now) is None:
                return False
            params = {"b_j": claim.job.id, "b_p": key, "b_phase": phase, "b_progress": progress, "b_now": now}
            conn.execute(_U_PHASE, params)
            if preparation is not None:
                where = (job_results.c.job_id == claim.job.id, job_results.c.platform == key)
                details = conn.execute(select(job_results.c.details).where(*where)).scalar()
                merged = {**(details if isinstance(details, dict) else {}), "preparation": preparation}
                conn.execute(update(job_results).where(*where).values(details=merged))
        return True

    def _view(self, claim: Claim, changed: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        view = {k: dict(v) for k, v in claim.job.results.items()}
        tasks = {t.key for t in claim.tasks}
        for key, values in changed.items():
            entry = view.setdefault(key, {})
            entry.update(values)
            entry.pop("phase", None)  # a written result ends the step in flight
            entry.pop("progress", None)
            if key in tasks:
                entry["attempts"] = int(entry.get("attempts") or 0) + 1
        return view

    def finish(
        self,
        claim: Claim,
        results: dict[str, PublishResult],
        *,
        cancelled: bool = False,
        claim_next: int = 0,
    ) -> Outcome | None:
        """Write the last results and decide the job's fate; ``None`` when the lease was lost."""
        return self.finish_many([(claim, results, cancelled, claim_next)])[0]

    def finish_many(
        self, items: Sequence[tuple[Claim, dict[str, PublishResult], bool, int]]
    ) -> list[Outcome | None]:
        """Finish several jobs of one worker in one transaction (group commit).

        Each item is ``(claim, last results, cancelled, claim_next)``. A job whose lease was lost
        gets ``None`` and nothing of it is written. The fence of one job is inside the decision's
        own ``UPDATE`` (owner, attempt, still processing in its ``WHERE``; no row: lost), so a job
        costs one statement plus its results; several jobs are fenced by one locking read first.
        The other platforms' results are known from the claim: nobody else may change them while
        we hold the lease. Slots freed are refilled by a claim in the same transaction
        (``claim_next`` per item).
        """
        now = self.now()
        out: list[Outcome | None] = [None] * len(items)
        if not items:
            return out
        if self.is_pg:
            fast = self._finish_and_claim(items, now)
            if fast is not None:
                return fast
        # On PostgreSQL a transaction that goes on to claim takes the claim's lock in its
        # finishing statement (``_CLAIM_LOCK``).
        lock = self.is_pg and any(item[3] for item in items)
        with self._tx() as conn:
            decided = (
                self._finish_one(conn, items[0], now, lock=lock)
                if len(items) == 1
                else self._finish_fenced(conn, items, now, lock=lock)
            )
            wanted = 0
            for idx, job, values, event, next_at in decided:
                out[idx] = self._after_decision(conn, job, values, event, next_at, now)
                wanted += items[idx][3]
            if wanted:
                # The slots these jobs free are refilled in the same transaction.
                claims = self._claim_in(
                    conn, items[0][0].worker_id, wanted, None, now, locked=lock
                ).claims
                for idx, *_ in decided:
                    outcome = out[idx]
                    take = items[idx][3]
                    if outcome is not None and take and claims:
                        outcome.next_claims, claims = claims[:take], claims[take:]
        return out

    def _finish_and_claim(
        self, items: Sequence[tuple[Claim, dict[str, PublishResult], bool, int]], now: datetime
    ) -> list[Outcome | None] | None:
        """PostgreSQL: jobs' finish and the claim that refills their slots in one call of
        ``mp_finish_many_and_claim`` (migration 0018), one round trip instead of five or six.

        The decisions are planned here as for the transaction; the function writes them
        (fenced), the results, the webhook messages and the wake-ups, then claims with the caps.
        ``None`` when this finish needs the transaction, and then nothing was written: lease
        recovery is due, a platform was left without an outcome, a job is being cancelled, the
        claim wants more than the function reads, or a cancel was asked for since a claim.
        """
        want = sum(item[3] for item in items)
        due = self._next_recovery is None or now >= self._next_recovery
        if (want and due) or want * 4 + 4 > _FINISH_AND_CLAIM_SCAN:
            return None
        planned: list[tuple[Job, dict[str, Any], tuple[str, ...], list[dict[str, Any]]]] = []
        docs: list[dict[str, Any]] = []
        for claim, results, cancelled, take in items:
            changed, writes, dangling = self._prepare(claim, results, now)
            if dangling:
                return None
            job = _changed(claim.job, results=self._view(claim, changed))
            newly = _newly_scheduled(claim, changed)
            values, events, next_at = self._plan(job, now, cancelled=cancelled, newly_scheduled=newly)
            if values["status"] == QueueStatus.CANCELLED:
                return None
            out = _apply(job, values)
            hooks = [
                {
                    "id": f"msg_{uuid.uuid4().hex}",
                    "account_id": out.account_id,
                    "event": event,
                    "url": out.webhook_url,
                    "payload": build_payload(out, event, next_attempt_at=next_at),
                }
                for event in (events if out.webhook_url else ())
            ]
            decision = _decision_params(job, values)
            docs.append(
                {
                    "id": job.id,
                    "worker": claim.worker_id,
                    "attempt": claim.attempt,
                    "known": job.cancel_requested,
                    "status": decision["b_status"],
                    "run_at": _iso(decision["b_run_at"]),
                    "attempts": decision["b_attempts"],
                    "completed": _iso(decision["b_completed"]),
                    "errmsg": decision["b_errmsg"],
                    "wait": decision["b_wait"],
                    "want": take,
                    "results": [_result_doc(w) for w in writes],
                    "hooks": hooks or None,
                    "notify": _notify_payload(None) if values["status"] in _WAKING else None,
                }
            )
            planned.append((out, values, events, hooks))
        lease_until = now + timedelta(seconds=float(self.settings.lease_seconds))
        params = {
            "b_jobs": json.dumps(docs),
            "b_w": items[0][0].worker_id,
            "b_now": now,
            "b_exp": lease_until,
            "b_channel": CHANNEL,
            "b_caps": json.dumps(self.settings.platform_concurrency),
            "b_acap": self.settings.account_concurrency,
            "b_final": list(FINAL_KIND_NAMES),
        }
        with self._autocommit.connect() as conn:
            rows = _H_FINISH_AND_CLAIM_PG.rows(conn, params)
            if rows[0][0] == "replan":
                return None
            ended = {r[2]: r[0] for r in rows if r[0] in ("done", "lost")}
            taken = [r[2:] for r in rows if r[0] == "ok" and r[2] is not None]
            claims: list[Claim] = []
            if taken:
                by_id, found = _split_claimed(taken)
                worker = items[0][0].worker_id
                claims, new_rids = _claims_from(by_id, found, list(by_id), worker, lease_until, now)
                _H_RID.run_many(conn, new_rids)  # before any upload starts, as in the transaction
        outcomes: list[Outcome | None] = []
        for (claim, *_, take), (out, _values, events, hooks) in zip(items, planned, strict=True):
            if ended.get(claim.job.id) != "done":
                outcomes.append(None)
                continue
            outcome = Outcome(out, events[-1] if events else None, bool(hooks))
            outcome.next_claims, claims = claims[:take], claims[take:]
            outcomes.append(outcome)
        return outcomes

    def _prepare(
        self, claim: Claim, results: dict[str, PublishResult], now: datetime
    ) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]], list[str]]:
        """Results of an ending attempt as (columns changed per platform, result writes, dangling)."""
        changed = dict(claim.recorded)
        dangling = [t.key for t in claim.tasks if t.key not in changed and t.key not in results]
        for key in dangling:
            changed[key] = {"status": "unknown", "error_kind": str(ErrorKind.UNKNOWN)}
        writes: list[dict[str, Any]] = []
        for key, r in results.items():
            params, view = _result_params(claim.job.id, key, r, self._rid(claim, key), now)
            writes.append(params)
            changed[key] = view
        return changed, writes, dangling

    def _write_results(
        self, conn: Connection, job_id: str, writes: list[dict[str, Any]], dangling: list[str], now: datetime
    ) -> None:
        if dangling:
            conn.execute(
                _U_KEYS_UNKNOWN,
                {
                    "b_j": job_id,
                    "b_keys": dangling,
                    "b_now": now,
                    "b_err": "stopped before the outcome was known",
                },
            )
        _H_RESULT.run_many(conn, writes)

    def _finish_one(
        self,
        conn: Connection,
        item: tuple[Claim, dict[str, PublishResult], bool, int],
        now: datetime,
        *,
        lock: bool = False,
    ) -> list[_Decided]:
        """One job: the decision's ``UPDATE`` is the fence (planned with the cancel flag as claimed,
        planned again in the rare case the row says a cancel was asked for meanwhile)."""
        claim, results, cancelled, _ = item
        changed, writes, dangling = self._prepare(claim, results, now)
        job = _changed(claim.job, results=self._view(claim, changed))
        newly = _newly_scheduled(claim, changed)
        values, event, next_at = self._plan(job, now, cancelled=cancelled, newly_scheduled=newly)
        params = {**self._fence_params(claim, now), **_decision_params(job, values)}
        if self.is_pg and len(writes) == 1 and not dangling:
            hot = _H_DECIDE_WITH_RESULT_LOCKING_PG if lock else _H_DECIDE_WITH_RESULT_PG
            rows = hot.rows(conn, {**writes[0], **params})
            writes = []
        else:
            rows = (_H_DECIDE_LOCKING_PG if lock else _H_DECIDE_FENCED).rows(conn, params)
        if not rows:
            return []
        if rows[0][0] and not job.cancel_requested:
            job = _changed(job, cancel_requested=True)
            if not cancelled:
                values, event, next_at = self._plan(job, now, newly_scheduled=newly)
                conn.execute(_U_DECIDE, {"b_j": job.id, **_decision_params(job, values)})
        self._write_results(conn, job.id, writes, dangling, now)
        return [(0, job, values, event, next_at)]

    def _finish_fenced(
        self,
        conn: Connection,
        items: Sequence[tuple[Claim, dict[str, PublishResult], bool, int]],
        now: datetime,
        *,
        lock: bool = False,
    ) -> list[_Decided]:
        """Several jobs: one locking read of their rows is the fence, then one batch of writes."""
        ids = sorted({c.job.id for c, _, _, _ in items})
        hot = _H_FENCE_LOCKING_PG if lock else _H_FENCE[self.is_pg]
        fence = {r[0]: _Fence._make(r) for r in hot.rows(conn, {"b_ids": ids})}
        decided: list[_Decided] = []
        decisions: list[dict[str, Any]] = []
        writes: list[dict[str, Any]] = []
        for idx, (claim, results, cancelled, _) in enumerate(items):
            row = fence.get(claim.job.id)
            if (
                row is None
                or row.locked_by != claim.worker_id
                or row.attempts != claim.attempt
                or row.status != QueueStatus.PROCESSING
            ):
                continue
            changed, job_writes, dangling = self._prepare(claim, results, now)
            writes.extend(job_writes)
            self._write_results(conn, claim.job.id, [], dangling, now)
            job = _changed(
                claim.job,
                results=self._view(claim, changed),
                cancel_requested=bool(row.cancel_requested),
            )
            newly = _newly_scheduled(claim, changed)
            values, event, next_at = self._plan(job, now, cancelled=cancelled, newly_scheduled=newly)
            decisions.append({"b_j": job.id, **_decision_params(job, values)})
            decided.append((idx, job, values, event, next_at))
        if self.is_pg and len(decisions) > 1:
            _H_FINISH_BATCH_PG.run(conn, _finish_batch_params(decisions, writes))
        else:
            _H_DECIDE.run_many(conn, decisions)
            _H_RESULT.run_many(conn, writes)
        return decided

    def release(self, claim: Claim) -> bool:
        """Hand a job back (graceful stop): waiting again at once, this attempt not counted."""
        now = self.now()
        with self._tx() as conn:
            if self._fence(conn, claim, now) is None:
                return False
            in_flight = [t.key for t in claim.tasks if t.key not in claim.recorded]
            if in_flight:
                conn.execute(
                    _U_KEYS_UNKNOWN,
                    {
                        "b_j": claim.job.id,
                        "b_keys": in_flight,
                        "b_now": now,
                        "b_err": "handed back by a stopping worker",
                    },
                )
            conn.execute(
                update(jobs)
                .where(jobs.c.id == claim.job.id)
                .values(
                    status=str(QueueStatus.RETRYING),
                    attempts=jobs.c.attempts - 1,
                    locked_by=None,
                    lease_expires_at=None,
                    run_at=now,
                    wait_reason="handed back by a stopping worker",
                    updated_at=now,
                )
            )
            self._notify(conn)
        return True

    def _commit_plan(
        self,
        conn: Connection,
        job: Job,
        values: dict[str, Any],
        events: tuple[str, ...],
        next_at: datetime | None,
        now: datetime,
    ) -> Outcome:
        conn.execute(_U_DECIDE, {"b_j": job.id, **_decision_params(job, values)})
        return self._after_decision(conn, job, values, events, next_at, now)

    def _after_decision(
        self,
        conn: Connection,
        job: Job,
        values: dict[str, Any],
        events: tuple[str, ...],
        next_at: datetime | None,
        now: datetime,
    ) -> Outcome:
        if values.get("status") in (QueueStatus.RETRYING, QueueStatus.SCHEDULED):
            self._notify(conn)
        elif values.get("status") == QueueStatus.CANCELLED:
            _cancel_unstarted(conn, job.id, now)
        out = _apply(job, values)
        webhook = False
        for event in events if out.webhook_url else ():
            self._enqueue_webhook(conn, out, event, next_at, now)
            webhook = True
        return Outcome(out, events[-1] if events else None, webhook)

    def _plan(
        self,
        job: Job,
        now: datetime,
        *,
        cancelled: bool = False,
        lost_lease: bool = False,
        newly_scheduled: bool = False,
    ) -> tuple[dict[str, Any], tuple[str, ...], datetime | None]:
        """The policy's decision for ``job`` (``queue/policy.py``) as the columns to write, its
        webhook events (in order) and when it runs next."""
        decision = decide(
            job_id=job.id,
            attempt=job.attempts,
            max_retries=job.max_retries,
            retry_delay=job.retry_delay,
            results=job.results,
            now=now,
            cancelled=cancelled or job.cancel_requested,
            lost_lease=lost_lease,
            newly_scheduled=newly_scheduled,
            rand=self.rand,
        )
        values: dict[str, Any] = {
            "locked_by": None,
            "lease_expires_at": None,
            "updated_at": now,
            "status": str(decision.status),
            "error_message": decision.error_message,
            "wait_reason": decision.wait_reason,
        }
        if decision.finished:
            values["completed_at"] = now
        if decision.run_at is not None:
            values["run_at"] = decision.run_at
        if decision.attempts is not None:
            values["attempts"] = decision.attempts
        return values, decision.events, decision.run_at

    # -- webhooks outbox ------------------------------------------------------------------------
    def _enqueue_webhook(
        self, conn: Connection, job: Job, event: str, next_at: datetime | None, now: datetime
    ) -> None:
        assert job.webhook_url
        conn.execute(
            insert(webhook_messages).values(
                id=f"msg_{uuid.uuid4().hex}",
                job_id=job.id,
                account_id=job.account_id,
                event=event,
                url=job.webhook_url,
                payload=build_payload(job, event, next_attempt_at=next_at),
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
        )

    def claim_webhooks(self, worker_id: str, limit: int = 10, lease_seconds: float = 60.0) -> list[Any]:
        now = self.now()
        stmt = (
            select(webhook_messages.c.id)
            .where(
                webhook_messages.c.status == "pending",
                webhook_messages.c.next_attempt_at <= now,
                or_(
                    webhook_messages.c.lease_expires_at.is_(None),
                    webhook_messages.c.lease_expires_at < now,
                ),
            )
            .order_by(webhook_messages.c.next_attempt_at)
            .limit(limit)
        )
        # SQLite: the probe is a read, so a poll with nothing due (most of them) never takes the
        # database's one write lock from a worker committing a finished job.
        if not self.is_pg and not self._any(stmt):
            return []
        if self.is_pg:
            stmt = stmt.with_for_update(skip_locked=True)
        with self._tx() as conn:
            ids = [r.id for r in conn.execute(stmt)]
            if not ids:
                return []
            return list(
                conn.execute(
                    update(webhook_messages)
                    .where(webhook_messages.c.id.in_(ids))
                    .values(
                        locked_by=worker_id,
                        lease_expires_at=now + timedelta(seconds=lease_seconds),
                        attempts=webhook_messages.c.attempts + 1,
                        updated_at=now,
                    )
                    .returning(*webhook_messages.c)
                ).all()
            )

    def record_webhook_attempt(
        self,
        message: Any,
        *,
        success: bool,
        status_code: int | None,
        error: str | None,
        duration_ms: float,
    ) -> None:
        now = self.now()
        attempt = int(message.attempts)
        with self._tx() as conn:
            conn.execute(
                insert(webhook_attempts).values(
                    message_id=message.id,
                    attempt=attempt,
                    url=message.url,
                    status_code=status_code,
                    success=success,
                    error=error,
                    duration_ms=duration_ms,
                    created_at=now,
                )
            )
            values: dict[str, Any] = {"locked_by": None, "lease_expires_at": None, "updated_at": now}
            if success:
                values.update(status="delivered", last_error=None)
            elif attempt >= self.settings.webhook_max_attempts:
                values.update(status="failed", last_error=error)
            else:
                values.update(
                    next_attempt_at=now + timedelta(seconds=webhook_delay(attempt, rand=self.rand)),
                    last_error=error,
                )
            conn.execute(
                update(webhook_messages)
                .where(webhook_messages.c.id == message.id, webhook_messages.c.locked_by == message.locked_by)
                .values(**values)
            )

    def webhook_log(self, job_id: str) -> list[dict[str, Any]]:
        """Messages of a job with their attempts (for tests, the CLI and the API)."""
        with self._read() as conn:
            msgs = conn.execute(
                select(webhook_messages)
                .where(webhook_messages.c.job_id == job_id)
                .order_by(webhook_messages.c.created_at)
            ).all()
            out = []
            for m in msgs:
                atts = conn.execute(
                    select(webhook_attempts)
                    .where(webhook_attempts.c.message_id == m.id)
                    .order_by(webhook_attempts.c.attempt)
                ).all()
                out.append(
                    {
                        "id": m.id,
                        "event": m.event,
                        "url": m.url,
                        "status": m.status,
                        "attempts": [
                            {
                                "attempt": a.attempt,
                                "status_code": a.status_code,
                                "success": a.success,
                                "error": a.error,
                            }
                            for a in atts
                        ],
                        "payload": m.payload,
                    }
                )
        return out

    def next_webhook_at(self) -> datetime | None:
        with self._read() as conn:
            value: datetime | None = conn.execute(
                select(func.min(webhook_messages.c.next_attempt_at)).where(
                    webhook_messages.c.status == "pending"
                )
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


def _apply(job: Job, values: dict[str, Any]) -> Job:
    """``job`` with the columns just written (avoids reading the row back)."""
    changes = {k: v for k, v in values.items() if k in Job.__dataclass_fields__}
    if "status" in changes:
        changes["status"] = QueueStatus(changes["status"])
    return _changed(job, **changes)


_JOB_FIELDS = tuple(Job.__dataclass_fields__)


def _changed(job: Job, **changes: Any) -> Job:
    """A copy of ``job`` with ``changes``: ``dataclasses.replace`` without its generic checks
    (it ran twice per finished job at about 14 us each). The values are the caller's, as with
    ``replace``; no field has a post-init step."""
    copy = object.__new__(Job)
    for name in _JOB_FIELDS:
        object.__setattr__(copy, name, changes[name] if name in changes else getattr(job, name))
    return copy


class _ResultView:
    """Attribute view of a result dict (``_runnable`` reads rows and dicts alike)."""

    __slots__ = ("error_kind", "status")

    def __init__(self, res: dict[str, Any]) -> None:
        self.status = res.get("status")
        self.error_kind = res.get("error_kind")


__all__ = [
    "CHANNEL",
    "Claim",
    "ClaimBatch",
    "JobStore",
    "Outcome",
    "PlatformTask",
    "job_from_doc",
    "request_id_for",
]
