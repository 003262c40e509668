"""Emulator of the upload-post.com API (``/api/...``), written from the protocol notes only.

Every request needs ``Authorization: Apikey <key>``; keys starting with ``invalid`` are refused.
Uploads stream to disk while hashed; what was published is kept in the sandbox state.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from multipublish.sandbox.common import content_length, drain, iso, json_response, slow_down, state_of
from multipublish.sandbox.multipart import MultipartError, ParsedForm, read_form
from multipublish.sandbox.state import (
    UPLOAD_POST_PLATFORMS,
    Fault,
    SandboxState,
    new_id,
)
from multipublish.sandbox.wire import DropConnection

BOOLEAN_FIELDS = (
    "async_upload",
    "add_to_queue",
    "disable_comment",
    "disable_duet",
    "disable_stitch",
    "is_aigc",
    "brand_content_toggle",
    "brand_organic_toggle",
    "share_to_feed",
)
ENUM_FIELDS: dict[str, tuple[str, ...]] = {
    "privacy_level": (
        "PUBLIC_TO_EVERYONE",
        "MUTUAL_FOLLOW_FRIENDS",
        "FOLLOWER_OF_CREATOR",
        "SELF_ONLY",
    ),
    "post_mode": ("DIRECT_POST", "MEDIA_UPLOAD"),
    "media_type": ("REELS", "STORIES"),
    "facebook_media_type": ("REELS", "STORIES", "VIDEO"),
    "video_state": ("PUBLISHED", "DRAFT"),
    "visibility": ("PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"),
}
INTEGER_FIELDS = ("cover_timestamp", "thumb_offset")
COMMON_FIELDS = ("user", "platform[]", "title", "description", "video")
INVALID_TOKEN = {"success": False, "message": "Invalid or expired token"}
POST_URLS = {
    "tiktok": "https://www.tiktok.com/@{user}/video/{id}",
    "instagram": "https://www.instagram.com/reel/{id}/",
    "facebook": "https://www.facebook.com/{page}/videos/{id}/",
    "linkedin": "https://www.linkedin.com/feed/update/urn:li:share:{id}/",
    "youtube": "https://www.youtube.com/watch?v={id}",
}


#: Where the service takes each platform's text from. For TikTok and Instagram videos the caption
#: is ``<platform>_title``, falling back to ``title``, and ``description`` is ignored; it is used
#: "only on LinkedIn commentary, Facebook descriptions, YouTube descriptions, and Pinterest
#: notes" (docs.upload-post.com/api/upload-video). Kept apart from the client's catalogue on
#: purpose: the emulator is written from the service's documentation, not from our client.
CAPTION_FROM_TITLE = frozenset({"tiktok", "instagram"})


def published_text(platform: str, form: ParsedForm) -> dict[str, str]:
    """``title``, ``description`` and ``caption`` as the platform shows them."""
    title = form.get(f"{platform}_title") or form.get("title") or ""
    if platform in CAPTION_FROM_TITLE:
        return {"title": title, "description": "", "caption": title}
    description = form.get(f"{platform}_description") or form.get("description") or ""
    return {"title": title, "description": description, "caption": description}


#: A hashtag as the networks link it (written here from their pages, not imported from the client).
_HASHTAG = re.compile(r"(?<![\w&])#(\w+)")
#: Instagram: "Captions are limited to 2,200 characters, 30 hashtags, and 20 @ tags" (Graph API,
#: IG User Media); YouTube ignores every hashtag of a video with more than 60 (YouTube Help).
INSTAGRAM_MAX_HASHTAGS = 30
YOUTUBE_MAX_HASHTAGS = 60


def linked_hashtags(platform: str, caption: str) -> list[str]:
    """The hashtags ``platform`` links in ``caption`` (lower case, first spelling order)."""
    tags = list(dict.fromkeys(h.lower() for h in _HASHTAG.findall(caption)))
    if platform == "youtube" and len(tags) > YOUTUBE_MAX_HASHTAGS:
        return []
    return tags


def _caption_refusals(form: ParsedForm, platforms: list[str]) -> dict[str, tuple[str, str]]:
    """Posts the network itself refuses for their caption (Instagram over 30 hashtags)."""
    out: dict[str, tuple[str, str]] = {}
    if "instagram" in platforms:
        caption = published_text("instagram", form)["caption"]
        count = len(linked_hashtags("instagram", caption))
        if count > INSTAGRAM_MAX_HASHTAGS:
            out["instagram"] = (
                f"instagram refused the caption: {count} hashtags (at most {INSTAGRAM_MAX_HASHTAGS})",
                "validation_error",
            )
    return out


class BadRequest(Exception):
    """A 400 answer with its message."""


def _error(message: str, status: int = 400, headers: dict[str, str] | None = None) -> JSONResponse:
    return json_response({"success": False, "error": message, "message": message}, status, headers)


def _api_key(request: Request) -> str | None:
    """The API key of an ``Authorization: Apikey <key>`` header, or ``None`` when refused."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "apikey" or not key or key.startswith("invalid"):
        return None
    return key


