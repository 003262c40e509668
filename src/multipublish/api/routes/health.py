"""Liveness, readiness and Prometheus metrics.

``/healthz`` and ``/readyz`` need no token (load balancers and orchestrators call them);
``/metrics`` needs one like every other route.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from multipublish.api.auth import TokenDep
from multipublish.api.deps import StateDep
from multipublish.api.routes.common import errors
from multipublish.api.schemas import HealthPublic

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthPublic)
def healthz() -> Any:
    """The process answers."""
    return {"status": "ok", "checks": {}}


@router.get(
    "/readyz",
    response_model=HealthPublic,
    responses={503: {"model": HealthPublic, "description": "Not ready"}},
)
def readyz(state: StateDep) -> Any:
    """The database answers and, when this node runs workers, they are running."""
    checks: dict[str, str] = {}
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unavailable ({type(exc).__name__})"
    if state.start_workers:
        checks["workers"] = "ok" if state.workers_running else "not running"
    else:
        checks["workers"] = "disabled"
    ready = all(v in ("ok", "disabled") for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        **errors(),
    },
)
def metrics(state: StateDep, _token: TokenDep) -> Response:
    """Prometheus text format: request counts and latencies, jobs by status, success ratios."""
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
