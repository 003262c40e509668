"""PublishingQueue: the brief's queue API and the async workers that drain it.

One process runs one dispatcher that claims jobs in batches up to its free slots, one task per
claimed job, one lease renewer (one statement for all the process's jobs), one webhook sender, one
housekeeper (archives finished jobs past the retention) and, on PostgreSQL, one LISTEN connection.
Database calls run in a thread pool so the event loop keeps uploading while a transaction waits;
on SQLite the hot writes (finishing, claiming, results) run on the loop itself on a connection that
never waits for a lock, and go to the thread pool only when the lock is held elsewhere. On
PostgreSQL the committer awaits each finish (one function call) on an asyncio connection of its
own, and uses the thread pool when the function declines or that connection fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

import httpx
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import sessionmaker

from multipublish.catalogue import post_type_part
from multipublish.db import ensure_schema, make_engine, utcnow
from multipublish.db.engine import PgLoopConnection
from multipublish.errors import (
    ConfigurationError,
    ConflictError,
    ErrorKind,
    InputError,
    PlatformError,
)
from multipublish.media.remote import video_url_of
from multipublish.platforms.base import (
    Checkpoint,
    PreparedUpload,
    ProtocolStep,
    Publisher,
    PublishResult,
    PublishStatus,
)
from multipublish.queue.loop_store import LoopStore
from multipublish.queue.models import Job, QueuedPublishConfig, QueueStatus
from multipublish.queue.notify import Waker, listen
from multipublish.queue.store import CHANNEL, Claim, ClaimBatch, JobStore, Outcome, PlatformTask
from multipublish.settings import Settings, get_settings
from multipublish.usage.gate import QuotaGate, deferred_result
from multipublish.usage.models import Reservation
from multipublish.usage.port import NoUsage, UsagePort
from multipublish.webhooks import check_webhook_url, deliver_once, webhook_secret

if TYPE_CHECKING:
    from psycopg import AsyncConnection

log = logging.getLogger(__name__)
T = TypeVar("T")
_Count = Callable[[], Awaitable[None]]
#: Tries of a result write over a database blip (about 6 s in all).
_DB_ATTEMPTS = 7
#: Seconds between two writes of a preparation's progress.
_STAGE_INTERVAL = 0.5
#: Seconds before the committer opens its PostgreSQL connection again after it failed.
_LOOP_CONN_RETRY = 5.0


def default_worker_id() -> str:
    """Unique per process and per queue object: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _resolve_engine(db: Any) -> Engine:
    if isinstance(db, Engine):
        return db
    if isinstance(db, str):
        return make_engine(db, pool_size=20, max_overflow=50)
    if isinstance(db, sessionmaker):
        bind = db.kw.get("bind")
        if isinstance(bind, Engine):
            return bind
    bind = getattr(db, "bind", None) or getattr(db, "kw", {}).get("bind")
    if isinstance(bind, Engine):
        return bind
    raise ConfigurationError(
        "PublishingQueue needs a database URL, a SQLAlchemy Engine or a session factory bound to one"
    )


class _LeaseLost(Exception):
    """The job's lease went to another worker; stop without writing anything."""


class _StepNotStored(Exception):
    """A protocol step could not be written down: the attempt stops, its outcome is ``unknown``."""

    def __init__(self, step: ProtocolStep, reason: str) -> None:
        super().__init__(reason)
        self.step = step
        self.reason = reason


