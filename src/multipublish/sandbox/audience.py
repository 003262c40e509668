"""A hidden audience per account, and the analytics endpoints that reveal it one post at a time.

Each account (a YouTube channel, an upload-post profile) gets an audience the tests cannot see
through the public endpoints: a base reach, peak hours of the week (views of a post depend on the
hour of week it went out at), per-post log-normal noise, and optional title and thumbnail boosts
(views come in faster while a video's title contains a given word, or while a given image is its
thumbnail: what an experiment should find). Counters grow as ``1 - exp(-age / tau)``, integrated
over the video's title and thumbnail history.

Served through the same endpoints as the real services:

* YouTube ``GET /youtube/v3/videos?part=statistics`` (counters are strings, as Google sends them;
  the call costs 1 unit, and is refused with ``quotaExceeded`` once the day's quota is spent) and
  ``PUT /youtube/v3/videos?part=snippet`` (``videos.update``, 50 units; ``snippet.title`` and
  ``snippet.categoryId`` are required, as the API reference says).
* YouTube Analytics ``GET /v2/reports`` (``reports.query``: ``ids=channel==MINE``, ``metrics`` of
  views, estimatedMinutesWatched, likes, comments, shares; ``dimensions=day``; ``filters=video==ID``)
  for tokens granted ``yt-analytics.readonly`` (403 ``insufficientPermissions`` otherwise, also as soon
  as the grant is withdrawn); one row per day that has ended (UTC here; Pacific time at Google), so
  the most recent day is missing, as the reference says.
* upload-post ``GET /api/uploadposts/post-analytics/{request_id}`` (the official SDK's
  ``get_post_analytics``), answered per platform.

Control: ``GET/POST /_sandbox/audience/{key}`` reads or sets an audience, ``POST
/_sandbox/audience/seed`` creates posts already published at given times (fast history for the
best-time test), ``DELETE /_sandbox/audience/videos/{id}`` deletes a post on the "platform",
``GET /_sandbox/audience/videos/{id}/thumbnails`` lists the thumbnails set on a video.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from multipublish.sandbox import youtube
from multipublish.sandbox.common import iso, json_response, state_of
from multipublish.sandbox.state import SandboxState, new_id
from multipublish.sandbox.wire import DropConnection

HOURS_OF_WEEK = 168
#: ``videos.update`` costs 50 units (YouTube Data API quota calculator).
COST_UPDATE = 50
COST_LIST = 1


@dataclass
class Audience:
    """How one account's posts do; the collector and the model never see this directly."""

    #: Expected views of a post at full age at an ordinary hour.
    base: float = 1000.0
    #: Hours of week (Monday 00h UTC = 0) when the audience is largest.
    peaks: list[int] = field(default_factory=lambda: [43, 115])
    #: Views at a peak hour are ``1 + peak_gain`` times those of an ordinary hour.
    peak_gain: float = 2.0
    #: Width (hours, standard deviation) of each peak.
    width: float = 2.0
    #: Standard deviation of the per-post log-normal factor.
    noise: float = 0.25
    #: Growth time constant, hours.
    tau_hours: float = 24.0
    like_rate: float = 0.06
    comment_rate: float = 0.008
    share_rate: float = 0.012
    #: Seconds watched per view.
    watch_seconds: float = 21.0
    #: Word (case-insensitive) -> factor on view velocity while the title contains it.
    title_boost: dict[str, float] = field(default_factory=dict)
    #: sha256 of an image (hex, or a prefix of 8+ characters) -> factor on view velocity while it
    #: is the video's thumbnail (``thumbnails.set``).
    thumbnail_boost: dict[str, float] = field(default_factory=dict)

    def weight(self, hour_of_week: float) -> float:
        """Relative audience at an hour of week (1 far from any peak)."""
        bump = 0.0
        for peak in self.peaks:
            d = abs(hour_of_week - peak) % HOURS_OF_WEEK
            d = min(d, HOURS_OF_WEEK - d)
            bump = max(bump, math.exp(-0.5 * (d / self.width) ** 2))
        return 1.0 + self.peak_gain * bump

    def boost(self, title: str) -> float:
        lowered = title.lower()
        factor = 1.0
        for word, gain in self.title_boost.items():
            if word.lower() in lowered:
                factor *= gain
        return factor

    def thumbnail_factor(self, sha256: str) -> float:
        for prefix, gain in self.thumbnail_boost.items():
            if len(prefix) >= 8 and sha256.lower().startswith(prefix.lower()):
                return gain
        return 1.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Audience:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown audience field(s): {', '.join(sorted(unknown))}")
        aud = cls(**data)
        if not aud.peaks or any(not 0 <= int(p) < HOURS_OF_WEEK for p in aud.peaks):
            raise ValueError("peaks must be hours of week in 0..167")
        if aud.base <= 0 or aud.width <= 0 or aud.tau_hours <= 0 or aud.noise < 0:
            raise ValueError("base, width and tau_hours must be positive, noise not negative")
        return aud


