"""Where metrics come from: the YouTube Data API and upload-post's per-post analytics.

Adapters at the edge: they speak HTTP to configurable endpoints and turn answers into
:class:`~multipublish.insights.store.Sample` values or a :class:`MetricsError` whose ``kind`` tells
the collector what to do (wait for the quota reset, pause until the scope is granted again, retry).

* YouTube ``videos.list?part=statistics&id=...`` (up to 50 ids per call, 1 quota unit per call:
  https://developers.google.com/youtube/v3/docs/videos/list). A video missing from ``items`` was
  deleted (or made private). ``viewCount`` etc. arrive as strings. No shares or watch time here:
  those need the YouTube Analytics API, which this module does not call yet.
* YouTube Analytics ``reports.query`` (``GET {root}v2/reports?ids=channel==MINE&metrics=views,
  estimatedMinutesWatched&dimensions=day&filters=video==ID&startDate=&endDate=``:
  https://developers.google.com/youtube/analytics/reference/reports/query), only for accounts that
  granted ``yt-analytics.readonly``; its own quota, not the Data API's units. "The response for a
  query with the day dimension will not contain rows for the most recent days", so its totals lag.
* YouTube ``thumbnails.set`` (``POST /upload/youtube/v3/thumbnails/set?videoId=``, the image as the
  body, about 50 units: https://developers.google.com/youtube/v3/docs/thumbnails/set), for
  thumbnail experiments.
* upload-post ``GET /api/uploadposts/post-analytics/{request_id}`` (the official SDK's
  ``get_post_analytics``; the public docs page documents only profile analytics at
  ``/api/analytics/{profile}``, https://docs.upload-post.com/api/get-analytics). The per-post answer
  shape is read tolerantly: per platform, counters under ``post_metrics`` or ``metrics`` or inline,
  ``views`` also as ``plays``/``video_views``/``impressions``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from multipublish.errors import ErrorKind, PlatformError
from multipublish.insights.store import Sample
from multipublish.platforms.google_oauth import GoogleOAuth
from multipublish.platforms.http import describe_exception, make_timeout, parse_retry_after, response_json
from multipublish.settings import Settings

#: ``videos.list`` takes at most 50 ids.
YOUTUBE_MAX_IDS = 50
#: Reasons Google gives when the analytics (or any) scope was withdrawn.
SCOPE_REASONS = frozenset({"insufficientPermissions", "forbidden", "accessNotConfigured"})
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})


class MetricsError(Exception):
    """A metrics call failed; ``kind``: ``quota`` | ``auth`` | ``rate_limited`` | ``transient``."""

    def __init__(self, kind: ErrorKind, message: str, retry_after: float | None = None) -> None:
        self.kind = kind
        self.retry_after = retry_after
        super().__init__(message)


@dataclass(slots=True)
class Fetched:
    """Counters per id, and the ids the platform no longer has."""

    samples: dict[str, Sample]
    missing: set[str]
    calls: int = 0


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _reasons(response: httpx.Response) -> list[str]:
    error = response_json(response).get("error")
    items = error.get("errors") if isinstance(error, dict) else None
    return [str(i.get("reason")) for i in items or [] if isinstance(i, dict)]


class YouTubeMetrics:
    """Statistics of one channel's videos (one account's OAuth credentials)."""

    def __init__(
        self,
        account_id: str,
        credentials: Mapping[str, Any],
        settings: Settings,
        save_credentials: Any,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.account_id = account_id
        self._oauth = GoogleOAuth(account_id, credentials, settings, save_credentials)
        self._root = settings.youtube_api_root()
        self._upload_root = settings.youtube_upload_root()
        self._analytics_root = settings.youtube_analytics_root()
        self._http = httpx.AsyncClient(timeout=make_timeout(settings.http_timeout), transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()
        self._oauth.close()

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str],
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        base: str | None = None,
    ) -> httpx.Response:
        """One authorised Data API call; a refused token is refreshed once."""
        response: httpx.Response | None = None
        for attempt in range(2):
            try:
                token = await self._oauth.access_token()
            except PlatformError as exc:
                raise MetricsError(ErrorKind.AUTH, exc.message) from None
            try:
                response = await self._http.request(
                    method,
                    f"{base or self._root + 'youtube/v3/'}{path}",
                    params=params,
                    json=json,
                    content=content,
                    headers={**(headers or {}), "Authorization": f"Bearer {token}"},
                )
            except httpx.HTTPError as exc:
                raise MetricsError(ErrorKind.TRANSIENT, describe_exception(exc)) from None
            if response.status_code != 401 or attempt:
                break
            try:
                await self._oauth.refresh(stale=token)
            except PlatformError as exc:
                raise MetricsError(ErrorKind.AUTH, exc.message) from None
        assert response is not None
        self.raise_for(response, path)
        return response

    @staticmethod
    def raise_for(response: httpx.Response, what: str) -> None:
        status = response.status_code
        if status < 400:
            return
        reasons = set(_reasons(response))
        text = f"YouTube {what}: HTTP {status} {', '.join(sorted(reasons))}".rstrip()
        if QUOTA_REASONS & reasons:
            raise MetricsError(ErrorKind.QUOTA, text)
        if status == 401:
            raise MetricsError(ErrorKind.AUTH, f"{text}: the account must be authorised again")
        if status == 403 and SCOPE_REASONS & reasons:
            raise MetricsError(ErrorKind.AUTH, f"{text}: the granted scopes no longer allow this")
        if status == 429 or "rateLimitExceeded" in reasons or "userRateLimitExceeded" in reasons:
            raise MetricsError(
                ErrorKind.RATE_LIMITED, text, parse_retry_after(response.headers.get("Retry-After"))
            )
        if status >= 500 or status == 408:
            raise MetricsError(ErrorKind.TRANSIENT, text)
        raise MetricsError(ErrorKind.PERMANENT, text)

    async def statistics(self, video_ids: Sequence[str]) -> Fetched:
        """``videos.list(part=statistics)`` for up to 50 ids (one call, one unit)."""
        ids = list(dict.fromkeys(video_ids))[:YOUTUBE_MAX_IDS]
        response = await self.call("GET", "videos", params={"part": "statistics", "id": ",".join(ids)})
        data = response_json(response)
        samples: dict[str, Sample] = {}
        for item in data.get("items") or []:
            stats = item.get("statistics") or {}
            samples[str(item.get("id"))] = Sample(
                views=_int(stats.get("viewCount")),
                likes=_int(stats.get("likeCount")),
                comments=_int(stats.get("commentCount")),
                shares=None,
                watch_time_s=None,
            )
        return Fetched(samples=samples, missing={i for i in ids if i not in samples}, calls=1)

    async def video(self, video_id: str) -> dict[str, Any]:
        """``videos.list(part=snippet)`` of one video (1 unit); ``{}`` when it no longer exists."""
        response = await self.call("GET", "videos", params={"part": "snippet", "id": video_id})
        items = response_json(response).get("items") or []
        return dict(items[0]) if items else {}

    async def update_title(self, video: Mapping[str, Any], title: str) -> dict[str, Any]:
        """``videos.update(part=snippet)`` with a new title (50 units). The whole snippet is sent
        back: the API replaces it, and ``title`` and ``categoryId`` are required."""
        snippet = dict(video.get("snippet") or {})
        body = {
            "id": video["id"],
            "snippet": {
                "title": title,
                "description": snippet.get("description", ""),
                "categoryId": snippet.get("categoryId", "22"),
                "tags": snippet.get("tags") or [],
                **({"defaultLanguage": snippet["defaultLanguage"]} if snippet.get("defaultLanguage") else {}),
            },
        }
        response = await self.call("PUT", "videos", params={"part": "snippet"}, json=body)
        return response_json(response)


    async def set_thumbnail(self, video_id: str, image: bytes, content_type: str) -> dict[str, Any]:
        """``thumbnails.set`` with ``image`` (JPEG or PNG) as the body (about 50 units)."""
        response = await self.call(
            "POST",
            "thumbnails/set",
            params={"videoId": video_id, "uploadType": "media"},
            content=image,
            headers={"Content-Type": content_type},
            base=f"{self._upload_root}upload/youtube/v3/",
        )
        return response_json(response)


@dataclass(slots=True)
class DailyViews:
    """A video's Analytics report: rows ``(day, views, minutes watched)`` and their totals."""

    days: list[tuple[str, int, float]]

    @property
    def views(self) -> int:
        return sum(d[1] for d in self.days)

    @property
    def watch_time_s(self) -> float:
        return 60.0 * sum(d[2] for d in self.days)


