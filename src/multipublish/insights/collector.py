"""The metrics collector: leased rounds of due posts, batched calls, quota counted, retried by itself.

It runs next to the publish workers (started with them by ``serve`` and ``worker``) but keeps its
work in its own leased table (``insight_posts``) instead of the publish queue, so collection and
publishing never contend for the same rows. One round: follow newly published posts, claim the due
ones, group them per account (YouTube: 50 videos per ``videos.list`` call, 1 unit each; upload-post:
one call per upload, answering for all its platforms), write the samples in one batch.

Failures hand the posts back with a reason: a deleted post is ``deleted`` (final); a refused scope or
a removed account is ``paused`` (retried every ``PAUSE``); quota waits for the reset; transient
errors back off. None of them needs a person to restart anything.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from multipublish.errors import ErrorKind, MultipublishError
from multipublish.insights.sources import (
    YOUTUBE_MAX_IDS,
    MetricsError,
    UploadPostMetrics,
    YouTubeAnalytics,
)
from multipublish.insights.store import InsightStore, Sample, Task
from multipublish.platforms.google_oauth import can_read_analytics
from multipublish.settings import Settings

log = logging.getLogger("multipublish.insights")

#: How long a paused post (scope revoked, account removed) waits before it is tried again.
PAUSE = timedelta(hours=6)
#: Backoff of transient failures: base * 2**attempts, capped.
BACKOFF_BASE = 60.0
BACKOFF_CAP = 3600.0
YOUTUBE_BUCKET = "youtube"
#: YouTube Analytics reports asked for at once per account.
ANALYTICS_PARALLEL = 8
#: The state of a YouTube post whose account did not grant the Analytics scope.
NO_ANALYTICS = ("no watch time: the account did not grant yt-analytics.readonly (YouTube Analytics); "
                "views, likes and comments from videos.list")
#: upload-post analytics calls in flight at once per account (its rate limit is per API key).
UPLOAD_POST_PARALLEL = 8


@dataclass(slots=True)
class RoundStats:
    """What one collection round did (for logs, tests and the benchmark)."""

    discovered: int = 0
    claimed: int = 0
    sampled: int = 0
    deleted: int = 0
    deferred: int = 0
    paused: int = 0
    calls: int = 0
    quota_units: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: RoundStats) -> None:
        for name in ("discovered", "claimed", "sampled", "deleted", "deferred", "paused", "calls",
                     "quota_units"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors


class MetricsCollector:
    """Collects the metrics of due posts; ``run_once`` for one round, ``start``/``stop`` for a loop."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        clock: Callable[[], datetime] | None = None,
        worker_id: str | None = None,
        accounts: Any = None,
    ) -> None:
        from multipublish.accounts import AccountStore
        from multipublish.usage.store import UsageStore

        self.engine = engine
        self.settings = settings
        self._clock = clock or (lambda: datetime.now(UTC))
        self.store = InsightStore(engine, settings, clock=self._clock)
        self.usage = UsageStore(engine, settings, clock=self._clock)
        self.accounts = accounts or AccountStore(engine, settings)
        self.worker_id = worker_id or f"insights-{socket.gethostname()}-{os.getpid()}"
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        #: Totals since start (the benchmark reads them).
        self.totals = RoundStats()
        #: Account -> (not before, why): YouTube Analytics refused (scope absent or revoked), so
        #: watch time is not asked again before then; views still come from videos.list.
        self.analytics_off: dict[str, tuple[datetime, str]] = {}

    def now(self) -> datetime:
        return self._clock().astimezone(UTC)

    async def _db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    # -- one round -------------------------------------------------------------------------------
    async def run_once(self, *, discover: bool = True, limit: int | None = None) -> RoundStats:
        """Follow new posts, claim the due ones and sample them."""
        stats = RoundStats()
        now = self.now()
        if discover:
            stats.discovered = await self._db(self.store.discover, now)
        tasks: list[Task] = await self._db(
            self.store.claim, self.worker_id, limit=limit or self.settings.insights_batch, now=now
        )
        stats.claimed = len(tasks)
        groups: dict[tuple[str, str], list[Task]] = defaultdict(list)
        for t in tasks:
            key = (t.account_id, "youtube" if t.platform == "youtube" else "upload-post")
            groups[key].append(t)
        results = await asyncio.gather(
            *(self._collect_group(acc, kind, group) for (acc, kind), group in groups.items())
        )
        for r in results:
            stats.add(r)
        self.totals.add(stats)
        return stats

    async def run_until_idle(self, max_rounds: int = 1000) -> RoundStats:
        """Rounds until nothing is due now (tests and the benchmark)."""
        total = RoundStats()
        for i in range(max_rounds):
            r = await self.run_once(discover=i == 0)
            total.add(r)
            if r.claimed == 0:
                break
        return total

    async def _collect_group(self, account_id: str, kind: str, tasks: list[Task]) -> RoundStats:
        stats = RoundStats()
        platform = "youtube" if kind == "youtube" else tasks[0].platform
        try:
            record = await self._db(self.accounts.load, account_id, platform)
        except MultipublishError as exc:
            await self._hand_back(tasks, stats, "paused", f"account unusable: {exc.message}",
                                  self.now() + PAUSE, count=False)
            return stats
        try:
            if kind == "youtube":
                await self._youtube(account_id, record.credentials, tasks, stats)
            else:
                await self._upload_post(record.credentials, tasks, stats)
        except Exception as exc:  # never lose the lease silently: hand the posts back
            log.exception("metrics collection failed for account %s", account_id)
            await self._hand_back(tasks, stats, "active", f"unexpected error: {type(exc).__name__}",
                                  self.now() + timedelta(seconds=BACKOFF_BASE))
        return stats

    async def _hand_back(
        self,
        tasks: list[Task],
        stats: RoundStats,
        state: str,
        reason: str,
        retry_at: datetime | None,
        *,
        count: bool = True,
    ) -> None:
        if not tasks:
            return
        await self._db(
            self.store.hand_back, tasks, self.worker_id, state=state, reason=reason,
            retry_at=retry_at, count_attempt=count, now=self.now(),
        )
        if state == "deleted":
            stats.deleted += len(tasks)
        elif state == "paused":
            stats.paused += len(tasks)
        else:
            stats.deferred += len(tasks)
        stats.errors.append(reason)

    async def _failed(
        self, tasks: list[Task], stats: RoundStats, exc: MetricsError, bucket_owner: str
    ) -> None:
        """Hand back after a failed call, with the wait its kind asks for."""
        now = self.now()
        if exc.kind == ErrorKind.QUOTA:
            until = await self._db(self.usage.mark_exhausted, bucket_owner, "youtube", now)
            await self._hand_back(tasks, stats, "active",
                                  f"waiting for the quota reset at {until.isoformat()}: {exc}",
                                  until, count=False)
        elif exc.kind == ErrorKind.AUTH:
            await self._hand_back(tasks, stats, "paused", str(exc), now + PAUSE, count=False)
        else:
            attempts = max(t.attempts for t in tasks)
            delay = exc.retry_after or min(BACKOFF_CAP, BACKOFF_BASE * 2**attempts)
            await self._hand_back(tasks, stats, "active", str(exc), now + timedelta(seconds=delay))

    # -- YouTube ---------------------------------------------------------------------------------
    async def _youtube(self, account_id: str, credentials: dict[str, Any], tasks: list[Task],
                       stats: RoundStats) -> None:
        def save(partial: dict[str, Any]) -> None:
            self.accounts.update_credentials(account_id, "youtube", partial)

        source = YouTubeAnalytics(account_id, credentials, self.settings, save)
        analytics = can_read_analytics(credentials.get("scopes"))
        unit = self.settings.youtube_unit_cost("videos.list")
        try:
            for start in range(0, len(tasks), YOUTUBE_MAX_IDS):
                chunk = tasks[start:start + YOUTUBE_MAX_IDS]
                decision = await self._db(self.usage.spend, account_id, YOUTUBE_BUCKET, unit, self.now())
                if not decision.allowed:
                    rest = tasks[start:]
                    await self._hand_back(rest, stats, "active",
                                          f"waiting for YouTube quota: {decision.reason}",
                                          decision.wait_until or self.now() + PAUSE, count=False)
                    return
                stats.quota_units += unit
                try:
                    fetched = await source.statistics([t.video_id for t in chunk])
                except MetricsError as exc:
                    if exc.kind == ErrorKind.QUOTA:
                        await self._failed(tasks[start:], stats, exc, account_id)
                        return
                    await self._failed(chunk, stats, exc, account_id)
                    continue
                stats.calls += fetched.calls
                found = [(t, fetched.samples[t.video_id]) for t in chunk if t.video_id in fetched.samples]
                gone = [t for t in chunk if t.video_id in fetched.missing]
                notes: dict[int, str] = {}
                if found:
                    if analytics:
                        notes = await self._watch_time(source, account_id, found, stats)
                    else:
                        notes = dict.fromkeys((t.id for t, _ in found), NO_ANALYTICS)
                    stats.sampled += await self._db(
                        self.store.save_samples, found, self.worker_id,
                        units_per_post=unit / len(chunk), now=self.now(), notes=notes,
                    )
                await self._hand_back(gone, stats, "deleted",
                                      "the video is no longer on YouTube (deleted or made private)",
                                      None, count=False)
        finally:
            await source.aclose()

    async def _watch_time(self, source: YouTubeAnalytics, account_id: str,
                          found: list[tuple[Task, Sample]], stats: RoundStats) -> dict[int, str]:
        """Watch time from YouTube Analytics ``reports.query`` into each sample (one call per video,
        ``ANALYTICS_PARALLEL`` at a time); the reason per post when it could not be had.

        A refusal of the scope turns Analytics off for the account for ``PAUSE`` (a clear state on
        each post, collection going on from videos.list); other errors skip it for this round."""
        now = self.now()
        off = self.analytics_off.get(account_id)
        if off is not None and off[0] > now:
            return {t.id: off[1] for t, _ in found}
        self.analytics_off.pop(account_id, None)
        end = now.date().isoformat()
        gate = asyncio.Semaphore(ANALYTICS_PARALLEL)

        async def one(task: Task, sample: Sample) -> str | MetricsError | None:
            start = (task.published_at - timedelta(days=1)).date().isoformat()  # report days are PT
            async with gate:
                try:
                    report = await source.daily_views(task.video_id, start, end)
                except MetricsError as exc:
                    return exc
            stats.calls += 1
            sample.watch_time_s = report.watch_time_s
            return None

        results = await asyncio.gather(*(one(t, s) for t, s in found))
        notes: dict[int, str] = {}
        for (task, _), outcome in zip(found, results, strict=True):
            if isinstance(outcome, MetricsError):
                if outcome.kind == ErrorKind.AUTH:
                    why = (f"YouTube Analytics refused ({outcome}): the yt-analytics.readonly scope is "
                           "absent or was revoked; watch time not collected, views from videos.list; "
                           f"asked again after {(now + PAUSE).isoformat()}")
                    self.analytics_off[account_id] = (now + PAUSE, why)
                    notes[task.id] = why
                else:
                    notes[task.id] = (f"YouTube Analytics unavailable this round ({outcome}); "
                                      "views from videos.list")
        if account_id in self.analytics_off:  # one refusal speaks for the whole account
            why = self.analytics_off[account_id][1]
            notes = {t.id: why for t, _ in found}
        return notes

    # -- upload-post -----------------------------------------------------------------------------
    async def _upload_post(self, credentials: dict[str, Any], tasks: list[Task], stats: RoundStats) -> None:
        """One post-analytics call per upload (it answers for all its platforms), ``UPLOAD_POST_PARALLEL``
        at a time; the samples of the whole group are written in one batch."""
        source = UploadPostMetrics(credentials, self.settings)
        by_request: dict[str, list[Task]] = defaultdict(list)
        for t in tasks:
            by_request[t.reference or t.video_id].append(t)
        gate = asyncio.Semaphore(UPLOAD_POST_PARALLEL)

        async def ask(request_id: str) -> dict[str, Sample] | MetricsError | None:
            async with gate:
                try:
                    return await source.post(request_id)
                except MetricsError as exc:
                    return exc

        try:
            answers = await asyncio.gather(*(ask(rid) for rid in by_request))
        finally:
            await source.aclose()
        found: list[tuple[Task, Sample]] = []
        missing: list[Task] = []
        deleted: list[Task] = []
        for (_rid, group), answer in zip(by_request.items(), answers, strict=True):
            if isinstance(answer, MetricsError):
                exc = answer
                if exc.kind == ErrorKind.QUOTA:
                    exc = MetricsError(ErrorKind.RATE_LIMITED, str(exc), 3600.0)
                await self._failed(group, stats, exc, group[0].account_id)
                continue
            stats.calls += 1
            if answer is None:
                deleted += group
                continue
            for t in group:
                sample = answer.get(t.platform)
                if sample is not None:
                    found.append((t, sample))
                else:
                    missing.append(t)
        if found:
            stats.sampled += await self._db(self.store.save_samples, found, self.worker_id, now=self.now())
        await self._hand_back(deleted, stats, "deleted", "upload-post no longer has this post (deleted)",
                              None, count=False)
        await self._hand_back(missing, stats, "paused", "upload-post gave no analytics for this platform",
                              self.now() + PAUSE, count=False)

    # -- the loop ----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Collect in the background until :meth:`stop`."""
        if self._task is None or self._task.done():
            self._stop = asyncio.Event()
            self._task = asyncio.create_task(self._loop(), name="insights-collector")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        from multipublish.insights.experiments import ExperimentRunner

        experiments = ExperimentRunner(self.engine, self.settings, clock=self._clock, accounts=self.accounts)
        while not self._stop.is_set():
            try:
                await experiments.advance(self.worker_id)  # title switches and verdicts that are due
                stats = await self.run_once()
                if stats.claimed >= self.settings.insights_batch:
                    continue  # more is due now
                due = await self._db(self.store.next_due_at)
            except Exception:  # a database hiccup must not end collection
                log.exception("metrics collection round failed")
                due = None
            wait = self.settings.insights_poll_interval
            if due is not None:
                wait = min(wait, max(0.5, (due - self.now()).total_seconds()))
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=wait)
            except TimeoutError:
                pass