@dataclass(slots=True)
class _Running:
    claim: Claim
    task: asyncio.Task[None]
    #: Why the task was cancelled: ``cancel`` (user), ``lost`` (lease), ``stop`` (shutdown).
    reason: str | None = None
    #: Its finish is on its way to the database: the fenced write itself says if the lease was
    #: lost, and a renewal answered after it committed no longer lists the job.
    finishing: bool = False

    def stop(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
            self.task.cancel()


class PublishingQueue:
    """Persistent publishing queue (SQLite or PostgreSQL) with in-process async workers."""

    def __init__(
        self,
        db: Any,
        manager: Publisher,
        *,
        settings: Settings | None = None,
        clock: Callable[[], datetime] | None = None,
        worker_id: str | None = None,
        quota_gate: QuotaGate | None = None,
        usage: UsagePort | None = None,
        webhook_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        #: The webhook sender's transport (``None``: httpx's own); tests and embedders inject one.
        self._webhook_transport = webhook_transport
        self.engine = _resolve_engine(db)
        ensure_schema(self.engine)
        self.manager = manager
        self.clock = clock or utcnow
        self.store = JobStore(self.engine, settings=self.settings, clock=self.clock)
        self._loop_store: LoopStore[JobStore] = LoopStore(
            self.engine, lambda inline: JobStore(inline, settings=self.settings, clock=self.clock)
        )
        #: The due time the last idle wait saw (a due job seen twice is locked elsewhere).
        self._due_seen: datetime | None = None
        self.worker_id = worker_id or default_worker_id()
        #: Optional ``multipublish.usage.QuotaGate``: reserves quota and records usage per publish.
        self.quota_gate = quota_gate
        #: Where attempts are counted without a gate; default: the manager's ``usage`` port.
        self._usage = usage
        self._waker = Waker()
        self._webhook_waker = Waker()
        self._running: dict[str, _Running] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._dispatcher: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._event: asyncio.Event | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._http: httpx.AsyncClient | None = None
        self._slots = 0
        self._claiming = False
        self._committer: asyncio.Task[None] | None = None
        self._finish_event: asyncio.Event | None = None
        self._finishing: list[
            tuple[Claim, dict[str, PublishResult], int, asyncio.Future[Outcome | None]]
        ] = []
        #: PostgreSQL: the committer's own asyncio connection.
        self._committer_conn = PgLoopConnection(self.engine, retry_after=_LOOP_CONN_RETRY)

    # -- the brief's API (synchronous: one transaction each) -------------------------------------
    def add_job(self, job_id: str | None, cfg: QueuedPublishConfig) -> Job:
        """Enqueue; a duplicate id raises ``ConflictError``, bad input ``InputError`` (nothing written)."""
        if not isinstance(cfg, QueuedPublishConfig):
            raise InputError("config", "must be a QueuedPublishConfig")
        # Checked when it was built (it is frozen): the type is the proof.
        if cfg.webhook_url is not None:
            if webhook_secret(self.settings, cfg.account_id) is None:
                raise InputError(
                    "webhook_url",
                    "webhooks are signed: set MULTIPUBLISH_WEBHOOK_SECRET (whsec_...) or this "
                    "account's entry in MULTIPUBLISH_WEBHOOK_SECRETS first",
                )
            check_webhook_url(cfg.webhook_url, self.settings)
        return self._added(self.store.add(job_id, cfg))

    @property
    def writes_on_loop(self) -> bool:
        """Whether ``add_job_on_loop`` can write without an ``aconn`` (SQLite in a file)."""
        return self._loop_store.usable

    async def add_job_on_loop(
        self,
        job_id: str | None,
        cfg: QueuedPublishConfig,
        aconn: AsyncConnection[Any] | None = None,
        *,
        account: tuple[str, list[str]] | None = None,
    ) -> Job | None:
        """``add_job`` for a coroutine, without a thread: on SQLite on the loop's never-waiting
        connection (``queue.loop_store``), on PostgreSQL awaited on ``aconn``. ``None`` when
        that cannot be, with nothing written (no ``aconn``, the SQLite write lock held elsewhere,
        a webhook URL whose host must be resolved); the caller then calls ``add_job`` on a
        thread. The same errors otherwise.

        ``account`` (PostgreSQL): ``(account_id, platforms)`` that account must have, checked in
        the enqueue's own statement (``JobStore.add_on``); ``None`` also when it lacks one or the
        id is archived, and the caller then runs its full checks."""
        if not isinstance(cfg, QueuedPublishConfig) or cfg.webhook_url is not None:
            return None
        if self.store.is_pg:
            if aconn is None:
                return None
            job = await self.store.add_on(aconn, job_id, cfg, account=account)
            return None if job is None else self._added(job)
        done, job = await self._loop_store.run_soon(lambda store: store.add(job_id, cfg))
        return self._added(job) if done and job is not None else None

    def close(self) -> None:
        """Close the connection ``add_job_on_loop`` opened (the workers' are closed by ``stop``)."""
        self._loop_store.close()

    def _added(self, job: Job) -> Job:
        if job.status == QueueStatus.SCHEDULED and job.run_at is not None:
            self._waker.wake_at(job.run_at)
        else:
            self._waker.wake()
        return job

    def get_job(self, job_id: str) -> Job:
        """One job with its per-platform results (``NotFoundError`` when unknown)."""
        return self.store.get(job_id)

    async def get_job_on_loop(
        self, job_id: str, aconn: AsyncConnection[Any] | None = None
    ) -> tuple[bool, Job | None]:
        """``get_job`` for a coroutine, without a thread: on SQLite on the loop's never-waiting
        connection (a reader in WAL mode does not wait for writers), on PostgreSQL awaited on
        ``aconn``. ``(False, None)`` when it was not read there (no ``aconn``, the SQLite file
        busy, a job that is not live: the archive is read on a thread); the caller then calls
        ``get_job`` on a thread."""
        if self.store.is_pg:
            if aconn is None:
                return False, None
            import psycopg

            try:
                job = await self.store.get_on(aconn, job_id)
            except psycopg.Error:  # a lost connection (the next get opens another): a thread reads
                return False, None
            return job is not None, job
        return self._loop_store.run(lambda store: store.get(job_id))

    def list_jobs(
        self,
        status: str | QueueStatus | None = None,
        account_id: str | None = None,
        platform: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Job]:
        """Jobs newest first, filtered (finished jobs past the retention are archived: ``get_job``)."""
        return self.store.list_jobs(status, account_id, platform, limit, offset)

    def cancel_job(self, job_id: str) -> Job:
        """Cancel a waiting job now; a running one stops at its worker's next lease renewal."""
        return self.store.cancel(job_id)

    def retry_job(self, job_id: str) -> Job:
        """Put a failed job back in the queue (only platforms not yet published run again)."""
        job = self.store.retry(job_id)
        self._waker.wake()
        return job

    def update_job(
        self, job_id: str, *, priority: int | None = None, scheduled_time: datetime | None = None
    ) -> Job:
        """Change priority or time of a waiting job."""
        job = self.store.update(job_id, priority=priority, scheduled_time=scheduled_time)
        self._waker.wake()
        return job

    def get_queue_stats(self) -> dict[str, Any]:
        """Counts per status, ``scheduled_future``, ``total`` and ``success_rate`` per platform."""
        return self.store.stats()

    def webhook_log(self, job_id: str) -> list[dict[str, Any]]:
        """Webhook messages of a job with every delivery attempt."""
        return self.store.webhook_log(job_id)

    # -- workers --------------------------------------------------------------------------------
    @property
    def concurrency(self) -> int:
        """Worker slots of this process (0 before ``start``)."""
        return self._slots

    @property
    def running(self) -> bool:
        return self._dispatcher is not None and not self._dispatcher.done()

    async def start(self, concurrency: int | None = None) -> None:
        """Start ``concurrency`` workers in this process and return (they run in the background)."""
        if self.running:
            raise ConflictError("the queue's workers are already running")
        n = concurrency if concurrency is not None else self.settings.worker_concurrency
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1000:
            raise InputError("concurrency", "must be an integer from 1 to 1000")
        self._slots = n
        self._stop = asyncio.Event()
        self._event = self._waker.bind()
        self._webhook_waker.bind()
        self._executor = ThreadPoolExecutor(max_workers=n + 4, thread_name_prefix="mp-queue")
        self._claiming = True
        self._finish_event = asyncio.Event()
        self._committer = asyncio.create_task(self._commit_loop(), name="mp-commit")
        self._dispatcher = asyncio.create_task(self._dispatch(), name="mp-dispatch")
        self._tasks = [
            asyncio.create_task(self._renew_loop(), name="mp-renew"),
            asyncio.create_task(self._webhook_loop(), name="mp-webhooks"),
            asyncio.create_task(self._housekeeping(), name="mp-housekeeping"),
        ]
        if self.store.is_pg:
            self._tasks.append(
                asyncio.create_task(listen(self.engine, CHANNEL, self._waker, self._stop), name="mp-listen")
            )

    async def stop(self, graceful: bool = True) -> None:
        """Stop claiming; graceful: let uploads in flight finish (up to the grace period), then
        hand back whatever still runs (it becomes claimable at once; outcomes are reconciled)."""
        if self._dispatcher is None:
            return
        self._claiming = False
        self._waker.wake()
        with contextlib.suppress(asyncio.CancelledError):
            await self._dispatcher
        self._dispatcher = None
        if graceful and self._running:
            tasks = [r.task for r in self._running.values()]
            await asyncio.wait(tasks, timeout=self.settings.shutdown_grace_seconds)
        for run in list(self._running.values()):
            run.stop("stop")
        if self._running:
            await asyncio.wait([r.task for r in self._running.values()])
        assert self._stop is not None
        self._stop.set()
        self._webhook_waker.wake()
        if self._committer is not None:
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
            self._committer = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        self._loop_store.close()
        await self._committer_conn.close()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no job is waiting-and-due nor running anywhere (for scripts and tests)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            stats = await self._db(self.store.stats)
            due = stats["pending"] + stats["processing"] + stats["retrying"] + stats["scheduled"]
            due -= stats["scheduled_future"]
            if due <= 0 and not self._running:
                return True
            if deadline is not None and time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)

    # -- one job at a time (tests, scripts) ----------------------------------------------------
    async def process_one(self) -> Job | None:
        """Claim the next due job and run it to its outcome; ``None`` when nothing is due."""
        batch: ClaimBatch = await self._db(self.store.claim, self.worker_id, 1)
        if not batch.claims:
            return None
        claim = batch.claims[0]
        outcome = await self._execute(claim)
        return outcome.job if outcome is not None else await self._db(self.store.get, claim.job.id)

    async def run_until_empty(self, max_jobs: int | None = None) -> list[Job]:
        """Process due jobs one by one until none is due, then send due webhooks."""
        done: list[Job] = []
        while max_jobs is None or len(done) < max_jobs:
            job = await self.process_one()
            if job is None:
                break
            done.append(job)
        await self.deliver_webhooks()
        return done

    async def deliver_webhooks(self) -> int:
        """Send every due webhook message once; returns how many were attempted."""
        sent = 0
        while True:
            msgs = await self._db(self.store.claim_webhooks, self.worker_id)
            if not msgs:
                return sent
            await asyncio.gather(*(self._deliver(m) for m in msgs))
            sent += len(msgs)

    # -- internals ------------------------------------------------------------------------------
    async def _db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=self.settings.webhook_timeout,
                follow_redirects=False,
                transport=self._webhook_transport,
            )
        return self._http

    async def _dispatch(self) -> None:
        """Claim when woken for due work, when the timer to the next run time fires, or when
        enough slots are free; a wake-up that only announces a future job moves the timer."""
        assert self._event is not None
        event = self._event
        loop = asyncio.get_running_loop()
        threshold = max(1, self._slots // 4)
        claim_now = True
        deadline = loop.time()
        while self._claiming:
            free = self._slots - len(self._running)
            timeout: float | None = None
            if claim_now and free > 0 and (free >= threshold or not self._running):
                event.clear()
                self._waker.take()
                try:
                    batch = await self._write(self.store.claim, self.worker_id, free, durable=False)
                except Exception:
                    log.exception("claim failed; retrying shortly")
                    batch = ClaimBatch([])
                    await asyncio.sleep(1.0)
                for claim in batch.claims:
                    self._launch(claim)
                if len(batch.claims) >= free:
                    continue
                timeout = await self._idle_timeout(batch.capped)
                deadline = loop.time() + timeout
                claim_now = False
            elif free > 0 and not claim_now:
                timeout = max(0.0, deadline - loop.time())
            else:
                event.clear()
            if not self._claiming:
                break
            try:
                await asyncio.wait_for(event.wait(), timeout=timeout)
            except TimeoutError:
                claim_now = True
                continue
            due, hint = self._waker.take()
            event.clear()
            if due:
                claim_now = True
            elif hint is not None:
                wait = (hint - self.clock()).total_seconds()
                deadline = min(deadline, loop.time() + max(0.0, wait))
                if wait <= 0:
                    claim_now = True

    async def _idle_timeout(self, capped: bool) -> float:
        timeout = float(self.settings.queue_poll_interval)
        try:
            nxt = await self._db(self.store.next_run_at)
            lease = await self._db(self.store.earliest_lease)
        except Exception:
            log.exception("timer query failed")
            return timeout
        now = self.clock()
        for when in (nxt, lease):
            if when is not None:
                timeout = min(timeout, (when - now).total_seconds())
        floor = 0.25 if capped else 0.002
        if nxt is not None and nxt <= now:
            # Due now: it may have come due just after the claim read the clock, so claim again at
            # once; only when the same job is still there (locked elsewhere) wait a little.
            if nxt == self._due_seen:
                floor = max(floor, 0.05)
            else:
                floor = 0.0
            self._due_seen = nxt
        return max(timeout, floor)

    def _launch(self, claim: Claim) -> None:
        task = asyncio.create_task(self._run_chain(claim), name=f"mp-job-{claim.job.id}")
        self._running[claim.job.id] = _Running(claim, task)

    async def _run_chain(self, first: Claim) -> None:
        """Run a job; when it ends, the same transaction claims its successor for this slot."""
        task = asyncio.current_task()
        assert task is not None
        claim: Claim | None = first
        while claim is not None:
            run = self._running.get(claim.job.id)
            following: Claim | None = None
            try:
                outcome = await self._execute(claim, chain=self._claiming)
                if outcome is not None and outcome.next_claims:
                    following = outcome.next_claims[0]
                    for extra in outcome.next_claims[1:]:  # never more than one is asked for
                        self._launch(extra)
            except asyncio.CancelledError:
                self._running.pop(claim.job.id, None)
                self._waker.wake()
                reason = run.reason if run else None
                if reason is None:
                    raise
                try:
                    if reason == "cancel":
                        await self._db(self.store.finish, claim, {}, cancelled=True)
                    elif reason == "stop":
                        await self._db(self.store.release, claim)
                except Exception:
                    log.exception("could not record the end of job %s", claim.job.id)
                return
            except Exception:
                log.exception("job %s crashed its worker task; its lease will expire", claim.job.id)
            self._running.pop(claim.job.id, None)
            if following is not None:
                self._running[following.job.id] = _Running(following, task)
            else:
                self._waker.wake()
            claim = following

    async def _execute(self, claim: Claim, *, chain: bool = False) -> Outcome | None:
        """Run every platform still to do; write each result fenced; decide the outcome.

        A result is stored before its attempt is counted (usage, quota settle): counting can fail
        or be lost with the process, a stored success cannot, so it never leads to a second upload.
        """
        tasks = claim.tasks
        nxt = 1 if chain else 0
        try:
            if len(tasks) <= 1:
                ran = {t.key: await self._run_platform(claim, t) for t in tasks}
                outcome = await self._finish(claim, {k: r for k, (r, _) in ran.items()}, nxt)
                for _, count in ran.values():
                    if count is not None:
                        await count()
            else:

                async def one(t: PlatformTask) -> None:
                    result, count = await self._run_platform(claim, t)
                    stored = await self._write(self.store.record, claim, t.key, result)
                    if count is not None:
                        await count()
                    if not stored:
                        raise _LeaseLost

                async with asyncio.TaskGroup() as group:
                    for t in tasks:
                        group.create_task(one(t))
                outcome = await self._finish(claim, {}, nxt)
        except* _LeaseLost:
            outcome = None
        if outcome is None:
            log.warning("job %s: lease lost; the new owner's result stands", claim.job.id)
        elif outcome.webhook:
            self._webhook_waker.wake()
        return outcome

    async def _durably(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A result write, retried with backoff over a database blip (a restart, a lock timeout):
        giving up at once would leave a confirmed post to reconciliation after the lease expires."""
        delay = 0.1
        for attempt in range(_DB_ATTEMPTS):
            try:
                return await self._db(fn, *args, **kwargs)
            except DBAPIError as exc:
                if isinstance(exc, IntegrityError) or attempt == _DB_ATTEMPTS - 1:
                    raise
                log.warning("database write failed (%s); retrying in %.1fs", type(exc.orig).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(2.0, delay * 2)
        raise AssertionError("unreachable")

    async def _write(self, fn: Callable[..., T], *args: Any, durable: bool = True) -> T:
        """A store write (``fn``, a method of ``self.store``): on SQLite first on the loop, where it
        costs no thread hand-off (half a drained job's time at concurrency 1); when the lock is
        held elsewhere, or anything else goes wrong there, on a thread that waits (and retries
        over a blip when ``durable``). Safe to repeat: a write that raised committed nothing."""
        done, out = self._loop_store.run(lambda store: getattr(store, fn.__name__)(*args))
        if done:
            return cast(T, out)
        if durable:
            return await self._durably(fn, *args)
        return await self._db(fn, *args)

    async def _finish(
        self, claim: Claim, results: dict[str, PublishResult], claim_next: int
    ) -> Outcome | None:
        """Finish through the committer (one transaction for every job ending at the same time)."""
        run = self._running.get(claim.job.id)
        if run is not None and run.claim is claim:
            run.finishing = True
        if self._committer is None or self._committer.done():
            return await self._durably(self.store.finish, claim, results, claim_next=claim_next)
        fut: asyncio.Future[Outcome | None] = asyncio.get_running_loop().create_future()
        self._finishing.append((claim, results, claim_next, fut))
        assert self._finish_event is not None
        self._finish_event.set()
        return await fut

    async def _commit_loop(self) -> None:
        """Group commit: write every finished job waiting in one transaction, then the next lot."""
        assert self._finish_event is not None
        while True:
            await self._finish_event.wait()
            self._finish_event.clear()
            while self._finishing:
                batch, self._finishing = self._finishing[:64], self._finishing[64:]
                items = [(c, r, False, n) for c, r, n, _ in batch]
                try:
                    outcomes = await self._finish_batch(items)
                except Exception as exc:
                    for *_, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                for (*_, fut), outcome in zip(batch, outcomes, strict=True):
                    if not fut.done():
                        fut.set_result(outcome)
                    elif outcome is not None:
                        await self._adopt(outcome.next_claims)

    async def _finish_batch(
        self, items: list[tuple[Claim, dict[str, PublishResult], bool, int]]
    ) -> list[Outcome | None]:
        """PostgreSQL: one function call awaited on the committer's own connection; when the
        function declines or that connection fails, the transaction on a thread (the function
        is not tried again there); SQLite: ``finish_many`` through ``_write``. Repeating a finish
        that failed is safe: the statement is atomic, and the transaction's fences see whatever
        of it committed."""
        if self.store.is_pg:
            conn = await self._committer_conn.get()
            if conn is not None:
                try:
                    done = await self.store.finish_many_on(conn, items)
                except Exception as exc:
                    log.warning("finishing on the loop's connection failed (%s); on a thread instead",
                                type(exc).__name__)
                    await self._committer_conn.drop()
                    done = None
                if done is not None:
                    return done
                return await self._write(self.store.finish_many_by_transaction, items)
        return await self._write(self.store.finish_many, items)

    async def _adopt(self, claims: list[Claim]) -> None:
        """Jobs claimed for a chain that was stopped meanwhile: run them apart, or hand them back
        when the workers are stopping (never left held until their lease expires)."""
        for claim in claims:
            if self._claiming:
                self._launch(claim)
                continue
            try:
                await self._db(self.store.release, claim)
            except Exception:
                log.exception("could not hand back job %s", claim.job.id)

    async def _run_platform(self, claim: Claim, t: PlatformTask) -> tuple[PublishResult, _Count | None]:
        """One platform's attempt: its result, and the counting to run once the result is stored.

        A quota refusal is counted before it is returned (the gate says until when to wait); every
        other attempt is counted after the result is written (see ``_execute``).
        """
        job = claim.job
        reservation: Reservation | None = None
        started = time.monotonic()
        try:
            checkpoint = self._checkpoint(claim, t)
            resume: str | None = None
            if t.previous_status in ("unknown", "scheduled"):
                ref = t.reference or t.request_id
                found = await self.manager.reconcile(job.account_id, t.key, ref, checkpoint=checkpoint)
                if t.previous_status == "scheduled":
                    return found, None  # the service holds the post: never upload it again
                if found.success or found.status == PublishStatus.PROCESSING:
                    return found, None
                if found.status == PublishStatus.UNKNOWN or found.error_kind == ErrorKind.UNKNOWN:
                    return found, None  # still not known: never repost blindly; try again later
                resume = found.reference or ref  # not there: continue (or start) the upload
            if self.quota_gate is not None:  # over quota: a `quota` result that waits for the reset
                decision = await self._db(
                    self.quota_gate.reserve, job.account_id, t.key, self.clock(), job.config
                )
                if not decision.allowed:
                    return deferred_result(t.key, decision, self.clock()), None
                reservation = decision.reservation
            try:
                prepared = await self._prepare(claim, t)
                if prepared is not None and prepared.refusal is not None:
                    result = prepared.refusal  # refused before anything was sent
                else:
                    result = await self.manager.publish_to_platform(
                        job.account_id,
                        t.key,
                        job.video_path if prepared is None else str(prepared.path),
                        job.config,
                        request_id=t.request_id,
                        validate=prepared is None,  # a prepared upload was validated already
                        record_usage=False,
                        checkpoint=checkpoint,
                        resume=resume,
                    )
                    if prepared is not None and prepared.preparation is not None:
                        result.details = {**(result.details or {}), "preparation": prepared.preparation}
            except BaseException:
                if reservation is not None:
                    await asyncio.shield(self._release(reservation))
                raise
        except (asyncio.CancelledError, _LeaseLost):
            raise
        except _StepNotStored as exc:
            # The platform may hold more than we could write down: reconcile, never repost.
            result = PublishResult.failed(
                t.key,
                ErrorKind.UNKNOWN,
                f"the {exc.step.name} step could not be stored ({exc.reason}); outcome to be reconciled",
                status=PublishStatus.UNKNOWN,
                reference=exc.step.reference,
                video_id=exc.step.video_id,
                url=exc.step.url,
            )
        except PlatformError as exc:
            result = _failure(t.key, exc.message, exc.kind, exc.retry_after)
        except InputError as exc:
            result = _failure(t.key, exc.message, ErrorKind.PERMANENT)
        except Exception as exc:
            log.exception("publisher raised for job %s on %s", job.id, t.key)
            result = _failure(t.key, f"{type(exc).__name__}: {exc}", ErrorKind.TRANSIENT)
        count = functools.partial(self._count, claim, t, result, reservation, time.monotonic() - started)
        if result.error_kind == ErrorKind.QUOTA:
            await count()
            return result, None
        return result, count

    async def _prepare(self, claim: Claim, t: PlatformTask) -> PreparedUpload | None:
        """``auto_fix``: validation and media preparation as a step of its own, before the upload.

        The platform's ``phase`` is ``preparing`` with the fraction encoded (written at most every
        ``_STAGE_INTERVAL`` seconds), then ``uploading`` together with what was done, in one
        fenced write before the first byte is sent. A worker killed while encoding leaves only a
        hidden temporary file (never taken for a rendition); the next attempt prepares again, or
        reuses the finished rendition. ``None`` without ``auto_fix`` (or a publisher without
        ``prepare_upload``): the publisher validates as part of the upload, as before.
        """
        job = claim.job
        prepare_upload = getattr(self.manager, "prepare_upload", None)
        if not job.config.auto_fix or prepare_upload is None:
            return None
        if job.config.video_url or video_url_of(job.video_path):
            return None  # a video by URL: nothing to prepare here, the publisher validates it
        done = [0.0]

        def progress(fraction: float) -> None:  # from a helper thread; read by the writer below
            done[0] = max(done[0], fraction)

        async def write(phase: str, preparation: dict[str, Any] | None = None) -> None:
            if not await self._durably(self.store.stage, claim, t.key, phase, done[0], preparation):
                raise _LeaseLost

        async def keep_writing() -> None:
            written = done[0]
            while True:
                await asyncio.sleep(_STAGE_INTERVAL)
                if done[0] != written:
                    written = done[0]
                    await write("preparing")

        await write("preparing")
        writer = asyncio.create_task(keep_writing(), name=f"mp-prepare-{job.id}")
        try:
            outcome = await prepare_upload(
                job.account_id, t.key, job.video_path, job.config, progress=progress
            )
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        if not isinstance(outcome, PreparedUpload):
            raise TypeError(f"prepare_upload returned {type(outcome).__name__}, not a PreparedUpload")
        if outcome.refusal is None:
            done[0] = 1.0
            await write("uploading", outcome.preparation)
        return outcome

    def _checkpoint(self, claim: Claim, t: PlatformTask) -> Checkpoint:
        """Each protocol step goes to the job's result row (fenced) before the client goes on."""

        async def store(step: ProtocolStep) -> None:
            try:
                stored = await self._durably(self.store.checkpoint, claim, t.key, step)
            except Exception as exc:
                raise _StepNotStored(step, type(exc).__name__) from exc
            if not stored:
                raise _LeaseLost

        return store

    async def _release(self, reservation: Reservation) -> None:
        assert self.quota_gate is not None
        try:
            await self._db(self.quota_gate.release, reservation, self.clock())
        except Exception as exc:
            log.warning("could not give back a quota reservation: %s", type(exc).__name__)

    async def _count(
        self,
        claim: Claim,
        t: PlatformTask,
        result: PublishResult,
        reservation: Reservation | None,
        duration_s: float,
    ) -> None:
        """Count one attempt (usage record, quota settle). Only counts: its errors are logged."""
        job = claim.job
        post_type = post_type_part(t.key) or None
        try:
            if self.quota_gate is not None:
                verdict = await self._db(
                    self.quota_gate.settle,
                    reservation,
                    job.account_id,
                    result,
                    job_id=job.id,
                    attempt=claim.attempt,
                    duration_s=duration_s,
                    post_type=post_type,
                    config=job.config,
                    request_id=t.request_id,
                    now=self.clock(),
                )
                if verdict is not None and verdict.wait_until is not None:
                    # the store's reset time (midnight Pacific, the service's reset) on our clock
                    result.retry_after = max(0.0, (verdict.wait_until - self.clock()).total_seconds())
                    result.details = {**result.details, "quota_wait_until": verdict.wait_until.isoformat()}
                return
            usage = self._usage_port()
            if usage is not None and not isinstance(usage, NoUsage):  # nothing to count: no thread hop
                await self._db(
                    usage.record,
                    job.account_id,
                    result,
                    duration_s=duration_s,
                    post_type=post_type,
                    config=job.config,
                    job_id=job.id,
                    attempt=claim.attempt,
                    request_id=t.request_id,
                )
        except Exception as exc:
            log.warning(
                "job %s: counting the attempt on %s failed (the result stands): %s",
                job.id,
                t.key,
                type(exc).__name__,
            )

    def _usage_port(self) -> UsagePort | None:
        """The port usage is counted through when there is no quota gate (the manager's)."""
        if self._usage is None:
            self._usage = getattr(self.manager, "usage", None)
        return self._usage

    async def _renew_loop(self) -> None:
        assert self._stop is not None
        lease = float(self.settings.lease_seconds)
        interval = max(0.05, lease / 3)
        last_ok = time.monotonic()
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=interval)
            if not self._running:
                last_ok = time.monotonic()
                continue
            # Only jobs held before the renewal is sent are judged by its answer: a job claimed
            # while it is in flight (a chained claim) is missing from it without being lost.
            judged = dict(self._running)
            try:
                held = await self._db(self.store.renew, self.worker_id)
            except Exception:
                log.exception("lease renewal failed")
                if time.monotonic() - last_ok > lease * 0.8:
                    log.error("renewals keep failing: stopping this worker's jobs before leases expire")
                    for run in list(self._running.values()):
                        run.stop("lost")
                continue
            last_ok = time.monotonic()
            for jid, run in judged.items():
                if self._running.get(jid) is not run or run.finishing:
                    continue  # ended meanwhile (its slot may hold a new job, judged next time)
                state = held.get(jid)
                if state is None or state[0] != run.claim.attempt:
                    run.stop("lost")
                elif state[1]:
                    run.stop("cancel")

    async def _webhook_loop(self) -> None:
        assert self._stop is not None
        event = self._webhook_waker.bind()
        while not self._stop.is_set():
            event.clear()
            try:
                sent = await self.deliver_webhooks()
                nxt = await self._db(self.store.next_webhook_at) if not sent else None
            except Exception:
                log.exception("webhook delivery loop failed")
                nxt, sent = None, 0
            timeout = float(self.settings.queue_poll_interval)
            if nxt is not None:
                timeout = min(timeout, max(0.01, (nxt - self.clock()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=timeout)

    async def _deliver(self, msg: Any) -> None:
        result = await deliver_once(self._client(), msg.url, msg.id, dict(msg.payload), self.settings)
        await self._db(
            self.store.record_webhook_attempt,
            msg,
            success=result.success,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
        )

    async def _housekeeping(self) -> None:
        """Every 10 s: the planner's statistics of a queue that grew a lot, and a vacuum of a
        queue table left mostly dead (PostgreSQL); every minute: finished jobs past the retention
        go to the archive."""
        assert self._stop is not None
        archive_at = 0.0
        while not self._stop.is_set():
            try:
                analysed = await self._db(self.store.refresh_statistics)
                if analysed:
                    log.info("queue tables maintained (analysed, or vacuumed): %s", ", ".join(analysed))
            except Exception as exc:  # the claim still works with stale statistics, only slower
                log.warning("could not refresh the planner's statistics: %s", type(exc).__name__)
            if time.monotonic() >= archive_at:
                archive_at = time.monotonic() + 60.0
                try:
                    while await self._db(self.store.archive) >= 500:
                        pass
                except Exception:
                    log.exception("archiving finished jobs failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=10.0)


def _failure(key: str, message: str, kind: ErrorKind, retry_after: float | None = None) -> PublishResult:
    return PublishResult.failed(key, kind, message, retry_after=retry_after)
