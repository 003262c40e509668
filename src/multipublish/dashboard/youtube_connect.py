"""Connect a YouTube channel from the browser: Google's web redirect flow with ``state`` and PKCE.

``POST /api/publishing/youtube/connect`` takes the account name and the Google Cloud OAuth client
(``client_id`` and ``client_secret`` of a "Web application" client whose redirect URI is this
server's ``/accounts/youtube/callback``) and answers the consent URL. Google sends the browser back
to the callback with a code, which is exchanged for tokens with the PKCE verifier that only this
server knows; the refresh token is stored encrypted with the account, never shown.
developers.google.com/identity/protocols/oauth2/web-server (state against CSRF, PKCE S256).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from multipublish.api.auth import TokenDep
from multipublish.api.deps import StateDep, get_state
from multipublish.api.routes.common import errors
from multipublish.api.schemas import ACCOUNT_ID_PATTERN
from multipublish.platforms.google_oauth import (
    can_read_analytics,
    consent_scopes,
    resolve_auth_uri,
    resolve_token_uri,
)

router = APIRouter()
CALLBACK = "/accounts/youtube/callback"
#: How long a consent may take before its ``state`` is forgotten.
PENDING_SECONDS = 600
_lock = threading.Lock()


class ConnectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: str = Field(min_length=1, max_length=200, pattern=ACCOUNT_ID_PATTERN)
    client_id: str = Field(min_length=5, max_length=300, pattern=r"^[!-~]+$")
    client_secret: str = Field(min_length=5, max_length=300, pattern=r"^[!-~]+$")
    #: Also ask for ``yt-analytics.readonly`` (watch time for insights). Connecting an account
    #: again with it replaces the stored token by one that carries the scope.
    analytics: bool = False


class ConnectPublic(BaseModel):
    auth_url: str


def _pending(state: Any) -> dict[str, dict[str, Any]]:
    pending: dict[str, dict[str, Any]] = state.extra.setdefault("youtube_connect", {})
    now = time.monotonic()
    for key in [k for k, v in pending.items() if now - v["at"] > PENDING_SECONDS]:
        del pending[key]
    return pending


@router.post("/api/publishing/youtube/connect", response_model=ConnectPublic, responses=errors(),
             tags=["accounts"])
def connect(body: ConnectBody, request: Request, state: StateDep, _token: TokenDep) -> Any:
    """Start the consent: remember ``state`` and the PKCE verifier, answer Google's URL."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    key = secrets.token_urlsafe(24)
    redirect_uri = str(request.url_for("youtube_callback"))
    with _lock:
        _pending(state)[key] = {"at": time.monotonic(), "verifier": verifier,
                                "redirect_uri": redirect_uri, **body.model_dump()}
    query = {
        "response_type": "code", "client_id": body.client_id, "redirect_uri": redirect_uri,
        "scope": " ".join(consent_scopes(body.analytics)), "state": key, "access_type": "offline",
        "prompt": "consent", "include_granted_scopes": "true",
        "code_challenge": challenge.decode(), "code_challenge_method": "S256",
    }
    return {"auth_url": f"{resolve_auth_uri(state.settings)}?{urlencode(query)}"}


@router.get(CALLBACK, include_in_schema=False, name="youtube_callback")
async def callback(request: Request) -> Response:
    """Google's redirect: check ``state``, exchange the code with the verifier, store the account."""
    state = get_state(request)
    params = request.query_params

    def back(**query: str) -> Response:
        return RedirectResponse("/accounts?" + urlencode(query), status_code=303)

    with _lock:
        pending = _pending(state).pop(params.get("state") or "", None)
    if pending is None:
        return back(youtube_error="the consent came back without a state this server started "
                                  "(expired, or from another tab): connect again")
    if params.get("error"):
        return back(youtube_error=f"Google did not grant access ({params['error']})")
    code = params.get("code")
    if not code:
        return back(youtube_error="Google's answer had no code: connect again")
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": pending["redirect_uri"],
            "client_id": pending["client_id"], "client_secret": pending["client_secret"],
            "code_verifier": pending["verifier"]}
    try:
        async with httpx.AsyncClient(timeout=state.settings.http_timeout) as client:
            answer = await client.post(resolve_token_uri(state.settings), data=form)
        is_json = answer.headers.get("content-type", "").startswith("application/json")
        tokens = answer.json() if is_json else {}
    except (httpx.HTTPError, ValueError) as exc:
        return back(youtube_error=f"Google's token endpoint could not be reached ({type(exc).__name__})")
    if answer.status_code != 200 or not tokens.get("refresh_token"):
        why = tokens.get("error_description") or tokens.get("error") or f"HTTP {answer.status_code}"
        return back(youtube_error=f"Google refused the code: {why}")
    credentials = {"client_id": pending["client_id"], "client_secret": pending["client_secret"],
                   "refresh_token": tokens["refresh_token"]}
    if tokens.get("scope"):  # what the user granted: may lack analytics when unticked
        credentials["scopes"] = str(tokens["scope"]).split()
    state.manager.add_account(pending["account_id"], "youtube", credentials)
    if pending["analytics"] and not can_read_analytics(credentials.get("scopes")):
        return back(youtube_connected=pending["account_id"],
                    youtube_note="YouTube Analytics was not granted: insights show views without watch time")
    return back(youtube_connected=pending["account_id"])
