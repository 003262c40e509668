"""Insights per account and platform: views at 1 h / 24 h / 7 d, best and worst posts, engagement
rate, weekly trend. The REST route, the CLI and the CSV export all read :func:`build_insights`.

Aggregates are computed by the database (one grouped query, one windowed query for best/worst, one
for the weekly trend), so the answer stays fast with many posts: see ``bench/insights.py``.
Engagement rate = (likes + comments + shares) / views, over the posts that report views.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, case, func, literal_column, or_, select
from sqlalchemy.sql import ColumnElement

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
        conds.append(c.platform == platform.partition(":")[0].lower())
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
    summary_q = (
        select(
            c.account_id,
            c.platform,
            func.count().label("posts"),
            func.sum(case((sampled, 1), else_=0)).label("sampled"),
            func.sum(case((c.state == "deleted", 1), else_=0)).label("deleted"),
            func.avg(c.views_1h).label("views_1h"),
            func.avg(c.views_24h).label("views_24h"),
            func.avg(c.views_7d).label("views_7d"),
            func.sum(c.views).label("views"),
            func.sum(case((sampled, eng), else_=0)).label("engagements"),
        )
        .where(where)
        .group_by(c.account_id, c.platform)
        .order_by(c.account_id, c.platform)
    )
    # The score a post is ranked by: its 24 h views when known, else its latest count. Best and worst
    # are found with a grouped max/min joined back to the posts (window functions sort every group
    # twice, which costs seconds at 100,000 posts on SQLite).
    score = func.coalesce(c.views_24h, c.views)
    bounds = (
        select(
            c.account_id.label("acc"),
            c.platform.label("plat"),
            func.max(score).label("hi"),
            func.min(score).label("lo"),
        )
        .where(where, score.is_not(None))
        .group_by(c.account_id, c.platform)
        .subquery()
    )
    extremes_q = (
        select(insight_posts, bounds.c.hi, bounds.c.lo, score.label("score"))
        .join(bounds, and_(c.account_id == bounds.c.acc, c.platform == bounds.c.plat))
        .where(where, or_(score == bounds.c.hi, score == bounds.c.lo))
        .order_by(c.id)
    )
    trend_q = (
        select(
            c.account_id,
            c.platform,
            func.floor((_epoch(engine, c.published_at) - MONDAY0) / WEEK_S).label("week"),
            func.count().label("posts"),
            func.avg(c.views_24h).label("views_24h"),
        )
        .where(where)
        .group_by(c.account_id, c.platform, literal_column("week"))
    )
    posts_q = (
        select(insight_posts).where(where).order_by(c.published_at.desc()).limit(max(0, posts_limit))
    )
    with engine.connect() as conn:
        summary = conn.execute(summary_q).all()
        extremes = conn.execute(extremes_q).all()
        trend = conn.execute(trend_q).all()
        posts = conn.execute(posts_q).all() if posts_limit else []
    best: dict[tuple[str, str], dict[str, Any]] = {}
    worst: dict[tuple[str, str], dict[str, Any]] = {}
    for r in extremes:  # ties: the oldest post (lowest id) is named
        key = (r.account_id, r.platform)
        if r.score == r.hi and key not in best:
            best[key] = _post_view(r)
        if r.score == r.lo and key not in worst:
            worst[key] = _post_view(r)
    weeks: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in sorted(trend, key=lambda r: (r.account_id, r.platform, r.week)):
        weeks.setdefault((r.account_id, r.platform), []).append(
            {
                "week_start": datetime.fromtimestamp(int(r.week) * WEEK_S + MONDAY0, UTC).date().isoformat(),
                "posts": int(r.posts),
                "views_24h": round(float(r.views_24h), 1) if r.views_24h is not None else None,
            }
        )
    groups = []
    for r in summary:
        key = (r.account_id, r.platform)
        series = weeks.get(key, [])
        groups.append(
            {
                "account_id": r.account_id,
                "platform": r.platform,
                "posts": int(r.posts),
                "sampled": int(r.sampled or 0),
                "deleted": int(r.deleted or 0),
                "avg_views_1h": _round(r.views_1h),
                "avg_views_24h": _round(r.views_24h),
                "avg_views_7d": _round(r.views_7d),
                "total_views": int(r.views or 0),
                "engagement_rate": _rate(r.engagements or 0, r.views),
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
