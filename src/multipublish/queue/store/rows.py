"""Rows to models and back, without another read: a stored row or the document in the archive to a
``Job``, a result row to the dict users see, and a job with the columns just written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from multipublish.db import utcnow
from multipublish.errors import ErrorKind
from multipublish.platforms.base import PublishConfig, PublishResult, PublishStatus
from multipublish.queue.models import Job, QueueStatus
from multipublish.queue.policy import is_runnable


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


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


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