async def _preamble(
    request: Request, *, limit: bool = True, body: bool = False
) -> tuple[SandboxState, str, dict[str, str]] | Response:
    """What every handler does first: the API key, then the key's rate window.

    Returns ``(state, key, rate headers)``, or the 401/429 answer to send instead. ``body``:
    the request has a body to read away first, so the early answer reaches the client.
    ``limit=False`` counts the request without refusing it (the read-only listings).
    """
    state = state_of(request)
    key = _api_key(request)
    if key is None:
        if body:
            await drain(request)
        return json_response(INVALID_TOKEN, 401)
    headers, over = _rate(state, key)
    if over and limit:
        if body:
            await drain(request)
        return json_response(
            {"success": False, "message": "Too many requests, please retry later."},
            429,
            {**headers, "Retry-After": headers["X-RateLimit-Reset"]},
        )
    return state, key, headers


def _rate(state: SandboxState, key: str) -> tuple[dict[str, str], bool]:
    """Count one request in the key's minute window; headers to send and whether it is over."""
    now = state.clock()
    limit = state.config.rate_limit_per_minute
    with state.lock:
        window = state.rate_windows.get(key)
        if window is None or now >= window[0] + 60:
            window = [math.floor(now), 0.0]
            state.rate_windows[key] = window
        window[1] += 1
        used = int(window[1])
        reset = int(window[0] + 60)
    headers = {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(0, limit - used)),
        "X-RateLimit-Reset": str(reset),
    }
    return headers, used > limit


def _month_start(ts: float) -> float:
    dt = datetime.fromtimestamp(ts, UTC)
    return datetime(dt.year, dt.month, 1, tzinfo=UTC).timestamp()


def _usage(state: SandboxState, user: str) -> dict[str, Any]:
    with state.lock:
        entry = _usage_entry(state, user)
        return {"count": int(entry[0]), "limit": state.config.plan_limit, "last_reset": iso(entry[1])}


def _usage_entry(state: SandboxState, user: str) -> list[float]:
    start = _month_start(state.clock())
    entry = state.usage.get(user)
    if entry is None or entry[1] < start:
        entry = [0.0, start]
        state.usage[user] = entry
    return entry


def _quota_body(state: SandboxState, user: str) -> dict[str, Any]:
    return {
        "success": False,
        "error_code": "quota_exceeded",
        "message": "Monthly upload limit reached for your plan. Upgrade to keep posting.",
        "usage": _usage(state, user),
    }


