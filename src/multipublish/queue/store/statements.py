"""The queue's SQL, built once at import: SQLAlchemy then reuses each compiled form, and the hot
ones (``Hot``) go straight to the driver's cursor. Dialect variants sit side by side, so the two
databases' plans can be read and compared in one place (``tests/queue/test_plans.py`` reads them).
"""

from __future__ import annotations

import json
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
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
    exists,
    func,
    insert,
    literal,
    literal_column,
    not_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import TypeDecorator

from multipublish.db import UTCDateTime, job_results, jobs
from multipublish.db.rawsql import Hot
from multipublish.errors import ErrorKind
from multipublish.queue.models import QueueStatus
from multipublish.queue.policy import FINAL_KIND_NAMES
from multipublish.queue.schema import jobs_archive, queue_counts, queue_state
from multipublish.queue.store.claims import CHANNEL

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
#: PostgreSQL: the claim's lock (one claimer at a time, so the caps count what is in flight). It
#: also has the rest of its transaction planned as index lookups, as migration 0019 has the
#: function's (``set_config(..., true)`` lasts until the transaction ends; sent with the lock, it
#: costs no round trip): the claim reads a few rows by id or in index order, and a queue's
#: statistics can be far from its rows (a new database planned its claim as scans of both tables).
_S_LOCK = (
    select(
        queue_state.c.id,
        *[func.set_config(literal(name), literal("off"), true())
          for name in ("enable_seqscan", "enable_hashjoin", "enable_mergejoin")],
    )
    .where(queue_state.c.id == 1)
    .with_for_update()
)
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
    """The claim of the picked jobs (those still waiting), returning what ``_CLAIMED`` names.

    Both databases would read every waiting job through a partial index (the status test is its
    predicate) rather than look the few ids up. SQLite keeps the test, off the index (the unary
    ``+``). PostgreSQL drops it: the candidates were read ``FOR UPDATE SKIP LOCKED`` in the same
    transaction, so each picked job is locked and still waiting (the plan had filtered 680 waiting
    rows to claim 8 on a database not yet analysed; migration 0019 did the same for the function).
    """
    waiting = [] if pg else [text("+" + _WAITING_LIT)]
    return (
        update(jobs)
        .where(_ids_in(jobs.c.id, pg), *waiting)
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


#: A job with its result rows: one round trip for a status read, on the DBAPI cursor (the API's
#: hottest read). Each row is the job's columns (``_JobRow``) then ``_RESULT_READ``.
_H_JOB_WITH_RESULTS = Hot(
    select(jobs, *[job_results.c[n].label(f"r_{n}") for n in _RESULT_READ])
    .select_from(jobs.outerjoin(job_results, job_results.c.job_id == jobs.c.id))
    .where(jobs.c.id == _b("b_j"))
)
_JobRow = namedtuple("_JobRow", [c.name for c in jobs.c])  # type: ignore[misc]
_N_JOB = len(jobs.c)


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

# The hot path's statements on the DBAPI cursor (``db/rawsql.py``): the chained claim and the
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
        *[_b(n, Text()) for n in ("b_jobs", "b_w", "b_channel", "b_caps", "b_final")],
    )
    .columns(*_FINISH_AND_CLAIM_TYPES)
)
#: Candidates the function reads at most (its LIMIT, a constant in its SQL).
_FINISH_AND_CLAIM_SCAN = 256
#: Decisions that wake the listening workers (a job waiting again).
_WAKING = (QueueStatus.RETRYING, QueueStatus.SCHEDULED)


_R_SUCCESS, _R_DETAILS, _R_UPDATED, _R_PUBLISHED = (
    _RESULT_READ.index(n) for n in ("success", "details", "updated_at", "published_at")
)


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
#: Of those, the ones that differ between a job's platforms (the others are the job's or a new
#: result's): PostgreSQL's enqueue sends only these as arrays, whose dumping cost psycopg about
#: 20 us of Python each, per array, with one element as with five.
_ENQUEUE_RESULT_VARYING = ("platform", "platform_name", "request_id")


def _enqueue_pg(*, account_checked: bool = False) -> Any:
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
    varying = _ENQUEUE_RESULT_VARYING
    arrays = ", ".join(f"CAST(:r_{c} AS {sql_type(job_results, c)}[])" for c in varying)
    # A new result: pending, not yet tried; the job's id and time.
    same = {"job_id": "fresh.id", "status": "'pending'", "success": "false", "attempts": "0",
            "bytes_sent": "0", "updated_at": f"CAST(:updated_at AS {sql_type(jobs, 'updated_at')})"}
    result_values = ", ".join(f"r.{c}" if c in varying else same[c] for c in _ENQUEUE_RESULT_COLS)
    # ``account_checked``: also only when the account has every platform the job names (the
    # API's schedule: its account check in the same round trip, ``JobStore.add_on``).
    account = (
        " AND (SELECT count(*) FROM accounts WHERE account_id = :a_id"
        " AND platform = ANY(CAST(:a_platforms AS TEXT[]))) = :a_n"
        if account_checked
        else ""
    )
    stmt = text(
        f"WITH fresh AS (INSERT INTO jobs ({', '.join(_ENQUEUE_JOB_COLS)}) SELECT {job_values}"
        f" WHERE NOT EXISTS (SELECT 1 FROM jobs_archive WHERE job_id = :id){account} RETURNING id),"
        f" results AS (INSERT INTO job_results ({', '.join(_ENQUEUE_RESULT_COLS)})"
        f" SELECT {result_values}"
        f" FROM fresh CROSS JOIN unnest({arrays}) AS r({', '.join(varying)}))"
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
_H_ENQUEUE_CHECKED_PG = Hot(_enqueue_pg(account_checked=True))


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
