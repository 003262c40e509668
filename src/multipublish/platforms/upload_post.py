"""upload-post.com client (TikTok, Instagram, Facebook, LinkedIn) on async httpx.

Two layers:

- ``UploadPostClient``: the wire protocol, with the official SDK's method names (``upload_video``,
  ``get_status``, ``get_job_status``, ``get_history``, ``list_scheduled``, ``cancel_scheduled``,
  ``me``), but async, with a timeout on every call, the file streamed from disk, and HTTP failures
  raised as ``PlatformError`` carrying an ``ErrorKind``.
- ``UploadPostPlatform``: one platform of one account behind the ``PlatformClient`` protocol; maps
  ``PublishConfig`` and the checked platform options onto form fields, follows asynchronous uploads
  through the status endpoint, and turns every outcome into a ``PublishResult``.

Outcome unknown is not failure: every upload carries our request id (form field and
``X-Request-Id``). When the connection drops or times out after the whole body was sent, the
service is asked about that id before anything is reported; only a confirmed outcome is reported
as such, an unresolved one is ``PublishStatus.UNKNOWN`` with ``reference=request_id``.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from multipublish.captions import CAPTION_OPTION, compose_caption
from multipublish.catalogue import CATALOGUE, UPLOAD_POST_PLATFORMS
from multipublish.errors import ErrorKind, InputError, PlatformError
from multipublish.media.remote import host_of, video_url_of
from multipublish.platforms.base import (
    Checkpoint,
    ProgressCallback,
    ProtocolStep,
    PublishConfig,
    PublishResult,
    PublishStatus,
)
from multipublish.platforms.http import (
    StreamingMultipart,
    describe_exception,
    error_kind_for_status,
    error_message,
    form_body,
    looks_like_quota,
    make_timeout,
    new_request_id,
    parse_retry_after,
    rate_limit_details,
    response_json,
)
from multipublish.platforms.options import FormFields
from multipublish.platforms.upload_post_codes import (
    HARD_CAP_WAIT,
    code_of,
    hard_cap,
    kind_of_code,
    kind_of_words,
    rate_limit_wait,
)
from multipublish.settings import Settings

log = logging.getLogger(__name__)

#: Option mappers of the platforms reached through upload-post (named by the catalogue).
MAPPERS: dict[str, ModuleType] = {
    name: importlib.import_module(CATALOGUE[name].option_mapper) for name in UPLOAD_POST_PLATFORMS
}
PENDING_STATES = frozenset({"pending", "queued", "processing", "in_progress"})
#: A scheduled time closer than this is published at once (the queue calls us when it is due).
SCHEDULE_MIN_AHEAD = timedelta(seconds=60)
SCHEDULE_MAX_AHEAD = timedelta(days=365)
#: Reference prefix of a post accepted for later (its upload-post job id follows).
JOB_PREFIX = "job:"
#: Seconds after a scheduled time before its job is asked about.
SCHEDULE_GRACE = 60.0
#: Seconds the profiles listing is trusted before it is asked again.
PROFILES_TTL = 300.0

Sleep = Callable[[float], Awaitable[None]]


class UploadInterrupted(PlatformError):
    """The connection failed during an upload; ``body_complete`` says whether every byte left us."""

    def __init__(self, platform: str, message: str, *, body_complete: bool, bytes_sent: int) -> None:
        super().__init__(platform, ErrorKind.TRANSIENT, message)
        self.body_complete = body_complete
        self.bytes_sent = bytes_sent


class UploadPostHTTPError(PlatformError):
    """An error status from upload-post, with its body's ``usage`` and the rate-limit headers."""

    def __init__(
        self,
        platform: str,
        kind: ErrorKind,
        message: str,
        *,
        status_code: int,
        retry_after: float | None,
        data: dict[str, Any],
        rate_limit: dict[str, str],
    ) -> None:
        super().__init__(platform, kind, message, status_code=status_code, retry_after=retry_after)
        self.details: dict[str, Any] = {"status_code": status_code}
        if isinstance(data.get("usage"), dict):
            self.details["usage"] = data["usage"]
        if data.get("error_code"):
            self.details["error_code"] = data["error_code"]
        if isinstance(data.get("available_pages"), list):
            self.details["available_pages"] = data["available_pages"]
        if rate_limit:
            self.details["rate_limit"] = rate_limit


