"""Emulator of the YouTube Data API v3 (resumable uploads included) and Google's OAuth endpoints.

Written from the protocol notes only: a resumable session starts with exactly 200 and a
``Location``; chunks answer 308 with ``Range`` until the last one answers 200 with the video;
``bytes */TOTAL`` asks where to resume; a chunk sent twice is accepted. Access tokens are the ones
``POST /token`` issued (or any, when the sandbox config says so).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import unquote_plus, urlencode

from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from multipublish.sandbox.common import content_length, iso, json_response, slow_down, state_of
from multipublish.sandbox.state import Fault, HashingSink, SandboxState, YouTubeSession, new_id
from multipublish.sandbox.wire import DropConnection

CHUNK_GRANULARITY = 256 * 1024
#: Assignable video categories (US region).
CATEGORY_IDS = frozenset(
    {"1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28", "29"}
)
PRIVACY = ("private", "unlisted", "public")
#: thumbnails.set: "Maximum file size: 2MB. Accepted Media MIME types: image/jpeg, image/png,
#: application/octet-stream" (developers.google.com/youtube/v3/docs/thumbnails/set). The discovery
#: document's ``maxSize`` says 50 MB; the reference page's 2 MB is the limit thumbnails have.
MAX_THUMBNAIL = 2 * 1024 * 1024
THUMBNAIL_TYPES = ("image/jpeg", "image/png", "application/octet-stream")
#: videos.insert is charged 1 call to its own bucket, not units; the rest in units
#: (developers.google.com/youtube/v3/determine_quota_cost).
COST_THUMBNAIL, COST_PLAYLIST, COST_READ = 50, 50, 1
SCOPE = "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube"
_S = TypeVar("_S")
_RANGE = re.compile(r"^bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)$")


def yt_error(
    code: int,
    reason: str,
    message: str,
    domain: str = "youtube.video",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """A Google API error body: ``{"error": {"code", "message", "errors": [...]}}``."""
    error: dict[str, Any] = {
        "code": code,
        "message": message,
        "errors": [{"message": message, "domain": domain, "reason": reason}],
        **extra,
    }
    return json_response({"error": error}, code, headers)


def _auth_error() -> Response:
    return yt_error(
        401,
        "authError",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
        "cookie or other valid authentication credential.",
        domain="global",
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
        status="UNAUTHENTICATED",
    )


def _quota_error() -> Response:
    return yt_error(
        403,
        "quotaExceeded",
        "The request cannot be completed because you have exceeded your "
        '<a href="/youtube/v3/getting-started#quota">quota</a>.',
        domain="youtube.quota",
    )


def _channel_for(secret: str) -> str:
    """A stable channel id for an account (derived from its refresh token)."""
    return "UC" + hashlib.sha256(secret.encode()).hexdigest()[:22]


def _authorize(request: Request) -> str | None:
    """The channel id of a valid Bearer token, or ``None``."""
    state = state_of(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    with state.lock:
        expiry = state.access_tokens.get(token)
        channel = state.token_channels.get(token)
        accept_any = state.config.accept_any_token
    if expiry is not None and expiry > state.clock() and channel is not None:
        return channel
    if accept_any and expiry is None:
        return _channel_for(token)
    return None


#: Scopes that cover thumbnails.set, playlistItems.insert and videos.list (each method's
#: Authorization section in the Data API reference); ``youtube.upload`` covers only videos.insert.
MANAGE_SCOPES = (
    "https://www.googleapis.com/auth/youtube",
    "https://www.googleapis.com/auth/youtube.force-ssl",
)


def _may_manage(request: Request) -> bool:
    """Whether the Bearer token was granted a scope beyond uploading."""
    state = state_of(request)
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    with state.lock:
        scope = state.token_scopes.get(token)
    return scope is None or any(s in MANAGE_SCOPES for s in scope.split())


def _insufficient_scope() -> Response:
    return yt_error(
        403,
        "insufficientPermissions",
        "Request had insufficient authentication scopes.",
        domain="global",
    )


def _spend_insert(state: SandboxState) -> bool:
    """Charge one call to the videos.insert bucket; ``False`` when the day's calls are used up."""
    with state.lock:
        if state.youtube_inserts_used + 1 > state.config.youtube_insert_calls:
            return False
        state.youtube_inserts_used += 1
        return True


def _spend(state: SandboxState, units: int) -> bool:
    """Charge quota units; ``False`` when the day's quota would be exceeded."""
    with state.lock:
        if state.youtube_quota_used + units > state.config.youtube_quota:
            return False
        state.youtube_quota_used += units
        return True


def _fault_answer(fault: Fault) -> Response | None:
    """The answer of a fault that replaces the response, or ``None``."""
    if fault.fault == "http_500":
        return yt_error(500, "backendError", "Backend Error", domain="global")
    if fault.fault == "rate_limit":
        seconds = str(max(1, int(fault.seconds)))
        return yt_error(
            429, "rateLimitExceeded", "The request was rate limited.", domain="youtube.quota",
            headers={"Retry-After": seconds},
        )
    if fault.fault == "expired_token":
        return _auth_error()
    if fault.fault == "quota_exceeded":
        return _quota_error()
    if fault.fault == "reject":
        return yt_error(403, "forbidden", "The request is not properly authorized.")
    return None


async def _apply_fault(state: SandboxState, target: str) -> tuple[Response | None, Fault | None]:
    """Take a YouTube fault for ``target``: its answer, or the fault left for the caller."""
    fault = state.take_fault(("youtube",), target)
    if fault is None:
        return None, None
    answer = _fault_answer(fault)
    if answer is not None:
        return answer, None
    if fault.fault == "slow":
        await slow_down(fault.seconds)
        return None, None
    return None, fault


