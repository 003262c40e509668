"""YouTube Data API v3 client: OAuth2 through google-auth, the resumable upload protocol over httpx.

Why not google-api-python-client: it is synchronous, cannot be pointed at a plain-HTTP upload host
(the sandbox), and fails on very large files. The resumable protocol is small:

1. ``POST {upload_root}upload/youtube/v3/videos?part=snippet,status&uploadType=resumable`` with the
   video's metadata answers exactly 200 and the session URI in ``Location``;
2. ``PUT`` the file in chunks (multiples of 256 KiB) with ``Content-Range: bytes S-E/TOTAL``; 308 with
   ``Range: bytes=0-N`` means "continue at N+1", 200/201 carries the video;
3. after a dropped connection, a timeout or a 5xx, ``PUT`` ``Content-Range: bytes */TOTAL`` (empty
   body) asks the session where it stands; the upload continues from the confirmed byte.

Outcome unknown is not failure: when the response to the final chunk is lost, the session is asked
again; if it still cannot say, the result is ``unknown`` with the session URI as its ``reference``,
and :meth:`YouTubeClient.reconcile` asks again later. Nothing is ever re-uploaded blindly.

Error kinds: 401 -> refresh the token once and repeat, then ``auth``; ``quotaExceeded`` /
``uploadLimitExceeded`` -> ``quota`` (retry after midnight Pacific, when quotas reset); 429 and
``rateLimitExceeded`` -> ``rate_limited`` (Retry-After); 5xx, timeouts, dropped connections ->
``transient``; other 4xx -> ``permanent``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Concatenate, ParamSpec
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit
from zoneinfo import ZoneInfo

import httpx

from multipublish.captions import compose_caption
from multipublish.errors import ConfigurationError, ErrorKind, InputError, MediaError, PlatformError
from multipublish.platforms.base import (
    Checkpoint,
    ProgressCallback,
    ProtocolStep,
    PublishConfig,
    PublishResult,
    PublishStatus,
)
from multipublish.platforms.google_oauth import (
    GoogleOAuth,
    SaveCredentials,
    can_manage,
    format_expiry,
    parse_expiry,
    reauth_hint,
)
from multipublish.platforms.http import (
    describe_exception,
    error_message,
    iter_file,
    make_timeout,
    parse_retry_after,
    response_json,
)
from multipublish.platforms.options import OptionReader
from multipublish.settings import Settings

log = logging.getLogger(__name__)

PLATFORM = "youtube"
#: Resumable chunks must be multiples of this (except the last).
CHUNK_GRANULARITY = 256 * 1024
WATCH_URL = "https://www.youtube.com/watch?v={id}"
SHORTS_URL = "https://www.youtube.com/shorts/{id}"

PRIVACY_STATUSES: tuple[str, ...] = ("public", "private", "unlisted")
DEFAULT_CATEGORY = "22"  # People & Blogs
MAX_TITLE_CHARS = 100
MAX_DESCRIPTION_BYTES = 5000
MAX_TAGS_CHARS = 500
#: ``thumbnails.set`` accepts JPEG or PNG up to 2 MB.
MAX_THUMBNAIL_BYTES = 2 * 1024 * 1024
VIDEO_CONTENT_TYPES: dict[str, str] = {
    ".mp4": "video/mp4",
    ".m4v": "video/x-m4v",
    ".mov": "video/quicktime",
    ".avi": "video/x-msvideo",
    ".flv": "video/x-flv",
    ".wmv": "video/x-ms-wmv",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".mpg": "video/mpeg",
    ".mpeg": "video/mpeg",
}
#: Unverified channels "can upload videos up to 15 minutes long"; longer needs the channel verified.
#: channels.list ``status.longUploadsStatus`` says which (allowed, eligible, disallowed,
#: longUploadsUnspecified; see support.google.com/youtube/answer/71673).
UNVERIFIED_MAX_SECONDS = 15 * 60
VERIFY_URL = "https://www.youtube.com/verify"
QUOTA_REASONS = frozenset({"quotaExceeded", "uploadLimitExceeded", "dailyLimitExceeded"})
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
PACIFIC = ZoneInfo("America/Los_Angeles")
#: ``PublishResult.details`` key: the Data API calls one attempt made, by method (``videos.list``:
#: 3, ...), so the usage store charges each with its documented cost, not only the planned ones.
CALLS_DETAIL = "youtube_calls"
#: The tally of the attempt running in this task (see :meth:`YouTubeClient._counted`).
_P = ParamSpec("_P")
_CALLS: contextvars.ContextVar[dict[str, int] | None] = contextvars.ContextVar("youtube_calls", default=None)

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


# -- input: options and metadata, checked before any byte is sent ------------------------------------
@dataclass(frozen=True, slots=True)
class UploadPlan:
    """Everything one upload needs, checked: the metadata body and what follows the upload."""

    video_path: Path
    total: int
    content_type: str
    #: The ``videos.insert`` body (``snippet`` and ``status``).
    metadata: dict[str, Any]
    shorts: bool
    playlist_id: str | None
    thumbnail_path: Path | None
    thumbnail_type: str | None
    #: What will not go out as asked (a thumbnail that cannot be set), said in the result.
    warnings: tuple[str, ...] = ()


def _field(key: str) -> str:
    return f"platform_specific.youtube.{key}"


def _aware(when: datetime) -> datetime:
    """Naive datetimes are UTC (the brief builds them with ``utcnow()``)."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _rfc3339(when: datetime) -> str:
    return _aware(when).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tags_length(tags: list[str]) -> int:
    """How YouTube counts the 500-character tag budget: commas between, quotes around spaced tags."""
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + max(0, len(tags) - 1)


def _check_thumbnail(path_value: str) -> tuple[Path, str]:
    path = Path(path_value).expanduser()
    if not path.is_file():
        raise InputError("thumbnail_path", f"file not found: {path_value}")
    size = path.stat().st_size
    if size == 0 or size > MAX_THUMBNAIL_BYTES:
        raise InputError("thumbnail_path", f"must be 1 byte to 2 MB (YouTube's limit), is {size} bytes")
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(b"\xff\xd8\xff"):
        return path, "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return path, "image/png"
    raise InputError("thumbnail_path", "must be a JPEG or PNG image")


@dataclass(frozen=True, slots=True)
class VideoRequest:
    """The checked ``videos.insert`` body and what follows the upload (no file involved)."""

    metadata: dict[str, Any]
    shorts: bool
    playlist_id: str | None
    thumbnail_path: Path | None
    thumbnail_type: str | None
    warnings: tuple[str, ...] = ()