def _fault_response(
    state: SandboxState, fault: Fault, user: str, headers: dict[str, str]
) -> Response | None:
    """The answer of a fault that replaces the whole response, or ``None`` (not such a fault)."""
    if fault.fault == "http_500":
        return json_response(
            {"error": "Internal Server Error", "details": "sandbox fault http_500"}, 500
        )
    if fault.fault == "rate_limit":
        retry = str(max(1, math.ceil(fault.seconds)))
        return json_response(
            {"success": False, "message": "Too many requests, please retry later."},
            429,
            {**headers, "Retry-After": retry, "X-RateLimit-Remaining": "0"},
        )
    if fault.fault == "rate_limit_reset":
        # Only the reset time, no Retry-After: the client must wait for X-RateLimit-Reset.
        reset = str(math.ceil(state.clock() + fault.seconds))
        return json_response(
            {"success": False, "message": "Too many requests, please retry later."},
            429,
            {**headers, "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
        )
    if fault.fault == "hard_cap":
        # docs.upload-post.com/guides/limit-of-uploads: the network's cap per account, rolling 24 h.
        platform = fault.platform
        return json_response(
            {"success": False, "message": "Post verification failed",
             "violations": [{"platform": platform, "type": "hard_cap",
                             "message": f"Daily cap reached for {platform}: 15/15 in last 24h",
                             "used_last_24h": 15, "cap": 15}]},
            429,
            headers,
        )
    if fault.fault == "expired_token":
        return json_response(INVALID_TOKEN, 401)
    if fault.fault == "quota_exceeded":
        return json_response(_quota_body(state, user), 429, headers)
    return None


def _parse_bool(name: str, value: str) -> None:
    if value not in ("true", "false"):
        raise BadRequest(f"{name} must be 'true' or 'false', got {value!r}")


def _parse_schedule(form: ParsedForm, now: float) -> float | None:
    raw = form.get("scheduled_date")
    if not raw:
        return None
    tz_name = form.get("timezone") or "UTC"
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"timezone: unknown time zone {tz_name!r}") from None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"scheduled_date: not an ISO-8601 date: {raw!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    ts = when.timestamp()
    if ts <= now:
        raise BadRequest("scheduled_date must be in the future")
    if ts > now + timedelta(days=365).total_seconds():
        raise BadRequest("scheduled_date must be at most 365 days ahead")
    return ts