class YouTubeAnalytics(YouTubeMetrics):
    """``reports.query`` of the YouTube Analytics API v2 (same OAuth credentials as the Data API)."""

    async def daily_views(self, video_id: str, start: str, end: str) -> DailyViews:
        """Views and minutes watched per day of one video, ``start``..``end`` (``YYYY-MM-DD``)."""
        response = await self.call(
            "GET",
            "reports",
            params={
                "ids": "channel==MINE",
                "startDate": start,
                "endDate": end,
                "metrics": "views,estimatedMinutesWatched",
                "dimensions": "day",
                "filters": f"video=={video_id}",
            },
            base=f"{self._analytics_root}v2/",
        )
        data = response_json(response)
        headers = [str(h.get("name")) for h in data.get("columnHeaders") or [] if isinstance(h, dict)]
        try:
            i_day, i_views, i_min = (headers.index(n) for n in ("day", "views", "estimatedMinutesWatched"))
        except ValueError:
            raise MetricsError(ErrorKind.PERMANENT, f"YouTube Analytics answered columns {headers}") from None
        days = []
        for row in data.get("rows") or []:  # no rows at all when there is no data yet
            days.append((str(row[i_day]), int(row[i_views] or 0), float(row[i_min] or 0)))
        return DailyViews(days=days)


