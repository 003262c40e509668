"""Helpers shared by routers: documented error answers, idempotent execution, JSON conversion."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from multipublish.api.deps import ServiceState
from multipublish.api.idempotency import check_key, request_fingerprint
from multipublish.api.schemas import ErrorPublic
from multipublish.api.tokens import TokenInfo
from multipublish.errors import NotFoundError


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error codes a route may answer (401 and 422 always)."""
    text = {
        401: "Missing, unknown or revoked API token",
        403: "Dashboard session without its CSRF token",
        404: "Unknown id",
        409: "Conflicts with the current state",
        422: "Refused input: `field` and `reason` say what and why",
        502: "A platform answered badly",
        503: "The server is not configured for this",
    }
    out: dict[int | str, dict[str, Any]] = {}
    for code in sorted({401, 422, *codes}):
        out[code] = {"model": ErrorPublic, "description": text[code]}
    return out


def to_json(value: Any) -> Any:
    """Plain JSON of a domain object (``to_dict()`` when it has one)."""
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    return jsonable_encoder(value)


def model_json(model: type[BaseModel], payload: dict[str, Any]) -> Response:
    """``payload`` checked against ``model`` and written by pydantic's own serialiser.

    The answer FastAPI would give for ``response_model=model`` (same bytes), without the pass of
    ``jsonable_encoder`` over the payload first: the hot reads' payloads (``to_dict()``) are
    plain JSON already. The route keeps ``response_model`` for its OpenAPI schema.
    """
    return Response(model.model_validate(payload).model_dump_json(), media_type="application/json")


def job_or_404(job: Any, job_id: str) -> Any:
    if job is None:
        raise NotFoundError("job", job_id)
    return job


async def idempotent(
    state: ServiceState,
    request: Request,
    token: TokenInfo,
    key: str | None,
    body: Any,
    produce: Callable[[], Awaitable[tuple[int, Any]]],
) -> JSONResponse:
    """Run ``produce`` once per ``Idempotency-Key``; repeats get the first answer back."""
    if key is None:
        status, payload = await produce()
        return JSONResponse(payload, status_code=status)
    key = check_key(key)
    scope = str(token.id)
    path = request.url.path
    fingerprint = request_fingerprint(request.method, path, body)
    store = state.idempotency
    stored = await run_in_threadpool(store.reserve, scope, key, request.method, path, fingerprint)
    if stored is not None:
        return JSONResponse(
            stored.body, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"}
        )
    try:
        status, payload = await produce()
    except BaseException:
        store.release(scope, key)
        raise
    await run_in_threadpool(store.complete, scope, key, status, payload)
    return JSONResponse(payload, status_code=status)