async def _admit(request: Request, target: str) -> str | Response:
    """The preamble of a metadata call: the token's channel, or the answer that ends the call.

    Checks the Bearer token, then takes a fault armed for ``target`` (a fault with no answer of its
    own drops the connection).
    """
    channel = _authorize(request)
    if channel is None:
        return _auth_error()
    answer, fault = await _apply_fault(state_of(request), target)
    if answer is not None:
        return answer
    if fault is not None:
        raise DropConnection
    return channel


def _validate_metadata(body: Any) -> Response | None:
    """Refuse metadata the way the service does (400 with its reason)."""
    if not isinstance(body, dict):
        return yt_error(400, "parseError", "Parse Error", domain="global")
    snippet = body.get("snippet") or {}
    status = body.get("status") or {}
    if not isinstance(snippet, dict) or not isinstance(status, dict):
        return yt_error(400, "parseError", "Parse Error", domain="global")
    title = snippet.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 100 or re.search(
        "[<>]", title
    ):
        return yt_error(
            400, "invalidTitle", "The request metadata specifies an invalid or empty video title."
        )
    description = snippet.get("description", "")
    if not isinstance(description, str) or len(description.encode()) > 5000 or re.search(
        "[<>]", description
    ):
        return yt_error(
            400, "invalidDescription", "The request metadata specifies an invalid video description."
        )
    category = snippet.get("categoryId")
    if category is not None and str(category) not in CATEGORY_IDS:
        return yt_error(
            400, "invalidCategoryId", "The <code>snippet.categoryId</code> property specifies an "
            "invalid category ID."
        )
    tags = snippet.get("tags")
    if tags is not None:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            return yt_error(400, "invalidTags", "The request metadata specifies invalid video keywords.")
        # A tag with a space counts with its quotes; tags are joined by commas.
        length = sum(len(t) + (2 if " " in t else 0) for t in tags) + max(0, len(tags) - 1)
        if length > 500 or any(re.search("[<>]", t) for t in tags):
            return yt_error(
                400, "invalidTags", "The request metadata specifies invalid video keywords."
            )
    privacy = status.get("privacyStatus", "public")
    if privacy not in PRIVACY:
        return yt_error(400, "invalidPrivacyStatus", f"Invalid privacy status {privacy!r}.")
    publish_at = status.get("publishAt")
    if publish_at is not None:
        bad = yt_error(
            400, "invalidPublishAt", "The request metadata specifies an invalid scheduled "
            "publishing time."
        )
        if privacy != "private" or not isinstance(publish_at, str):
            return bad
        try:
            when = datetime.fromisoformat(publish_at.replace("Z", "+00:00"))
        except ValueError:
            return bad
        if when.tzinfo is None:
            return bad
        body["_publish_ts"] = when.timestamp()
    return None