class UploadPostClient:
    """Async upload-post API client (one API key)."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://api.upload-post.com/api",
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Apikey {api_key}"},
            timeout=make_timeout(timeout),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"UploadPostClient(base_url={self.base_url!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- plumbing -------------------------------------------------------------------------------
    @staticmethod
    def _raise_for(response: httpx.Response, platform: str = "upload-post") -> None:
        if response.status_code < 400:
            return
        message = error_message(response)
        body = response.text
        data = response_json(response)
        code = code_of(data)
        kind = kind_of_code(code)
        capped = hard_cap(data) if response.status_code == 429 else []
        if capped:
            # The network's cap for this account over a rolling 24 h: wait for it, not the minute.
            kind = ErrorKind.QUOTA
            message = "; ".join(str(v.get("message") or v.get("platform")) for v in capped)
        elif kind is None:
            kind = error_kind_for_status(response.status_code, body)
            if response.status_code == 429 and looks_like_quota(body):
                kind = ErrorKind.QUOTA
        pages = data.get("available_pages")
        if isinstance(pages, list) and pages:
            # Facebook without a page id and more than one page connected: say which to choose.
            listed = ", ".join(_page_label(p) for p in pages)
            message = f"{message}; choose one as platform_specific.facebook.page_id: {listed}"
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if kind is ErrorKind.RATE_LIMITED:  # not QUOTA: X-RateLimit-Reset is the minute window's
            retry_after = rate_limit_wait(response.headers, retry_after=retry_after)
        elif capped and retry_after is None:
            retry_after = HARD_CAP_WAIT
        if code and not data.get("error_code"):
            data = {**data, "error_code": code}
        raise UploadPostHTTPError(
            platform,
            kind,
            f"HTTP {response.status_code}: {message}",
            status_code=response.status_code,
            retry_after=retry_after,
            data=data,
            rate_limit=rate_limit_details(response),
        )

    async def _get(self, path: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        try:
            return await self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise PlatformError("upload-post", ErrorKind.TRANSIENT, describe_exception(exc)) from None

    # -- SDK-shaped calls -----------------------------------------------------------------------
    async def me(self) -> dict[str, Any]:
        """``GET /uploadposts/me``: who the key belongs to; ``PlatformError(AUTH)`` when refused."""
        response = await self._get("/uploadposts/me")
        self._raise_for(response)
        return response_json(response)

    async def upload_video(
        self,
        video_path: str | Path,
        title: str,
        user: str,
        platforms: list[str],
        *,
        fields: Sequence[tuple[str, str]] = (),
        request_id: str | None = None,
        progress: Callable[[int, int], None] | None = None,
        platform_label: str = "upload-post",
    ) -> httpx.Response:
        """``POST /upload`` with the file streamed in the multipart body; returns the response.

        ``video_path`` may be an ``http(s)://`` URL, sent as the ``video`` field for the service to
        fetch (as the official SDK does): docs.upload-post.com/api/upload-video, "The video file to
        upload (can be a file upload or a video URL)".

        Raises ``PlatformError`` for an HTTP error status and ``UploadInterrupted`` when the
        connection fails, telling whether the whole body had been sent.
        """
        rid = request_id or new_request_id()
        form: FormFields = [("user", user)]
        form += [("platform[]", p) for p in platforms]
        form.append(("title", title))
        form += list(fields)
        form.append(("request_id", rid))
        url = video_url_of(video_path)
        body: StreamingMultipart | bytes
        if url is not None:
            body, ctype = form_body([*form, ("video", url)])
            head = {"Content-Type": ctype}
        else:
            body = StreamingMultipart(form, "video", Path(video_path), progress=progress)
            head = body.headers
        # The request id doubles as the Idempotency-Key: should two workers ever send the same
        # platform upload (a lease lost mid-upload), the service answers the second with the first.
        headers = {**head, "X-Request-Id": rid, "Idempotency-Key": rid}
        try:
            response = await self._http.post("/upload", content=body, headers=headers)
        except httpx.HTTPError as exc:
            # A few hundred bytes of form: whether they all left is not known, so a URL upload's
            # lost answer is always asked about (asking is never wrong, only slower).
            raise UploadInterrupted(
                platform_label,
                describe_exception(exc),
                body_complete=body.complete if isinstance(body, StreamingMultipart) else True,
                bytes_sent=body.bytes_sent if isinstance(body, StreamingMultipart) else 0,
            ) from None
        self._raise_for(response, platform_label)
        return response

    async def get_status(self, request_id: str | None = None, *, job_id: str | None = None) -> dict[str, Any]:
        """``GET /uploadposts/status``; a 404 answers ``{"status": "not_found"}`` instead of raising."""
        params = {"job_id": job_id} if job_id else {"request_id": request_id or ""}
        response = await self._get("/uploadposts/status", params)
        if response.status_code == 404:
            data = response_json(response)
            data.setdefault("status", "not_found")
            return data
        self._raise_for(response)
        return response_json(response)

    async def list_users(self) -> dict[str, Any]:
        """``GET /uploadposts/users``: the key's profiles and the accounts connected to each."""
        response = await self._get("/uploadposts/users")
        self._raise_for(response)
        return response_json(response)

    async def facebook_pages(self, profile: str | None = None) -> dict[str, Any]:
        """``GET /uploadposts/facebook/pages[?profile=]``: the pages a Facebook upload may go to
        (the official SDK's ``get_facebook_pages``)."""
        response = await self._get("/uploadposts/facebook/pages", {"profile": profile} if profile else None)
        self._raise_for(response)
        return response_json(response)

    async def get_job_status(self, job_id: str) -> dict[str, Any]:
        return await self.get_status(job_id=job_id)

    async def get_history(self, page: int = 1, limit: int = 20) -> dict[str, Any]:
        """``GET /uploadposts/history`` (limit 10, 20, 50 or 100)."""
        response = await self._get("/uploadposts/history", {"page": page, "limit": limit})
        self._raise_for(response)
        return response_json(response)

    async def list_scheduled(self) -> dict[str, Any]:
        response = await self._get("/uploadposts/schedule")
        self._raise_for(response)
        return response_json(response)

    async def cancel_scheduled(self, job_id: str) -> dict[str, Any]:
        try:
            response = await self._http.delete(f"/uploadposts/schedule/{job_id}")
        except httpx.HTTPError as exc:
            raise PlatformError("upload-post", ErrorKind.TRANSIENT, describe_exception(exc)) from None
        self._raise_for(response)
        return response_json(response)


