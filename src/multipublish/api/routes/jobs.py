"""Jobs: status, listing with filters, cancel, retry, reschedule."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from multipublish.api.auth import TokenDep
from multipublish.api.deps import StateDep
from multipublish.api.routes.common import errors, job_or_404, model_json, to_json
from multipublish.api.schemas import (
    ACCOUNT_ID_PATTERN,
    JOB_ID_PATTERN,
    JobPublic,
    JobsPublic,
    JobStatusName,
    JobUpdate,
)
from multipublish.platforms.base import PLATFORMS

router = APIRouter(prefix="/api/publishing/jobs", tags=["jobs"])

JobId = Annotated[str, Path(pattern=JOB_ID_PATTERN, examples=["job_123"])]


def _status(name: str | None) -> Any:
    if name is None:
        return None
    from multipublish.queue import QueueStatus

    return QueueStatus(name)


@router.get("", response_model=JobsPublic, responses=errors())
def list_jobs(
    state: StateDep,
    _token: TokenDep,
    status: JobStatusName | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    account_id: Annotated[str | None, Query(pattern=ACCOUNT_ID_PATTERN, max_length=200)] = None,
    platform: Annotated[str | None, Query(pattern="^(" + "|".join(PLATFORMS) + ")$")] = None,
) -> Any:
    """Jobs, newest first, filtered by status, account and platform."""
    jobs = state.queue.list_jobs(
        status=_status(status), account_id=account_id, platform=platform, limit=limit,
        offset=offset,
    )
    payload = {"jobs": [j.to_dict() for j in jobs], "count": len(jobs), "limit": limit, "offset": offset}
    return model_json(JobsPublic, payload)


@router.get("/{job_id}", response_model=JobPublic, responses=errors(404))
async def get_job(job_id: JobId, state: StateDep, _token: TokenDep) -> Any:
    """A job's status and its result on each platform."""
    # Read on the loop, without a hand-off to a thread (queue.loop_store; PostgreSQL: awaited).
    if state.queue.writes_on_loop:  # SQLite: its own connection, no pool to ask
        read, job = await state.queue.get_job_on_loop(job_id)
    else:
        async with state.service.loop_pool.connection() as aconn:
            read, job = await state.queue.get_job_on_loop(job_id, aconn)
    if not read:
        job = await run_in_threadpool(state.queue.get_job, job_id)
    return model_json(JobPublic, job_or_404(job, job_id).to_dict())


@router.post("/{job_id}/cancel", response_model=JobPublic, responses=errors(403, 404, 409))
def cancel_job(job_id: JobId, state: StateDep, _token: TokenDep) -> Any:
    """Cancel a job that has not finished (409 once it has)."""
    return to_json(job_or_404(state.queue.cancel_job(job_id), job_id))


@router.post("/{job_id}/retry", response_model=JobPublic, responses=errors(403, 404, 409))
def retry_job(job_id: JobId, state: StateDep, _token: TokenDep) -> Any:
    """Run a failed or cancelled job again (only the platforms not yet published)."""
    return to_json(job_or_404(state.queue.retry_job(job_id), job_id))


@router.patch("/{job_id}", response_model=JobPublic, responses=errors(403, 404, 409))
def update_job(job_id: JobId, body: JobUpdate, state: StateDep, _token: TokenDep) -> Any:
    """Change the priority or the time of a job that is still waiting."""
    job = state.queue.update_job(
        job_id, priority=body.priority, scheduled_time=body.scheduled_time
    )
    return to_json(job_or_404(job, job_id))