def check_config(
    config: PublishConfig, post_type: str, *, now: datetime, default_title: str = ""
) -> VideoRequest:
    """Check ``config`` against what YouTube accepts and build the metadata; ``InputError`` if not.

    Unknown options and bad values name their field (``platform_specific.youtube.<key>``), so a
    mistake is refused before any upload starts instead of being silently dropped.
    """
    if post_type not in ("video", "shorts"):
        raise InputError("post_type", f"YouTube post types are video and shorts, not {post_type!r}")
    opts = OptionReader(PLATFORM, config.platform_specific.get(PLATFORM))
    category = opts.integer("category", minimum=1, maximum=999)
    privacy = opts.choice("privacy_status", {p: p for p in PRIVACY_STATUSES})
    made_for_kids = opts.boolean("made_for_kids")
    playlist_id = opts.text("playlist_id", max_length=100)
    option_publish_at = opts.timestamp("publish_at")
    named_type = opts.choice("post_type", {"video": "video", "shorts": "shorts"})
    default_language = opts.text("default_language", max_length=35)
    opts.finish()
    if named_type is not None and named_type != post_type:
        raise InputError(
            _field("post_type"), f"{named_type!r} contradicts the requested post type {post_type!r}"
        )

    title = (config.title or "").strip() or default_title
    if not title:
        raise InputError("title", "YouTube needs a title")
    if len(title) > MAX_TITLE_CHARS:
        raise InputError("title", f"YouTube titles are at most {MAX_TITLE_CHARS} characters")
    if "<" in title or ">" in title:
        raise InputError("title", "YouTube titles may not contain < or >")
    description = config.description or ""
    if post_type == "shorts" and "#shorts" not in f"{title} {description}".lower():
        # How YouTube is told an upload is meant as a Short (the API has no field for it).
        description = f"{description}\n\n#Shorts" if description else "#Shorts"
    if len(description.encode("utf-8")) > MAX_DESCRIPTION_BYTES:
        raise InputError("description", f"YouTube descriptions are at most {MAX_DESCRIPTION_BYTES} bytes")
    if "<" in description or ">" in description:
        raise InputError("description", "YouTube descriptions may not contain < or >")
    tags = [str(t).strip() for t in config.tags if str(t).strip()]
    if any("<" in t or ">" in t or "," in t for t in tags):
        raise InputError("tags", "YouTube tags may not contain <, > or commas")
    if tags_length(tags) > MAX_TAGS_CHARS:
        raise InputError(
            "tags",
            f"YouTube allows {MAX_TAGS_CHARS} characters of tags in all, these take {tags_length(tags)}",
        )

    publish_at: datetime | None = None
    publish_field = _field("publish_at")
    if option_publish_at is not None:
        publish_at = option_publish_at
        if publish_at <= now:
            raise InputError(publish_field, "must be in the future")
    elif config.scheduled_time is not None:
        publish_field = "scheduled_time"
        when = _aware(config.scheduled_time)
        # A time already reached (a queued job run when due) means: publish now.
        publish_at = when if when > now else None
    if publish_at is not None:
        if privacy not in (None, "private"):
            raise InputError(
                _field("privacy_status"),
                f"must be private with {publish_field} (YouTube makes the video public then)",
            )
        privacy = "private"

    status: dict[str, Any] = {
        "privacyStatus": privacy or "public",
        "selfDeclaredMadeForKids": bool(made_for_kids),
    }
    if publish_at is not None:
        status["publishAt"] = _rfc3339(publish_at)
    snippet: dict[str, Any] = {
        "title": title,
        "description": description,
        "categoryId": str(category or DEFAULT_CATEGORY),
    }
    if tags:
        snippet["tags"] = tags
    metadata: dict[str, Any] = {"snippet": snippet, "status": status}
    localized = _localizations(config, default_language)
    if localized is not None:
        snippet["defaultLanguage"], metadata["localizations"] = localized
    # "auto" is resolved to a picked frame by the manager before the upload (media.thumbnail).
    given = config.thumbnail_path if config.thumbnail_path != "auto" else None
    thumb, thumb_type, warnings = _thumbnail_plan(given, post_type)
    warnings = (*compose_caption(config, "youtube").warnings, *warnings)  # e.g. over 60 hashtags
    return VideoRequest(
        metadata=metadata,
        shorts=post_type == "shorts",
        playlist_id=playlist_id.strip() if playlist_id else None,
        thumbnail_path=thumb,
        thumbnail_type=thumb_type,
        warnings=warnings,
    )


#: The parts a ``videos.insert`` body may carry (the request's ``part`` names those sent).
PARTS = ("snippet", "status", "localizations")


def _localizations(
    config: PublishConfig, default_language: str | None
) -> tuple[str, dict[str, dict[str, str]]] | None:
    """``snippet.defaultLanguage`` and the ``localizations`` part of ``videos.insert``.

    YouTube refuses localizations without a default language (``defaultLanguageNotSet``); the default
    is the ``default_language`` option, else the first language given. Each localized title and
    description obeys the default snippet's limits.
    """
    from multipublish.localization.languages import check_language_tag, check_localizations

    langs = check_localizations(config.localizations)
    if not langs and not default_language:
        return None
    default = (
        check_language_tag(default_language, _field("default_language"))
        if default_language
        else next(iter(langs))
    )
    out: dict[str, dict[str, str]] = {}
    for lang, entry in langs.items():
        where = f"localizations.{lang}"
        title = entry["title"] or (config.title or "").strip()
        if not title or len(title) > MAX_TITLE_CHARS or "<" in title or ">" in title:
            raise InputError(
                f"{where}.title", f"YouTube needs a title of at most {MAX_TITLE_CHARS} characters, no < or >"
            )
        description = entry["description"]
        if len(description.encode("utf-8")) > MAX_DESCRIPTION_BYTES or re.search("[<>]", description):
            raise InputError(f"{where}.description", f"at most {MAX_DESCRIPTION_BYTES} bytes, no < or >")
        out[lang] = {"title": title, "description": description}
    return default, out


def _thumbnail_plan(
    path_value: str | None, post_type: str
) -> tuple[Path | None, str | None, tuple[str, ...]]:
    """The thumbnail to set after the upload, or why there will be none.

    A thumbnail problem never refuses the publish: the video goes out and the result says why it
    has no thumbnail. thumbnails.set takes JPEG or PNG up to 2 MB
    (developers.google.com/youtube/v3/docs/thumbnails/set); Shorts take no custom thumbnail.
    """
    if not path_value:
        return None, None, ()
    if post_type == "shorts":
        return None, None, ("no custom thumbnail: YouTube Shorts take none (a frame is used)",)
    try:
        thumb, thumb_type = _check_thumbnail(path_value)
    except InputError as exc:
        return None, None, (f"no thumbnail set: {exc.reason}",)
    return thumb, thumb_type, ()