# -- mapping -------------------------------------------------------------------------------------
def build_fields(
    platform: str, post_type: str, config: PublishConfig, credentials: Mapping[str, Any]
) -> FormFields:
    """Every form field of one upload except user/platform/title/request id; checks options first.

    The caption is composed (title, description, tags as hashtags) into the field the platform
    reads (``catalogue.PlatformSpec.caption_field``): upload-post ignores ``description`` for
    TikTok and Instagram videos (docs.upload-post.com/api/upload-video), so sending it there
    would publish a caption without the description and every hashtag.
    Raises ``InputError`` naming ``platform_specific.<platform>.<option>`` before any upload.
    """
    if platform not in MAPPERS:
        raise InputError("platform", f"{platform} is not published through upload-post")
    options = config.platform_specific.get(platform)
    if isinstance(options, Mapping):
        caption_options = (CAPTION_OPTION, "commentary") if platform == "linkedin" else (CAPTION_OPTION,)
        for name in caption_options:
            value = options.get(name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise InputError(f"platform_specific.{platform}.{name}", "must be a non-empty string")
        options = {k: v for k, v in options.items() if k not in caption_options}
    fields: FormFields = MAPPERS[platform].map_options(options, post_type=post_type, credentials=credentials)
    caption = compose_caption(config, platform)
    if caption.text:
        fields.insert(0, (caption.field, caption.text))
    scheduled = scheduled_date(config)
    if scheduled is not None:
        fields += [("scheduled_date", scheduled), ("timezone", "UTC")]
    return fields


def scheduled_date(config: PublishConfig, now: datetime | None = None) -> str | None:
    """The ``scheduled_date`` to send, or ``None`` to publish now (past or imminent times).

    Raises ``InputError`` for a time more than 365 days ahead (the service refuses it).
    """
    when = config.scheduled_time
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    if when - now < SCHEDULE_MIN_AHEAD:
        return None
    if when - now > SCHEDULE_MAX_AHEAD:
        raise InputError("scheduled_time", "at most 365 days ahead")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _platform_entry(results: Any, platform: str) -> dict[str, Any] | None:
    """A platform's entry in ``results``, which may be keyed by platform or a list of entries."""
    if isinstance(results, dict):
        entry = results.get(platform)
        return entry if isinstance(entry, dict) else None
    if isinstance(results, list):
        for entry in results:
            if isinstance(entry, dict) and entry.get("platform") == platform:
                return entry
    return None


def _parse_when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _page_label(page: Any) -> str:
    if not isinstance(page, dict):
        return str(page)
    ident = page.get("page_id") or page.get("id") or "?"
    name = page.get("page_name") or page.get("name")
    return f"{ident} ({name})" if name else str(ident)


def _kind_of_platform_error(entry: Mapping[str, Any]) -> ErrorKind:
    """What a per-platform failure inside a 200 answer means for retrying: by its ``error_code``.

    A code we do not know is permanent (the platform refused this post; sending it again spends
    another of the plan's uploads); the message's words decide only when no code came.
    """
    code = code_of(entry)
    kind = kind_of_code(code)
    if kind is not None:
        return kind
    if code:
        return ErrorKind.PERMANENT
    return kind_of_words(str(entry.get("error") or entry.get("message") or ""))


class UploadPostPlatform:
    """One upload-post platform (tiktok, instagram, facebook, linkedin) of one account."""

    def __init__(
        self,
        platform: str,
        account_id: str,
        credentials: Mapping[str, Any],
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if platform not in MAPPERS:
            raise InputError("platform", f"{platform} is not published through upload-post")
        self.platform = platform
        self.account_id = account_id
        self._credentials = dict(credentials)
        self._settings = settings
        self._sleep = sleep
        self._clock = clock
        #: ``(fetched at, GET /uploadposts/users answer)``, kept ``PROFILES_TTL`` seconds.
        self._profiles: tuple[float, dict[str, Any]] | None = None
        self.api = UploadPostClient(
            str(credentials.get("api_key") or ""),
            base_url=settings.upload_post_base(),
            timeout=settings.http_timeout,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"UploadPostPlatform(platform={self.platform!r}, account_id={self.account_id!r})"

    __str__ = __repr__

    async def aclose(self) -> None:
        await self.api.aclose()

    def check(self, config: PublishConfig, post_type: str) -> FormFields:
        """Check ``config`` for this platform without uploading (``InputError`` when refused)."""
        return build_fields(self.platform, post_type, config, self._credentials)

    async def _check_profile(self, request_id: str) -> PublishResult | None:
        """A failed result when the profile cannot post to this platform, learnt before any upload.

        ``GET /uploadposts/users`` lists the key's profiles with their connected accounts
        (docs.upload-post.com/api/user-profiles). A listing that cannot be had, or that lists no
        profile at all, decides nothing: the upload's own answer will.
        """
        if not self._settings.upload_post_check_profile:
            return None
        now = self._clock()
        if self._profiles is None or now - self._profiles[0] > PROFILES_TTL:
            try:
                self._profiles = (now, await self.api.list_users())
            except PlatformError as exc:
                if exc.kind is ErrorKind.AUTH:
                    return self._failed(exc.kind, exc.message, request_id=request_id)
                log.warning("upload-post: profiles listing unavailable: %s", exc.message)
                return None
        data = self._profiles[1]
        user = str(self._credentials.get("user") or "")
        profiles = [p for p in data.get("profiles") or [] if isinstance(p, dict)]
        if not profiles:
            return None
        names = [str(p.get("username")) for p in profiles]
        profile = next((p for p in profiles if p.get("username") == user), None)
        details = {"check": "profiles"}
        if profile is None:
            return self._failed(
                ErrorKind.PERMANENT,
                f"upload-post profile {user!r} does not exist (profiles of this API key: "
                f"{', '.join(names)}); fix the account's credentials.user",
                request_id=request_id,
                details=details,
            )
        accounts = profile.get("social_accounts")
        if isinstance(accounts, dict) and not accounts.get(self.platform):
            return self._failed(
                ErrorKind.AUTH,
                f"{self.platform} is not connected to upload-post profile {user!r}: connect it "
                "under Manage Users at upload-post.com",
                request_id=request_id,
                details=details,
            )
        if self.platform == "tiktok" and str(data.get("plan") or "").lower() == "free":
            # docs.upload-post.com/guides/post-to-tiktok-api: "TikTok posting needs a paid plan,
            # it's not available on Free".
            return self._failed(
                ErrorKind.PERMANENT,
                "TikTok posting needs a paid upload-post plan (this API key is on Free)",
                request_id=request_id,
                details=details,
            )
        return None

    async def authenticate(self) -> None:
        """``GET /uploadposts/me``; raises ``PlatformError(kind=AUTH)`` when the key is refused."""
        try:
            await self.api.me()
        except PlatformError as exc:
            raise PlatformError(
                self.platform, exc.kind, exc.message.split(": ", 1)[-1], status_code=exc.status_code
            ) from None

    # -- publish --------------------------------------------------------------------------------
    def _failed(self, kind: ErrorKind, error: str, *, request_id: str, **extra: Any) -> PublishResult:
        details = {"request_id": request_id, **extra.pop("details", {})}
        return PublishResult.failed(
            self.platform, kind, error, reference=request_id, details=details, **extra
        )

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
        """Upload once and report what became of it; never re-uploads on its own.

        The request id (also the Idempotency-Key) is the whole of the resumable state: ``resume``
        adds nothing, and an accepted asynchronous upload is checkpointed before it is followed.
        """
        fields = self.check(config, post_type)
        refused = await self._check_profile(request_id)
        if refused is not None:
            return refused
        if self._settings.upload_post_async:
            fields.append(("async_upload", "true"))
        label = self.platform

        def on_progress(sent: int, total: int) -> None:
            if progress is not None:
                progress(label, sent, total)

        source: str | Path = video_path
        if config.video_url:  # the service fetches it: no bytes leave us
            source, size = config.video_url, 0
            log.info(
                "upload-post: publishing to %s for account %s (request %s, video by URL from %s)",
                self.platform,
                self.account_id,
                request_id,
                host_of(config.video_url),
            )
        else:
            size = Path(video_path).stat().st_size
            log.info(
                "upload-post: publishing to %s for account %s (request %s, %d bytes)",
                self.platform,
                self.account_id,
                request_id,
                size,
            )
        try:
            response = await self.api.upload_video(
                source,
                config.title,
                str(self._credentials.get("user") or ""),
                [self.platform],
                fields=fields,
                request_id=request_id,
                progress=on_progress,
                platform_label=self.platform,
            )
        except UploadInterrupted as exc:
            if not exc.body_complete:
                return self._failed(
                    ErrorKind.TRANSIENT,
                    f"upload interrupted before the whole file was sent: {exc.message}",
                    request_id=request_id,
                    bytes_sent=exc.bytes_sent,
                )
            log.warning(
                "upload-post: %s request %s: %s after the whole file was sent; asking the service",
                self.platform,
                request_id,
                exc.message,
            )
            result = await self._resolve_lost(request_id, reason=exc.message)
            result.bytes_sent = exc.bytes_sent
            return result
        except PlatformError as exc:
            return self._failed(
                exc.kind,
                exc.message,
                request_id=request_id,
                retry_after=exc.retry_after,
                bytes_sent=size,
                details=getattr(exc, "details", {"status_code": exc.status_code}),
            )
        result = await self._from_response(response, request_id, checkpoint)
        result.bytes_sent = size
        caption_warnings = compose_caption(config, self.platform).warnings
        if caption_warnings:  # what composing the caption left out of the tags, said with the result
            details = dict(result.details or {})
            details["warnings"] = [*caption_warnings, *details.get("warnings", [])]
            result.details = details
        return result

    async def _from_response(
        self, response: httpx.Response, request_id: str, checkpoint: Checkpoint | None = None
    ) -> PublishResult:
        data = response_json(response)
        details: dict[str, Any] = {"request_id": request_id}
        if isinstance(data.get("usage"), dict):
            details["usage"] = data["usage"]
        limits = rate_limit_details(response)
        if limits:
            details["rate_limit"] = limits
        if data.get("job_id") and "results" not in data:  # natively scheduled (202)
            details.update(job_id=data["job_id"], scheduled_date=data.get("scheduled_date"))
            return self._scheduled(str(data["job_id"]), data.get("scheduled_date"), details)
        if "results" in data:
            return self._from_entry(data["results"], request_id, details)
        if data.get("request_id"):  # asynchronous upload: follow it
            details["async"] = True
            if checkpoint is not None:
                await checkpoint(ProtocolStep("accepted", request_id, bytes_sent=None))
            result = await self._follow(str(data["request_id"]), deadline=None)
            result.details = {**details, **result.details}
            return result
        return self._failed(
            ErrorKind.PERMANENT,
            f"unexpected answer from upload-post (HTTP {response.status_code})",
            request_id=request_id,
            details=details,
        )

    def _from_entry(self, results: Any, request_id: str, details: dict[str, Any]) -> PublishResult:
        entry = _platform_entry(results, self.platform)
        if entry is None:
            return PublishResult.failed(
                self.platform,
                ErrorKind.UNKNOWN,
                f"the answer carried no result for {self.platform}",
                status=PublishStatus.UNKNOWN,
                reference=request_id,
                details=details,
            )
        if entry.get("warnings"):
            details["warnings"] = entry["warnings"]
        if entry.get("success"):
            # The ids each platform's answer may carry (docs.upload-post.com/guides/error-handling:
            # publish_id, container_id, post_id; LinkedIn video_urn, Facebook video_reel_id).
            video_id = next(
                (
                    entry[k]
                    for k in (
                        "publish_id",
                        "platform_post_id",
                        "post_id",
                        "video_id",
                        "container_id",
                        "video_urn",
                        "video_reel_id",
                        "id",
                    )
                    if entry.get(k)
                ),
                None,
            )
            url = entry.get("post_url") or entry.get("url")
            if not url:
                details["url"] = "upload-post gave no URL for this post (asynchronous results carry none)"
            return PublishResult(
                platform=self.platform,
                success=True,
                status=PublishStatus.PUBLISHED,
                video_id=str(video_id) if video_id else None,
                url=url,
                reference=request_id,
                details=details,
            )
        error = str(entry.get("error") or entry.get("message") or "rejected by the platform")
        code = code_of(entry)
        if code:
            details["error_code"] = code
        return self._failed(_kind_of_platform_error(entry), error, request_id=request_id, details=details)

    # -- status ---------------------------------------------------------------------------------
    async def _status_once(self, request_id: str) -> tuple[str, dict[str, Any]] | None:
        """``(status, body)`` or ``None`` when the service could not be asked."""
        try:
            data = await self.api.get_status(request_id)
        except PlatformError as exc:
            log.warning("upload-post: status of %s unavailable: %s", request_id, exc.message)
            return None
        return str(data.get("status") or "").lower(), data

    async def _follow(self, request_id: str, *, deadline: float | None) -> PublishResult:
        """Poll the status endpoint until the upload settles or the poll timeout passes."""
        settings = self._settings
        end = self._clock() + settings.status_poll_timeout if deadline is None else deadline
        interval = settings.status_poll_interval
        last_error = "no answer from the status endpoint"
        while True:
            answer = await self._status_once(request_id)
            if answer is not None:
                status, data = answer
                if status == "completed" or (status == "failed" and data.get("results")):
                    return self._settled(request_id, status, data)
                if status == "failed":
                    return self._failed(
                        ErrorKind.TRANSIENT,
                        str(data.get("message") or "the service reports the upload failed"),
                        request_id=request_id,
                    )
                last_error = f"still {status or 'unknown'} at the service"
            if self._clock() + interval > end:
                break
            await self._sleep(interval)
            interval = min(interval * 2, settings.status_poll_max_interval)
        return PublishResult.failed(
            self.platform,
            ErrorKind.UNKNOWN,
            f"outcome not confirmed yet ({last_error}); reconcile with the reference",
            status=PublishStatus.PROCESSING if answer is not None else PublishStatus.UNKNOWN,
            reference=request_id,
            details={"request_id": request_id},
        )

    def _settled(self, request_id: str, status: str, data: dict[str, Any]) -> PublishResult:
        details: dict[str, Any] = {"request_id": request_id, "resolved_by": "status"}
        entry = _platform_entry(data.get("results"), self.platform)
        if entry is None and status == "completed":
            entry = {"success": True}
        if entry is None:
            entry = {"success": False, "message": data.get("message") or "failed"}
        return self._from_entry({self.platform: entry}, request_id, details)

    async def _resolve_lost(self, request_id: str, *, reason: str) -> PublishResult:
        """After the whole body was sent and no answer came: ask before reporting anything.

        The status endpoint lags behind uploads: it may answer 404 for a while for an upload it
        did accept (docs.upload-post.com/api/upload-status suggests waiting about 5 s, then
        polling every 5-15 s). So a 404 here is never read as "never accepted": it is polled
        with backoff for ``status_not_found_window`` seconds, and still unknown after that. The
        request id (and so the Idempotency-Key) stays the attempt's until the outcome is known,
        so a later resend is answered with the first upload instead of publishing a second.
        """
        settings = self._settings
        window = settings.status_not_found_window
        end = self._clock() + window
        interval = settings.status_poll_interval
        polls = 0
        while True:
            await self._sleep(interval)
            answer = await self._status_once(request_id)
            polls += 1
            if answer is None:
                return self._unknown(request_id, f"{reason}; status endpoint unavailable")
            status, data = answer
            if status != "not_found":
                if status in PENDING_STATES:
                    return await self._follow(request_id, deadline=None)
                return self._settled(request_id, status, data)
            if self._clock() + interval > end:
                break
            interval = min(interval * 2, settings.status_poll_max_interval)
        if await self._in_history(request_id):
            return self._unknown(request_id, f"{reason}; listed in history but without status")
        return self._unknown(
            request_id,
            f"{reason}; the status endpoint still does not know the upload after {window:g} s "
            f"({polls} polls), which it may only be lagging",
        )

    async def _ask(self, request_id: str, *, reason: str, follow: bool) -> PublishResult:
        """What the service says of ``request_id``; ``follow`` waits out a pending upload."""
        answer = await self._status_once(request_id)
        if answer is None:
            return self._unknown(request_id, f"{reason}; status endpoint unavailable")
        status, data = answer
        if status == "not_found":
            if await self._in_history(request_id):
                return self._unknown(request_id, f"{reason}; listed in history but without status")
            # The service has no record of this request id: it never accepted the upload.
            return self._failed(
                ErrorKind.TRANSIENT,
                f"{reason}; the service has no record of the upload",
                request_id=request_id,
                details={"resolved_by": "status"},
            )
        if status in PENDING_STATES:
            if follow:
                return await self._follow(request_id, deadline=None)
            return PublishResult.failed(
                self.platform,
                ErrorKind.UNKNOWN,
                f"still {status} at the service",
                status=PublishStatus.PROCESSING,
                reference=request_id,
                details={"request_id": request_id},
            )
        return self._settled(request_id, status, data)

    async def _in_history(self, request_id: str) -> bool:
        try:
            data = await self.api.get_history(page=1, limit=100)
        except PlatformError:
            return False
        rows = data.get("history") or []
        return any(isinstance(r, dict) and r.get("request_id") == request_id for r in rows)

    def _unknown(self, request_id: str, reason: str) -> PublishResult:
        return PublishResult.failed(
            self.platform,
            ErrorKind.UNKNOWN,
            f"{reason}; outcome unknown: reconcile with the reference before any repost",
            status=PublishStatus.UNKNOWN,
            reference=request_id,
            details={"request_id": request_id},
        )

    async def reconcile(self, reference: str, *, checkpoint: Checkpoint | None = None) -> PublishResult:
        """Ask the service again about an upload whose outcome was unknown (or still processing).

        A ``job:<id>`` reference is a post the service accepted for later: asked by job id.
        """
        if reference.startswith(JOB_PREFIX):
            return await self._follow_job(reference[len(JOB_PREFIX) :])
        return await self._ask(reference, reason="reconcile", follow=False)

    def _scheduled(self, job_id: str, when: Any, details: dict[str, Any]) -> PublishResult:
        """Accepted for later (202 with ``job_id``): ``scheduled`` here, followed up by job id.

        ``retry_after`` says when to ask again: a little after the scheduled time.
        """
        due = _parse_when(when)
        now = datetime.now(UTC)
        wait = max(SCHEDULE_GRACE, (due - now).total_seconds() + SCHEDULE_GRACE) if due else SCHEDULE_GRACE
        return PublishResult.scheduled(
            self.platform,
            JOB_PREFIX + job_id,
            retry_after=wait,
            details={**details, "job_id": job_id, "scheduled_date": when or details.get("scheduled_date")},
        )

    async def _follow_job(self, job_id: str) -> PublishResult:
        """What became of a scheduled post: still waiting, published, or failed at its time."""
        details: dict[str, Any] = {"job_id": job_id, "resolved_by": "status"}
        try:
            data = await self.api.get_job_status(job_id)
        except PlatformError as exc:
            return PublishResult.failed(
                self.platform,
                ErrorKind.UNKNOWN,
                f"status of scheduled job {job_id} unavailable: {exc.message}",
                status=PublishStatus.UNKNOWN,
                reference=JOB_PREFIX + job_id,
                details=details,
            )
        status = str(data.get("status") or "").lower()
        if status == "not_found":
            return PublishResult.failed(
                self.platform,
                ErrorKind.PERMANENT,
                f"the service has no scheduled job {job_id} (cancelled?)",
                reference=JOB_PREFIX + job_id,
                details=details,
            )
        if status in PENDING_STATES or not status:
            return self._scheduled(job_id, data.get("scheduled_date"), details)
        result = self._settled(str(data.get("request_id") or job_id), status, data)
        result.reference = JOB_PREFIX + job_id
        result.details.update(details)
        return result