def hour_of_week(ts: float) -> int:
    when = datetime.fromtimestamp(ts, UTC)
    return when.weekday() * 24 + when.hour


def default_audience(key: str) -> Audience:
    """A stable, hidden audience for an account nobody configured (derived from its key)."""
    rng = random.Random(hashlib.sha256(key.encode()).digest())
    return Audience(
        base=float(rng.randint(500, 5000)),
        peaks=sorted(rng.sample(range(HOURS_OF_WEEK), 2)),
    )


def audience_of(state: SandboxState, key: str) -> Audience:
    with state.lock:
        aud = state.audiences.get(key)
        if aud is None:
            aud = state.audiences[key] = default_audience(key)
        return aud  # type: ignore[no-any-return]


def _post_factor(post_key: str, sigma: float) -> float:
    """The post's own luck: log-normal with mean 1, fixed per post."""
    rng = random.Random(hashlib.sha256(post_key.encode()).digest())
    return math.exp(sigma * rng.gauss(0.0, 1.0) - 0.5 * sigma * sigma)


def counters(
    aud: Audience,
    post_key: str,
    published: float,
    titles: list[tuple[float, str]],
    now: float,
    thumbnails: list[tuple[float, str]] | None = None,
) -> dict[str, float]:
    """Cumulative views, likes, comments, shares and watch seconds of one post at ``now``.

    ``titles`` and ``thumbnails`` are ``(since, value)`` histories; each stretch of time grows at
    the rate of the title and the thumbnail (image sha256) the video had then.
    """
    if now <= published:
        return {"views": 0, "likes": 0, "comments": 0, "shares": 0, "watch_seconds": 0}
    tau = aud.tau_hours * 3600.0
    scale = aud.base * aud.weight(hour_of_week(published)) * _post_factor(post_key, aud.noise)
    title_history = sorted(titles) or [(published, "")]
    thumb_history = sorted(thumbnails or [])
    edges = sorted({published, *(t for t, _ in title_history), *(t for t, _ in thumb_history)})
    views = 0.0
    for i, start in enumerate(edges):
        seg_start = max(start, published)
        seg_end = min(edges[i + 1] if i + 1 < len(edges) else now, now)
        if seg_end <= seg_start:
            continue
        title = _at(title_history, seg_start, title_history[0][1])
        thumb = _at(thumb_history, seg_start, "")
        grown = math.exp(-(seg_start - published) / tau) - math.exp(-(seg_end - published) / tau)
        views += scale * aud.boost(title) * aud.thumbnail_factor(thumb) * grown
    v = math.floor(views)
    return {
        "views": v,
        "likes": math.floor(v * aud.like_rate),
        "comments": math.floor(v * aud.comment_rate),
        "shares": math.floor(v * aud.share_rate),
        "watch_seconds": round(v * aud.watch_seconds, 1),
    }


def _at(history: list[tuple[float, str]], when: float, before: str) -> str:
    """The value of a sorted ``(since, value)`` history at ``when`` (``before`` until its first)."""
    value = before
    for since, item in history:
        if since > when:
            break
        value = item
    return value


