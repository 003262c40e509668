"""Dashboard pages (HTML); data comes from the JSON API, called by ``static/app.js``."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from multipublish.api.auth import (
    COOKIE_NAME,
    SESSION_SECONDS,
    csrf_token,
    new_session,
    verify_session,
)
from multipublish.api.deps import ServiceState, get_state
from multipublish.api.routes.common import to_json
from multipublish.platforms.base import PLATFORMS

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))

_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; font-src 'self' data:; "
    "style-src 'self'{nonce}; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": _CSP.format(nonce=""),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
STATUSES = ("pending", "scheduled", "processing", "completed", "failed", "cancelled", "retrying")


def _session(request: Request) -> str | None:
    """The dashboard's session cookie when it holds a valid session (of an active token)."""
    session = request.cookies.get(COOKIE_NAME)
    state: ServiceState = get_state(request)
    return session if session and verify_session(state, session) is not None else None


def _page(request: Request, name: str, token: str, **context: Any) -> Response:
    # FullCalendar adds its stylesheet as a <style> element: allowed by this page's nonce only.
    nonce = secrets.token_urlsafe(16)
    context.update(
        csrf=csrf_token(token), platforms=PLATFORMS, statuses=STATUSES, page=name, nonce=nonce
    )
    response = templates.TemplateResponse(request, f"{name}.html", context)
    response.headers.update(_SECURITY_HEADERS)
    response.headers["Content-Security-Policy"] = _CSP.format(nonce=f" 'nonce-{nonce}'")
    return response


def _secure_cookie(request: Request) -> bool:
    """``Secure`` on HTTPS, and on loopback (browsers treat it as a secure context)."""
    host = (request.url.hostname or "").lower()
    return request.url.scheme == "https" or host in ("localhost", "127.0.0.1", "::1")


#: Cookie of the login form's CSRF check (double submit: the form carries the same value).
LOGIN_COOKIE = "multipublish_login"


def _login_page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    nonce = secrets.token_urlsafe(24)
    response = templates.TemplateResponse(
        request, "login.html", {"error": error, "page": "login", "login_csrf": nonce},
        status_code=status_code,
    )
    response.headers.update(_SECURITY_HEADERS)
    response.set_cookie(
        LOGIN_COOKIE, nonce, httponly=True, samesite="strict", secure=_secure_cookie(request),
        path="/login", max_age=3600,
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return _login_page(request)


def _same_origin(request: Request) -> bool:
    """A browser's ``Origin`` (when sent) names this server."""
    origin = request.headers.get("origin")
    if not origin:
        return True
    return origin.rstrip("/") == f"{request.url.scheme}://{request.url.netloc}"


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    sent = str(form.get("csrf") or "")
    expected = request.cookies.get(LOGIN_COOKIE) or ""
    # Login CSRF: another site cannot read the form's value nor send the SameSite=Strict cookie.
    if not expected or not hmac.compare_digest(sent, expected) or not _same_origin(request):
        return _login_page(request, "The login form expired or came from another site; try again.", 403)
    token = str(form.get("token") or "").strip()
    state: ServiceState = get_state(request)
    info = await run_in_threadpool(state.tokens.verify, token)
    if info is None:
        return _login_page(request, "Unknown or revoked token.", 401)
    session = await run_in_threadpool(new_session, state, info)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE_NAME, session, httponly=True, samesite="strict", secure=_secure_cookie(request),
        path="/", max_age=SESSION_SECONDS,
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    token = request.cookies.get(COOKIE_NAME) or ""
    response = RedirectResponse("/login", status_code=303)
    if token and str(form.get("csrf") or "") == csrf_token(token):
        response.delete_cookie(COOKIE_NAME, path="/", samesite="strict", httponly=True)
    return response


def _render(
    request: Request, name: str, context: Callable[[ServiceState], dict[str, Any]] | None = None
) -> Response:
    """The page for a logged-in session; the login page otherwise."""
    token = _session(request)
    if token is None:
        return RedirectResponse("/login", status_code=303)
    extra = context(get_state(request)) if context else {}
    return _page(request, name, token, **extra)


@router.get("/", response_class=HTMLResponse)
def jobs_page(request: Request) -> Response:
    return _render(request, "jobs")


@router.get("/calendar", response_class=HTMLResponse)
def calendar_page(request: Request, month: str | None = None) -> Response:
    """FullCalendar (month, week, list) fed by ``/api/publishing/calendar``; ``?month=YYYY-MM``."""
    try:
        first = datetime.strptime(month, "%Y-%m").date() if month else None
    except ValueError:
        first = None
    return _render(request, "calendar", lambda state: {"initial": first.isoformat() if first else ""})


@router.get("/stats", response_class=HTMLResponse)
def stats_page(request: Request) -> Response:
    from multipublish.usage.analytics import dashboard_panel

    return _render(request, "stats", lambda state: {"usage": dashboard_panel(state.engine, state.settings)})


@router.get("/insights", response_class=HTMLResponse)
def insights_page(request: Request) -> Response:
    """Charts of the collected metrics and the best-times model (data from the insights API)."""
    return _render(request, "insights")


@router.get("/accounts", response_class=HTMLResponse)
def accounts_page(request: Request) -> Response:
    return _render(
        request, "accounts", lambda state: {"accounts": to_json(state.manager.list_accounts())}
    )


@router.get("/validate", response_class=HTMLResponse)
def validate_page(request: Request) -> Response:
    return _render(request, "validate")


@router.get("/compose", response_class=HTMLResponse)
def compose_page(request: Request) -> Response:
    return _render(request, "compose")


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str) -> Response:
    return _render(request, "job", lambda state: {"job_id": job_id})


@router.get("/slots", response_class=HTMLResponse)
def slots_page(request: Request) -> Response:
    return _render(
        request, "slots", lambda state: {"accounts": sorted(
            {a["account_id"] for a in to_json(state.manager.list_accounts())}
        )}
    )


from multipublish.dashboard.youtube_connect import router as _youtube_connect  # noqa: E402

router.include_router(_youtube_connect)  # connect YouTube through Google's consent (web flow)