def plan_upload(
    video_path: str | Path, config: PublishConfig, post_type: str, *, now: datetime
) -> UploadPlan:
    """:func:`check_config` plus the file: its size and content type."""
    path = Path(video_path)
    if not path.is_file():
        raise MediaError(str(video_path), "file not found")
    total = path.stat().st_size
    if total == 0:
        raise MediaError(str(video_path), "the file is empty")
    request = check_config(config, post_type, now=now, default_title=path.stem)
    return UploadPlan(
        video_path=path,
        total=total,
        content_type=VIDEO_CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream"),
        metadata=request.metadata,
        shorts=request.shorts,
        playlist_id=request.playlist_id,
        thumbnail_path=request.thumbnail_path,
        thumbnail_type=request.thumbnail_type,
        warnings=request.warnings,
    )


def seconds_until_quota_reset(now: datetime) -> float:
    """YouTube quotas reset at midnight Pacific time."""
    local = _aware(now).astimezone(PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), PACIFIC)
    return max(1.0, (midnight - local).total_seconds())


def video_url(video_id: str, *, shorts: bool = False) -> str:
    return (SHORTS_URL if shorts else WATCH_URL).format(id=video_id)


def make_reference(session_uri: str, total: int, plan: UploadPlan | None = None) -> str:
    """The session URI, with the file size (a status query must name it) in the fragment.

    With ``plan``, the fragment also carries what follows the upload (Shorts URL, thumbnail,
    playlist), so a video confirmed later by :meth:`YouTubeClient.reconcile` still gets them.
    """
    fields = {"total": str(total)}
    if plan is not None:
        if plan.shorts:
            fields["shorts"] = "1"
        if plan.playlist_id:
            fields["playlist"] = plan.playlist_id
        if plan.thumbnail_path is not None:
            fields["thumbnail"] = str(plan.thumbnail_path)
    return f"{session_uri}#{urlencode(fields)}"


def with_fields(reference: str, **fields: str) -> str:
    """``reference`` with more fragment fields (``video``, ``done``): the steps a crash keeps."""
    merged = {**_fragment(reference), **fields}
    return f"{reference.partition('#')[0]}#{urlencode(merged)}"


def _done(reference: str) -> set[str]:
    """The steps after the upload already finished (``thumbnail``, ``playlist``)."""
    return {d for d in _fragment(reference).get("done", "").split(",") if d}


def _mark_done(reference: str, step: str) -> str:
    return with_fields(reference, done=",".join(sorted(_done(reference) | {step})))


def parse_reference(reference: str) -> tuple[str, int | None]:
    """``(session URI, total bytes or None)`` from :func:`make_reference`'s output."""
    uri = reference.partition("#")[0]
    total = _fragment(reference).get("total", "")
    return uri, int(total) if total.isdigit() else None


def _fragment(reference: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(reference.partition("#")[2]).items()}


def _confirmed_bytes(response: httpx.Response) -> int:
    """Bytes the session holds, from a 308's ``Range: bytes=0-N`` (none: 0)."""
    match = re.fullmatch(r"\s*bytes=0-(\d+)\s*", response.headers.get("Range", ""))
    return int(match.group(1)) + 1 if match else 0


class _OutcomeUnknown(Exception):
    """The whole file may have reached YouTube but the answer never came."""


# -- after the upload: processing and privacy, as YouTube reports them ------------------------------
#: Upper bound on processing polls, whatever the clock says.
MAX_PROCESSING_POLLS = 60
#: ``status.uploadStatus`` values after which nothing changes any more (videos resource).
UPLOAD_FINAL = frozenset({"processed", "failed", "rejected", "deleted"})
PROCESSING_FINAL = frozenset({"succeeded", "failed", "terminated"})


def _processing_done(status: Mapping[str, Any], details: Mapping[str, Any]) -> bool:
    return (
        status.get("uploadStatus") in UPLOAD_FINAL
        or details.get("processingStatus") in PROCESSING_FINAL
    )


def _processing_refusal(status: Mapping[str, Any], details: Mapping[str, Any]) -> str | None:
    """Google's reason when the upload was rejected or its processing failed, else ``None``."""
    upload = status.get("uploadStatus")
    if upload == "rejected":
        reason = status.get("rejectionReason") or "no reason given"
        if reason == "length":  # "Video duration was too long" (videos#status.rejectionReason)
            return (
                "YouTube rejected the video (length): it is longer than this channel may upload; "
                f"over 15 minutes needs a verified channel ({VERIFY_URL})"
            )
        return f"YouTube rejected the video ({reason})"
    if upload == "failed" or details.get("processingStatus") in ("failed", "terminated"):
        reason = (
            status.get("failureReason")
            or details.get("processingFailureReason")
            or details.get("processingStatus")
        )
        return f"YouTube could not process the video ({reason or 'no reason given'})"
    if upload == "deleted":
        return "the video was deleted before YouTube finished processing it"
    return None


def _processing_details(status: Mapping[str, Any], details: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        k: status[k]
        for k in ("uploadStatus", "privacyStatus", "failureReason", "rejectionReason")
        if k in status
    }
    if details.get("processingStatus"):
        out["processingStatus"] = details["processingStatus"]
    return out


def _privacy_warnings(
    metadata: Mapping[str, Any], status: Mapping[str, Any], details: dict[str, Any]
) -> list[str]:
    """Say plainly when YouTube made the video private although something else was asked.

    Videos uploaded through a Google Cloud project that has not passed YouTube's API audit are
    locked private whatever ``privacyStatus`` was sent (developers.google.com/youtube/v3/docs/
    videos/insert: "All videos uploaded via the videos.insert endpoint from unverified API projects
    created after 28 July 2020 will be restricted to private viewing mode").
    """
    asked = str((metadata.get("status") or {}).get("privacyStatus") or "public")
    actual = status.get("privacyStatus")
    if not isinstance(actual, str):
        return []
    details["privacyStatus"] = actual
    if actual == asked or actual != "private":
        return []
    details["privacy_requested"] = asked
    details["privacy_locked"] = True
    return [
        f"YouTube made this video private although {asked} was asked: uploads from a Google Cloud "
        "project that has not passed YouTube's API audit are locked private; have the project "
        "audited, then change the video's privacy in YouTube Studio"
    ]


