"""Publishing: now (wait for the results), scheduled (one job), or a batch of scheduled jobs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from multipublish.api.auth import TokenDep
from multipublish.api.deps import ServiceState, StateDep
from multipublish.api.routes.common import errors, idempotent, to_json
from multipublish.api.schemas import (
    BatchScheduleCreate,
    BatchSchedulePublic,
    ImmediatePublishCreate,
    ImmediatePublishPublic,
    JobPublic,
    ScheduledPublishCreate,
)
from multipublish.scheduling import (
    check_video,
    prepare_on_loop,
    prepare_on_loop_pg,
    publish_config,
    schedule_batch,
)

router = APIRouter(prefix="/api/publishing/publish", tags=["publishing"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Repeat a request safely: the same key returns the first response.",
    ),
]


@router.post("/immediate", response_model=ImmediatePublishPublic, responses=errors(404, 409))
async def publish_immediate(
    body: ImmediatePublishCreate,
    request: Request,
    state: StateDep,
    token: TokenDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Publish a video now to several platforms and return each platform's result."""

    async def produce() -> tuple[int, Any]:
        video, config = await run_in_threadpool(
            publish_config, body, state.settings.media_root_paths()
        )
        await run_in_threadpool(check_video, state.manager, video, list(body.platforms), config)
        results = await state.manager.publish_multi_platform(
            body.account_id, list(body.platforms), str(video), config, validate=False
        )
        payload = {
            "account_id": body.account_id,
            "success": bool(results) and all(r.success for r in results.values()),
            "results": {name: to_json(result) for name, result in results.items()},
        }
        return 200, payload

    return await idempotent(
        state, request, token, idempotency_key, body.model_dump(mode="json"), produce
    )


def _created(make: Callable[[], Any]) -> Callable[[], Awaitable[tuple[int, Any]]]:
    """A ``produce`` for ``idempotent``: run ``make`` in the thread pool, answer 201."""

    async def produce() -> tuple[int, Any]:
        return 201, await run_in_threadpool(make)

    return produce


@router.post(
    "/scheduled", status_code=201, response_model=JobPublic, responses=errors(404, 409)
)
async def publish_scheduled(
    body: ScheduledPublishCreate,
    request: Request,
    state: StateDep,
    token: TokenDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Queue a publish for ``scheduled_time`` (or now), with priority and retries."""
    if idempotency_key is None:
        job = await _schedule_on_loop(state, body)
        if job is not None:
            return JSONResponse(job.to_dict(), status_code=201)

    def add() -> Any:
        return _schedule(state, [body], None)[0].to_dict()  # JSON-safe already: no encoder pass

    return await idempotent(
        state, request, token, idempotency_key, body.model_dump(mode="json"), _created(add)
    )


@router.post(
    "/batch", status_code=201, response_model=BatchSchedulePublic, responses=errors(404, 409)
)
async def publish_batch(
    body: BatchScheduleCreate,
    request: Request,
    state: StateDep,
    token: TokenDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Schedule many publishes in one request: all are accepted, or none is."""

    def add() -> Any:
        jobs = _schedule(state, list(body.jobs), "jobs")
        return {"jobs": [j.to_dict() for j in jobs], "count": len(jobs)}

    return await idempotent(
        state, request, token, idempotency_key, body.model_dump(mode="json"), _created(add)
    )


async def _schedule_on_loop(state: ServiceState, body: ScheduledPublishCreate) -> Any:
    """The job, checked and queued on the event loop where nothing there can wait (``None``:
    the caller goes through the thread pool). Why: the hand-off to a thread and back cost the
    server more than the schedule itself (about half a POST's time under wrk, SQLite).

    SQLite reads on the loop (a reader in WAL mode does not wait) and writes on the queue's
    never-waiting connection; PostgreSQL awaits both on a connection of the service's pool."""
    queue = state.queue
    roots = state.settings.media_root_paths()
    if queue.writes_on_loop:
        queued = prepare_on_loop(body, roots, state.manager)
        if queued is None:
            return None
        job = await queue.add_job_on_loop(body.job_id, queued)
        if job is None:  # the SQLite write lock is held elsewhere: a thread waits for it
            job = await run_in_threadpool(queue.add_job, body.job_id, queued)
        return job
    prepared = prepare_on_loop_pg(body, roots, state.manager)
    if prepared is None:
        return None
    queued, account = prepared
    async with state.service.loop_pool.connection() as aconn:
        if aconn is None:
            return None
        # The account's platforms are checked in the enqueue itself: nothing written (None)
        # when one is missing, and the thread path's full check says which.
        return await queue.add_job_on_loop(body.job_id, queued, aconn, account=account)


def _schedule(
    state: ServiceState, items: list[ScheduledPublishCreate], prefix: str | None
) -> list[Any]:
    return schedule_batch(
        items,
        roots=state.settings.media_root_paths(),
        manager=state.manager,
        queue=state.queue,
        field_prefix=prefix,
    )
