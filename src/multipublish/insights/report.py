"""Insights per account and platform: views at 1 h / 24 h / 7 d, best and worst posts, engagement
rate, weekly trend. The REST route, the CLI and the CSV export all read :func:`build_insights`.

Aggregates are computed by the database in one grouped scan (per account, platform and week, rolled
up here), best and worst posts by two index walks per group: see ``bench/insights.py``.
Engagement rate = (likes + comments + shares) / views, over the posts that report views.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, func, literal_column, select
from sqlalchemy.sql import ColumnElement

from multipublish.catalogue import base_platform
from multipublish.insights.tables import insight_posts

WEEK_S = 7 * 86400
#: 1970-01-05, a Monday: weeks of the trend start on Mondays 00:00 UTC.
MONDAY0 = 4 * 86400
#: The columns of the CSV export (one row per post).
POST_COLUMNS = (
    "id", "account_id", "platform", "video_id", "title", "published_at", "state", "views_1h",
    "views_24h", "views_7d", "views", "likes", "comments", "shares", "engagement_rate", "url",
)


def _engagement(c: Any) -> ColumnElement[Any]:
    return func.coalesce(c.likes, 0) + func.coalesce(c.comments, 0) + func.coalesce(c.shares, 0)


def _epoch(engine: Engine, column: Any) -> ColumnElement[Any]:
    if engine.dialect.name == "postgresql":
        return func.extract("epoch", column)
    # julianday is several times faster than strftime('%s') per row.
    return (func.julianday(column) - 2440587.5) * 86400.0


def _filters(start: datetime, until: datetime, account_id: str | None, platform: str | None) -> Any:
    c = insight_posts.c
    conds = [c.published_at >= start, c.published_at <= until]
    if account_id:
        conds.append(c.account_id == account_id)
    if platform:
        conds.append(c.platform == base_platform(platform))
    return and_(*conds)


def _rate(eng: Any, views: Any) -> float | None:
    return round(float(eng) / float(views), 6) if views else None


def _post_view(r: Any) -> dict[str, Any]:
    views = r.views
    eng = (r.likes or 0) + (r.comments or 0) + (r.shares or 0)
    return {
        "id": int(r.id),
        "account_id": r.account_id,
        "platform": r.platform,
        "video_id": r.video_id,
        "title": r.title,
        "published_at": r.published_at.astimezone(UTC).isoformat() if r.published_at else None,
        "state": r.state,
        "views_1h": r.views_1h,
        "views_24h": r.views_24h,
        "views_7d": r.views_7d,
        "views": views,
        "likes": r.likes,
        "comments": r.comments,
        "shares": r.shares,
        "engagement_rate": _rate(eng, views),
        "url": r.url,
    }


def build_insights(
    engine: Engine,
    start: datetime,
    until: datetime,
    *,
    account_id: str | None = None,
    platform: str | None = None,
    posts_limit: int = 100,
) -> dict[str, Any]:
    """Per (account, platform): posts, mean views at 1 h/24 h/7 d, engagement, best/worst, trend."""
    c = insight_posts.c
    where = _filters(start, until, account_id, platform)
    eng = _engagement(c)
    sampled = c.views.is_not(None)
    # One scan: sums and counts per (account, platform, week), rolled up here (a second grouped
    # scan for the totals doubles the time at 100,000 posts on SQLite).
    week = func.floor((_epoch(engine, c.published_at) - MONDAY0) / WEEK_S).label("week")
    grouped_q = (
        select(
            c.account_id,
            c.platform,
            week,
            func.count().label("posts"),
            func.sum(case((sampled, 1), else_=0)).label("sampled"),
            func.sum(case((c.state == "deleted", 1), else_=0)).label("deleted"),
            func.sum(c.views_1h).label("s1h"),
            func.count(c.views_1h).label("n1h"),
            func.sum(c.views_24h).label("s24h"),
            func.count(c.views_24h).label("n24h"),
            func.sum(c.views_7d).label("s7d"),
            func.count(c.views_7d).label("n7d"),
            func.sum(c.views).label("views"),
            func.sum(case((sampled, eng), else_=0)).label("engagements"),
            func.max(c.views_24h).label("hi24"),
            func.min(c.views_24h).label("lo24"),
            func.max(c.views).label("hiv"),
            func.min(c.views).label("lov"),
        )
        .where(where)
        .group_by(c.account_id, c.platform, literal_column("week"))
    )
    posts_q = (
        select(insight_posts).where(where).order_by(c.published_at.desc()).limit(max(0, posts_limit))
    )
    with engine.connect() as conn:
        grouped = conn.execute(grouped_q).all()
        bounds: dict[tuple[str, str], dict[str, float | None]] = {}
        for r in grouped:
            b = bounds.setdefault((r.account_id, r.platform), dict.fromkeys(("hi24", "lo24", "hiv", "lov")))
            for name, pick in (("hi24", max), ("lo24", min), ("hiv", max), ("lov", min)):
                value = getattr(r, name)
                if value is not None:
                    b[name] = value if b[name] is None else pick(b[name], value)
        best, worst = _extremes(conn, bounds, start, until)
        posts = conn.execute(posts_q).all() if posts_limit else []
    totals: dict[tuple[str, str], dict[str, float]] = {}
    weeks: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in sorted(grouped, key=lambda r: (r.account_id, r.platform, r.week)):
        key = (r.account_id, r.platform)
        t = totals.setdefault(key, dict.fromkeys(
            ("posts", "sampled", "deleted", "s1h", "n1h", "s24h", "n24h", "s7d", "n7d", "views",
             "engagements"), 0.0))
        for name in t:
            t[name] += float(getattr(r, name) or 0)
        weeks.setdefault(key, []).append(
            {
                "week_start": datetime.fromtimestamp(int(r.week) * WEEK_S + MONDAY0, UTC).date().isoformat(),
                "posts": int(r.posts),
                "views_24h": round(float(r.s24h) / r.n24h, 1) if r.n24h else None,
            }
        )
    summary = [
        _Summary(key, t["posts"], t["sampled"], t["deleted"], _mean(t["s1h"], t["n1h"]),
                 _mean(t["s24h"], t["n24h"]), _mean(t["s7d"], t["n7d"]), t["views"], t["engagements"])
        for key, t in sorted(totals.items())
    ]
    groups = []
    for g in summary:
        key = g.key
        series = weeks.get(key, [])
        groups.append(
            {
                "account_id": key[0],
                "platform": key[1],
                "posts": int(g.posts),
                "sampled": int(g.sampled),
                "deleted": int(g.deleted),
                "avg_views_1h": _round(g.views_1h),
                "avg_views_24h": _round(g.views_24h),
                "avg_views_7d": _round(g.views_7d),
                "total_views": int(g.views),
                "engagement_rate": _rate(g.engagements, g.views),
                "best_post": best.get(key),
                "worst_post": worst.get(key),
                "weekly": series,
                "trend_24h": _trend(series),
            }
        )
    return {
        "since": start.isoformat(),
        "until": until.isoformat(),
        "account_id": account_id,
        "platform": platform,
        "groups": groups,
        "posts": [_post_view(p) for p in posts],
    }


@dataclass(frozen=True, slots=True)
class _Summary:
    key: tuple[str, str]
    posts: float
    sampled: float
    deleted: float
    views_1h: float | None
    views_24h: float | None
    views_7d: float | None
    views: float
    engagements: float


def _mean(total: float, count: float) -> float | None:
    return total / count if count else None


def _extremes(
    conn: Connection, bounds: dict[tuple[str, str], dict[str, float | None]], start: datetime, until: datetime
) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[tuple[str, str], dict[str, Any]]]:
    """Best and worst post of each group by 24 h views (by latest views where none has 24 h views
    yet). The grouped scan found the highest and lowest values; each post is then one equality seek
    on ``ix_insight_posts_rank``, with no sort of the group."""
    c = insight_posts.c
    best: dict[tuple[str, str], dict[str, Any]] = {}
    worst: dict[tuple[str, str], dict[str, Any]] = {}
    for (acc, plat), b in bounds.items():
        where = _filters(start, until, acc, plat)
        column, hi, lo = (c.views_24h, b["hi24"], b["lo24"]) if b["hi24"] is not None else (
            c.views, b["hiv"], b["lov"])
        if hi is None or lo is None:
            continue
        top = conn.execute(select(insight_posts).where(where, column == hi).order_by(c.id).limit(1)).first()
        low = conn.execute(select(insight_posts).where(where, column == lo).order_by(c.id).limit(1)).first()
        if top is not None:
            best[(acc, plat)] = _post_view(top)
        if low is not None:
            worst[(acc, plat)] = _post_view(low)
    return best, worst


def _round(value: Any) -> float | None:
    return round(float(value), 1) if value is not None else None


def _trend(series: list[dict[str, Any]]) -> float | None:
    """Relative change of mean 24 h views from the first to the last week that has any."""
    points = [w["views_24h"] for w in series if w["views_24h"]]
    if len(points) < 2:
        return None
    return round(float(points[-1] - points[0]) / float(points[0]), 4)


def insights_csv(data: dict[str, Any]) -> str:
    """The posts of an insights answer as CSV (one row per post, header first)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(POST_COLUMNS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for post in data["posts"]:
        writer.writerow({k: "" if post.get(k) is None else post[k] for k in POST_COLUMNS})
    return out.getvalue()
