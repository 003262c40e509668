"""Bearer-token authentication for the API and the dashboard.

API clients send ``Authorization: Bearer <token>``. The dashboard keeps the same token in an
HttpOnly, SameSite=Strict cookie; a request authenticated by that cookie that changes anything must
also carry ``X-CSRF-Token`` (derived from the token, rendered into the page), so another site can
neither read nor forge it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from multipublish.api.deps import ServiceState, get_state
from multipublish.api.errors import AuthError, ForbiddenError
from multipublish.api.tokens import TokenInfo

COOKIE_NAME = "multipublish_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_TOUCH_EVERY = 60.0

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearerToken",
    description="An API token from `multipublish tokens create --name NAME`.",
)


def csrf_token(token: str) -> str:
    """The CSRF token of a dashboard session: an HMAC of a fixed label under the API token."""
    return hmac.new(token.encode(), b"multipublish-dashboard-csrf", hashlib.sha256).hexdigest()


def verify_request(state: ServiceState, request: Request, header_token: str | None) -> TokenInfo:
    """The token of this request (header first, then the dashboard cookie), or ``AuthError``."""
    token = header_token
    via_cookie = False
    if not token:
        token = request.cookies.get(COOKIE_NAME)
        via_cookie = True
    info = state.tokens.verify(token)
    if info is None or token is None:
        raise AuthError("a valid API token is required (Authorization: Bearer <token>)")
    if via_cookie and request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, csrf_token(token)):
            raise ForbiddenError("missing or wrong X-CSRF-Token for a dashboard session")
    touched: dict[int, float] = state.extra.setdefault("token_touched", {})
    now = time.monotonic()
    if now - touched.get(info.id, -_TOUCH_EVERY) >= _TOUCH_EVERY:
        touched[info.id] = now
        state.tokens.touch(info.id)
    return info


def current_token(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> TokenInfo:
    """Dependency: the authenticated token (runs in the thread pool: it reads the database)."""
    return verify_request(get_state(request), request, creds.credentials if creds else None)


#: The caller's API token; a route that declares it refuses anonymous requests with 401.
TokenDep = Annotated[TokenInfo, Depends(current_token)]
