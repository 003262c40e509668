"""What the store hands the workers: a claim (the job under lease and the fence that guards its
writes), a batch of claims, and the outcome of an attempt. Plain values, so the worker never holds a
row or a connection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from multipublish.queue.models import Job

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
