"""Google OAuth2 for the YouTube client: client secrets, the stored token, refresh and consent.

The token is kept in google-auth's own format (``Credentials.to_json()``: token, refresh_token,
token_uri, client_id, client_secret, scopes, expiry), inline in the account's credentials and, when
the account names an ``oauth_storage_dir``, in a token file there too (under
``MULTIPUBLISH_GOOGLE_TOKEN_DIR`` when set). Refreshing goes through google-auth (synchronous, so it
runs in a worker thread) against a token endpoint that is a setting: the sandbox's when
``MULTIPUBLISH_SANDBOX_URL`` is set, else ``MULTIPUBLISH_GOOGLE_TOKEN_URL``, never a ``token_uri``
that came with the credentials.

A re-authorisation may come back without a refresh token (Google sends one only on first consent):
:func:`merge_token` never lets an empty value replace a stored refresh token, so an account is never
left unable to refresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import google.auth.exceptions
import google.auth.transport.requests
import requests
from google.oauth2.credentials import Credentials

from multipublish.errors import ErrorKind, PlatformError
from multipublish.platforms.http import parse_retry_after
from multipublish.settings import Settings

log = logging.getLogger(__name__)

#: ``videos.insert`` needs only ``youtube.upload``.
UPLOAD_SCOPE = "https://www.googleapis.com/auth/youtube.upload"
#: ``thumbnails.set``, ``playlistItems.insert`` and reading the video back (``videos.list``)
#: need ``youtube`` or ``youtube.force-ssl`` (developers.google.com/youtube/v3/docs, each method's
#: Authorization section).
MANAGE_SCOPES: tuple[str, ...] = (
    "https://www.googleapis.com/auth/youtube",
    "https://www.googleapis.com/auth/youtube.force-ssl",
)
#: Asked for at consent: uploads, and the thumbnail, playlist and processing that follow. A user
#: may grant fewer (Google's consent screen lets them untick one): that is kept, and the features
#: it does not cover are skipped with a warning instead of failing the publish.
YOUTUBE_SCOPES: tuple[str, ...] = (UPLOAD_SCOPE, MANAGE_SCOPES[0])


#: YouTube Analytics ``reports.query`` (views by day, watch time); not asked for at consent by
#: default: an account that granted it (its stored ``scopes`` list it) gets watch time collected.
ANALYTICS_SCOPES: tuple[str, ...] = (
    "https://www.googleapis.com/auth/yt-analytics.readonly",
    "https://www.googleapis.com/auth/yt-analytics-monetary.readonly",
)


def consent_scopes(analytics: bool = False) -> tuple[str, ...]:
    """The scopes a consent asks for: the upload ones, plus ``yt-analytics.readonly`` when opted in.

    Opt-in because Google shows each scope on the consent screen and a user who only publishes
    should not be asked to share their channel's analytics; one who declines it still connects.
    """
    return (*YOUTUBE_SCOPES, ANALYTICS_SCOPES[0]) if analytics else YOUTUBE_SCOPES


def can_read_analytics(scopes: Any) -> bool:
    """Whether granted ``scopes`` (as stored with the token) include a YouTube Analytics scope."""
    if isinstance(scopes, str):
        scopes = scopes.split()
    return any(s in ANALYTICS_SCOPES for s in scopes or ())


def can_manage(scopes: Any) -> bool:
    """Whether granted ``scopes`` cover the calls after the upload (thumbnail, playlist, reads).

    Unknown (nothing stored) counts as yes: tokens stored before scopes were recorded.
    """
    if isinstance(scopes, str):
        scopes = scopes.split()
    if not scopes:
        return True
    return any(s in MANAGE_SCOPES for s in scopes)
#: Google's authorization endpoint, used when the client secrets name none.
GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/auth"
#: The fields of a stored token (google-auth's ``to_json()`` names).
TOKEN_FIELDS: tuple[str, ...] = (
    "token",
    "refresh_token",
    "token_uri",
    "client_id",
    "client_secret",
    "scopes",
    "expiry",
)

SaveCredentials = Callable[[dict[str, Any]], None]


def reauth_hint(account_id: str) -> str:
    """What the user must run when the stored token can no longer be refreshed."""
    return f"run `multipublish accounts auth {account_id} --platform youtube` to authorise again"


# -- client secrets ----------------------------------------------------------------------------------
#: One answer for every refused secrets path: outside the folder, missing, unreadable or not JSON
#: read the same, so a caller cannot learn which files exist on the server.
BAD_SECRETS_PATH = (
    "must name a Google client secrets JSON file under the server's secrets folder "
    "(MULTIPUBLISH_GOOGLE_SECRETS_DIR); or send the file's content as credentials.client_secrets"
)


def contained(raw: str, root: Path) -> Path | None:
    """``raw`` resolved (relative to ``root`` when relative) if it stays inside ``root``, else None."""
    if not raw or "\x00" in raw:
        return None
    try:
        base = root.expanduser().resolve()
        path = Path(raw).expanduser()
        resolved = (path if path.is_absolute() else base / path).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    return resolved if resolved.is_relative_to(base) else None


def _secrets_object(data: Any, where: str) -> dict[str, Any]:
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            raise ValueError(f"{where} is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError(f"{where} is not a client secrets object")
    return data


def load_client_config(
    credentials: Mapping[str, Any], *, secrets_dir: Path | None = None
) -> dict[str, Any]:
    """The client configuration in Google's client-secrets shape (``{"installed": {...}}``).

    From ``credentials["client_secrets"]`` (the file's content, as uploaded), from
    ``credentials["client_secrets_file"]`` (an ``installed`` or ``web`` JSON file) or from
    ``client_id``/``client_secret`` given directly. With ``secrets_dir`` (the server's secrets folder)
    a file must lie inside it, and every bad path is refused with the same words. Raises
    ``ValueError`` naming what is wrong. Endpoints named in the secrets are not used: they come
    from settings (see :func:`resolve_token_uri`).
    """
    inline = credentials.get("client_secrets")
    path = credentials.get("client_secrets_file")
    if inline:
        data = _secrets_object(inline, "client_secrets")
        where = "client_secrets"
    elif path:
        where = f"client_secrets_file {path!s}"
        if secrets_dir is not None:
            found = contained(str(path), secrets_dir)
            try:
                if found is None:
                    raise ValueError
                data = _secrets_object(found.read_text(encoding="utf-8"), where)
            except (OSError, ValueError):
                raise ValueError(f"client_secrets_file {BAD_SECRETS_PATH}") from None
        else:  # the local user's own file (Python API, CLI): say exactly what is wrong
            try:
                text = Path(str(path)).expanduser().read_text(encoding="utf-8")
            except FileNotFoundError:
                raise ValueError(f"client_secrets_file {path!s} does not exist") from None
            except OSError as exc:
                raise ValueError(f"client_secrets_file {path!s} is not readable ({exc})") from None
            data = _secrets_object(text, where)
    elif credentials.get("client_id") and credentials.get("client_secret"):
        data = {"installed": {}}
        where = "credentials"
    else:
        raise ValueError(
            "neither client_secrets, client_secrets_file nor client_id and client_secret are given"
        )
    kind = "installed" if "installed" in data else "web" if "web" in data else None
    if kind is None or not isinstance(data[kind], dict):
        raise ValueError(f"{where} has neither an 'installed' nor a 'web' section")
    section = dict(data[kind])
    # Values given directly win over the file's (e.g. a rotated secret).
    for key in ("client_id", "client_secret"):
        if credentials.get(key):
            section[key] = credentials[key]
    for key in ("client_id", "client_secret"):
        if not section.get(key):
            raise ValueError(f"the client secrets have no {key}")
    section.setdefault("redirect_uris", ["http://localhost"])
    return {kind: section}


# -- the stored token --------------------------------------------------------------------------------
def token_file_path(
    credentials: Mapping[str, Any], account_id: str, *, token_dir: Path | None = None
) -> Path | None:
    """Where this account's token file lives, when it has an ``oauth_storage_dir``.

    With ``token_dir`` (the server's token folder) the directory must lie inside it (a relative one
    is taken from there); one outside gets no token file (the token stays in the encrypted account).
    """
    directory = credentials.get("oauth_storage_dir")
    if not directory:
        return None
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", account_id) or "account"
    if token_dir is not None:
        inside = contained(str(directory), token_dir)
        if inside is None:
            log.warning("ignoring the oauth_storage_dir of account %s: outside the token folder", account_id)
            return None
        return inside / f"youtube-{safe}.json"
    return Path(str(directory)).expanduser() / f"youtube-{safe}.json"


def read_token_file(path: Path | None) -> dict[str, Any]:
    """The token stored in ``path`` (``{}`` when there is none or it is unreadable)."""
    if path is None or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        log.warning("ignoring unreadable YouTube token file %s", path.name)
        return {}
    return {k: v for k, v in data.items() if k in TOKEN_FIELDS} if isinstance(data, dict) else {}


def write_token_file(path: Path, token: Mapping[str, Any]) -> None:
    """Merge ``token`` into the file atomically, readable by the owner only."""
    merged = merge_token(read_token_file(path), token)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(merged, fh)
    os.replace(tmp, path)


def merge_token(stored: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """``stored`` updated with the non-empty values of ``new``.

    Empty values never replace stored ones: above all a re-authorisation that returns no refresh
    token keeps the refresh token already stored.
    """
    merged = dict(stored)
    for key, value in new.items():
        if value is None or value == "" or value == []:
            continue
        merged[key] = value
    return merged


def credentials_to_token(creds: Credentials) -> dict[str, Any]:
    """google-auth's ``to_json()`` fields of ``creds`` (empty ones left out)."""
    data: dict[str, Any] = json.loads(creds.to_json())  # type: ignore[no-untyped-call]
    return {k: v for k, v in data.items() if k in TOKEN_FIELDS}


def parse_expiry(value: Any) -> datetime | None:
    """An ``expiry`` as google-auth wants it: naive UTC (``None`` when absent or unreadable)."""
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str) and value:
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when


def format_expiry(when: datetime | None) -> str | None:
    """``expiry`` as stored by google-auth (ISO 8601 with a ``Z``)."""
    return None if when is None else when.replace(tzinfo=None).isoformat() + "Z"


def resolve_token_uri(settings: Settings) -> str:
    """The token endpoint in effect: a setting (the sandbox's when set), never a credential's.

    A ``token_uri`` in a stored token or in client secrets is whatever a client sent: honouring it
    would POST the refresh token and client secret to any address, internal ones included (SSRF).
    """
    return settings.token_url() or settings.google_token_url


def resolve_auth_uri(settings: Settings) -> str:
    """Google's consent page in effect: a setting (the sandbox's when set), never the secrets'."""
    if settings.sandbox_url:
        return settings.sandbox_url.rstrip("/") + "/o/oauth2/auth"
    return settings.google_auth_url


def _env(name: str, value: str) -> Any:
    """A context that sets one environment variable and puts it back."""
    import contextlib

    @contextlib.contextmanager
    def setting() -> Iterator[None]:
        before = os.environ.get(name)
        os.environ[name] = value
        try:
            yield
        finally:
            if before is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = before

    return setting()


@contextlib.contextmanager
def allow_local_http(url: str) -> Iterator[None]:
    """Let oauthlib talk plain HTTP to a loopback token endpoint (the sandbox), nothing else."""
    parts = urlsplit(url)
    local = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    name = "OAUTHLIB_INSECURE_TRANSPORT"
    before = os.environ.get(name)
    if local:
        os.environ[name] = "1"
    try:
        yield
    finally:
        if local:
            if before is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = before


class TokenRateLimited(Exception):
    """The token endpoint answered 429: wait ``retry_after`` seconds (its ``Retry-After``)."""

    def __init__(self, retry_after: float | None) -> None:
        super().__init__("token endpoint rate limited")
        self.retry_after = retry_after


class _TimedRequest(google.auth.transport.requests.Request):
    """google-auth's requests transport with our timeout on every call (its default is 120 s).

    A 429 stops the refresh at once: google-auth would retry it after its own 1-2 s backoff,
    ignoring the endpoint's ``Retry-After``; the queue waits that long instead.
    """

    def __init__(self, session: requests.Session, timeout: float) -> None:
        super().__init__(session)
        self._timeout = timeout

    def __call__(  # type: ignore[override]
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Any = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> Any:
        response = super().__call__(  # type: ignore[no-untyped-call]
            url, method, body, headers, timeout=self._timeout, **kwargs
        )
        if getattr(response, "status", None) == 429:
            raise TokenRateLimited(parse_retry_after((response.headers or {}).get("Retry-After")))
        return response


class GoogleOAuth:
    """One account's Google credentials: hands out a fresh access token, refreshing when due.

    Refreshes are serialised (one at a time per account); after each one the new token is persisted
    through ``save_credentials`` (a partial dict merged by the account store) and the token file.
    """

    def __init__(
        self,
        account_id: str,
        credentials: Mapping[str, Any],
        settings: Settings,
        save_credentials: SaveCredentials,
        *,
        platform: str = "youtube",
    ) -> None:
        self.account_id = account_id
        self.platform = platform
        self._settings = settings
        self._save = save_credentials
        self._inline = dict(credentials)
        self._token_file = token_file_path(
            credentials, account_id, token_dir=settings.google_token_dir
        )
        self._creds: Credentials | None = None
        self._lock = asyncio.Lock()
        self._session: requests.Session | None = None
        #: A refreshed token the account store could not take yet (saved again on next use).
        self._unsaved: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"GoogleOAuth(account_id={self.account_id!r})"

    # -- building the google-auth credentials --------------------------------------------------------
    def _auth_error(self, reason: str) -> PlatformError:
        return PlatformError(self.platform, ErrorKind.AUTH, f"{reason}; {reauth_hint(self.account_id)}")

    def credentials(self) -> Credentials:
        """The google-auth credentials (built on first use; ``PlatformError(AUTH)`` when unusable)."""
        if self._creds is not None:
            return self._creds
        try:
            config = load_client_config(self._inline, secrets_dir=self._settings.google_secrets_dir)
        except ValueError as exc:
            raise self._auth_error(f"YouTube client secrets unusable: {exc}") from None
        section = next(iter(config.values()))
        # The inline token wins over the token file, field by field, when it has a value.
        stored = merge_token(read_token_file(self._token_file), self._inline)
        if not stored.get("token") and not stored.get("refresh_token"):
            raise self._auth_error(f"account {self.account_id!r} has no stored YouTube token")
        scopes = stored.get("scopes") or list(YOUTUBE_SCOPES)
        if isinstance(scopes, str):
            scopes = scopes.split()
        self._creds = Credentials(  # type: ignore[no-untyped-call]
            token=stored.get("token") or None,
            refresh_token=stored.get("refresh_token") or None,
            token_uri=resolve_token_uri(self._settings),
            client_id=section["client_id"],
            client_secret=section["client_secret"],
            scopes=list(scopes),
            expiry=parse_expiry(stored.get("expiry")),
        )
        return self._creds

    # -- access tokens -------------------------------------------------------------------------------
    async def access_token(self) -> str:
        """A valid access token, refreshed first when missing or (nearly) expired."""
        creds = self.credentials()
        if self._unsaved is not None:
            await asyncio.to_thread(self._save_pending)
        if creds.token and not creds.expired:
            return str(creds.token)
        await self.refresh(stale=creds.token)
        return str(self.credentials().token)

    async def refresh(self, *, stale: str | None = None) -> None:
        """Get a new access token with the refresh token.

        ``stale``: the token a caller found refused; when another task already replaced it, this
        returns at once instead of refreshing twice. Refused refresh -> ``PlatformError(AUTH)``;
        network trouble or a 5xx -> ``PlatformError(TRANSIENT)``.
        """
        async with self._lock:
            creds = self.credentials()
            if creds.token and creds.token != stale and not creds.expired:
                return
            if not creds.refresh_token:
                raise self._auth_error("the access token expired and no refresh token is stored")
            if self._session is None:
                self._session = requests.Session()
            request = _TimedRequest(self._session, self._settings.http_timeout)
            previous_refresh = creds.refresh_token
            try:
                await asyncio.to_thread(creds.refresh, request)
            except TokenRateLimited as exc:
                wait = exc.retry_after
                raise PlatformError(
                    self.platform,
                    ErrorKind.RATE_LIMITED,
                    "the Google token endpoint is rate limiting this client (HTTP 429); "
                    + (f"retrying after {wait:g} s as it asked" if wait is not None else "retrying later"),
                    status_code=429,
                    retry_after=wait,
                ) from None
            except google.auth.exceptions.RefreshError as exc:
                raise self._refresh_error(exc) from None
            except google.auth.exceptions.TransportError as exc:
                raise PlatformError(
                    self.platform,
                    ErrorKind.TRANSIENT,
                    f"token endpoint unreachable ({type(exc).__name__})",
                ) from None
            log.info("refreshed the YouTube access token of account %s", self.account_id)
            # In a thread: a busy database makes the save wait, and the event loop must not.
            await asyncio.to_thread(self._persist, new_refresh=creds.refresh_token != previous_refresh)

    def _refresh_error(self, exc: google.auth.exceptions.RefreshError) -> PlatformError:
        data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
        code = str(data.get("error") or "")
        described = str(data.get("error_description") or "")
        reason = f"{code}: {described}" if code and described else code or "refused"
        if getattr(exc, "retryable", False):
            return PlatformError(self.platform, ErrorKind.TRANSIENT, f"token endpoint failed ({reason})")
        return self._auth_error(f"the stored refresh token was refused ({reason})")

    def _persist(self, *, new_refresh: bool) -> None:
        """Save the new access token (and a new refresh token, never an empty one)."""
        creds = self.credentials()
        partial: dict[str, Any] = {"token": creds.token, "expiry": format_expiry(creds.expiry)}
        if new_refresh and creds.refresh_token:
            partial["refresh_token"] = creds.refresh_token
        partial = merge_token({}, partial)
        self._inline = merge_token(self._inline, partial)
        self._unsaved = merge_token(self._unsaved or {}, partial)
        self._save_pending()
        if self._token_file is not None:
            try:
                write_token_file(self._token_file, partial)
            except OSError:
                log.warning("could not write the token file of account %s", self.account_id)

    def _save_pending(self) -> None:
        """Hand the refreshed token to the store; kept and offered again while the store refuses.

        The store already retries transient database errors; what still fails (a long outage) is
        not dropped: a new refresh token in particular may be the only valid one.
        """
        if self._unsaved is None:
            return
        try:
            self._save(self._unsaved)
        except Exception as exc:
            log.warning(
                "could not save the refreshed token of account %s yet (%s); will retry",
                self.account_id, type(exc).__name__,
            )
            return
        self._unsaved = None

    def close(self) -> None:
        self._save_pending()
        if self._session is not None:
            self._session.close()
            self._session = None


# -- consent -----------------------------------------------------------------------------------------
def run_consent_flow(
    credentials: Mapping[str, Any],
    settings: Settings,
    *,
    open_browser: bool = True,
    host: str = "localhost",
    port: int = 0,
    prompt: Callable[[str], None] = print,
    timeout_seconds: float | None = None,
    analytics: bool = False,
) -> dict[str, Any]:
    """Run Google's installed-app consent flow; return the new token (``to_json()`` fields).

    ``analytics`` also asks for ``yt-analytics.readonly`` (watch time for insights).

    A local server on ``host:port`` (0: a free port) receives the redirect. Without a browser the
    authorisation URL is handed to ``prompt`` for the user to open anywhere. The token endpoint is
    the sandbox's when set. Raises ``ValueError`` when the client secrets are unusable.
    """
    from google_auth_oauthlib.flow import InstalledAppFlow

    class _Flow(InstalledAppFlow):  # type: ignore[misc]
        """Hands the authorisation URL to ``prompt`` (the library only prints or logs it)."""

        def authorization_url(self, **kwargs: Any) -> Any:
            url, state = super().authorization_url(**kwargs)
            prompt(f"Open this URL in a browser to authorise multipublish:\n{url}")
            return url, state

        def fetch_token(self, **kwargs: Any) -> Any:
            # Client id and secret in the form body, as google-auth's refresh sends them (Google
            # takes both this and HTTP Basic; some token endpoints take only the body).
            kwargs.setdefault("include_client_id", True)
            return super().fetch_token(**kwargs)

    config = load_client_config(credentials, secrets_dir=settings.google_secrets_dir)
    section = next(iter(config.values()))
    section["token_uri"] = resolve_token_uri(settings)
    section["auth_uri"] = resolve_auth_uri(settings)
    flow = _Flow.from_client_config(config, scopes=list(consent_scopes(analytics)))
    # oauthlib raises "Scope has changed" when the user granted fewer scopes than asked; relaxed,
    # the token keeps the scopes really granted (and the client skips what they do not cover).
    with allow_local_http(section["token_uri"]), _env("OAUTHLIB_RELAX_TOKEN_SCOPE", "1"):
        creds = flow.run_local_server(
            host=host,
            port=port,
            open_browser=open_browser,
            authorization_prompt_message=None,
            timeout_seconds=timeout_seconds,
            access_type="offline",
            prompt="consent",
            # a reconnect asking for one more scope keeps the ones granted before
            include_granted_scopes="true",
        )
    token = credentials_to_token(creds)
    granted = getattr(creds, "granted_scopes", None)
    if isinstance(granted, str):
        granted = granted.split()
    if granted:
        token["scopes"] = list(granted)  # what the user granted, which may be fewer than asked
    return token