# -- the client --------------------------------------------------------------------------------------
def _tallied(
    attempt: Callable[Concatenate[YouTubeClient, _P], Coroutine[Any, Any, PublishResult]],
) -> Callable[Concatenate[YouTubeClient, _P], Coroutine[Any, Any, PublishResult]]:
    """Run one attempt with a fresh call tally and put the tally in its result's details
    (``CALLS_DETAIL``): the usage store charges what the attempt really called (processing polls,
    playlist checks, the channel-status read), not only what the plan said it would."""

    @functools.wraps(attempt)
    async def run(self: YouTubeClient, /, *args: _P.args, **kwargs: _P.kwargs) -> PublishResult:
        tally: dict[str, int] = {}
        token = _CALLS.set(tally)
        try:
            result = await attempt(self, *args, **kwargs)
        finally:
            _CALLS.reset(token)
        if tally:
            result.details[CALLS_DETAIL] = dict(tally)
        return result

    return run


class YouTubeClient:
    """Publishes to one YouTube channel (one account's OAuth credentials)."""

    platform = PLATFORM

    def __init__(
        self,
        account_id: str,
        credentials: Mapping[str, Any],
        settings: Settings,
        save_credentials: SaveCredentials,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        max_attempts: int = 5,
        backoff: float = 1.0,
    ) -> None:
        chunk = settings.youtube_chunk_size
        if chunk <= 0 or chunk % CHUNK_GRANULARITY:
            raise ConfigurationError(
                f"youtube_chunk_size must be a positive multiple of {CHUNK_GRANULARITY}, is {chunk}"
            )
        self.account_id = account_id
        self._settings = settings
        self._chunk = chunk
        self._oauth = GoogleOAuth(account_id, credentials, settings, save_credentials)
        self._credentials = dict(credentials)
        self._save = save_credentials
        self._http = httpx.AsyncClient(timeout=make_timeout(settings.http_timeout), transport=transport)
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep
        self._max_attempts = max(1, max_attempts)
        self._backoff = backoff
        #: The channel found by :meth:`authenticate` (``id``, ``title``).
        self.channel: dict[str, str] | None = None

    def __repr__(self) -> str:
        return f"YouTubeClient(account_id={self.account_id!r})"

    async def aclose(self) -> None:
        await self._http.aclose()
        self._oauth.close()

    def check(self, config: PublishConfig, post_type: str) -> None:
        """Refuse bad options and text before any platform uploads (the manager calls this first)."""
        check_config(config, post_type, now=self._clock(), default_title="untitled")

    # -- HTTP ----------------------------------------------------------------------------------------
    async def _send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: Callable[[], Any] | None = None,
        api: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One authorised call; a 401 refreshes the token once and repeats the call.

        ``content`` makes a fresh body per attempt (a streamed body can be sent only once).
        ``api`` names the Data API method the request is a call of (None: a chunk of one already
        counted); each request sent is tallied, since "all API requests, including invalid
        requests, incur a quota cost" (developers.google.com/youtube/v3/determine_quota_cost).
        Transport failures propagate as ``httpx.TransportError``.
        """
        response: httpx.Response | None = None
        for attempt in range(2):
            token = await self._oauth.access_token()
            sent_headers = {**(headers or {}), "Authorization": f"Bearer {token}"}
            body = content() if content is not None else None
            tally = _CALLS.get()
            if api is not None and tally is not None:
                tally[api] = tally.get(api, 0) + 1
            response = await self._http.request(method, url, headers=sent_headers, content=body, **kwargs)
            if response.status_code != 401 or attempt:
                return response
            await response.aread()
            log.info("YouTube refused the access token of %s; refreshing", self.account_id)
            await self._oauth.refresh(stale=token)
        assert response is not None
        return response

    def _error(self, response: httpx.Response, what: str) -> PlatformError:
        """The error kind of a failed API answer (see the module docstring)."""
        status = response.status_code
        error = response_json(response).get("error")
        items = error.get("errors") if isinstance(error, dict) else None
        reasons = [str(item.get("reason")) for item in items or [] if isinstance(item, dict)]
        reason = reasons[0] if reasons else ""
        text = f"{what} failed: HTTP {status}{f' {reason}' if reason else ''}: {error_message(response)}"
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 401:
            return PlatformError(
                PLATFORM, ErrorKind.AUTH, f"{text}; {reauth_hint(self.account_id)}", status_code=401
            )
        if QUOTA_REASONS.intersection(reasons):
            return PlatformError(
                PLATFORM,
                ErrorKind.QUOTA,
                text,
                status_code=status,
                retry_after=seconds_until_quota_reset(self._clock()),
            )
        if status == 429 or RATE_REASONS.intersection(reasons):
            kind = ErrorKind.RATE_LIMITED
        elif status == 408 or status >= 500:
            kind = ErrorKind.TRANSIENT
        else:
            kind = ErrorKind.PERMANENT
        return PlatformError(PLATFORM, kind, text, status_code=status, retry_after=retry_after)

    @staticmethod
    def _transport_error(exc: httpx.TransportError, what: str) -> PlatformError:
        return PlatformError(PLATFORM, ErrorKind.TRANSIENT, f"{what}: {describe_exception(exc)}")

    # -- publish -------------------------------------------------------------------------------------
    @_tallied
    async def publish(
        self,
        video_path: Path,
        config: PublishConfig,
        *,
        post_type: str,
        request_id: str,
        progress: ProgressCallback | None = None,
        checkpoint: Checkpoint | None = None,
        resume: str | None = None,
    ) -> PublishResult:
        """Upload and publish; bad input raises ``InputError`` before anything is sent.

        Platform failures never raise: they come back as a failed (or ``unknown``) result. Each
        step is handed to ``checkpoint`` before the next starts: the session (its URI is the
        reference), the bytes the session confirmed, the video id, the thumbnail, the playlist
        item. ``resume`` (an earlier attempt's reference) continues that attempt: a video already
        made only gets the steps left; a session asked for its offset continues from there.
        The result's ``details["youtube_calls"]`` counts the Data API calls made, by method.
        """
        plan = plan_upload(video_path, config, post_type, now=self._clock())
        details: dict[str, Any] = {"request_id": request_id}

        async def step(name: str, reference: str, **values: Any) -> None:
            if checkpoint is not None:
                await checkpoint(ProtocolStep(name, reference, **values))

        def report(sent: int) -> None:
            if progress is None:
                return
            try:
                progress(PLATFORM, sent, plan.total)
            except Exception:  # a broken progress bar must not lose an upload's outcome
                log.exception("progress callback failed")

        session: str | None = None
        offset = 0
        video: dict[str, Any] | None = None
        reference = ""
        if resume is not None:
            prior, total = parse_reference(resume)
            if _fragment(resume).get("video"):
                return await self._confirmed({"id": _fragment(resume)["video"]}, resume, checkpoint)
            if urlsplit(prior).scheme in ("http", "https") and total == plan.total:
                try:
                    response = await self._query(prior, plan.total)
                except httpx.TransportError as exc:
                    return self._unknown(
                        resume, f"the upload session did not answer: {describe_exception(exc)}"
                    )
                if response.status_code in (200, 201):
                    video, reference = self._completed(response), resume
                elif response.status_code == 308:
                    session, offset, reference = prior, _confirmed_bytes(response), resume
                    log.info("YouTube upload resumed at byte %d of %d", offset, plan.total)
                elif response.status_code not in (404, 410):  # gone: start a new session
                    return self._unknown(resume, f"the upload session answered HTTP {response.status_code}")
        if video is None and session is None:
            too_long = await self._long_upload_refusal(plan.video_path)
            if too_long is not None:
                return PublishResult.failed(
                    PLATFORM,
                    ErrorKind.PERMANENT,
                    f"validation failed: {too_long}",
                    details={**details, "validation": {"field": "duration", "reason": too_long}},
                )
            try:
                session = await self._start_session(plan)
            except PlatformError as exc:
                return self._failed(exc, details=details)
            except httpx.TransportError as exc:
                return self._failed(self._transport_error(exc, "starting the upload"), details=details)
            reference = make_reference(session, plan.total, plan)
            await step("session", reference, bytes_sent=0)
        if video is None:
            assert session is not None

            async def confirmed(sent: int) -> None:
                await step("bytes", reference, bytes_sent=sent)

            try:
                video = await self._upload(session, plan, report, offset=offset, confirmed=confirmed)
            except _OutcomeUnknown as exc:
                return PublishResult.failed(
                    PLATFORM,
                    ErrorKind.UNKNOWN,
                    f"outcome unknown: {exc}; reconcile with the session before any repost",
                    status=PublishStatus.UNKNOWN,
                    reference=reference,
                    bytes_sent=plan.total,
                    details=details,
                )
            except PlatformError as exc:
                return self._failed(exc, reference=reference, details=details)
            except OSError as exc:
                return self._failed(
                    PlatformError(PLATFORM, ErrorKind.PERMANENT, f"reading the video failed: {exc}"),
                    reference=reference,
                    details=details,
                )
        report(plan.total)
        result = self._video_result(video, shorts=plan.shorts, reference=reference)
        result.details.update(details)
        result.reference = reference = with_fields(reference, video=result.video_id or "")
        await step("video", reference, video_id=result.video_id, url=result.url, bytes_sent=plan.total)
        warnings = list(plan.warnings)
        manage = can_manage(self._oauth.credentials().scopes)
        thumb_path, thumb_type, playlist_id = plan.thumbnail_path, plan.thumbnail_type, plan.playlist_id
        if not manage:
            skipped = [
                what
                for what, wanted in (("thumbnail", thumb_path), ("playlist", playlist_id))
                if wanted
            ]
            warnings.append(
                "this account granted only the upload scope: "
                + (f"{' and '.join(skipped)} not set, " if skipped else "")
                + "processing not followed; grant the youtube scope "
                f"({reauth_hint(self.account_id)}) for them"
            )
            thumb_path = thumb_type = playlist_id = None
        processed = await self._follow_processing(result.video_id or "") if manage else None
        status = dict(video.get("status") or {}) if isinstance(video.get("status"), dict) else {}
        if processed is not None:
            status.update(processed[0])
            refusal = _processing_refusal(processed[0], processed[1])
            if refusal is not None:
                refused = PlatformError(PLATFORM, ErrorKind.PERMANENT, refusal)
                failed = self._failed(refused, reference=reference, details=details)
                failed.video_id = result.video_id
                failed.bytes_sent = plan.total
                failed.details.update(_processing_details(processed[0], processed[1]))
                return failed
            result.details.update(_processing_details(processed[0], processed[1]))
            if not _processing_done(processed[0], processed[1]):
                warnings.append(
                    "YouTube is still processing the video "
                    f"(waited {self._settings.youtube_processing_timeout:g} s); it may still fail there"
                )
        warnings += _privacy_warnings(plan.metadata, status, result.details)
        after, result.reference = await self._after_upload(
            result.video_id or "",
            thumb_path,
            thumb_type,
            playlist_id,
            reference=reference,
            checkpoint=checkpoint,
        )
        warnings += after
        if warnings:
            result.details["warnings"] = warnings
        return result

    def _unknown(self, reference: str, error: str) -> PublishResult:
        return PublishResult.failed(
            PLATFORM, ErrorKind.UNKNOWN, error, status=PublishStatus.UNKNOWN, reference=reference
        )

    async def _follow_processing(self, video_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """``(status, processingDetails)`` once YouTube has processed the video, or the last seen.

        A bounded poll of ``videos.list?part=status,processingDetails`` (1 quota unit a call):
        an upload YouTube then rejects or fails to process is not a published video.
        ``None`` when not asked (``youtube_processing_timeout`` 0) or never answered.
        """
        timeout = self._settings.youtube_processing_timeout
        if timeout <= 0 or not video_id:
            return None
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        interval = max(0.01, self._settings.status_poll_interval)
        last: tuple[dict[str, Any], dict[str, Any]] | None = None
        for _ in range(MAX_PROCESSING_POLLS):
            try:
                response = await self._send(
                    "GET",
                    f"{self._settings.youtube_api_root()}youtube/v3/videos",
                    api="videos.list",
                    params={"part": "status,processingDetails", "id": video_id},
                )
            except (httpx.TransportError, PlatformError) as exc:
                log.warning("youtube: processing of %s not readable: %s", video_id, _describe(exc))
                response = None
            if response is not None and response.status_code == 200:
                items = response_json(response).get("items") or []
                if items and isinstance(items[0], dict):
                    item = items[0]
                    status = item.get("status") if isinstance(item.get("status"), dict) else {}
                    details = item.get("processingDetails")
                    last = (dict(status or {}), dict(details) if isinstance(details, dict) else {})
                    if _processing_done(*last):
                        return last
            if loop.time() + interval > end:
                break
            await self._sleep(interval)
            interval = min(interval * 2, self._settings.status_poll_max_interval)
        return last

    def _failed(
        self,
        exc: PlatformError,
        *,
        reference: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> PublishResult:
        return PublishResult.failed(
            PLATFORM, exc.kind, exc.message, retry_after=exc.retry_after, reference=reference, details=details
        )

    def _video_result(self, video: dict[str, Any], *, shorts: bool, reference: str | None) -> PublishResult:
        video_id = str(video["id"])
        status = video.get("status") if isinstance(video.get("status"), dict) else {}
        assert isinstance(status, dict)
        details = {k: status[k] for k in ("uploadStatus", "privacyStatus", "publishAt") if k in status}
        return PublishResult(
            platform=PLATFORM,
            success=True,
            status=PublishStatus.PUBLISHED,
            video_id=video_id,
            url=video_url(video_id, shorts=shorts),
            reference=reference,
            bytes_sent=0,
            details=details,
        )

    async def _start_session(self, plan: UploadPlan) -> str:
        """``videos.insert`` with ``uploadType=resumable``: exactly 200 and a ``Location``."""
        url = f"{self._settings.youtube_upload_root()}upload/youtube/v3/videos"
        response = await self._send(
            "POST",
            url,
            api="videos.insert",
            params={"part": ",".join(k for k in plan.metadata if k in PARTS), "uploadType": "resumable"},
            headers={
                "Content-Type": "application/json; charset=UTF-8",
                "X-Upload-Content-Type": plan.content_type,
                "X-Upload-Content-Length": str(plan.total),
            },
            json=plan.metadata,
        )
        location = response.headers.get("Location")
        if response.status_code != 200 or not location:
            if response.status_code == 200 or 200 < response.status_code < 300:
                raise PlatformError(
                    PLATFORM,
                    ErrorKind.TRANSIENT,
                    f"starting the upload: unexpected answer HTTP {response.status_code} "
                    "without a session URI",
                    status_code=response.status_code,
                )
            raise self._error(response, "starting the upload")
        return urljoin(str(response.url), str(location))

    async def _put_chunk(self, session: str, plan: UploadPlan, start: int, end: int) -> httpx.Response:
        length = end - start
        return await self._send(
            "PUT",
            session,
            headers={
                "Content-Type": plan.content_type,
                "Content-Length": str(length),
                "Content-Range": f"bytes {start}-{end - 1}/{plan.total}",
            },
            content=lambda: iter_file(plan.video_path, start=start, length=length),
        )

    async def _query(self, session: str, total: int | None) -> httpx.Response:
        """Ask the session how far it got (``Content-Range: bytes */TOTAL``, empty body)."""
        return await self._send(
            "PUT",
            session,
            headers={
                "Content-Range": f"bytes */{total if total is not None else '*'}",
                "Content-Length": "0",
            },
        )

    async def _upload(
        self,
        session: str,
        plan: UploadPlan,
        report: Callable[[int], None],
        *,
        offset: int = 0,
        confirmed: Callable[[int], Awaitable[None]] | None = None,
    ) -> dict[str, Any]:
        """Send the file from ``offset``, resuming from the session's confirmed byte after a failure;
        ``confirmed(bytes)`` is awaited each time the session confirms more bytes."""
        total = plan.total
        stalls = 0
        report(offset)
        while True:
            end = min(offset + self._chunk, total)
            final = end == total
            try:
                response = await self._put_chunk(session, plan, offset, end)
            except httpx.TransportError as exc:
                reason = describe_exception(exc)
                # A refused connection sent nothing: only a chunk that left can have completed.
                final = final and not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            else:
                if response.status_code in (200, 201):
                    return self._completed(response)
                if response.status_code == 308:
                    held = _confirmed_bytes(response)
                    stalls = 0 if held > offset else stalls + 1
                    if stalls > self._max_attempts:
                        raise PlatformError(
                            PLATFORM, ErrorKind.TRANSIENT, "the upload session accepts no bytes"
                        )
                    offset = held
                    report(offset)
                    if confirmed is not None and stalls == 0:
                        await confirmed(offset)
                    continue
                self._raise_unless_retryable(response)
                reason = f"HTTP {response.status_code}"
            log.info("YouTube upload interrupted at byte %d of %d (%s)", offset, total, reason)
            held, video = await self._recover(session, total, final=final, reason=reason)
            if video is not None:
                return video
            stalls = 0 if held > offset else stalls + 1
            if stalls > self._max_attempts:
                raise PlatformError(
                    PLATFORM,
                    ErrorKind.TRANSIENT,
                    f"upload interrupted {stalls} times at byte {held} ({reason})",
                )
            offset = held
            report(offset)

    def _raise_unless_retryable(self, response: httpx.Response) -> None:
        """Raise the error of a chunk answer, unless it is one a resume can get past (5xx)."""
        status = response.status_code
        if status in (404, 410):
            raise PlatformError(
                PLATFORM,
                ErrorKind.TRANSIENT,
                "the upload session expired; a retry starts the upload again",
                status_code=status,
            )
        if status >= 500 or status == 408:
            return
        raise self._error(response, "uploading")

    def _completed(self, response: httpx.Response) -> dict[str, Any]:
        video = response_json(response)
        if not video.get("id"):
            raise _OutcomeUnknown("the upload completed but the answer names no video")
        return video

    async def _recover(
        self, session: str, total: int, *, final: bool, reason: str
    ) -> tuple[int, dict[str, Any] | None]:
        """Query the session (bounded retries with backoff): ``(confirmed bytes, video or None)``.

        Gives up with ``_OutcomeUnknown`` when the last byte may have arrived (``final``), else with
        a transient failure: a file not fully sent cannot have been published.
        """
        for attempt in range(self._max_attempts):
            await self._sleep(min(30.0, self._backoff * 2**attempt))
            try:
                response = await self._query(session, total)
            except httpx.TransportError as exc:
                reason = describe_exception(exc)
                continue
            if response.status_code in (200, 201):
                return total, self._completed(response)
            if response.status_code == 308:
                return _confirmed_bytes(response), None
            if final and response.status_code in (404, 410):
                raise _OutcomeUnknown(f"the upload session is gone (HTTP {response.status_code})")
            self._raise_unless_retryable(response)
            reason = f"HTTP {response.status_code}"
        if final:
            raise _OutcomeUnknown(f"the final chunk's answer was lost ({reason})")
        raise PlatformError(
            PLATFORM,
            ErrorKind.TRANSIENT,
            f"upload interrupted ({reason}); the session did not answer {self._max_attempts} status queries",
        )

    async def _after_upload(
        self,
        video_id: str,
        thumb_path: Path | None,
        thumb_type: str | None,
        playlist_id: str | None,
        *,
        reference: str,
        checkpoint: Checkpoint | None = None,
        maybe_sent: bool = False,
    ) -> tuple[list[str], str]:
        """Thumbnail and playlist, each skipped when the reference says it is done already and
        checkpointed once over: the video is live already, so failures are warnings.

        ``maybe_sent`` (taking up an attempt that stopped): the playlist item may have been added
        before the stop, so ``playlistItems.list`` with ``videoId`` is asked first (one unit) and a
        second item is never inserted. A thumbnail set twice is the same thumbnail.
        Returns the warnings and the reference with the finished steps marked.
        """
        warnings: list[str] = []
        done = _done(reference)
        if thumb_path is not None and thumb_type is not None and "thumbnail" not in done:
            try:
                data = await asyncio.to_thread(thumb_path.read_bytes)
                content_type = thumb_type
                problem = await self._step_with_retries(
                    "setting the thumbnail",
                    lambda: self._set_thumbnail(video_id, data, content_type),
                    ok=(200,),
                )
                if problem:
                    warnings.append(problem)
            except (PlatformError, httpx.TransportError, OSError) as exc:
                warnings.append(f"setting the thumbnail failed: {_describe(exc)}")
            reference = _mark_done(reference, "thumbnail")
            if checkpoint is not None:
                await checkpoint(ProtocolStep("thumbnail", reference, video_id=video_id))
        if playlist_id and "playlist" not in done:
            try:
                if maybe_sent and await self._in_playlist(video_id, playlist_id):
                    playlist_id = None  # added before the attempt stopped
            except (PlatformError, httpx.TransportError) as exc:
                warnings.append(f"adding to the playlist failed: {_describe(exc)}")
                return warnings, reference  # not marked done: asked again on the next attempt
        if playlist_id and "playlist" not in done:
            playlist = playlist_id
            try:
                problem = await self._step_with_retries(
                    "adding to the playlist",
                    lambda: self._send(
                        "POST",
                        f"{self._settings.youtube_api_root()}youtube/v3/playlistItems",
                        api="playlistItems.insert",
                        params={"part": "snippet"},
                        json={
                            "snippet": {
                                "playlistId": playlist,
                                "resourceId": {"kind": "youtube#video", "videoId": video_id},
                            }
                        },
                    ),
                    ok=(200, 201),
                    # An insert whose answer was lost may have landed: ask before inserting again.
                    landed=lambda: self._in_playlist(video_id, playlist),
                )
                if problem:
                    warnings.append(problem)
            except (PlatformError, httpx.TransportError) as exc:
                warnings.append(f"adding to the playlist failed: {_describe(exc)}")
            reference = _mark_done(reference, "playlist")
            if checkpoint is not None:
                await checkpoint(ProtocolStep("playlist", reference, video_id=video_id))
        return warnings, reference

    async def _set_thumbnail(self, video_id: str, data: bytes, content_type: str) -> httpx.Response:
        """``thumbnails.set`` with the resumable protocol: a session, then the image in one ``PUT``.

        thumbnails.set "supports media upload" with the simple and the resumable protocol
        (developers.google.com/youtube/v3/docs/thumbnails/set, its discovery document's
        ``protocols``); resumable lets Google refuse a wrong type or an image over 2 MB before the
        bytes are sent, as for the video. Returns the answer that ends the step (the session's
        refusal, or the ``PUT``'s answer); a retry opens a new session (the same image again).
        """
        start = await self._send(
            "POST",
            f"{self._settings.youtube_upload_root()}upload/youtube/v3/thumbnails/set",
            api="thumbnails.set",
            params={"videoId": video_id, "uploadType": "resumable"},
            headers={
                "X-Upload-Content-Type": content_type,
                "X-Upload-Content-Length": str(len(data)),
                "Content-Length": "0",
            },
        )
        location = start.headers.get("Location")
        if start.status_code != 200:
            return start
        if not location:
            raise PlatformError(
                PLATFORM, ErrorKind.TRANSIENT, "setting the thumbnail: the session had no URI"
            )
        return await self._send(
            "PUT",
            urljoin(str(start.url), str(location)),
            headers={
                "Content-Type": content_type,
                "Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}",
            },
            content=lambda: data,
        )

    async def _step_with_retries(
        self,
        what: str,
        send: Callable[[], Awaitable[httpx.Response]],
        *,
        ok: tuple[int, ...],
        landed: Callable[[], Awaitable[bool]] | None = None,
    ) -> str | None:
        """One step after the upload (thumbnail, playlist), retried with backoff on a server error,
        a 429 or a dropped connection, since the video is live and only this step is left.

        ``landed`` is asked before each retry of a step that must not be done twice (a playlist
        insert whose answer was lost). Returns the reason the step did not happen, or None.
        """
        problem = f"{what} failed"
        for attempt in range(self._max_attempts):
            if attempt:
                await self._sleep(min(30.0, self._backoff * 2 ** (attempt - 1)))
                if landed is not None:
                    try:
                        if await landed():
                            return None
                    except (PlatformError, httpx.TransportError) as exc:
                        problem = f"{what} failed: {_describe(exc)}"
                        continue  # not known whether it landed: never send it blind
            try:
                response = await send()
            except httpx.TransportError as exc:
                problem = f"{what} failed: {_describe(exc)}"
                continue
            if response.status_code in ok:
                return None
            problem = self._error(response, what).message
            if response.status_code < 500 and response.status_code != 429:
                return problem  # refused for a reason a retry does not change
        return problem

    async def _in_playlist(self, video_id: str, playlist_id: str) -> bool:
        """Whether ``playlist_id`` holds ``video_id`` already (``playlistItems.list``, 1 unit).

        See developers.google.com/youtube/v3/docs/playlistItems/list (``videoId`` filter).
        """
        response = await self._send(
            "GET",
            f"{self._settings.youtube_api_root()}youtube/v3/playlistItems",
            api="playlistItems.list",
            params={"part": "id", "playlistId": playlist_id, "videoId": video_id},
        )
        if response.status_code != 200:
            raise self._error(response, "checking the playlist")
        return bool(response_json(response).get("items"))

    # -- reconcile -----------------------------------------------------------------------------------
    @_tallied
    async def reconcile(self, reference: str, *, checkpoint: Checkpoint | None = None) -> PublishResult:
        """What became of an upload whose outcome was ``unknown``, read from the steps its reference
        recorded: a video id finishes the steps left; a session is asked how far it got; no session
        means nothing was sent (a confirmed failure: the upload starts over)."""
        if _fragment(reference).get("video"):
            return await self._confirmed({"id": _fragment(reference)["video"]}, reference, checkpoint)
        session, total = parse_reference(reference)
        if urlsplit(session).scheme not in ("http", "https"):
            # Killed before the session URI was stored: a session without bytes makes no video.
            return self._failed(
                PlatformError(
                    PLATFORM,
                    ErrorKind.TRANSIENT,
                    "no upload session was recorded before the attempt stopped; nothing was "
                    "uploaded, so the upload starts over",
                ),
                reference=reference,
            )
        try:
            response = await self._query(session, total)
        except httpx.TransportError as exc:
            return self._unknown(reference, f"the upload session did not answer: {describe_exception(exc)}")
        except PlatformError as exc:
            return self._unknown(reference, exc.message)
        if response.status_code in (200, 201):
            video = response_json(response)
            if video.get("id"):
                return await self._confirmed(video, reference, checkpoint)
        if response.status_code == 308:
            held = _confirmed_bytes(response)
            return self._failed(
                PlatformError(
                    PLATFORM,
                    ErrorKind.TRANSIENT,
                    f"the upload never completed (the session holds {held} of "
                    f"{total if total is not None else '?'} bytes); nothing was published",
                ),
                reference=reference,
                details={"resumable": True, "bytes_confirmed": held},
            )
        return self._unknown(
            reference,
            f"the upload session answered HTTP {response.status_code}; whether the video was made "
            "cannot be told yet (asked again on the next attempt, never re-uploaded blindly)",
        )

    async def _confirmed(
        self, video: dict[str, Any], reference: str, checkpoint: Checkpoint | None = None
    ) -> PublishResult:
        """A video found by reconcile gets what the lost answer kept it from: thumbnail, playlist."""
        follow = _fragment(reference)
        video_id = str(video["id"])
        reference = with_fields(reference, video=video_id)
        result = self._video_result(video, shorts=follow.get("shorts") == "1", reference=reference)
        if checkpoint is not None and not follow.get("video"):
            await checkpoint(ProtocolStep("video", reference, video_id=video_id, url=result.url))
        thumb: tuple[Path, str] | tuple[None, None] = (None, None)
        warnings: list[str] = []
        if follow.get("thumbnail") and "thumbnail" not in _done(reference):
            try:
                thumb = _check_thumbnail(follow["thumbnail"])
            except InputError as exc:
                warnings.append(f"setting the thumbnail failed: {exc.reason}")
        more, result.reference = await self._after_upload(
            video_id,
            thumb[0],
            thumb[1],
            follow.get("playlist"),
            reference=reference,
            checkpoint=checkpoint,
            maybe_sent=True,
        )
        warnings += more
        if warnings:
            result.details["warnings"] = warnings
        return result

    # -- long uploads ---------------------------------------------------------------------------------
    async def _long_upload_refusal(self, video_path: Path) -> str | None:
        """Why a video over 15 minutes may not go to this channel, or ``None`` (it may, or it is
        not that long, or the channel's status cannot be learnt: then YouTube decides).

        Refused before a byte is sent: an unverified channel's long upload would be spent in
        bytes and quota and then rejected by YouTube.
        """
        from multipublish.media.probe import probe

        try:
            duration = (await asyncio.to_thread(probe, video_path)).duration
        except MediaError:
            return None
        if duration <= UNVERIFIED_MAX_SECONDS:
            return None
        status = await self.long_uploads_status()
        if status in (None, "allowed"):
            return None
        minutes = f"{int(duration // 60)}:{int(duration % 60):02d}"
        why = {
            "eligible": f"the channel is not verified; verify it at {VERIFY_URL} and publish again",
            "disallowed": "YouTube does not allow this channel long uploads (see YouTube Studio)",
        }.get(status, "YouTube has not enabled long uploads for this channel")
        return (
            f"duration {minutes} is over the 15 minutes a YouTube channel without long uploads may "
            f"upload (channel longUploadsStatus: {status}): {why}"
        )

    async def long_uploads_status(self) -> str | None:
        """The channel's ``status.longUploadsStatus``, kept on the account for
        ``youtube_channel_status_ttl`` seconds; ``None`` when it cannot be learnt now."""
        cached = self._credentials.get("long_uploads_status")
        checked = parse_expiry(self._credentials.get("long_uploads_checked_at"))
        now = self._clock()
        ttl = timedelta(seconds=self._settings.youtube_channel_status_ttl)
        if cached and checked is not None and now - checked.replace(tzinfo=UTC) < ttl:
            return str(cached)
        try:
            response = await self._send(
                "GET",
                f"{self._settings.youtube_api_root()}youtube/v3/channels",
                api="channels.list",
                params={"part": "status", "mine": "true"},
            )
        except (httpx.TransportError, PlatformError) as exc:
            log.warning("could not learn the channel status of %s: %s", self.account_id, _describe(exc))
            return str(cached) if cached else None
        items = response_json(response).get("items") if response.status_code == 200 else None
        first = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}
        channel_status = first.get("status") if isinstance(first.get("status"), dict) else {}
        status = channel_status.get("longUploadsStatus") if isinstance(channel_status, dict) else None
        if not isinstance(status, str) or not status:
            if response.status_code != 200:
                log.warning("channels.list answered HTTP %d for %s", response.status_code, self.account_id)
            return str(cached) if cached else None
        checked_at = format_expiry(now.astimezone(UTC)) or ""
        found = {"long_uploads_status": status, "long_uploads_checked_at": checked_at}
        self._credentials.update(found)
        self._save(found)
        return status

    # -- authenticate --------------------------------------------------------------------------------
    async def authenticate(self) -> None:
        """Refresh the token and find the channel it gives access to (``PlatformError`` if not)."""
        creds = self._oauth.credentials()
        if creds.refresh_token:
            await self._oauth.refresh(stale=creds.token)
        try:
            response = await self._send(
                "GET",
                f"{self._settings.youtube_api_root()}youtube/v3/channels",
                api="channels.list",
                params={"part": "snippet", "mine": "true"},
            )
        except httpx.TransportError as exc:
            raise self._transport_error(exc, "listing the channel") from None
        if response.status_code != 200:
            raise self._error(response, "listing the channel")
        items = response_json(response).get("items") or []
        if not items or not isinstance(items[0], dict):
            raise PlatformError(PLATFORM, ErrorKind.AUTH, "this Google account has no YouTube channel")
        channel = items[0]
        snippet = channel.get("snippet") if isinstance(channel.get("snippet"), dict) else {}
        assert isinstance(snippet, dict)
        found = {"id": str(channel.get("id", "")), "title": str(snippet.get("title", ""))}
        expected = self._credentials.get("channel_id")
        if expected and expected != found["id"]:
            raise PlatformError(
                PLATFORM,
                ErrorKind.AUTH,
                f"the token gives access to channel {found['id']}, not {expected}; "
                f"{reauth_hint(self.account_id)}",
            )
        self.channel = found
        missing = {
            key: value
            for key, value in (("channel_id", found["id"]), ("channel_name", found["title"]))
            if value and not self._credentials.get(key)
        }
        if missing:
            self._credentials.update(missing)
            self._save(missing)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, PlatformError):
        return exc.message
    if isinstance(exc, httpx.TransportError):
        return describe_exception(exc)
    return type(exc).__name__