class UploadPostMetrics:
    """Per-post analytics of one upload-post API key."""

    def __init__(
        self,
        credentials: Mapping[str, Any],
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=settings.upload_post_base(),
            headers={"Authorization": f"Apikey {credentials.get('api_key', '')}"},
            timeout=make_timeout(settings.http_timeout),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def post(self, request_id: str) -> dict[str, Sample] | None:
        """Counters per platform of one upload; ``None`` when upload-post no longer has it."""
        try:
            response = await self._http.get(f"/uploadposts/post-analytics/{request_id}")
        except httpx.HTTPError as exc:
            raise MetricsError(ErrorKind.TRANSIENT, describe_exception(exc)) from None
        status = response.status_code
        data = response_json(response)
        message = str(data.get("message") or data.get("error") or "")[:300]
        if status == 404:
            return None
        if status in (401, 403):
            raise MetricsError(ErrorKind.AUTH, f"upload-post analytics: HTTP {status} {message}".strip())
        if status == 429 and data.get("error_code") == "quota_exceeded":
            raise MetricsError(ErrorKind.QUOTA, f"upload-post analytics: {message}")
        if status == 429:
            raise MetricsError(
                ErrorKind.RATE_LIMITED,
                f"upload-post analytics: HTTP 429 {message}".strip(),
                parse_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 400:
            kind = ErrorKind.TRANSIENT if status >= 500 else ErrorKind.PERMANENT
            raise MetricsError(kind, f"upload-post analytics: HTTP {status} {message}".strip())
        return parse_post_analytics(data)


def parse_post_analytics(data: Mapping[str, Any]) -> dict[str, Sample]:
    """Counters per platform from a post-analytics answer (see the module docstring)."""
    block = data.get("platforms")
    if not isinstance(block, dict):
        block = {k: v for k, v in data.items() if isinstance(v, dict)}
    out: dict[str, Sample] = {}
    for platform, entry in block.items():
        if not isinstance(entry, dict) or entry.get("success") is False:
            continue
        metrics = entry.get("post_metrics") or entry.get("metrics") or entry
        if not isinstance(metrics, dict):
            continue
        views = next(
            (metrics[k] for k in ("views", "plays", "video_views", "impressions") if k in metrics), None
        )
        out[str(platform).lower()] = Sample(
            views=_int(views),
            likes=_int(metrics["likes"] if "likes" in metrics else metrics.get("reactions")),
            comments=_int(metrics.get("comments")),
            shares=_int(metrics.get("shares")),
            watch_time_s=None,
        )
    return out
