"""Best times to post, learned from the account's own posts: expected early views by hour of week.

The model, per (account, platform), on ``y = log(1 + views at 24 h)`` (log: views are multiplicative
and heavy-tailed):

1. ``mu`` = mean of ``y`` over the account's posts; residuals ``r = y - mu``.
2. For each of the 168 hours of the week, a kernel-weighted sum of the residuals of posts published
   near that hour (Gaussian kernel, ``bandwidth`` = 2.5 hours, circular across Sunday/Monday): weight
   ``n_h``, sum ``s_h``.
3. Shrinkage toward the prior: ``effect_h = (s_h + k * prior_h) / (n_h + k)`` with ``k`` pseudo-posts
   (``prior_strength``). The prior is flat (``prior_h = 0``: every hour like the account's average)
   unless one is given; an account with few posts therefore gets a nearly flat curve, and the curve
   follows the data as posts accumulate.
4. Uncertainty: ``se_h = sigma / sqrt(n_h + k)`` (``sigma``: residual standard deviation, or 1 with
   fewer than 3 posts); the 90 % band is ``exp(mu + effect_h +- 1.645 se_h) - 1`` views.

Best hours are the local maxima of ``effect_h``, at least ``min_gap`` hours apart, best first.

Hours of week are UTC unless a time zone is given: then each post's hour of week is read on the
zone's wall clock at its publish time (an audience keeps its local habits across a DST change),
and the curve, labels and next free slot are in that zone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Engine, select

from multipublish.insights.store import hour_of_week
from multipublish.insights.tables import insight_posts

HOURS = 168
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
Z90 = 1.645


def hour_label(h: int, timezone: str = "UTC") -> str:
    return f"{DAYS[h // 24]} {h % 24:02d}:00 {timezone}"



@dataclass(frozen=True, slots=True)
class BestTimes:
    """A fitted curve: expected views (and band) per hour of week, and the best hours."""

    account_id: str
    platform: str
    posts: int
    metric: str
    mu: float
    sigma: float
    effect: np.ndarray
    se: np.ndarray
    support: np.ndarray
    best_hours: list[int]
    #: The IANA zone the hours of week are read in.
    timezone: str = "UTC"

    def expected(self, h: int) -> float:
        return math.expm1(self.mu + float(self.effect[h]))

    def to_dict(self, top: int = 5) -> dict[str, Any]:
        def hour(h: int) -> dict[str, Any]:
            return {
                "hour_of_week": h,
                "label": hour_label(h, self.timezone),
                "expected_views": round(self.expected(h), 1),
                "low": round(math.expm1(self.mu + float(self.effect[h] - Z90 * self.se[h])), 1),
                "high": round(math.expm1(self.mu + float(self.effect[h] + Z90 * self.se[h])), 1),
                "posts_nearby": round(float(self.support[h]), 2),
            }

        return {
            "account_id": self.account_id,
            "platform": self.platform,
            "posts": self.posts,
            "metric": self.metric,
            "timezone": self.timezone,
            "confidence": "none" if self.posts == 0 else "low" if self.posts < 30 else "ok",
            "best": [hour(h) for h in self.best_hours[:top]],
            "hours": [hour(h) for h in range(HOURS)],
        }


def fit(
    hours: Sequence[int],
    views: Sequence[float],
    *,
    account_id: str = "",
    platform: str = "",
    metric: str = "views_24h",
    bandwidth: float = 2.5,
    prior_strength: float = 3.0,
    prior: Sequence[float] | None = None,
    min_gap: int = 6,
    timezone: str = "UTC",
) -> BestTimes:
    """Fit the curve from posts' hours of week and their early views (see the module docstring)."""
    h = np.asarray(hours, dtype=int) % HOURS
    y = np.log1p(np.maximum(np.asarray(views, dtype=float), 0.0))
    n = len(y)
    mu = float(y.mean()) if n else 0.0
    r = y - mu
    sigma = float(r.std(ddof=1)) if n >= 3 else 1.0
    grid = np.arange(HOURS)
    # Circular distance (hours) between each grid hour and each post's hour.
    d = np.abs(grid[:, None] - h[None, :]) if n else np.zeros((HOURS, 0))
    d = np.minimum(d, HOURS - d)
    w = np.exp(-0.5 * (d / bandwidth) ** 2) if n else np.zeros((HOURS, 0))
    support = w.sum(axis=1)
    sums = (w * r[None, :]).sum(axis=1) if n else np.zeros(HOURS)
    p = np.asarray(prior, dtype=float) if prior is not None else np.zeros(HOURS)
    effect = (sums + prior_strength * p) / (support + prior_strength)
    se = sigma / np.sqrt(support + prior_strength)
    return BestTimes(
        account_id=account_id,
        platform=platform,
        posts=n,
        metric=metric,
        mu=mu,
        sigma=sigma,
        effect=effect,
        se=se,
        support=support,
        best_hours=_local_maxima(effect, min_gap) if n else [],
        timezone=timezone,
    )


def _local_maxima(curve: np.ndarray, min_gap: int) -> list[int]:
    """Hours whose value is the largest within ``min_gap`` hours either side, best first."""
    chosen: list[int] = []
    for hour in map(int, np.argsort(-curve, kind="stable")):
        if all(min(abs(hour - c), HOURS - abs(hour - c)) >= min_gap for c in chosen):
            chosen.append(hour)
        if len(chosen) >= 10:
            break
    return chosen


def fit_account(
    engine: Engine,
    account_id: str,
    platform: str,
    *,
    metric: str = "views_24h",
    tz: ZoneInfo | None = None,
    **kwargs: Any,
) -> BestTimes:
    """The curve of one account on one platform, from its followed posts (hours in ``tz``)."""
    c = insight_posts.c
    column = {"views_1h": c.views_1h, "views_24h": c.views_24h, "views_7d": c.views_7d}[metric]
    local = tz is not None and tz.key != "UTC"
    # UTC reads the stored hour of week; another zone needs each publish time (DST moves offsets)
    when = c.published_at if local else c.hour_of_week
    query = select(when, column).where(
        c.account_id == account_id, c.platform == platform, column.is_not(None)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return fit(
        [hour_of_week(r[0], tz) if local else int(r[0]) for r in rows],
        [float(r[1]) for r in rows],
        account_id=account_id,
        platform=platform,
        metric=metric,
        timezone=tz.key if tz is not None else "UTC",
        **kwargs,
    )


def next_slot(model: BestTimes, after: datetime, busy: Sequence[datetime] = (), gap_minutes: int = 60,
              horizon_days: int = 7) -> datetime | None:
    """The soonest start of a best hour after ``after`` with nothing of the account's already
    scheduled within ``gap_minutes``: "add to queue at the best free slot" (a UTC time)."""
    if not model.best_hours:
        return None
    tz = ZoneInfo(model.timezone)
    # whole hours of the zone's wall clock (a zone may be offset by 30 or 45 minutes from UTC)
    start = after.astimezone(tz).replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    start += timedelta(hours=1)
    candidates = []
    for step in range(horizon_days * 24):
        when = start + timedelta(hours=step)
        how = hour_of_week(when, tz)
        if how in model.best_hours[:3]:
            candidates.append((model.best_hours.index(how), when))
    gap = timedelta(minutes=gap_minutes)
    for _, when in sorted(candidates, key=lambda x: (x[0], x[1])):
        if all(abs(when - b) >= gap for b in busy):
            return when
    return None