def _validate(form: ParsedForm, now: float) -> tuple[list[str], float | None]:
    """Check the form like the service does; the platforms and the scheduled time."""
    if not (form.get("user") or "").strip():
        raise BadRequest("user is required")
    platforms = form.get_all("platform[]") or form.get_all("platform")
    if not platforms:
        raise BadRequest("platform[] is required")
    for platform in platforms:
        if platform not in UPLOAD_POST_PLATFORMS:
            raise BadRequest(f"platform[]: unsupported platform {platform!r}")
    video_files = [f for f in form.files if f.name == "video"]
    video_url = form.get("video")
    if not video_files and not (video_url and video_url.startswith(("http://", "https://"))):
        raise BadRequest("video is required (a file part or an http(s) URL)")
    if "youtube" in platforms and not ((form.get("youtube_title") or form.get("title")) or ""):
        raise BadRequest("title is required for youtube")
    for name in BOOLEAN_FIELDS:
        value = form.get(name)
        if value is not None:
            _parse_bool(name, value)
    for name, allowed in ENUM_FIELDS.items():
        value = form.get(name)
        if value is not None and value not in allowed:
            raise BadRequest(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    for name in INTEGER_FIELDS:
        value = form.get(name)
        if value is not None and not (value.isdigit()):
            raise BadRequest(f"{name} must be a non-negative integer, got {value!r}")
    return platforms, _parse_schedule(form, now)


def _options(form: ParsedForm) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for name, values in form.fields.items():
        if name in COMMON_FIELDS:
            continue
        options[name] = values[0] if len(values) == 1 else list(values)
    return options


def _result(
    platform: str, user: str, form: ParsedForm, post_id: str, default_page: str = ""
) -> dict[str, Any]:
    page = form.get("facebook_page_id") or default_page
    url = POST_URLS[platform].format(user=user, id=post_id, page=page)
    result: dict[str, Any] = {"success": True, "post_url": url}
    if platform == "tiktok":
        result["publish_id"] = post_id
        result["status"] = "PUBLISH_COMPLETE"
    else:
        result["post_id"] = post_id
        result["status"] = "PUBLISHED"
    return result


async def upload(request: Request) -> Response:
    """``POST /api/upload``: multipart upload of one video to several platforms."""
    begun = await _preamble(request, body=True)
    if isinstance(begun, Response):
        return begun
    state, key, headers = begun

    request_id = request.headers.get("x-request-id") or ""
    idempotency_key = request.headers.get("idempotency-key") or ""
    if idempotency_key:
        with state.lock:
            known = state.idempotency.get((key, idempotency_key))
        if known is not None:  # the same request again: the first answer, nothing re-published
            await drain(request)
            return json_response(known[1], known[0], headers)
    upload_key = new_id("up_")
    declared = content_length(request)
    drop_at: list[int] = []  # bytes of the file after which to drop, once a fault is taken
    seen_platforms: list[str] = []

    def on_file_bytes(_name: str, size: int) -> None:
        if not drop_at:
            fault = state.take_fault(
                seen_platforms or UPLOAD_POST_PLATFORMS, "upload", ("drop_connection",)
            )
            drop_at.append(max(1, declared // 2) if fault is not None else -1)
        if drop_at[0] > 0 and size >= drop_at[0]:
            raise DropConnection

    form = ParsedForm()

    def file_path(name: str) -> Path | None:
        # Platforms named before the file part decide which drop fault applies.
        seen_platforms[:] = form.get_all("platform[]")
        return state.media_path(f"{upload_key}-{name}.bin")

    ctype = request.headers.get("content-type", "")
    try:
        if ctype.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
            # A video by URL with no file part: the official SDK posts such a form urlencoded
            # (requests' ``data=`` without ``files=``).
            await _read_urlencoded(request, form)
        else:
            await read_form(request.stream(), ctype, file_path, on_file_bytes, form)
    except MultipartError as exc:
        _discard(form)
        return _error(str(exc), 400, headers)
    except ClientDisconnect:
        _discard(form)
        raise DropConnection from None
    if drop_at and drop_at[0] > 0:
        raise DropConnection  # the whole file arrived before the drop point: drop now

    now = state.clock()
    try:
        platforms, scheduled = _validate(form, now)
    except BadRequest as exc:
        _discard(form)
        return _error(str(exc), 400, headers)
    user = form.get("user") or ""
    request_id = form.get("request_id") or request_id or new_id("req_")
    pages = state.config.facebook_pages
    if "facebook" in platforms and not form.get("facebook_page_id") and len(pages) != 1:
        # The service picks the only connected page; with several it lists them.
        _discard(form)
        return json_response(
            # No error_code: upload-post documents only the ``available_pages`` list here.
            {"success": False,
             "message": "Several Facebook pages are connected: send facebook_page_id",
             "available_pages": pages},
            400,
            headers,
        )
    profiles = state.config.profiles
    if profiles and user not in profiles:
        _discard(form)
        return json_response(
            {"success": False, "message": f"Profile {user!r} not found"},
            404,
            headers,
        )

    fault = state.take_fault(platforms, "upload")
    delay = 0.0
    lose = False
    rejected: str | None = None
    rejected_code = ""
    if fault is not None:
        answer = _fault_response(state, fault, user, headers)
        if answer is not None:
            _discard(form)
            return answer
        if fault.fault == "slow":
            delay = fault.seconds
        elif fault.fault == "lose_response":
            lose = True
        elif fault.fault == "reject":
            rejected = fault.platform
            rejected_code = fault.code
        elif fault.fault == "drop_connection":
            raise DropConnection

    with state.lock:
        entry = _usage_entry(state, user)
        if entry[0] >= state.config.plan_limit:
            quota = True
        else:
            quota = False
            entry[0] += 1
    if quota:
        _discard(form)
        return json_response(_quota_body(state, user), 429, headers)

    refusals = {**_caption_refusals(form, platforms), **_refusals(state, user, platforms)}
    later: dict[str, tuple[str, str]] = {}
    if rejected is not None:
        # A platform refuses a scheduled post only when it is published, at its time: the upload
        # is accepted (202 with job_id) and the job fails then (docs.upload-post.com/api/
        # upload-status: "use this to check the status after the scheduled time").
        (later if scheduled is not None else refusals).setdefault(
            rejected, (f"{rejected} rejected the post (sandbox fault)", rejected_code)
        )
    results = _record(state, form, platforms, user, request_id, scheduled, refusals, later)
    async_form = {"success": True, "request_id": request_id, "message": "Upload initiated"}
    code = 200
    if scheduled is not None:
        code = 202
        body: dict[str, Any] = {
            "success": True, "job_id": results["job_id"], "scheduled_date": iso(scheduled)
        }
    elif form.get("async_upload") == "true":
        body = async_form
    else:
        body = {
            "success": True,
            "request_id": request_id,
            "results": results["results"],
            "usage": _usage(state, user),
        }
    if idempotency_key:
        with state.lock:
            state.idempotency[(key, idempotency_key)] = (code, body)
    if delay:
        limit = state.config.sync_timeout
        if code == 200 and body is not async_form and delay > limit:
            # A synchronous request that runs past the limit is answered as an async one.
            await slow_down(limit)
            body = async_form
        else:
            await slow_down(delay)
    if lose:
        raise DropConnection
    return json_response(body, code, headers)


#: Bytes of a urlencoded upload form (text fields only) the emulator reads at most.
URLENCODED_LIMIT = 1 << 20


async def _read_urlencoded(request: Request, form: ParsedForm) -> None:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > URLENCODED_LIMIT:
            raise MultipartError("form too large")
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        form.fields.setdefault(name, []).append(value)


def _discard(form: ParsedForm) -> None:
    for part in form.files:
        if part.path is not None:
            part.path.unlink(missing_ok=True)


def _record(
    state: SandboxState,
    form: ParsedForm,
    platforms: list[str],
    user: str,
    request_id: str,
    scheduled: float | None,
    refusals: dict[str, tuple[str, str]],
    due_rejections: dict[str, tuple[str, str]],
) -> dict[str, Any]:
    """Store the request, its per-platform posts and (when scheduled) its job.

    ``due_rejections``: platforms that will refuse the scheduled post when its time comes.
    """
    now = state.clock()
    video = next((f for f in form.files if f.name == "video"), None)
    options = _options(form)
    job_id = new_id("job_") if scheduled is not None else None
    results: dict[str, dict[str, Any]] = {}
    posts: list[dict[str, Any]] = []
    for platform in platforms:
        post_id = new_id("", 9)
        if platform in refusals:
            message, code = refusals[platform]
            results[platform] = _refused(message, code)
            continue
        pages = state.config.facebook_pages
        only_page = pages[0]["page_id"] if len(pages) == 1 else ""
        results[platform] = _result(platform, user, form, post_id, only_page)
        posts.append(
            {
                "service": "upload-post",
                "platform": platform,
                "user": user,
                **(text := published_text(platform, form)),
                "hashtags": linked_hashtags(platform, text["caption"]),
                "options": options,
                "filename": video.filename if video else None,
                "video_url": None if video else form.get("video"),
                "size": video.size if video else None,
                "sha256": video.sha256 if video else None,
                "path": str(video.path) if video and video.path else None,
                "request_id": request_id,
                "job_id": job_id,
                "post_id": post_id,
                "video_id": post_id,
                "post_url": results[platform]["post_url"],
                "status": "scheduled" if scheduled is not None else "published",
                "scheduled_date": iso(scheduled) if scheduled is not None else None,
                "created": iso(now),
            }
        )
    record = {
        "request_id": request_id,
        "job_id": job_id,
        "user": user,
        "title": form.get("title") or "",
        "platforms": platforms,
        "results": results,
        "created": now,
        "scheduled_at": scheduled,
        "pending_polls": state.config.async_pending_polls
        if form.get("async_upload") == "true"
        else 0,
        "posts": posts,
        "due_rejections": due_rejections,
    }
    with state.lock:
        state.posts.extend(posts)
        state.requests[request_id] = record
        if job_id is not None:
            state.jobs[job_id] = record
    return record


def _refusals(state: SandboxState, user: str, platforms: list[str]) -> dict[str, tuple[str, str]]:
    """Platforms the profile cannot post to: not connected, or not in the plan."""
    out: dict[str, tuple[str, str]] = {}
    connected = state.config.profiles.get(user)
    for platform in platforms:
        if connected is not None and platform not in connected:
            # Per-platform failures carry only their words in upload-post's documented answers
            # (docs.upload-post.com/guides/error-handling: results[platform].error).
            out[platform] = (f"{platform} is not connected to profile {user!r}", "")
        elif platform == "tiktok" and state.config.plan == "free":
            out[platform] = ("TikTok posting needs a paid plan, it's not available on Free", "")
    return out


def _refused(message: str, code: str) -> dict[str, Any]:
    """A platform's failed result: its words, and its ``error_code`` when it has one.

    TikTok's cap of upload-post's daily active users comes as the error's text
    ``{"code":"reached_active_user_cap"}`` (docs.upload-post.com/guides/reached-active-user-cap-error).
    """
    if code == "reached_active_user_cap":
        return {"success": False, "error": json.dumps({"code": code})}
    result: dict[str, Any] = {"success": False, "error": message}
    if code:
        result["error_code"] = code
    return result


def _lagging(state: SandboxState, record: dict[str, Any]) -> bool:
    """Whether the status endpoint does not know this upload yet (``status_lag``)."""
    return bool(state.clock() - record["created"] < state.config.status_lag)


def _settle_due_jobs(state: SandboxState) -> None:
    """Scheduled jobs whose time came are published, or fail (looked at lazily, on every read).

    A platform may refuse a scheduled post only then: a ``reject`` fault taken by the upload, or
    one armed ``on="due"`` later, fails that platform's post at its scheduled time.
    """
    now = state.clock()
    with state.lock:
        for record in state.jobs.values():
            if record["scheduled_at"] is None or record["scheduled_at"] > now:
                continue
            record["scheduled_at"] = None
            refused: dict[str, tuple[str, str]] = dict(record.get("due_rejections") or {})
            fault = state.take_fault(record["platforms"], "due", ("reject",))
            if fault is not None:
                refused.setdefault(
                    fault.platform,
                    (f"{fault.platform} rejected the post at its scheduled time (sandbox fault)",
                     fault.code),
                )
            for post in record["posts"]:
                refusal = refused.get(post["platform"])
                if refusal is None:
                    post["status"] = "published"
                    continue
                post.update(status="failed", error=refusal[0], error_code=refusal[1] or None)
                record["results"][post["platform"]] = _refused(*refusal)


def _status_body(record: dict[str, Any], status: str, now: float) -> dict[str, Any]:
    done = status in ("completed", "failed")
    results = [
        {
            "platform": platform,
            "success": result["success"],
            "message": "Published" if result["success"] else result.get("error", ""),
            "upload_timestamp": iso(record["created"]),
            "post_url": result.get("post_url"),
            "platform_post_id": result.get("post_id") or result.get("publish_id"),
            **({"error_code": result["error_code"]} if result.get("error_code") else {}),
        }
        for platform, result in record["results"].items()
    ]
    return {
        "request_id": record["request_id"],
        "job_id": record["job_id"],
        "status": status,
        "completed": len(results) if done else 0,
        "total": len(record["platforms"]),
        "results": results if done else [],
        "last_update": iso(now),
    }


async def status(request: Request) -> Response:
    """``GET /api/uploadposts/status?request_id=|job_id=``."""
    begun = await _preamble(request)
    if isinstance(begun, Response):
        return begun
    state, _key, headers = begun
    request_id = request.query_params.get("request_id")
    job_id = request.query_params.get("job_id")
    if not request_id and not job_id:
        return json_response({"error": "request_id is required"}, 400, headers)
    fault = state.take_fault(UPLOAD_POST_PLATFORMS, "status")
    if fault is not None:
        answer = _fault_response(state, fault, "", headers)
        if answer is not None:
            return answer
        if fault.fault == "slow":
            await slow_down(fault.seconds)
        elif fault.fault in ("drop_connection", "lose_response"):
            raise DropConnection
    _settle_due_jobs(state)
    now = state.clock()
    with state.lock:
        record = state.jobs.get(job_id or "") if job_id else state.requests.get(request_id or "")
        if record is not None and _lagging(state, record):
            record = None  # accepted, but the status endpoint does not know it yet
        if record is None:
            ident = job_id or request_id
            return json_response(
                {"success": False, "status": "not_found", "request_id": ident,
                 "message": f"No upload found for {ident}"},
                404,
                headers,
            )
        if record["scheduled_at"] is not None:
            status_value = "queued"
        elif record["pending_polls"] > 0:
            record["pending_polls"] -= 1
            status_value = "in_progress"
        elif any(r["success"] for r in record["results"].values()):
            status_value = "completed"
        else:
            status_value = "failed"
        body = _status_body(record, status_value, now)
    return json_response(body, 200, headers)


async def me(request: Request) -> Response:
    """``GET /api/uploadposts/me``: checks a key."""
    begun = await _preamble(request, limit=False)
    if isinstance(begun, Response):
        return begun
    state, _key, headers = begun
    return json_response(
        {"success": True, "email": "sandbox@example.com", "plan": "sandbox",
         "limit": state.config.plan_limit},
        200,
        headers,
    )


async def history(request: Request) -> Response:
    """``GET /api/uploadposts/history?page=&limit=``: newest first, one entry per platform.

    Page size 10 unless asked (10, 20, 50 or 100): docs.upload-post.com/api/upload-history.
    """
    begun = await _preamble(request, limit=False)
    if isinstance(begun, Response):
        return begun
    state, _key, headers = begun
    page_raw = request.query_params.get("page", "1")
    limit_raw = request.query_params.get("limit", "10")
    if not page_raw.isdigit() or int(page_raw) < 1:
        return json_response({"error": "Invalid page"}, 400)
    if limit_raw not in ("10", "20", "50", "100"):
        return json_response({"error": "Invalid limit"}, 400)
    page, limit = int(page_raw), int(limit_raw)
    _settle_due_jobs(state)
    entries: list[dict[str, Any]] = []
    with state.lock:
        for record in reversed(list(state.requests.values())):
            if record["scheduled_at"] is not None or _lagging(state, record):
                continue
            for platform, result in record["results"].items():
                entries.append(
                    {
                        "platform": platform,
                        "media_type": "video",
                        "upload_timestamp": iso(record["created"]),
                        "success": result["success"],
                        "platform_post_id": result.get("post_id") or result.get("publish_id"),
                        "post_url": result.get("post_url"),
                        "error_message": result.get("error"),
                        "request_id": record["request_id"],
                        "job_id": record["job_id"],
                        "profile_username": record["user"],
                        "post_title": record["title"],
                        "post_caption": next(
                            (p["caption"] for p in record["posts"] if p["platform"] == platform),
                            None,
                        ),
                    }
                )
    start = (page - 1) * limit
    return json_response(
        {"history": entries[start : start + limit], "total": len(entries), "page": page,
         "limit": limit},
        200,
        headers,
    )


async def list_schedule(request: Request) -> Response:
    """``GET /api/uploadposts/schedule``: the jobs still waiting."""
    begun = await _preamble(request, limit=False)
    if isinstance(begun, Response):
        return begun
    state, _key, headers = begun
    _settle_due_jobs(state)
    with state.lock:
        jobs = [
            {
                "job_id": job_id,
                "scheduled_date": iso(record["scheduled_at"]),
                "post_type": "video",
                "profile_username": record["user"],
                "title": record["title"],
                "preview_url": None,
                "platforms": record["platforms"],
            }
            for job_id, record in state.jobs.items()
            if record["scheduled_at"] is not None
        ]
    return json_response(jobs, 200, headers)


async def cancel_schedule(request: Request) -> Response:
    """``DELETE /api/uploadposts/schedule/{job_id}``."""
    begun = await _preamble(request, limit=False)
    if isinstance(begun, Response):
        return begun
    state, _key, headers = begun
    job_id = request.path_params["job_id"]
    _settle_due_jobs(state)
    with state.lock:
        record = state.jobs.get(job_id)
        if record is None or record["scheduled_at"] is None:
            return json_response(
                {"success": False, "message": f"Scheduled job {job_id} not found"}, 404, headers
            )
        del state.jobs[job_id]
        state.requests.pop(record["request_id"], None)
        for post in record["posts"]:
            post["status"] = "cancelled"
    return json_response({"success": True, "message": f"Job {job_id} cancelled"}, 200, headers)


async def edit_schedule(request: Request) -> Response:
    """``PATCH /api/uploadposts/schedule/{job_id}``: move a scheduled post (``scheduled_date``,
    ``timezone``; the official SDK's ``edit_scheduled``)."""
    begun = await _preamble(request, limit=False)
    if isinstance(begun, Response):
        return begun
    state, _key, headers = begun
    job_id = request.path_params["job_id"]
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return _error("body must be JSON", 400, headers)
    if not isinstance(body, dict) or not body.get("scheduled_date"):
        return _error("scheduled_date is required", 400, headers)
    form = ParsedForm()
    form.fields["scheduled_date"] = [str(body["scheduled_date"])]
    if body.get("timezone"):
        form.fields["timezone"] = [str(body["timezone"])]
    try:
        when = _parse_schedule(form, state.clock())
    except BadRequest as exc:
        return _error(str(exc), 400, headers)
    _settle_due_jobs(state)
    with state.lock:
        record = state.jobs.get(job_id)
        if record is None or record["scheduled_at"] is None:
            return json_response(
                {"success": False, "message": f"Scheduled job {job_id} not found"}, 404, headers
            )
        record["scheduled_at"] = when
        for post in record["posts"]:
            post["scheduled_date"] = iso(when) if when is not None else None
    return json_response(
        {"success": True, "job_id": job_id, "scheduled_date": iso(when) if when else None},
        200,
        headers,
    )


async def users(request: Request) -> Response:
    """``GET /api/uploadposts/users``: the profiles of the key and the accounts connected to each.

    Shape of docs.upload-post.com/api/user-profiles: ``{"success", "plan", "limit",
    "profiles": [{"username", "created_at", "social_accounts": {platform: {...} or ""}}]}``.
    """
    begun = await _preamble(request, limit=False)
    if isinstance(begun, Response):
        return begun
    state, _key, headers = begun
    with state.lock:
        profiles = [
            {
                "username": name,
                "created_at": iso(0),
                "social_accounts": {
                    platform: (
                        {"display_name": name, "username": name}
                        if platform in connected
                        else ""
                    )
                    for platform in ("tiktok", "instagram", "facebook", "linkedin", "youtube")
                },
            }
            for name, connected in state.config.profiles.items()
        ]
        body = {
            "success": True,
            "plan": state.config.plan,
            "limit": state.config.plan_limit,
            "profiles": profiles,
        }
    return json_response(body, 200, headers)


async def facebook_pages(request: Request) -> Response:
    """``GET /api/uploadposts/facebook/pages[?profile=]``: the pages an upload may go to."""
    begun = await _preamble(request, limit=False)
    if isinstance(begun, Response):
        return begun
    state, _key, headers = begun
    with state.lock:
        pages = [dict(p) for p in state.config.facebook_pages]
    return json_response({"success": True, "pages": pages}, 200, headers)


routes = [
    Route("/api/upload", upload, methods=["POST"]),
    Route("/api/uploadposts/me", me, methods=["GET"]),
    Route("/api/uploadposts/users", users, methods=["GET"]),
    Route("/api/uploadposts/facebook/pages", facebook_pages, methods=["GET"]),
    Route("/api/uploadposts/status", status, methods=["GET"]),
    Route("/api/uploadposts/history", history, methods=["GET"]),
    Route("/api/uploadposts/schedule", list_schedule, methods=["GET"]),
    Route("/api/uploadposts/schedule/{job_id}", cancel_schedule, methods=["DELETE"]),
    Route("/api/uploadposts/schedule/{job_id}", edit_schedule, methods=["PATCH"]),
]