def _validate_localizations(metadata: dict[str, Any]) -> Response | None:
    """``localizations`` need ``snippet.defaultLanguage`` (``defaultLanguageNotSet``); each entry
    is a title/description pair within the snippet's limits."""
    localized = metadata.get("localizations")
    if localized is None:
        return None
    snippet = metadata.get("snippet") or {}
    if not isinstance(localized, dict) or not all(isinstance(v, dict) for v in localized.values()):
        return yt_error(400, "parseError", "Parse Error", domain="global")
    if not snippet.get("defaultLanguage"):
        return yt_error(400, "defaultLanguageNotSet", "The request is trying to add localized video "
                        "details without specifying the default language of the video details.")
    for lang, entry in localized.items():
        title = entry.get("title", "")
        if not re.fullmatch(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*", lang) or not isinstance(title, str) \
                or len(title) > 100 or re.search("[<>]", title):
            return yt_error(400, "invalidVideoMetadata", "The request metadata is invalid.")
    return None


async def start_upload(request: Request) -> Response:
    """``POST /upload/youtube/v3/videos?uploadType=resumable|multipart&part=...``.

    Resumable opens a session; multipart (metadata and the whole file in one
    ``multipart/related`` body, what google-api-python-client sends for ``resumable=False``)
    makes the video at once.
    """
    state = state_of(request)
    channel = _authorize(request)
    if channel is None:
        return _auth_error()
    upload_type = request.query_params.get("uploadType")
    if upload_type not in ("resumable", "multipart"):
        return yt_error(400, "invalidUploadType", "uploadType must be resumable or multipart.",
                        domain="global")
    part = request.query_params.get("part", "")
    if not part:
        return yt_error(400, "required", "Required parameter: part", domain="global")
    answer, fault = await _apply_fault(state, "insert")
    if answer is not None:
        return answer
    if fault is not None:
        raise DropConnection
    media: tuple[str, bytes] | None = None
    try:
        if upload_type == "multipart":
            related = _related_parts(request.headers.get("content-type", ""), await request.body())
            if related is None:
                return yt_error(400, "badContent", "Expected a multipart/related body with the "
                                "metadata and the media.", domain="global")
            raw_metadata, media = related
            metadata = json.loads(raw_metadata or b"{}")
        else:
            metadata = json.loads(await request.body() or b"{}")
    except ValueError:
        return yt_error(400, "parseError", "Parse Error", domain="global")
    invalid = _validate_metadata(metadata)
    if invalid is not None:
        return invalid
    if "localizations" not in {p.strip() for p in part.split(",")}:
        metadata.pop("localizations", None)  # properties of parts not named are ignored
    invalid = _validate_localizations(metadata)
    if invalid is not None:
        return invalid
    publish_ts = metadata.pop("_publish_ts", None)
    if publish_ts is not None and publish_ts <= state.clock():
        return yt_error(
            400, "invalidPublishAt", "The scheduled publishing time must be in the future."
        )
    total_raw = request.headers.get("x-upload-content-length")
    if total_raw is not None and not total_raw.isdigit():
        return yt_error(400, "badContent", "X-Upload-Content-Length must be an integer.",
                        domain="global")
    with state.lock:
        uploaded = sum(1 for s in state.sessions.values() if s.channel == channel)
        limit = state.config.youtube_upload_limit
    if uploaded >= limit:
        return yt_error(400, "uploadLimitExceeded", "The user has exceeded the number of videos "
                        "they may upload.")
    if not _spend_insert(state):
        return _quota_error()
    session_id = new_id("sb-", 16)
    session = YouTubeSession(
        id=session_id,
        channel=channel,
        metadata=metadata,
        parts=[p.strip() for p in part.split(",") if p.strip()],
        total=int(total_raw) if total_raw is not None else None,
        content_type=request.headers.get("x-upload-content-type", "application/octet-stream"),
        sink=HashingSink(state.media_path(f"{session_id}.bin")),
        created=state.clock(),
    )
    with state.lock:
        state.sessions[session_id] = session
    if media is not None:
        session.content_type, body = media
        session.total = len(body)
        session.sink.write(body)
        return _done(state, session)
    query = urlencode({"part": part, "uploadType": "resumable", "upload_id": session_id})
    base = str(request.base_url).rstrip("/")
    location = f"{base}/upload/youtube/v3/videos?{query}"
    return Response(
        status_code=200,
        headers={"Location": location, "X-GUploader-UploadID": session_id, "Content-Length": "0"},
    )


def _related_parts(content_type: str, body: bytes) -> tuple[bytes, tuple[str, bytes]] | None:
    """``(metadata JSON, (media type, media bytes))`` of a ``multipart/related`` body."""
    from email.parser import BytesParser
    from email.policy import HTTP as HTTP_POLICY

    if not content_type.lower().startswith("multipart/related"):
        return None
    message = BytesParser(policy=HTTP_POLICY).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    parts = [p for p in message.iter_parts()] if message.is_multipart() else []
    if len(parts) != 2:
        return None
    meta = parts[0].get_payload(decode=True)
    data = parts[1].get_payload(decode=True)
    if not isinstance(meta, bytes) or not isinstance(data, bytes):
        return None
    return meta, (parts[1].get_content_type(), data)


def _range_headers(received: int) -> dict[str, str]:
    headers = {"Content-Length": "0"}
    if received > 0:
        headers["Range"] = f"bytes=0-{received - 1}"
    return headers


def _video_resource(state: SandboxState, video_id: str) -> dict[str, Any]:
    with state.lock:
        copy: dict[str, Any] = json.loads(json.dumps(state.videos[video_id]))
    return copy


#: "Unverified accounts can upload videos up to 15 minutes long" (support.google.com/youtube/answer/71673).
LONG_UPLOAD_SECONDS = 15 * 60


def _too_long(state: SandboxState, session: YouTubeSession) -> bool:
    """Whether YouTube rejects this upload for its length: over 15 minutes on a channel whose
    ``longUploadsStatus`` is not ``allowed``. Google accepts the bytes and rejects the video in
    processing, ``status.uploadStatus: rejected`` with ``rejectionReason: length`` ("Video
    duration was too long", developers.google.com/youtube/v3/docs/videos#status.rejectionReason),
    so a client that skipped its own check sees a failed publish, as it would in production."""
    config = state.config
    if config.youtube_long_uploads.get(session.channel, config.youtube_long_uploads_default) == "allowed":
        return False
    path = session.sink.path
    if path is None or not path.exists():
        return False
    from multipublish.errors import MediaError
    from multipublish.media.probe import probe

    try:
        return probe(path).duration > LONG_UPLOAD_SECONDS
    except MediaError:
        return False  # not a video the sandbox can read: its processing outcome decides


def _finish(state: SandboxState, session: YouTubeSession) -> str:
    """Turn a complete session into a video (once) and record the post."""
    with state.lock:
        if session.video_id is not None:
            return session.video_id
        session.sink.close()
    too_long = _too_long(state, session)  # probed outside the lock (reads the file)
    with state.lock:
        if session.video_id is not None:
            return session.video_id
        video_id = new_id("", 6)[:11]
        snippet = dict(session.metadata.get("snippet") or {})
        status = dict(session.metadata.get("status") or {})
        now = state.clock()
        publish_at = status.get("publishAt")
        asked_privacy = status.get("privacyStatus", "public")
        privacy = "private" if state.config.youtube_unaudited else asked_privacy
        resource: dict[str, Any] = {
            "kind": "youtube#video",
            "etag": new_id("", 12),
            "id": video_id,
            "snippet": {
                "publishedAt": iso(now),
                "channelId": session.channel,
                "title": snippet.get("title", ""),
                "description": snippet.get("description", ""),
                "thumbnails": {},
                "channelTitle": f"Sandbox channel {session.channel[-6:]}",
                "tags": snippet.get("tags", []),
                "categoryId": str(snippet.get("categoryId", "22")),
                "liveBroadcastContent": "none",
                "localized": {
                    "title": snippet.get("title", ""),
                    "description": snippet.get("description", ""),
                },
            },
            "status": {
                "uploadStatus": "uploaded",
                "privacyStatus": privacy,
                "license": status.get("license", "youtube"),
                "embeddable": status.get("embeddable", True),
                "publicStatsViewable": status.get("publicStatsViewable", True),
                "selfDeclaredMadeForKids": status.get("selfDeclaredMadeForKids", False),
                **({"publishAt": publish_at} if publish_at else {}),
            },
            "processingDetails": {"processingStatus": "processing"},
        }
        if session.metadata.get("localizations"):
            resource["snippet"]["defaultLanguage"] = snippet.get("defaultLanguage")
            resource["localizations"] = dict(session.metadata["localizations"])
        state.videos[video_id] = resource
        state.youtube_processing[video_id] = state.config.youtube_processing_polls
        if too_long:
            state.youtube_rejections[video_id] = "length"
        session.video_id = video_id
        state.posts.append(
            {
                "service": "youtube",
                "platform": "youtube",
                "user": session.channel,
                "channel": session.channel,
                "title": resource["snippet"]["title"],
                "description": resource["snippet"]["description"],
                "options": {
                    "categoryId": resource["snippet"]["categoryId"],
                    "tags": resource["snippet"]["tags"],
                    "privacyStatus": resource["status"]["privacyStatus"],
                    "requestedPrivacyStatus": asked_privacy,
                    "publishAt": publish_at,
                    "selfDeclaredMadeForKids": resource["status"]["selfDeclaredMadeForKids"],
                    "part": session.parts,
                },
                "metadata": session.metadata,
                "content_type": session.content_type,
                "size": session.sink.size,
                "sha256": session.sink.hexdigest(),
                "path": str(session.sink.path) if session.sink.path else None,
                "request_id": session.id,
                "job_id": None,
                "post_id": video_id,
                "video_id": video_id,
                "post_url": f"https://www.youtube.com/watch?v={video_id}",
                "status": "scheduled" if publish_at else "published",
                "scheduled_date": publish_at,
                "created": iso(now),
                "thumbnail": None,
                "playlists": [],
            }
        )
        return video_id


def _done(state: SandboxState, session: YouTubeSession) -> Response:
    video = _video_resource(state, _finish(state, session))
    return json_response({k: v for k, v in video.items() if k in ("kind", "etag", "id")
                          or k in session.parts})


def _session_of(request: Request, sessions: dict[str, _S]) -> _S | Response:
    """The upload session a ``PUT`` names (``upload_id``), or its 404."""
    with state_of(request).lock:
        session = sessions.get(request.query_params.get("upload_id", ""))
    if session is None:
        return yt_error(404, "notFound", "The upload session was not found.", domain="global")
    return session


def _content_range(request: Request) -> tuple[int, tuple[str | None, str | None, str]] | Response:
    """``(Content-Length, (start, end, total))`` of a session ``PUT`` (start/end ``None``: a status
    query), or the answer to a malformed ``Content-Range``."""
    length = content_length(request)
    content_range = request.headers.get("content-range")
    if content_range is None:
        content_range = f"bytes 0-{length - 1}/{length}" if length else "bytes */*"
    match = _RANGE.match(content_range.strip())
    if match is None:
        return yt_error(400, "badContent", f"Invalid Content-Range {content_range!r}.",
                        domain="global")
    start, end, total = match.groups()
    return length, (start, end, str(total))


async def put_chunk(request: Request) -> Response:
    """``PUT <session URI>``: a chunk (``bytes S-E/T``) or a status query (``bytes */T``)."""
    state = state_of(request)
    session = _session_of(request, state.sessions)
    if isinstance(session, Response):
        return session
    parsed = _content_range(request)
    if isinstance(parsed, Response):
        return parsed
    length, (start_s, end_s, total_s) = parsed
    total = None if total_s == "*" else int(total_s)
    if total is not None:
        if session.total is not None and session.total != total:
            return yt_error(400, "badContent", "Content-Range total does not match the session.",
                            domain="global")
        session.total = total
    if session.video_id is not None:
        return _done(state, session)
    if start_s is None:  # a status query
        answer, fault = await _apply_fault(state, "query")
        if answer is not None:
            return answer
        if fault is not None:
            raise DropConnection
        if session.total is not None and session.sink.size >= session.total:
            return _done(state, session)
        return Response(status_code=308, headers=_range_headers(session.sink.size))
    start, end = int(start_s), int(end_s or 0)  # the pattern gives both or neither
    if end < start or length != end - start + 1:
        return yt_error(400, "badContent", "Content-Length does not match Content-Range.",
                        domain="global")
    if session.total is not None and end >= session.total:
        return yt_error(400, "badContent", "Content-Range ends past the total size.",
                        domain="global")
    final = session.total is not None and end + 1 == session.total
    if not final and length % CHUNK_GRANULARITY:
        return yt_error(
            400, "badContent", f"A chunk other than the last must be a multiple of "
            f"{CHUNK_GRANULARITY} bytes.", domain="global"
        )
    received = session.sink.size
    if start > received:
        return yt_error(400, "badContent", f"The chunk starts at {start} but only {received} "
                        "bytes were received.", domain="global")
    answer, fault = await _apply_fault(state, "final_chunk" if final else "chunk")
    if answer is not None:
        return answer
    drop_after = max(1, length // 2) if fault and fault.fault == "drop_connection" else None
    position = start
    seen = 0
    try:
        async for data in request.stream():
            if not data:
                continue
            seen += len(data)
            chunk_end = position + len(data)
            with state.lock:
                have = session.sink.size
                if chunk_end > have:  # skip what a repeated chunk re-sends
                    session.sink.write(memoryview(data)[max(0, have - position):])
            position = chunk_end
            if drop_after is not None and seen >= drop_after:
                session.sink.flush()
                raise DropConnection
    except ClientDisconnect:
        session.sink.flush()
        raise DropConnection from None
    session.sink.flush()
    if final and session.sink.size >= (session.total or 0):
        response = _done(state, session)
    else:
        response = Response(status_code=308, headers=_range_headers(session.sink.size))
    if fault is not None:  # lose_response: the bytes are kept, the answer never arrives
        raise DropConnection
    return response


def _image_kind(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


def _bare_type(value: str) -> str:
    return value.split(";")[0].strip().lower()


def _unsupported_type(media_type: str) -> Response:
    return yt_error(
        400,
        "badContent",
        f"Media type '{media_type or '(none)'}' is not supported. Valid media types: "
        f"[{', '.join(THUMBNAIL_TYPES)}]",
        domain="global",
    )


def _too_large(size: int) -> Response:
    return yt_error(
        400, "mediaBodyTooLarge", f"The thumbnail is {size} bytes; thumbnails.set takes at most 2 MB."
    )


def _thumbnail_target(state: SandboxState, video_id: str, channel: str) -> Response | None:
    """Why the thumbnail of ``video_id`` may not be set by ``channel`` (``None``: it may)."""
    if not video_id:
        return yt_error(400, "required", "Required parameter: videoId", domain="global")
    with state.lock:
        video = state.videos.get(video_id)
        owner = video["snippet"]["channelId"] if video is not None else None
    if video is None:
        return yt_error(404, "videoNotFound", f"The video {video_id!r} was not found.")
    if owner != channel:
        return yt_error(403, "forbidden", "The video belongs to another channel.")
    return None


async def _read_at_most(request: Request, limit: int) -> bytes | None:
    """The request body, or ``None`` as soon as it grows past ``limit`` bytes."""
    body = bytearray()
    async for data in request.stream():
        body += data
        if len(body) > limit:
            return None
    return bytes(body)


def _apply_thumbnail(state: SandboxState, channel: str, video_id: str, data: bytes) -> Response:
    """Check a whole received image and make it the video's thumbnail (50 units)."""
    if not data:
        return yt_error(400, "mediaBodyRequired", "The request does not include the image content.")
    if len(data) > MAX_THUMBNAIL:
        return _too_large(len(data))
    kind = _image_kind(data[:8])
    if kind is None:
        return yt_error(400, "invalidImage", "The provided image content is invalid.")
    refused = _thumbnail_target(state, video_id, channel)
    if refused is not None:
        return refused
    if not _spend(state, COST_THUMBNAIL):
        return _quota_error()
    url = f"https://i.ytimg.com/vi/{video_id}/default.jpg"
    sizes = {"default": (120, 90), "medium": (320, 180), "high": (480, 360)}
    items = {name: {"url": url.replace("default", name), "width": w, "height": h}
             for name, (w, h) in sizes.items()}
    with state.lock:
        state.thumbnails[video_id] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                                      "content_type": kind}
        digest = state.thumbnails[video_id]["sha256"]
        state.thumbnail_history.setdefault(video_id, []).append((state.clock(), digest))
        state.videos[video_id]["snippet"]["thumbnails"] = items
        for post in state.posts:
            if post.get("video_id") == video_id and post["platform"] == "youtube":
                post["thumbnail"] = state.thumbnails[video_id]
    return json_response(
        {"kind": "youtube#thumbnailSetResponse", "etag": new_id("", 12), "items": [items]}
    )


async def set_thumbnail(request: Request) -> Response:
    """``POST /upload/youtube/v3/thumbnails/set?videoId=&uploadType=media|multipart|resumable``.

    thumbnails.set "supports media upload" (developers.google.com/youtube/v3/docs/thumbnails/set):
    ``media`` sends the image as the body, ``multipart`` an empty metadata part and the image,
    ``resumable`` opens a session (``X-Upload-Content-Type``, ``X-Upload-Content-Length``) that the
    image is then ``PUT`` to, as for videos. The type must be JPEG, PNG or octet-stream and the
    image at most 2 MB; a size announced over it is refused before any byte is sent.
    """
    state = state_of(request)
    channel = await _admit(request, "thumbnail")
    if isinstance(channel, Response):
        return channel
    if not _may_manage(request):
        return _insufficient_scope()
    upload_type = request.query_params.get("uploadType")
    if upload_type not in ("media", "multipart", "resumable"):
        return yt_error(400, "invalidUploadType", "uploadType must be media, multipart or resumable.",
                        domain="global")
    video_id = request.query_params.get("videoId", "")
    refused = _thumbnail_target(state, video_id, channel)
    if refused is not None:
        return refused
    if upload_type == "resumable":
        media_type = _bare_type(request.headers.get("x-upload-content-type", ""))
        if media_type not in THUMBNAIL_TYPES:
            return _unsupported_type(media_type)
        total_raw = request.headers.get("x-upload-content-length")
        if total_raw is not None and not total_raw.isdigit():
            return yt_error(400, "badContent", "X-Upload-Content-Length must be an integer.",
                            domain="global")
        if total_raw is not None and int(total_raw) > MAX_THUMBNAIL:
            return _too_large(int(total_raw))
        await request.body()
        session_id = new_id("th-", 16)
        with state.lock:
            state.thumbnail_sessions[session_id] = {
                "channel": channel, "video_id": video_id, "content_type": media_type,
                "total": int(total_raw) if total_raw is not None else None, "data": bytearray(),
                "answer": None,
            }
        query = urlencode({"videoId": video_id, "uploadType": "resumable", "upload_id": session_id})
        location = f"{str(request.base_url).rstrip('/')}/upload/youtube/v3/thumbnails/set?{query}"
        return Response(status_code=200, headers={"Location": location, "X-GUploader-UploadID": session_id,
                                                  "Content-Length": "0"})
    body = await _read_at_most(request, MAX_THUMBNAIL + 64 * 1024)
    if body is None:
        return _too_large(content_length(request) or MAX_THUMBNAIL + 1)
    if upload_type == "multipart":
        related = _related_parts(request.headers.get("content-type", ""), body)
        if related is None:
            return yt_error(400, "badContent", "Expected a multipart/related body with the metadata "
                            "and the media.", domain="global")
        media_type, data = related[1][0], related[1][1]
    else:
        media_type, data = _bare_type(request.headers.get("content-type", "")), body
    if media_type not in THUMBNAIL_TYPES:
        return _unsupported_type(media_type)
    return _apply_thumbnail(state, channel, video_id, data)


async def put_thumbnail(request: Request) -> Response:
    """``PUT <thumbnail session URI>``: the image (``bytes S-E/T``) or a status query (``bytes */T``)."""
    state = state_of(request)
    session = _session_of(request, state.thumbnail_sessions)
    if isinstance(session, Response):
        return session
    if session["answer"] is not None:  # finished: the same answer again
        return json_response(session["answer"])
    parsed = _content_range(request)
    if isinstance(parsed, Response):
        return parsed
    length, (start_s, end_s, total_s) = parsed
    if total_s != "*":
        if session["total"] is not None and session["total"] != int(total_s):
            return yt_error(400, "badContent", "Content-Range total does not match the session.",
                            domain="global")
        if int(total_s) > MAX_THUMBNAIL:
            return _too_large(int(total_s))
        session["total"] = int(total_s)
    data: bytearray = session["data"]
    if start_s is None:
        await request.body()
        return Response(status_code=308, headers=_range_headers(len(data)))
    start, end = int(start_s), int(end_s or 0)  # the pattern gives both or neither
    if end < start or length != end - start + 1 or start > len(data):
        return yt_error(400, "badContent", "Content-Range does not match the bytes received.",
                        domain="global")
    final = session["total"] is not None and end + 1 == session["total"]
    if not final and length % CHUNK_GRANULARITY:
        return yt_error(400, "badContent", f"A chunk other than the last must be a multiple of "
                        f"{CHUNK_GRANULARITY} bytes.", domain="global")
    body = await _read_at_most(request, MAX_THUMBNAIL)
    if body is None:
        return _too_large(start + length)
    del data[start:]
    data += body
    if not final:
        return Response(status_code=308, headers=_range_headers(len(data)))
    answer = _apply_thumbnail(state, session["channel"], session["video_id"], bytes(data))
    if answer.status_code == 200:
        session["answer"] = json.loads(bytes(answer.body))
    return answer


async def insert_playlist_item(request: Request) -> Response:
    """``POST /youtube/v3/playlistItems?part=snippet``."""
    state = state_of(request)
    channel = await _admit(request, "playlist")
    if isinstance(channel, Response):
        return channel
    if not _may_manage(request):
        return _insufficient_scope()
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return yt_error(400, "parseError", "Parse Error", domain="global")
    snippet = body.get("snippet") if isinstance(body, dict) else None
    if not isinstance(snippet, dict) or not snippet.get("playlistId"):
        return yt_error(400, "playlistIdRequired", "The request does not specify a playlist ID.")
    resource = snippet.get("resourceId") or {}
    video_id = resource.get("videoId") if isinstance(resource, dict) else None
    playlist_id = str(snippet["playlistId"])
    if playlist_id.startswith(("missing", "PLmissing")):
        return yt_error(404, "playlistNotFound", f"Playlist {playlist_id!r} was not found.")
    with state.lock:
        if not video_id or video_id not in state.videos:
            return yt_error(404, "videoNotFound", f"The video {video_id!r} was not found.")
    if not _spend(state, COST_PLAYLIST):
        return _quota_error()
    item = {
        "kind": "youtube#playlistItem",
        "etag": new_id("", 12),
        "id": new_id("", 16),
        "snippet": {
            "publishedAt": iso(state.clock()),
            "channelId": channel,
            "playlistId": playlist_id,
            "position": snippet.get("position", 0),
            "resourceId": {"kind": "youtube#video", "videoId": video_id},
        },
    }
    with state.lock:
        state.playlist_items.append(item)
        for post in state.posts:
            if post.get("video_id") == video_id and post["platform"] == "youtube":
                post["playlists"].append(playlist_id)
    return json_response(item)


async def list_playlist_items(request: Request) -> Response:
    """``GET /youtube/v3/playlistItems?part=id&playlistId=&videoId=`` (1 unit): the items of a
    playlist, only those holding ``videoId`` when given."""
    state = state_of(request)
    channel = await _admit(request, "list")
    if isinstance(channel, Response):
        return channel
    if not request.query_params.get("part"):
        return yt_error(400, "required", "Required parameter: part", domain="global")
    playlist_id = request.query_params.get("playlistId", "")
    if not playlist_id:
        return yt_error(400, "required", "Required parameter: playlistId", domain="global")
    video_id = request.query_params.get("videoId")
    _spend(state, COST_READ)
    with state.lock:
        items = [
            i
            for i in state.playlist_items
            if i["snippet"]["playlistId"] == playlist_id
            and (video_id is None or i["snippet"]["resourceId"]["videoId"] == video_id)
        ]
    return json_response(
        {
            "kind": "youtube#playlistItemListResponse",
            "etag": new_id("", 12),
            "items": json.loads(json.dumps(items)),
            "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
        }
    )


async def list_videos(request: Request) -> Response:
    """``GET /youtube/v3/videos?id=a,b&part=...``."""
    state = state_of(request)
    if _authorize(request) is None:
        return _auth_error()
    if not _may_manage(request):
        return _insufficient_scope()
    answer, fault = await _apply_fault(state, "list")
    if answer is not None:
        return answer
    if fault is not None:
        raise DropConnection
    part = request.query_params.get("part", "")
    if not part:
        return yt_error(400, "required", "Required parameter: part", domain="global")
    parts = {p.strip() for p in part.split(",")}
    ids = [i for i in request.query_params.get("id", "").split(",") if i]
    _spend(state, COST_READ)
    with state.lock:
        for i in ids:
            _advance_processing(state, i)
        items = [
            {k: v for k, v in state.videos[i].items() if k in ("kind", "etag", "id") or k in parts}
            for i in ids
            if i in state.videos
        ]
    return json_response(
        {
            "kind": "youtube#videoListResponse",
            "etag": new_id("", 12),
            "items": json.loads(json.dumps(items)),
            "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
        }
    )


def _advance_processing(state: SandboxState, video_id: str) -> None:
    """One look at a video's processing: still ``processing``, or settled as configured.

    Settled as the videos resource documents it: ``uploadStatus`` processed / failed (with
    ``failureReason``) / rejected (with ``rejectionReason``); ``processingDetails``.
    """
    left = state.youtube_processing.get(video_id)
    video = state.videos.get(video_id)
    if left is None or video is None:
        return
    if left > 0:
        state.youtube_processing[video_id] = left - 1
        return
    del state.youtube_processing[video_id]
    rejection = state.youtube_rejections.pop(video_id, None)
    outcome = "rejected" if rejection else state.config.youtube_processing_outcome
    status = video["status"]
    if rejection:
        status.update(uploadStatus="rejected", rejectionReason=rejection)
        video["processingDetails"] = {"processingStatus": "succeeded"}
    elif outcome == "failed":
        status.update(uploadStatus="failed", failureReason="conversion")
        video["processingDetails"] = {
            "processingStatus": "failed",
            "processingFailureReason": "transcodeFailed",
        }
    elif outcome == "rejected":
        status.update(uploadStatus="rejected", rejectionReason="duplicate")
        video["processingDetails"] = {"processingStatus": "succeeded"}
    else:
        status["uploadStatus"] = "processed"
        video["processingDetails"] = {"processingStatus": "succeeded"}
    for post in state.posts:
        if post.get("video_id") == video_id and outcome != "succeeded":
            post["status"] = outcome


async def list_channels(request: Request) -> Response:
    """``GET /youtube/v3/channels?mine=true&part=...``: the token's own channel."""
    channel = await _admit(request, "channels")
    if isinstance(channel, Response):
        return channel
    items = []
    parts = {p.strip() for p in request.query_params.get("part", "").split(",")}
    _spend(state_of(request), COST_READ)  # channels.list: 1 unit (determine_quota_cost)
    if request.query_params.get("mine") == "true":
        item: dict[str, Any] = {"kind": "youtube#channel", "etag": new_id("", 12), "id": channel}
        if "snippet" in parts:
            item["snippet"] = {"title": f"Sandbox channel {channel[-6:]}", "description": ""}
        if "status" in parts:
            config = state_of(request).config
            item["status"] = {
                "privacyStatus": "public",
                "isLinked": True,
                "longUploadsStatus": config.youtube_long_uploads.get(
                    channel, config.youtube_long_uploads_default
                ),
                "madeForKids": False,
            }
        items.append(item)
    return json_response(
        {
            "kind": "youtube#channelListResponse",
            "items": items,
            "pageInfo": {"totalResults": len(items), "resultsPerPage": 5},
        }
    )


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    return json_response({"error": error, "error_description": description}, status)


async def token(request: Request) -> Response:
    """``POST /token``: the refresh_token and authorization_code grants."""
    state = state_of(request)
    form = await request.form()
    fields = {k: str(v) for k, v in form.items()}
    basic = _basic_client(request)
    if basic is not None:  # client authentication may come as HTTP Basic instead of the body
        fields.setdefault("client_id", basic[0])
        fields.setdefault("client_secret", basic[1])
    fault = state.take_fault(("token",), "token")
    lose = False
    if fault is not None:
        if fault.fault == "http_500":
            return _oauth_error("internal_failure", "Backend Error", 500)
        if fault.fault == "rate_limit":
            response = _oauth_error("rate_limit_exceeded", "Rate Limit Exceeded", 429)
            response.headers["Retry-After"] = str(max(1, int(fault.seconds)))
            return response
        if fault.fault in ("expired_token", "reject"):
            return _oauth_error("invalid_grant", "Token has been expired or revoked.")
        if fault.fault == "quota_exceeded":
            return _oauth_error("rate_limit_exceeded", "Quota exceeded", 429)
        if fault.fault == "slow":
            await slow_down(fault.seconds)
        if fault.fault == "drop_connection":
            raise DropConnection
        lose = fault.fault == "lose_response"
    if not fields.get("client_id"):
        return _oauth_error("invalid_request", "Missing required parameter: client_id")
    grant = fields.get("grant_type")
    if grant == "refresh_token":
        refresh = fields.get("refresh_token", "")
        if not refresh:
            return _oauth_error("invalid_request", "Missing required parameter: refresh_token")
        if refresh.startswith("revoked"):
            return _oauth_error("invalid_grant", "Token has been expired or revoked.")
        body = _issue(state, refresh)
    elif grant == "authorization_code":
        code = fields.get("code", "")
        if not code:
            return _oauth_error("invalid_request", "Missing required parameter: code")
        if code.startswith(("invalid", "revoked")):
            return _oauth_error("invalid_grant", "Malformed auth code.")
        with state.lock:
            challenge, redirect = state.auth_codes.pop(code, ("", ""))
            granted = state.code_scopes.pop(code, "")
        if challenge:
            # RFC 7636 4.6: S256(code_verifier) must equal the code_challenge sent at consent, and
            # redirect_uri must repeat the one the code was issued for (Google enforces both).
            verifier = fields.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
            if not verifier or digest.decode() != challenge:
                return _oauth_error("invalid_grant", "Invalid code verifier.")
            if fields.get("redirect_uri", "") != redirect:
                return _oauth_error("redirect_uri_mismatch", "Bad Request")
        refresh = "1//sandbox-" + new_id("", 16)
        with state.lock:
            state.refresh_tokens.add(refresh)
            if granted:
                state.refresh_scopes[refresh] = granted
        body = {**_issue(state, refresh), "refresh_token": refresh}
    else:
        return _oauth_error("unsupported_grant_type", f"Invalid grant_type: {grant}")
    if lose:
        raise DropConnection
    return json_response(body, headers={"Cache-Control": "no-store"})


def _basic_client(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    client_id, _, secret = decoded.partition(":")
    return unquote_plus(client_id), unquote_plus(secret)


def _issue(state: SandboxState, refresh: str) -> dict[str, Any]:
    access = "ya29.sandbox-" + new_id("", 20)
    lifetime = state.config.token_lifetime
    with state.lock:
        state.access_tokens[access] = state.clock() + lifetime
        state.token_channels[access] = _channel_for(refresh)
    with state.lock:
        # what the user granted at the consent this refresh token came from, as Google answers
        scope = state.config.youtube_granted_scopes or state.refresh_scopes.get(refresh) or SCOPE
        state.token_scopes[access] = scope
    return {"access_token": access, "expires_in": lifetime, "scope": scope, "token_type": "Bearer"}


async def authorize(request: Request) -> Response:
    """``GET /o/oauth2/auth``: consent is granted at once; redirect back with a code."""
    redirect_uri = request.query_params.get("redirect_uri")
    if not redirect_uri or not request.query_params.get("client_id"):
        return _oauth_error("invalid_request", "Missing redirect_uri or client_id")
    if request.query_params.get("code_challenge_method", "S256") != "S256":
        return _oauth_error("invalid_request", "Only S256 code challenges are accepted here")
    consent = state_of(request).config.consent_screen
    if consent and request.query_params.get("sandbox_consent") is None:
        return _consent_screen(request)
    if request.query_params.get("sandbox_consent") == "deny":
        return _back(redirect_uri, {"error": "access_denied"}, request)
    code = "sandbox-code-" + new_id("", 12)
    state = state_of(request)
    # the scopes asked are granted unless the test set what the user grants (unticks some)
    granted = state.config.youtube_granted_scopes or request.query_params.get("scope", SCOPE)
    with state.lock:
        state.code_scopes[code] = granted
        if request.query_params.get("code_challenge"):
            state.auth_codes[code] = (request.query_params["code_challenge"], redirect_uri)
    params = {"code": code, "scope": granted}
    return _back(redirect_uri, params, request)


def _back(redirect_uri: str, params: dict[str, str], request: Request) -> Response:
    if "state" in request.query_params:
        params["state"] = request.query_params["state"]
    sep = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{sep}{urlencode(params)}", status_code=302)


def _consent_screen(request: Request) -> Response:
    """Google's consent page, as a browser sees it (``prompt=consent``): Allow or Cancel."""
    from html import escape

    query = dict(request.query_params)
    allow = urlencode({**query, "sandbox_consent": "allow"})
    deny = urlencode({**query, "sandbox_consent": "deny"})
    scopes = "".join(f"<li>{escape(s)}</li>" for s in query.get("scope", SCOPE).split())
    page = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Sign in - Google Accounts"
        "</title></head><body><main><h1>multipublish sandbox wants to access your Google Account"
        f"</h1><p>Client <code>{escape(query.get('client_id', ''))}</code> asks for:</p>"
        f"<ul>{scopes}</ul><p><a id=deny href='/o/oauth2/auth?{escape(deny)}'>Cancel</a> "
        f"<a id=allow href='/o/oauth2/auth?{escape(allow)}'>Allow</a></p></main></body></html>"
    )
    return Response(page, media_type="text/html")


routes = [
    Route("/upload/youtube/v3/videos", start_upload, methods=["POST"]),
    Route("/upload/youtube/v3/videos", put_chunk, methods=["PUT"]),
    Route("/upload/youtube/v3/thumbnails/set", set_thumbnail, methods=["POST"]),
    Route("/upload/youtube/v3/thumbnails/set", put_thumbnail, methods=["PUT"]),
    Route("/youtube/v3/playlistItems", insert_playlist_item, methods=["POST"]),
    Route("/youtube/v3/playlistItems", list_playlist_items, methods=["GET"]),
    Route("/youtube/v3/videos", list_videos, methods=["GET"]),
    Route("/youtube/v3/channels", list_channels, methods=["GET"]),
    Route("/token", token, methods=["POST"]),
    Route("/o/oauth2/auth", authorize, methods=["GET"]),
]