def _parse_ts(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


# -- YouTube ----------------------------------------------------------------------------------------


def _video_counters(state: SandboxState, video: dict[str, Any], now: float) -> dict[str, float]:
    vid = str(video["id"])
    channel = str(video.get("snippet", {}).get("channelId", ""))
    published = _parse_ts(video.get("snippet", {}).get("publishedAt") or now)
    with state.lock:
        titles = list(state.title_history.get(vid) or [(published, video["snippet"].get("title", ""))])
        thumbs = list(state.thumbnail_history.get(vid) or [])
    # The post's luck is keyed by channel and publish time, so a seeded history is reproducible.
    return counters(audience_of(state, channel), f"{channel}:{published}", published, titles, now, thumbs)


async def list_videos(request: Request) -> Response:
    """``videos.list``: the base emulator's answer, with ``statistics`` filled in when asked for."""
    state = state_of(request)
    parts = {p.strip() for p in request.query_params.get("part", "").split(",")}
    if youtube._authorize(request) is not None:
        with state.lock:
            spent = state.youtube_quota_used + COST_LIST > state.config.youtube_quota
        if spent:  # the day's quota is used up: every call is refused, reads too
            return youtube._quota_error()
    answer = await youtube.list_videos(request)
    if "statistics" not in parts or answer.status_code != 200:
        return answer
    body = json.loads(bytes(answer.body))
    now = state.clock()
    for item in body.get("items", []):
        with state.lock:
            video = json.loads(json.dumps(state.videos.get(item["id"]) or {}))
        if not video:
            continue
        c = _video_counters(state, video, now)
        item["statistics"] = {
            "viewCount": str(int(c["views"])),
            "likeCount": str(int(c["likes"])),
            "favoriteCount": "0",
            "commentCount": str(int(c["comments"])),
        }
    return json_response(body)


async def update_video(request: Request) -> Response:
    """``videos.update`` with ``part=snippet``: change the title (and description) of a video."""
    state = state_of(request)
    channel = await youtube._admit(request, "list")
    if isinstance(channel, Response):
        return channel
    parts = {p.strip() for p in request.query_params.get("part", "").split(",") if p.strip()}
    if not parts:
        return youtube.yt_error(400, "required", "Required parameter: part", domain="global")
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return youtube.yt_error(400, "parseError", "Parse Error", domain="global")
    if not isinstance(body, dict) or not body.get("id"):
        return youtube.yt_error(400, "required", "Required parameter: id", domain="global")
    vid = str(body["id"])
    with state.lock:
        video = state.videos.get(vid)
        if video is None:
            return youtube.yt_error(404, "videoNotFound", "The video that you are trying to update "
                                    "cannot be found.")
        if video["snippet"].get("channelId") != channel:
            return youtube.yt_error(403, "forbidden", "The video that you are trying to update "
                                    "is not yours.")
    snippet = body.get("snippet")
    if "snippet" in parts:
        if not isinstance(snippet, dict) or "categoryId" not in snippet or "title" not in snippet:
            # videos.update replaces the whole snippet: title and categoryId must be sent.
            return youtube.yt_error(400, "invalidCategoryId" if isinstance(snippet, dict)
                                    and "title" in snippet else "invalidTitle",
                                    "snippet.title and snippet.categoryId are required")
        bad = youtube._validate_metadata({"snippet": snippet, "status": {}})
        if bad is not None:
            return bad
    if not youtube._spend(state, COST_UPDATE):
        return youtube._quota_error()
    now = state.clock()
    with state.lock:
        published = _parse_ts(video["snippet"]["publishedAt"])
        history = state.title_history.setdefault(vid, [(published, video["snippet"]["title"])])
        if "snippet" in parts and isinstance(snippet, dict):
            video["snippet"]["title"] = snippet["title"]
            video["snippet"]["description"] = snippet.get("description", "")
            video["snippet"]["categoryId"] = str(snippet["categoryId"])
            video["snippet"]["localized"] = {"title": snippet["title"],
                                             "description": snippet.get("description", "")}
            history.append((now, snippet["title"]))
        if "status" in parts and isinstance(body.get("status"), dict):
            for key in ("privacyStatus", "publishAt", "selfDeclaredMadeForKids", "embeddable"):
                if key in body["status"]:
                    video["status"][key] = body["status"][key]
        copy = json.loads(json.dumps(video))
    return json_response(copy)


# -- upload-post ------------------------------------------------------------------------------------


async def post_analytics(request: Request) -> Response:
    """``GET /api/uploadposts/post-analytics/{request_id}``: counters per platform of one upload.

    The public pages describe the call only through the SDK ("per-platform metrics, profile
    snapshots, and post-level metrics"); the sandbox answers ``{"success", "request_id",
    "platforms": {name: {"platform_post_id", "post_url", "post_metrics": {...}}}}``.
    """
    state = state_of(request)
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "apikey" or not key.strip():
        return json_response({"success": False, "message": "Invalid or missing API key"}, 401)
    platforms = ("tiktok", "instagram", "facebook", "linkedin", "youtube")
    fault = state.take_fault(platforms, "analytics")
    if fault is not None:
        if fault.fault == "http_500":
            return json_response({"success": False, "message": "Internal error"}, 500)
        if fault.fault == "rate_limit":
            return json_response({"success": False, "message": "Too many requests"}, 429,
                                 {"Retry-After": str(max(1, int(fault.seconds)))})
        if fault.fault in ("expired_token", "reject"):
            return json_response({"success": False, "message": "Analytics permission revoked "
                                  "for this profile; reconnect the account"}, 403)
        if fault.fault == "quota_exceeded":
            return json_response({"success": False, "error_code": "quota_exceeded",
                                  "message": "Monthly quota exceeded"}, 429)
        raise DropConnection
    rid = request.path_params["request_id"]
    with state.lock:
        record = state.requests.get(rid)
        posts = [p for p in (record or {}).get("posts", []) if not p.get("deleted")]
    if record is None or not posts:
        return json_response({"success": False, "message": "Post not found"}, 404)
    now = state.clock()
    out: dict[str, Any] = {}
    for post in posts:
        published = _parse_ts(post["created"])
        c = counters(audience_of(state, str(post["user"])), f"{post['user']}:{published}", published,
                     [(published, str(post.get("title") or ""))], now)
        out[post["platform"]] = {
            "success": True,
            "platform_post_id": post["post_id"],
            "post_url": post["post_url"],
            "post_metrics": {
                "views": int(c["views"]),
                "likes": int(c["likes"]),
                "comments": int(c["comments"]),
                "shares": int(c["shares"]),
            },
        }
    return json_response({"success": True, "request_id": rid, "platforms": out})


# -- control ----------------------------------------------------------------------------------------


async def get_audience(request: Request) -> Response:
    aud = audience_of(state_of(request), request.path_params["key"])
    return json_response(asdict(aud))


async def set_audience(request: Request) -> Response:
    state = state_of(request)
    try:
        data = json.loads(await request.body() or b"{}")
        aud = Audience.from_dict(data if isinstance(data, dict) else {})
    except (ValueError, TypeError) as exc:
        return json_response({"error": str(exc)}, 400)
    with state.lock:
        state.audiences[request.path_params["key"]] = aud
    return json_response(asdict(aud))


async def seed(request: Request) -> Response:
    """Create posts already published at the given times: ``{"platform", "channel"|"user",
    "published": [iso or epoch, ...], "title"}``; YouTube also takes ``refresh_token`` (the channel
    the sandbox derives from it)."""
    state = state_of(request)
    try:
        data = json.loads(await request.body() or b"{}")
        platform = str(data["platform"])
        times = [_parse_ts(t) for t in data["published"]]
    except (ValueError, KeyError, TypeError) as exc:
        return json_response({"error": f"bad seed request: {exc}"}, 400)
    title = str(data.get("title") or "Seeded post")
    created: list[dict[str, Any]] = []
    with state.lock:
        for ts in times:
            if platform == "youtube":
                channel = data.get("channel") or youtube._channel_for(str(data.get("refresh_token")))
                vid = new_id("", 6)[:11]
                state.videos[vid] = {
                    "kind": "youtube#video",
                    "etag": new_id("", 12),
                    "id": vid,
                    "snippet": {"publishedAt": iso(ts), "channelId": channel, "title": title,
                                "description": "", "categoryId": "22", "tags": [],
                                "localized": {"title": title, "description": ""}},
                    "status": {"uploadStatus": "processed", "privacyStatus": "public"},
                }
                state.title_history[vid] = [(ts, title)]
                created.append({"video_id": vid, "published_at": iso(ts), "channel": channel})
            else:
                user = str(data["user"])
                rid = new_id("req_")
                pid = new_id("", 9)
                post = {"service": "upload-post", "platform": platform, "user": user, "title": title,
                        "request_id": rid, "post_id": pid, "video_id": pid,
                        "post_url": f"https://{platform}.example/{user}/{pid}",
                        "status": "published", "created": iso(ts)}
                state.requests[rid] = {"request_id": rid, "user": user, "title": title,
                                       "platforms": [platform], "posts": [post], "created": ts,
                                       "results": {}, "job_id": None, "scheduled_at": None,
                                       "pending_polls": 0}
                created.append({"video_id": pid, "request_id": rid, "published_at": iso(ts),
                                "user": user})
    return json_response({"posts": created})


async def delete_video(request: Request) -> Response:
    """The post was deleted on the platform: YouTube no longer lists it, upload-post answers 404."""
    state = state_of(request)
    vid = request.path_params["video_id"]
    found = False
    with state.lock:
        if state.videos.pop(vid, None) is not None:
            found = True
        for record in state.requests.values():
            for post in record.get("posts", []):
                if post.get("post_id") == vid:
                    post["deleted"] = True
                    found = True
    return json_response({"deleted": found}, 200 if found else 404)


ANALYTICS_SCOPES = (
    "https://www.googleapis.com/auth/yt-analytics.readonly",
    "https://www.googleapis.com/auth/yt-analytics-monetary.readonly",
)
ANALYTICS_METRICS = {
    "views": "views", "estimatedMinutesWatched": "watch_seconds", "likes": "likes",
    "comments": "comments", "shares": "shares",
}
DAY_S = 86400


def _analytics_granted(state: SandboxState, token: str) -> bool:
    with state.lock:
        scope = state.token_scopes.get(token)
        current = state.config.youtube_granted_scopes
    if current and not any(s in ANALYTICS_SCOPES for s in current.split()):
        return False  # the grant was withdrawn: Google stops honouring the scope at once
    return scope is not None and any(s in ANALYTICS_SCOPES for s in scope.split())


def _date(value: str | None) -> float | None:
    try:
        return datetime.strptime(value or "", "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


async def reports_query(request: Request) -> Response:
    """``reports.query`` of the YouTube Analytics API v2, for the day dimension of one video."""
    state = state_of(request)
    channel = youtube._authorize(request)
    if channel is None:
        return youtube._auth_error()
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    if not _analytics_granted(state, token):
        return youtube._insufficient_scope()
    answer, fault = await youtube._apply_fault(state, "analytics")
    if answer is not None:
        return answer
    if fault is not None:
        raise DropConnection
    q = request.query_params
    if q.get("ids") not in ("channel==MINE", f"channel=={channel}"):
        return youtube.yt_error(400, "badRequest", "Invalid value for parameter ids (channel==MINE).")
    start, end = _date(q.get("startDate")), _date(q.get("endDate"))
    if start is None or end is None or start > end:
        return youtube.yt_error(400, "badRequest", "startDate and endDate are required, YYYY-MM-DD, "
                                "startDate not after endDate.")
    metrics = [m.strip() for m in (q.get("metrics") or "").split(",") if m.strip()]
    unknown = [m for m in metrics if m not in ANALYTICS_METRICS]
    if not metrics or unknown:
        return youtube.yt_error(400, "badRequest", f"Unknown identifier ({(unknown or [''])[0]}) "
                                "given in field parameters.metrics.")
    if q.get("dimensions") != "day":
        return youtube.yt_error(400, "badRequest", "The sandbox answers dimensions=day only.")
    flt = q.get("filters") or ""
    if not flt.startswith("video=="):
        return youtube.yt_error(400, "badRequest", "filters must be video==VIDEO_ID.")
    headers = [{"name": "day", "columnType": "DIMENSION", "dataType": "STRING"}] + [
        {"name": m, "columnType": "METRIC", "dataType": "INTEGER"} for m in metrics
    ]
    rows: list[list[Any]] = []
    with state.lock:
        video = json.loads(json.dumps(state.videos.get(flt[len("video=="):]) or {}))
    if video and video.get("snippet", {}).get("channelId") == channel:
        now = state.clock()
        published = _parse_ts(video["snippet"].get("publishedAt") or now)
        day = max(start, math.floor(published / DAY_S) * DAY_S)
        while day <= end and day + DAY_S <= now:  # only days that have ended
            before = _video_counters(state, video, max(day, published))
            after = _video_counters(state, video, day + DAY_S)
            row: list[Any] = [datetime.fromtimestamp(day, UTC).date().isoformat()]
            for m in metrics:
                key = ANALYTICS_METRICS[m]
                diff = after[key] - before[key]
                row.append(round(diff / 60) if m == "estimatedMinutesWatched" else int(diff))
            rows.append(row)
            day += DAY_S
    body: dict[str, Any] = {"kind": "youtubeAnalytics#resultTable", "columnHeaders": headers}
    if rows:  # "If no data is available for the given query, the rows element will be omitted"
        body["rows"] = rows
    return json_response(body)


async def thumbnail_history(request: Request) -> Response:
    """``GET /_sandbox/audience/videos/{id}/thumbnails``: each ``thumbnails.set`` (time, sha256)."""
    state = state_of(request)
    with state.lock:
        history = list(state.thumbnail_history.get(request.path_params["video_id"]) or [])
    return json_response({"history": [[iso(ts), sha] for ts, sha in history]})


#: Mounted before the base YouTube routes, so ``videos.list`` gains ``statistics``.
routes = [
    Route("/youtube/v3/videos", list_videos, methods=["GET"]),
    Route("/youtube/v3/videos", update_video, methods=["PUT"]),
    Route("/api/uploadposts/post-analytics/{request_id}", post_analytics, methods=["GET"]),
    Route("/v2/reports", reports_query, methods=["GET"]),
    Route("/_sandbox/audience/seed", seed, methods=["POST"]),
    Route("/_sandbox/audience/videos/{video_id}", delete_video, methods=["DELETE"]),
    Route("/_sandbox/audience/videos/{video_id}/thumbnails", thumbnail_history, methods=["GET"]),
    Route("/_sandbox/audience/{key}", get_audience, methods=["GET"]),
    Route("/_sandbox/audience/{key}", set_audience, methods=["POST"]),
]
