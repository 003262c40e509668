"""Domain errors to HTTP answers, in one place.

``InputError`` 422 (field and reason), ``NotFoundError`` 404, ``ConflictError`` 409, missing or
revoked token 401, CSRF failure 403, a remote platform failure 502, server misconfiguration 503.
Anything else is a bug: 500 with a generic message and an error id (details only in the server log,
under that id); a body above its cap 413.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from multipublish.api.guard import RequestGuard, error_id, internal_error_body
from multipublish.errors import (
    ConfigurationError,
    ConflictError,
    CredentialsError,
    InputError,
    MultipublishError,
    NotFoundError,
    PlatformError,
    ValidationFailed,
)

log = logging.getLogger("multipublish.api")


class AuthError(MultipublishError):
    """A valid API token is required (``Authorization: Bearer <token>``)."""


class ForbiddenError(MultipublishError):
    """The request is authenticated but not allowed (e.g. a dashboard POST without its CSRF token)."""


def error_body(
    code: str,
    message: str,
    *,
    field: str | None = None,
    reason: str | None = None,
    errors: list[dict[str, str]] | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "error": code,
        "message": message,
        "field": field,
        "reason": reason,
        "errors": errors or ([{"field": field, "reason": reason}] if field and reason else []),
        "details": details,
    }


def status_and_body(exc: Exception) -> tuple[int, dict[str, Any]]:
    """The HTTP status and body for a domain error (shared by the API and the dashboard)."""
    if isinstance(exc, ValidationFailed):
        return 422, error_body(
            "validation_failed", exc.message, field=exc.field, reason=exc.reason,
            details={"validation": exc.report},
        )
    if isinstance(exc, InputError):
        return 422, error_body("invalid_input", exc.message, field=exc.field, reason=exc.reason)
    if isinstance(exc, NotFoundError):
        return 404, error_body("not_found", exc.message)
    if isinstance(exc, ConflictError):
        return 409, error_body("conflict", exc.message)
    if isinstance(exc, AuthError):
        return 401, error_body("unauthorized", exc.message)
    if isinstance(exc, ForbiddenError):
        return 403, error_body("forbidden", exc.message)
    if isinstance(exc, PlatformError):
        return 502, error_body(
            "platform_error", exc.message, details={"platform": exc.platform, "kind": str(exc.kind)}
        )
    if isinstance(exc, CredentialsError):
        return 503, error_body(
            "credentials_unreadable",
            "stored credentials cannot be read with the configured secret key",
        )
    if isinstance(exc, ConfigurationError):
        return 503, error_body("misconfigured", exc.message)
    return 500, error_body("internal", "internal server error")


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    async def domain(request: Request, exc: Exception) -> JSONResponse:
        status, body = status_and_body(exc)
        if status >= 500:
            log.error("request failed: %s %s: %s", request.method, request.url.path, exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(body, status_code=status, headers=headers)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [_field_error(e) for e in exc.errors()]
        first = errors[0] if errors else {"field": "body", "reason": "invalid request"}
        body = error_body(
            "invalid_input",
            f"{first['field']}: {first['reason']}",
            field=first["field"],
            reason=first["reason"],
            errors=errors,
        )
        return JSONResponse(body, status_code=422)

    async def http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400:  # an unparsable body is refused input like any other
            reason = f"cannot be parsed ({exc.detail})"
            return JSONResponse(
                error_body("invalid_input", f"body: {reason}", field="body", reason=reason),
                status_code=422,
            )
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Only reached for errors outside the guard (it answers the routes' own, see guard.py).
        ident = error_id()
        log.exception("unhandled error %s on %s %s", ident, request.method, request.url.path)
        return JSONResponse(internal_error_body(ident), status_code=500)

    app.add_exception_handler(MultipublishError, domain)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http)
    app.add_exception_handler(Exception, unexpected)
    # The guard that caps bodies and answers bugs without dropping the connection.
    settings = app.state.service.settings
    app.add_middleware(
        RequestGuard,
        json_limit=settings.max_json_body_bytes,
        upload_limit=settings.upload_limit(),
        upload_dir=lambda: next(iter(settings.media_root_paths()), None),
    )


def _field_error(err: Any) -> dict[str, str]:
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(loc) or str((err.get("loc") or ["body"])[0])
    msg = str(err.get("msg", "invalid"))
    return {"field": field, "reason": msg.removeprefix("Value error, ")}
