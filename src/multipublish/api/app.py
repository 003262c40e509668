"""The FastAPI app factory: REST API, dashboard, metrics and (optionally) the queue's workers.

``create_app(service)`` only builds FastAPI around a service wired by
:func:`multipublish.bootstrap.build_service` (or, given settings, builds that service first). Workers
start with the app's lifespan unless ``start_workers=False`` (API-only nodes).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from multipublish import __version__
from multipublish.api import errors
from multipublish.api.auth import DocsGate
from multipublish.api.deps import ServiceState
from multipublish.api.metrics import Metrics, MetricsMiddleware
from multipublish.settings import Settings, get_settings

if TYPE_CHECKING:
    from multipublish.bootstrap import Service

log = logging.getLogger("multipublish.api")

DESCRIPTION = """
Publish one video to TikTok, Instagram, Facebook, LinkedIn and YouTube from many accounts.

Every route but `/healthz` and `/readyz` needs an API token: create one with
`multipublish tokens create --name NAME` and send `Authorization: Bearer <token>`.
`video_path` must name a file under `MULTIPUBLISH_MEDIA_ROOTS` (or one sent to `/uploads`), or be an
`http(s)://` URL that upload-post fetches itself (TikTok, Instagram, Facebook, LinkedIn; not YouTube;
validated partially: size from `HEAD`, and the text).
Errors answer `{"error", "message", "field", "reason"}`: 422 refused input, 404 unknown id,
409 conflicting state.
"""


def create_app(
    service: Service | Settings | None = None,
    *,
    start_workers: bool = True,
    workers: int = 4,
    dashboard: bool = True,
    mcp: bool = True,
) -> FastAPI:
    """Build the FastAPI app around ``service`` (from :func:`multipublish.bootstrap.build_service`).

    Given settings (or nothing), the app builds its service itself and closes it on shutdown; a
    service handed in belongs to the caller.
    """
    from multipublish.bootstrap import Service, build_service

    owned = not isinstance(service, Service)
    if not isinstance(service, Service):
        service = build_service(service or get_settings())
    queue = service.queue
    metrics = Metrics()
    state = ServiceState(
        service=service,
        settings=service.settings,
        engine=service.engine,
        manager=service.manager,
        queue=queue,
        tokens=service.tokens,
        idempotency=service.idempotency,
        metrics=metrics,
        start_workers=start_workers,
        workers=workers,
    )
    metrics.watch_queue(queue.get_queue_stats)
    mcp_sessions: AbstractAsyncContextManager[None] | None = None

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
            if state.settings.insights_enabled:
                from multipublish.insights.collector import MetricsCollector

                collector = MetricsCollector(state.engine, state.settings)
                state.extra["insights_collector"] = collector
                await collector.start()  # metrics of published posts, next to the publish workers
        try:
            async with contextlib.AsyncExitStack() as stack:
                if mcp_sessions is not None:
                    await stack.enter_async_context(mcp_sessions)
                yield
        finally:
            collector = state.extra.pop("insights_collector", None)
            if collector is not None:
                await collector.stop()
            if state.workers_running:
                await queue.stop()
                state.workers_running = False
            if owned:
                await service.aclose()

    app = FastAPI(
        title="multipublish",
        # Operation ids are the route functions' names (``publish_immediate``, ``get_job``), so a
        # generated client has short method names; test_openapi checks they stay unique.
        generate_unique_id_function=operation_id,
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from local assets by api.docs below
        redoc_url=None,
        openapi_tags=[
            {"name": "publishing", "description": "Publish now, schedule, batch"},
            {"name": "jobs", "description": "Queued jobs"},
            {"name": "accounts", "description": "Platform accounts (credentials never returned)"},
            {"name": "validation", "description": "Check a video against platform rules"},
            {
                "name": "uploads",
                "description": "Send a video file to the server: one multipart POST, or resumable "
                "with the tus 1.0 protocol at `/api/publishing/uploads/tus` (any tus client)",
            },
            {"name": "stats", "description": "Queue statistics"},
            {"name": "insights", "description": "How published posts did; best times to post"},
            {"name": "workspace", "description": "Drafts, queue slots, platform facts (dashboard)"},
            {"name": "health", "description": "Liveness, readiness, metrics"},
        ],
    )
    app.state.service = state
    errors.install(app)
    app.add_middleware(DocsGate, state=state)  # /docs, /redoc, /openapi.json per MULTIPUBLISH_API_DOCS
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    for router in routers(dashboard=dashboard):
        app.include_router(router)
    if mcp:  # the MCP tools over streamable HTTP, behind the same tokens
        from multipublish.api.mcp import mount_mcp

        mcp_sessions = mount_mcp(app, state)
    from multipublish.api import docs

    docs.install(app)  # /docs and /redoc from vendored assets (they work offline)
    if dashboard:
        from multipublish.dashboard import mount

        mount(app)  # static files (the dashboard's pages come with ``routers()``)
    return app


def operation_id(route: APIRoute) -> str:
    """The OpenAPI operation id of a route: its function's name."""
    return route.name


def routers(*, dashboard: bool = True) -> list[APIRouter]:
    """Every router of the app, in the order they are included: the one list to add a router to."""
    from multipublish.api.routes import (
        accounts,
        health,
        jobs,
        publishing,
        stats,
        tus,
        uploads,
        validate,
        workspace,
    )
    from multipublish.usage.routes import router as usage_router

    modules = (publishing, jobs, accounts, validate, uploads, tus, workspace, stats, health)
    out = [m.router for m in modules]
    out.append(tus.tus_router())  # resumable uploads (the tus protocol)
    out.append(usage_router)  # usage stats, costs, quotas (each route needs a token)
    from multipublish.insights.routes import router as insights_router

    out.append(insights_router)  # insights and best times (each route needs a token)
    if dashboard:
        from multipublish.dashboard.routes import router as dashboard_router

        out.append(dashboard_router)
    return out
