"""Bearer-token authentication for the API and the dashboard.

API clients send ``Authorization: Bearer <token>``. The dashboard's HttpOnly, SameSite=Strict
cookie holds a session, not the token: a random id bound to the token by an HMAC keyed with the
token's stored hash and the server's secret key (``s1.<token id>.<issued>.<random>.<mac>``). A
stolen cookie therefore never reveals the API token, it dies when the token is revoked or after
``SESSION_SECONDS``, and a forged one needs the server's database. A request authenticated by the
cookie that changes anything must also carry ``X-CSRF-Token`` (derived from the session, rendered
into the page), so another site can neither read nor forge it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from multipublish.api.deps import ServiceState, get_state
from multipublish.api.errors import AuthError, ForbiddenError
from multipublish.api.tokens import TokenInfo

log = logging.getLogger("multipublish.api")

COOKIE_NAME = "multipublish_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_TOUCH_EVERY = 60.0

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearerToken",
    description="An API token from `multipublish tokens create --name NAME`.",
)


#: How long a dashboard session lasts (the cookie's max age too).
SESSION_SECONDS = 7 * 86400
_SESSION_VERSION = "s1"


def csrf_token(session: str) -> str:
    """The CSRF token of a dashboard session: an HMAC of a fixed label under the session cookie."""
    return hmac.new(session.encode(), b"multipublish-dashboard-csrf", hashlib.sha256).hexdigest()


def _session_mac(state: ServiceState, token_hash: str, payload: str) -> str:
    secret = state.settings.secret_key.get_secret_value() if state.settings.secret_key else ""
    key = hashlib.sha256(f"multipublish-session\0{secret}\0{token_hash}".encode()).digest()
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def new_session(state: ServiceState, token: TokenInfo) -> str:
    """A fresh session cookie value for a verified ``token`` (the token itself is not in it)."""
    found = state.tokens.active_by_id(token.id)
    if found is None:
        raise AuthError("a valid API token is required")
    payload = f"{_SESSION_VERSION}.{token.id}.{int(time.time()):x}.{secrets.token_urlsafe(18)}"
    return f"{payload}.{_session_mac(state, found[1], payload)}"


def verify_session(state: ServiceState, session: str | None) -> TokenInfo | None:
    """The token a session cookie is bound to, when the MAC holds, it is fresh and the token active."""
    if not session or len(session) > 300:
        return None
    parts = session.split(".")
    if len(parts) != 5 or parts[0] != _SESSION_VERSION or not parts[1].isdigit():
        return None
    try:
        issued = int(parts[2], 16)
    except ValueError:
        return None
    if not 0 <= time.time() - issued <= SESSION_SECONDS:
        return None
    found = state.tokens.active_by_id(int(parts[1]))
    if found is None:
        return None
    info, token_hash = found
    payload = ".".join(parts[:4])
    if not hmac.compare_digest(parts[4], _session_mac(state, token_hash, payload)):
        return None
    return info


def verify_request(state: ServiceState, request: Request, header_token: str | None) -> TokenInfo:
    """The token of this request (header first, then the dashboard cookie), or ``AuthError``."""
    session = None if header_token else request.cookies.get(COOKIE_NAME)
    if header_token:
        info = state.tokens.verify(header_token)
    else:
        info = verify_session(state, session)
    if info is None:
        raise AuthError("a valid API token is required (Authorization: Bearer <token>)")
    if session is not None and request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, csrf_token(session)):
            raise ForbiddenError("missing or wrong X-CSRF-Token for a dashboard session")
    touched: dict[int, float] = state.extra.setdefault("token_touched", {})
    now = time.monotonic()
    if now - touched.get(info.id, -_TOUCH_EVERY) >= _TOUCH_EVERY:
        touched[info.id] = now
        try:
            state.tokens.touch(info.id)
        except Exception as exc:  # best effort: a busy database must not refuse the request
            log.warning("could not record the use of token %d (%s)", info.id, type(exc).__name__)
    return info


async def current_token(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> TokenInfo:
    """Dependency: the authenticated token. A bearer token verified moments ago is confirmed on
    the loop (``TokenStore.verify_on_loop``); anything else (a miss, a cookie, a use to record,
    a failure) goes to the thread pool, as a sync dependency would, so a sync route then costs
    one hand-off to a thread per request, not two."""
    state = get_state(request)
    header = creds.credentials if creds else None
    if header:
        info = await state.tokens.verify_on_loop(header)
        if info is not None and not _touch_due(state, info):
            return info
    return await run_in_threadpool(verify_request, state, request, header)


def _touch_due(state: ServiceState, info: TokenInfo) -> bool:
    touched: dict[int, float] = state.extra.get("token_touched", {})
    return time.monotonic() - touched.get(info.id, -_TOUCH_EVERY) >= _TOUCH_EVERY


#: The caller's API token; a route that declares it refuses anonymous requests with 401.
TokenDep = Annotated[TokenInfo, Depends(current_token)]


#: The API's own documentation pages and schema (``MULTIPUBLISH_API_DOCS`` decides who sees them).
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


class DocsGate:
    """``/docs``, ``/redoc`` and ``/openapi.json``: open, behind a token (header or dashboard
    session) or off, by ``settings.api_docs``. A pure ASGI middleware so it costs other routes one
    set lookup."""

    def __init__(self, app: ASGIApp, *, state: ServiceState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        mode = self.state.settings.api_docs
        if scope["type"] != "http" or mode == "open" or scope.get("path") not in DOCS_PATHS:
            await self.app(scope, receive, send)
            return
        if mode == "token":
            request = Request(scope)
            header = request.headers.get("authorization", "")
            bearer_token = header[7:].strip() if header[:7].lower() == "bearer " else None
            try:
                await run_in_threadpool(verify_request, self.state, request, bearer_token)
            except AuthError:
                pass
            else:
                await self.app(scope, receive, send)
                return
            body = b'{"error": "unauthorized", "message": "the API documentation needs a token"}'
            status, headers = 401, [(b"www-authenticate", b"Bearer")]
        else:
            body = b'{"error": "not_found", "message": "the API documentation is turned off"}'
            status, headers = 404, []
        await send({
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()), *headers],
        })
        await send({"type": "http.response.body", "body": body})
