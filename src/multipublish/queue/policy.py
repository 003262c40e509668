"""The retry policy: where a job goes after an attempt, decided apart from SQL.

Given the attempt number, the per-platform outcomes and the settings, :func:`decide` says whether
the job is completed, failed for good, waits for a quota reset, waits out a rate limit, or retries
after a backoff. It reads no database and no clock (``now`` and ``rand`` are passed in), so it is
tested on its own, table by table; ``JobStore`` only persists the decision.

The rules, once:

* A platform published, or failed with a final kind (:data:`FINAL_KINDS`), is done; the others
  are still to run (``pending``).
* Nothing pending: completed, or failed naming the platforms that failed.
* Every platform still pending scheduled at the service (upload-post's own scheduling): the job
  waits, without spending an attempt, until the post's time, then asks about it by job id.
* A quota refusal waits for the reset the platform (or the quota gate) named, else
  :data:`QUOTA_DEFAULT_WAIT`; it is not a failed attempt.
* A rate limit with a ``Retry-After`` is a wait of that long, not a failed attempt and not a quota
  park (only when every platform still pending is rate limited; otherwise the longest
  ``Retry-After`` is the floor of the backoff).
* A platform whose outcome is ``unknown`` is never called failed: when the attempts are spent the
  job is ``failed`` with that platform ``unknown`` and a message naming ``jobs retry``.
* Otherwise: exponential backoff from the job's ``retry_delay`` (default
  ``MULTIPUBLISH_RETRY_BASE_DELAY``) with jitter, floored by any ``Retry-After``.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, ParamSpec

from multipublish.errors import ErrorKind, with_platform
from multipublish.queue.backoff import MAX_DELAY, backoff_delay
from multipublish.queue.models import QueueStatus

#: Error kinds after which a platform is never retried automatically (the one list; SQL uses
#: :data:`FINAL_KIND_NAMES`).
FINAL_KINDS: tuple[ErrorKind, ...] = (ErrorKind.AUTH, ErrorKind.PERMANENT)
FINAL_KIND_NAMES: tuple[str, ...] = tuple(str(k) for k in FINAL_KINDS)
_P = ParamSpec("_P")
#: Default wait for a quota error that names no reset time.
QUOTA_DEFAULT_WAIT = 3600.0
#: When to ask again about a post the service scheduled for later, if it named no time.
SCHEDULED_FOLLOW_UP = 60.0

def is_runnable(status: Any, error_kind: Any) -> bool:
    """Whether a platform of a claimed job still has to run."""
    if status == "published":
        return False
    return not (status == "failed" and error_kind in FINAL_KIND_NAMES)


@dataclass(frozen=True, slots=True)
class Decision:
    """Where a job goes after ``processing``, and what to tell about it."""

    status: QueueStatus
    #: When it may be claimed again (waiting statuses only).
    run_at: datetime | None = None
    #: The attempts counter to store (a wait that is not a failure gives its attempt back).
    attempts: int | None = None
    error_message: str | None = None
    wait_reason: str | None = None
    #: Webhook event to send, if any.
    event: str | None = None
    #: An event told before ``event``: ``job.scheduled`` when a platform was accepted for later
    #: in this attempt while the job as a whole goes elsewhere (another platform retries, waits
    #: for quota, or failed), so the platform's transition is told once whatever the others do.
    also: str | None = None

    @property
    def events(self) -> tuple[str, ...]:
        """The webhook events of this decision, in the order they are sent."""
        return tuple(e for e in (self.also, self.event) if e)

    @property
    def finished(self) -> bool:
        return self.status in (QueueStatus.COMPLETED, QueueStatus.FAILED, QueueStatus.CANCELLED)


def _scheduled_told_once(decide: Callable[_P, Decision]) -> Callable[_P, Decision]:
    """A platform newly accepted for later is told (``job.scheduled``) whatever the job's other
    platforms do: added as ``Decision.also`` when the job as a whole goes elsewhere."""

    @functools.wraps(decide)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> Decision:
        decision = decide(*args, **kwargs)
        told = decision.event == "job.scheduled"
        if kwargs.get("newly_scheduled") and not kwargs.get("cancelled") and not told:
            return replace(decision, also="job.scheduled")
        return decision

    return run


@_scheduled_told_once
def decide(
    *,
    job_id: str,
    attempt: int,
    max_retries: int,
    retry_delay: float,
    results: Mapping[str, Mapping[str, Any]],
    now: datetime,
    cancelled: bool = False,
    lost_lease: bool = False,
    newly_scheduled: bool = False,
    rand: Callable[[], float] = random.random,
    quota_default_wait: float = QUOTA_DEFAULT_WAIT,
    max_delay: float = MAX_DELAY,
) -> Decision:
    """The decision after attempt ``attempt`` (1-based) given each platform's stored outcome.

    ``results[key]`` needs ``status``, ``error_kind``, ``retry_after`` and ``error``.
    ``newly_scheduled``: a platform was accepted for later by its service in this attempt (the
    job tells its webhook once, ``job.scheduled``; a follow-up that finds it still waiting does not),
    whatever the job's other platforms do (``Decision.also`` when the job itself is not scheduled).
    """
    pending = [k for k, r in results.items() if is_runnable(r.get("status"), r.get("error_kind"))]
    final_failed = [k for k, r in results.items() if r.get("status") == "failed" and k not in pending]
    if cancelled:
        return Decision(QueueStatus.CANCELLED, error_message="cancelled by user")
    if not pending and not final_failed:
        return Decision(QueueStatus.COMPLETED, event="job.completed")
    if not pending:
        return Decision(QueueStatus.FAILED, error_message=summary(results, final_failed), event="job.failed")
    waiting = [k for k in pending if results[k].get("status") == "scheduled"]
    if waiting and len(waiting) == len(pending) and not lost_lease:
        # Accepted by the service for later: asked about (by job id) once it is due. Not a failed
        # attempt, and a failure there later reaches the job like any other.
        wait = max(_retry_after(results[k]) or SCHEDULED_FOLLOW_UP for k in waiting)
        run_at = now + timedelta(seconds=wait)
        return Decision(
            QueueStatus.SCHEDULED,
            run_at=run_at,
            attempts=max(0, attempt - 1),
            wait_reason=f"{', '.join(waiting)} scheduled at the service; followed up at {run_at.isoformat()}",
            event="job.scheduled" if newly_scheduled else None,
        )
    quota = [k for k in pending if results[k].get("error_kind") == ErrorKind.QUOTA]
    if quota and not lost_lease:
        wait = max(_retry_after(results[k]) or quota_default_wait for k in quota)
        run_at = now + timedelta(seconds=wait)
        return Decision(
            QueueStatus.SCHEDULED,
            run_at=run_at,
            # A quota wait is not a failed attempt: the platform told us when to come back.
            attempts=max(0, attempt - 1),
            error_message=summary(results, pending),
            wait_reason=f"quota of {', '.join(quota)} used up; waits until {run_at.isoformat()}",
            event="job.retry_scheduled",
        )
    limited = [
        k
        for k in pending
        if results[k].get("error_kind") == ErrorKind.RATE_LIMITED and _retry_after(results[k])
    ]
    if limited and len(limited) == len(pending) and not lost_lease:
        wait = max(_retry_after(results[k]) or 0.0 for k in limited)
        run_at = now + timedelta(seconds=wait)  # honoured as asked: the service spreads its callers
        return Decision(
            QueueStatus.RETRYING,
            run_at=run_at,
            attempts=max(0, attempt - 1),  # a wait the platform asked for, not a failure
            error_message=summary(results, pending),
            wait_reason=(
                f"rate limited by {', '.join(limited)} (Retry-After {wait:g} s); "
                f"retry at {run_at.isoformat()}"
            ),
            event="job.retry_scheduled",
        )
    if attempt >= max_retries + 1:
        unknown = [k for k in pending if results[k].get("status") == "unknown"]
        hint = (
            f"; the outcome on {', '.join(unknown)} is unknown, not failed: "
            f"`multipublish jobs retry {job_id}` asks the platform again before any repost"
            if unknown
            else ""
        )
        return Decision(
            QueueStatus.FAILED,
            error_message=f"gave up after {attempt} attempts: "
            + summary(results, pending + final_failed)[:1500]
            + hint,
            event="job.failed",
        )
    if lost_lease:
        return Decision(
            QueueStatus.RETRYING,
            run_at=now,
            error_message="the worker running this job stopped answering (lease expired)",
            wait_reason="lease expired; outcome of in-flight uploads will be reconciled",
        )
    floor = max((_retry_after(results[k]) or 0.0 for k in limited), default=0.0)
    delay = backoff_delay(attempt, retry_delay, retry_after=floor or None, rand=rand, max_delay=max_delay)
    run_at = now + timedelta(seconds=delay)
    kinds = sorted({str(results[k].get("error_kind") or "error") for k in pending})
    return Decision(
        QueueStatus.RETRYING,
        run_at=run_at,
        error_message=summary(results, pending),
        wait_reason=(
            f"attempt {attempt} of {max_retries + 1} failed ({', '.join(kinds)}); "
            f"retry at {run_at.isoformat()}"
        ),
        event="job.retry_scheduled",
    )


def summary(results: Mapping[str, Mapping[str, Any]], keys: list[str]) -> str:
    """``platform: error`` for each of ``keys`` (the job's error message), at most 2,000 characters."""
    parts = [with_platform(k, str(results[k].get("error") or results[k].get("status"))) for k in keys]
    return "; ".join(parts)[:2000]


def _retry_after(res: Mapping[str, Any]) -> float | None:
    value = res.get("retry_after")
    return float(value) if value is not None else None


__all__ = [
    "FINAL_KINDS",
    "FINAL_KIND_NAMES",
    "QUOTA_DEFAULT_WAIT",
    "Decision",
    "decide",
    "is_runnable",
    "summary",
]
