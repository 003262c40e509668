"""The followed posts and their samples: registration, leased claims, samples written in batches.

A post is followed from the moment it is known published (``register``, or ``discover`` reading the
queue's published results). Each collection task is the post row itself: due at ``next_sample_at``,
claimed with a lease so two workers never sample the same post, handed back with the next due time
(from the schedule) or a retry time. A lost lease simply expires and the post is claimed again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import Engine, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from multipublish.catalogue import post_type_part
from multipublish.db import ensure_schema
from multipublish.db.tables import job_results, jobs
from multipublish.insights.tables import insight_posts, insight_samples
from multipublish.settings import Settings

Clock = Callable[[], datetime]
#: Ages (seconds) whose views are kept on the post row for fast insight queries.
MILESTONES = {"views_1h": 3600.0, "views_24h": 86400.0, "views_7d": 7 * 86400.0}
#: Post states the collector still works on (``paused``: retried later by itself).
LIVE_STATES = ("active", "paused")


def hour_of_week(when: datetime, tz: tzinfo | None = None) -> int:
    """Monday 00h = 0 .. Sunday 23h = 167, on the wall clock of ``tz`` (UTC when none)."""
    when = when.astimezone(tz or UTC)
    return when.weekday() * 24 + when.hour


def next_due(published_at: datetime, schedule: Sequence[float], age_s: float) -> datetime | None:
    """The first scheduled sample after ``age_s`` (``None`` once the schedule is over).

    A late sample (after a quota stop, say) does not make the collector backfill the ages it
    missed: it takes one sample now and continues with the next scheduled age.
    """
    for age in sorted(schedule):
        if age > age_s + 1e-6:
            return published_at + timedelta(seconds=age)
    return None


@dataclass(slots=True)
class Task:
    """One claimed post to sample."""

    id: int
    account_id: str
    platform: str
    video_id: str
    reference: str | None
    published_at: datetime
    attempts: int
    last_sampled_at: datetime | None
    views: int | None


@dataclass(slots=True)
class Sample:
    """Cumulative counters of one post at one time (``None``: the platform does not give it)."""

    views: int | None
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    watch_time_s: float | None = None


class InsightStore:
    """Reads and writes ``insight_posts`` and ``insight_samples``."""

    def __init__(self, engine: Engine, settings: Settings | None = None, clock: Clock | None = None) -> None:
        self.engine = engine
        self.settings = settings or Settings()
        self._clock = clock or (lambda: datetime.now(UTC))
        ensure_schema(engine)

    def now(self) -> datetime:
        return self._clock().astimezone(UTC)

    @property
    def schedule(self) -> list[float]:
        return sorted(float(a) for a in self.settings.insights_schedule if a > 0)

    # -- following posts -------------------------------------------------------------------------
    def register(
        self,
        account_id: str,
        platform: str,
        video_id: str,
        published_at: datetime,
        *,
        reference: str | None = None,
        url: str | None = None,
        job_id: str | None = None,
        title: str = "",
        post_type: str | None = None,
        now: datetime | None = None,
    ) -> int:
        """Follow one published post (idempotent: the same post twice is one row); its id."""
        self.register_many(
            [
                {
                    "account_id": account_id,
                    "platform": platform,
                    "video_id": video_id,
                    "published_at": published_at,
                    "reference": reference,
                    "url": url,
                    "job_id": job_id,
                    "title": title,
                    "post_type": post_type,
                }
            ],
            now=now,
        )
        with self.engine.connect() as conn:
            found = conn.execute(
                select(insight_posts.c.id).where(
                    insight_posts.c.platform == platform,
                    insight_posts.c.account_id == account_id,
                    insight_posts.c.video_id == video_id,
                )
            ).scalar_one()
        return int(found)

    def register_many(self, posts: Iterable[dict[str, Any]], *, now: datetime | None = None) -> int:
        """Follow many posts in one statement; rows already followed are left alone."""
        now = now or self.now()
        schedule = self.schedule
        rows = []
        for p in posts:
            published = p["published_at"].astimezone(UTC)
            # The first sample is due at the first scheduled age; a post published long ago is
            # sampled at once, then follows the schedule from its real age.
            first = next_due(published, schedule, -1.0) or now
            rows.append(
                {
                    "account_id": p["account_id"],
                    "platform": p["platform"],
                    "post_type": p.get("post_type"),
                    "video_id": p["video_id"],
                    "reference": p.get("reference"),
                    "url": p.get("url"),
                    "job_id": p.get("job_id"),
                    "title": (p.get("title") or "")[:500],
                    "published_at": published,
                    "hour_of_week": hour_of_week(published),
                    "state": "active",
                    "next_sample_at": first if first > now else now,
                    "samples": 0,
                    "attempts": 0,
                    "quota_units": 0.0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        if not rows:
            return 0
        with self.engine.begin() as conn:
            ins = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            result = conn.execute(
                ins(insight_posts).on_conflict_do_nothing(
                    index_elements=["platform", "account_id", "video_id"]
                ),
                rows,
            )
        return int(result.rowcount or 0)

    def discover(self, now: datetime | None = None, limit: int = 5000) -> int:
        """Follow posts the queue published that are not followed yet (read-only on the queue)."""
        now = now or self.now()
        horizon = now - timedelta(seconds=max(self.schedule or [0.0]))
        followed = (
            select(insight_posts.c.id)
            .where(
                insight_posts.c.platform == job_results.c.platform_name,
                insight_posts.c.account_id == jobs.c.account_id,
                insight_posts.c.video_id == job_results.c.video_id,
            )
            .exists()
        )
        query = (
            select(
                jobs.c.account_id,
                jobs.c.title,
                job_results.c.job_id,
                job_results.c.platform,
                job_results.c.platform_name,
                job_results.c.video_id,
                job_results.c.url,
                job_results.c.reference,
                job_results.c.request_id,
                job_results.c.published_at,
            )
            .join(jobs, jobs.c.id == job_results.c.job_id)
            .where(
                job_results.c.status == "published",
                job_results.c.video_id.is_not(None),
                job_results.c.published_at.is_not(None),
                job_results.c.published_at >= horizon,
                ~followed,
            )
            .limit(limit)
        )
        with self.engine.connect() as conn:
            found = conn.execute(query).all()
        posts = []
        for r in found:
            post_type = post_type_part(str(r.platform))
            posts.append(
                {
                    "account_id": r.account_id,
                    "platform": r.platform_name,
                    "post_type": post_type or None,
                    "video_id": r.video_id,
                    # upload-post's per-post analytics are keyed by the upload's request id.
                    # (the request id we sent; a natively scheduled post's reference is a job id).
                    "reference": (r.request_id or r.reference) if r.platform_name != "youtube" else None,
                    "url": r.url,
                    "job_id": r.job_id,
                    "title": r.title or "",
                    "published_at": r.published_at,
                }
            )
        return self.register_many(posts, now=now)

    # -- the collector's work --------------------------------------------------------------------
    def claim(self, worker: str, *, limit: int, now: datetime | None = None) -> list[Task]:
        """Lease up to ``limit`` due posts to ``worker`` (oldest due first)."""
        now = now or self.now()
        lease = now + timedelta(seconds=self.settings.insights_lease_seconds)
        c = insight_posts.c
        due = (
            select(c.id)
            .where(
                c.state.in_(LIVE_STATES),
                c.next_sample_at <= now,
                or_(c.lease_expires_at.is_(None), c.lease_expires_at < now),
            )
            .order_by(c.next_sample_at)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    due = due.with_for_update(skip_locked=True)
                ids = [int(i) for i in conn.execute(due).scalars()]
                if not ids:
                    return []
                conn.execute(
                    update(insight_posts)
                    .where(c.id.in_(ids))
                    .values(locked_by=worker, lease_expires_at=lease)
                )
                rows = conn.execute(
                    select(
                        c.id, c.account_id, c.platform, c.video_id, c.reference, c.published_at,
                        c.attempts, c.last_sampled_at, c.views,
                    ).where(c.id.in_(ids))
                ).all()
        return [
            Task(
                id=int(r.id),
                account_id=r.account_id,
                platform=r.platform,
                video_id=r.video_id,
                reference=r.reference,
                published_at=r.published_at,
                attempts=int(r.attempts),
                last_sampled_at=r.last_sampled_at,
                views=r.views,
            )
            for r in rows
        ]

    def save_samples(
        self,
        samples: Sequence[tuple[Task, Sample]],
        worker: str,
        *,
        units_per_post: float = 0.0,
        now: datetime | None = None,
        notes: Mapping[int, str] | None = None,
    ) -> int:
        """Write one sample per post and hand each post back with its next due time (batched).

        ``notes`` (post id -> words) is kept as the post's ``state_reason``: what this sample lacks
        and why (e.g. no watch time without the Analytics scope); cleared when absent."""
        now = now or self.now()
        if not samples:
            return 0
        schedule = self.schedule
        sample_rows: list[dict[str, Any]] = []
        post_rows: list[dict[str, Any]] = []
        for task, s in samples:
            age = max(0.0, (now - task.published_at).total_seconds())
            sample_rows.append(
                {
                    "post_id": task.id,
                    "taken_at": now,
                    "age_s": age,
                    "views": s.views,
                    "likes": s.likes,
                    "comments": s.comments,
                    "shares": s.shares,
                    "watch_time_s": s.watch_time_s,
                }
            )
            prev_age = (
                (task.last_sampled_at - task.published_at).total_seconds()
                if task.last_sampled_at is not None
                else 0.0
            )
            prev_views = float(task.views or 0) if task.last_sampled_at is not None else 0.0
            milestone: dict[str, float | None] = {}
            for name, at in MILESTONES.items():
                if s.views is not None and prev_age < at <= age:
                    span = age - prev_age
                    frac = (at - prev_age) / span if span > 0 else 1.0
                    milestone[name] = prev_views + frac * (float(s.views) - prev_views)
            due = next_due(task.published_at, schedule, age)
            post_rows.append(
                {
                    "b_id": task.id,
                    "b_worker": worker,
                    "b_views": s.views,
                    "b_likes": s.likes,
                    "b_comments": s.comments,
                    "b_shares": s.shares,
                    "b_watch": s.watch_time_s,
                    "b_next": due,
                    "b_state": "active" if due is not None else "done",
                    "b_units": units_per_post,
                    "b_v1h": milestone.get("views_1h"),
                    "b_v24h": milestone.get("views_24h"),
                    "b_v7d": milestone.get("views_7d"),
                    "b_reason": (notes or {}).get(task.id),
                }
            )
        c = insight_posts.c
        stmt = (
            update(insight_posts)
            .where(c.id == bindparam("b_id"), c.locked_by == bindparam("b_worker"))
            .values(
                views=bindparam("b_views"),
                likes=bindparam("b_likes"),
                comments=bindparam("b_comments"),
                shares=bindparam("b_shares"),
                watch_time_s=func.coalesce(bindparam("b_watch"), c.watch_time_s),  # last known
                next_sample_at=bindparam("b_next"),
                state=bindparam("b_state"),
                state_reason=bindparam("b_reason"),
                samples=c.samples + 1,
                attempts=0,
                last_error=None,
                last_sampled_at=now,
                quota_units=c.quota_units + bindparam("b_units"),
                views_1h=func.coalesce(bindparam("b_v1h"), c.views_1h),
                views_24h=func.coalesce(bindparam("b_v24h"), c.views_24h),
                views_7d=func.coalesce(bindparam("b_v7d"), c.views_7d),
                locked_by=None,
                lease_expires_at=None,
                updated_at=now,
            )
        )
        with self.engine.begin() as conn:
            conn.execute(insert(insight_samples), sample_rows)
            conn.execute(stmt, post_rows)
        return len(sample_rows)

    def hand_back(
        self,
        tasks: Sequence[Task],
        worker: str,
        *,
        state: str,
        reason: str,
        retry_at: datetime | None,
        count_attempt: bool = True,
        now: datetime | None = None,
    ) -> None:
        """Give posts back unsampled: ``deleted`` (final), ``paused`` (scope revoked, account gone:
        retried at ``retry_at``) or ``active`` (transient, quota: retried at ``retry_at``). A post
        that failed ``insights_max_attempts`` times in a row becomes ``failed``."""
        now = now or self.now()
        if not tasks:
            return
        c = insight_posts.c
        limit = self.settings.insights_max_attempts
        with self.engine.begin() as conn:
            for t in tasks:
                attempts = t.attempts + (1 if count_attempt else 0)
                final = state
                if count_attempt and state == "active" and attempts >= limit:
                    final = "failed"
                conn.execute(
                    update(insight_posts)
                    .where(c.id == t.id, or_(c.locked_by == worker, c.locked_by.is_(None)))
                    .values(
                        state=final,
                        state_reason=reason
                        if final != "failed"
                        else f"gave up after {attempts} failed attempts: {reason}",
                        last_error=reason,
                        attempts=attempts,
                        next_sample_at=retry_at if final in LIVE_STATES else None,
                        locked_by=None,
                        lease_expires_at=None,
                        updated_at=now,
                    )
                )

    def next_due_at(self) -> datetime | None:
        """When the next post falls due (for the collector's sleep)."""
        c = insight_posts.c
        with self.engine.connect() as conn:
            value = conn.execute(
                select(func.min(c.next_sample_at)).where(c.state.in_(LIVE_STATES))
            ).scalar()
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value  # type: ignore[no-any-return]

    # -- reading -----------------------------------------------------------------------------------
    def post(self, post_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(insight_posts).where(insight_posts.c.id == post_id)).one()
        return dict(row._mapping)

    def find(self, platform: str, account_id: str, video_id: str) -> dict[str, Any] | None:
        c = insight_posts.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(insight_posts).where(
                    and_(c.platform == platform, c.account_id == account_id, c.video_id == video_id)
                )
            ).first()
        return dict(row._mapping) if row is not None else None

    def samples(self, post_id: int) -> list[dict[str, Any]]:
        s = insight_samples.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(insight_samples).where(s.post_id == post_id).order_by(s.age_s)
            ).all()
        return [dict(r._mapping) for r in rows]
