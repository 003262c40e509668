"""The FastAPI app factory: REST API, dashboard, metrics and (optionally) the queue's workers.

``create_app(settings)`` builds everything from one ``Settings``; tests hand in their own settings
(and may hand in a manager or a queue they built). Workers start with the app's lifespan unless
``start_workers=False`` (API-only nodes).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine

from multipublish import __version__
from multipublish.api import errors
from multipublish.api.deps import ServiceState
from multipublish.api.idempotency import IdempotencyStore
from multipublish.api.metrics import Metrics, MetricsMiddleware
from multipublish.api.tokens import TokenStore
from multipublish.db import ensure_schema, make_engine
from multipublish.settings import Settings, get_settings

log = logging.getLogger("multipublish.api")

DESCRIPTION = """
Publish one video to TikTok, Instagram, Facebook, LinkedIn and YouTube from many accounts.

Every route but `/healthz` and `/readyz` needs an API token: create one with
`multipublish tokens create --name NAME` and send `Authorization: Bearer <token>`.
`video_path` must name a file under `MULTIPUBLISH_MEDIA_ROOTS` (or one sent to `/uploads`).
Errors answer `{"error", "message", "field", "reason"}`: 422 refused input, 404 unknown id,
409 conflicting state.
"""


def create_app(
    settings: Settings | None = None,
    *,
    manager: Any = None,
    queue: Any = None,
    engine: Engine | None = None,
    start_workers: bool = True,
    workers: int = 4,
    dashboard: bool = True,
) -> FastAPI:
    """Build the service; the manager and queue are created from ``settings`` unless given."""
    settings = settings or get_settings()
    owned: list[Any] = []
    if engine is None:
        engine = getattr(manager, "engine", None) if manager is not None else None
    if engine is None:
        engine = make_engine(settings.database_url)
    ensure_schema(engine)
    if manager is None:
        from multipublish.manager import PublishingManager

        manager = PublishingManager(settings, engine=engine)
        owned.append(manager)
    if queue is None:
        from multipublish.queue import PublishingQueue
        from multipublish.usage import quota_gate_for

        gate = quota_gate_for(engine, settings)
        queue = PublishingQueue(engine, manager, settings=settings, quota_gate=gate)
    metrics = Metrics()
    state = ServiceState(
        settings=settings,
        engine=engine,
        manager=manager,
        queue=queue,
        tokens=TokenStore(engine),
        idempotency=IdempotencyStore(engine),
        metrics=metrics,
        start_workers=start_workers,
        workers=workers,
    )
    metrics.watch_queue(queue.get_queue_stats)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            state.idempotency.purge()
        except Exception as exc:  # housekeeping must not stop the service
            log.warning("could not purge old idempotency keys: %s", type(exc).__name__)
        if start_workers:
            await queue.start(workers)
            state.workers_running = True
            log.info("queue workers started (%d)", workers)
        try:
            yield
        finally:
            if state.workers_running:
                await queue.stop()
                state.workers_running = False
            for part in owned:
                await part.aclose()

    app = FastAPI(
        title="multipublish",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "publishing", "description": "Publish now, schedule, batch"},
            {"name": "jobs", "description": "Queued jobs"},
            {"name": "accounts", "description": "Platform accounts (credentials never returned)"},
            {"name": "validation", "description": "Check a video against platform rules"},
            {"name": "uploads", "description": "Send a video file to the server"},
            {"name": "stats", "description": "Queue statistics"},
            {"name": "health", "description": "Liveness, readiness, metrics"},
        ],
    )
    app.state.service = state
    errors.install(app)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    from multipublish.api.routes import (
        accounts,
        health,
        jobs,
        publishing,
        stats,
        uploads,
        validate,
    )

    for module in (publishing, jobs, accounts, validate, uploads, stats, health):
        app.include_router(module.router)
    from multipublish.usage.routes import router as usage_router

    app.include_router(usage_router)  # usage stats, costs, quotas (each route needs a token)
    if dashboard:
        from multipublish.dashboard import mount

        mount(app)
    return app
