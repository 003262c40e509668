"""A publish result or a decision as the bind parameters of the statements that write it, and the
claims read back from a claim's rows: the translation between the worker's values and the
statements' columns, kept apart from both.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, update

from multipublish.db import job_results
from multipublish.platforms.base import PublishResult
from multipublish.queue.models import Job, QueueStatus
from multipublish.queue.store.claims import Claim, PlatformTask, request_id_for
from multipublish.queue.store.rows import _job_from_row, _preview, _result_dict, _ResultView, _Row, _runnable
from multipublish.queue.store.statements import (
    _CLAIMED,
    _I_ATTEMPTS,
    _N_CLAIMED,
    _R_DETAILS,
    _R_PUBLISHED,
    _R_SUCCESS,
    _R_UPDATED,
    _ResultRow,
)


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


def _notify_payload(run_at: datetime | None) -> str:
    """What a wake-up says: the due time of a future job (workers move their timers), or nothing."""
    return f"{run_at.timestamp():.6f}" if run_at else ""
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
