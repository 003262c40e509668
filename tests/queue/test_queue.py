"""Queue behaviour on real SQLite and real PostgreSQL (the ``engine`` fixture runs both)."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import timedelta
from typing import ClassVar

import pytest
from sqlalchemy import Engine, func, select

from multipublish.db import job_results, jobs
from multipublish.errors import ConflictError, InputError, NotFoundError
from multipublish.platforms.base import PublishConfig
from multipublish.queue import PublishingQueue, QueuedPublishConfig, QueueStatus
from multipublish.queue.backoff import JITTER
from tests.queue.conftest import FakeClock, MakeQueue
from tests.queue.publishers import RecordingPublisher


def cfg(platforms: list[str] | None = None, **kw: object) -> QueuedPublishConfig:
    return QueuedPublishConfig(
        account_id=str(kw.pop("account_id", "acc")),
        platforms=platforms or ["tiktok"],
        video_path="/videos/clip.mp4",
        config=PublishConfig(title=str(kw.pop("title", "A video"))),
        **kw,  # type: ignore[arg-type]
    )


def count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


async def test_priority_then_fifo(make_queue: MakeQueue) -> None:
    pub = RecordingPublisher()
    q = make_queue(pub)
    for name, prio in [("a", 5), ("b", 5), ("c", 9), ("d", 1), ("e", 9), ("f", 5)]:
        q.add_job(name, cfg(priority=prio))
    done = [job.id for job in await q.run_until_empty()]
    assert done == ["c", "e", "a", "b", "f", "d"]
    assert [c[2] for c in pub.calls] == [f"mp-{j}-tiktok" for j in done]


async def test_scheduled_job_starts_at_its_time_not_before(make_queue: MakeQueue, clock: FakeClock) -> None:
    q = make_queue()
    job = q.add_job("later", cfg(scheduled_time=clock.now + timedelta(minutes=10)))
    assert job.status == QueueStatus.SCHEDULED
    q.add_job("now", cfg())
    assert [j.id for j in await q.run_until_empty()] == ["now"]
    clock.advance(599)
    assert await q.process_one() is None
    assert q.get_job("later").status == QueueStatus.SCHEDULED
    assert q.get_queue_stats()["scheduled_future"] == 1
    clock.advance(1)
    started = await q.process_one()
    assert started is not None and started.id == "later"
    assert started.status == QueueStatus.COMPLETED
    assert started.started_at == clock.now


async def test_naive_scheduled_time_is_utc(make_queue: MakeQueue, clock: FakeClock) -> None:
    q = make_queue()
    naive = (clock.now + timedelta(hours=1)).replace(tzinfo=None)
    job = q.add_job("n", cfg(scheduled_time=naive))
    assert job.scheduled_time == clock.now + timedelta(hours=1)


async def test_backoff_timing_exponential_with_jitter(make_queue: MakeQueue, clock: FakeClock) -> None:
    pub = RecordingPublisher(script={"tiktok": ["transient", "transient", "transient", "ok"]})
    q = make_queue(pub)
    q.add_job("j", cfg(retry_delay=100.0, max_retries=3))
    for attempt in (1, 2, 3):
        job = await q.process_one()
        assert job is not None and job.status == QueueStatus.RETRYING
        assert job.attempts == attempt
        low = 100.0 * 2 ** (attempt - 1)
        wait = (job.run_at - clock.now).total_seconds() if job.run_at else -1
        assert low <= wait <= low * (1 + JITTER), (attempt, wait)
        clock.advance(low - 1)
        assert await q.process_one() is None  # not before its backoff ends
        clock.advance(wait - (low - 1))
    job = await q.process_one()
    assert job is not None and job.status == QueueStatus.COMPLETED and job.attempts == 4


async def test_retries_exhausted_then_failed(make_queue: MakeQueue, clock: FakeClock) -> None:
    pub = RecordingPublisher(script={"tiktok": ["transient"] * 5})
    q = make_queue(pub)
    q.add_job("j", cfg(retry_delay=1.0, max_retries=1))
    assert (await q.process_one()).status == QueueStatus.RETRYING  # type: ignore[union-attr]
    clock.advance(10)
    job = await q.process_one()
    assert job is not None and job.status == QueueStatus.FAILED
    assert "gave up after 2 attempts" in (job.error_message or "")
    assert len(pub.calls) == 2
    assert q.list_jobs(status=QueueStatus.FAILED)[0].id == "j"


async def test_rate_limited_waits_at_least_retry_after(make_queue: MakeQueue, clock: FakeClock) -> None:
    pub = RecordingPublisher(script={"tiktok": [("rate_limited", 900.0)]})
    q = make_queue(pub)
    q.add_job("j", cfg(retry_delay=1.0))
    job = await q.process_one()
    assert job is not None and job.status == QueueStatus.RETRYING
    assert job.run_at is not None and (job.run_at - clock.now).total_seconds() >= 900.0
    clock.advance(899)
    assert await q.process_one() is None
    clock.advance(2)
    assert (await q.process_one()).status == QueueStatus.COMPLETED  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", ["auth", "permanent"])
async def test_auth_and_permanent_fail_at_once(make_queue: MakeQueue, kind: str) -> None:
    pub = RecordingPublisher(script={"tiktok": [kind]})
    q = make_queue(pub)
    q.add_job("j", cfg(max_retries=3))
    job = await q.process_one()
    assert job is not None and job.status == QueueStatus.FAILED and job.attempts == 1
    assert job.results["tiktok"]["error_kind"] == kind
    assert job.completed_at is not None


async def test_quota_waits_as_scheduled_without_spending_an_attempt(
    make_queue: MakeQueue, clock: FakeClock
) -> None:
    pub = RecordingPublisher(script={"tiktok": [("quota", 7200.0)]})
    q = make_queue(pub)
    q.add_job("j", cfg(max_retries=0))
    job = await q.process_one()
    assert job is not None and job.status == QueueStatus.SCHEDULED
    assert job.attempts == 0 and "quota" in (job.wait_reason or "")
    assert job.run_at == clock.now + timedelta(seconds=7200)
    clock.advance(7200)
    assert (await q.process_one()).status == QueueStatus.COMPLETED  # type: ignore[union-attr]


async def test_partial_failure_retries_only_the_missing_platform(
    make_queue: MakeQueue, clock: FakeClock
) -> None:
    pub = RecordingPublisher(script={"instagram": ["transient"]})
    q = make_queue(pub)
    q.add_job("j", cfg(["tiktok", "instagram"], retry_delay=5.0))
    job = await q.process_one()
    assert job is not None and job.status == QueueStatus.RETRYING
    assert job.results["tiktok"]["success"] and not job.results["instagram"]["success"]
    clock.advance(60)
    job = await q.process_one()
    assert job is not None and job.status == QueueStatus.COMPLETED
    assert [c[1] for c in pub.calls] == ["tiktok", "instagram", "instagram"]
    assert sorted(c[1] for c in pub.calls).count("tiktok") == 1


async def test_unknown_outcome_is_reconciled_before_any_repost(
    make_queue: MakeQueue, clock: FakeClock
) -> None:
    pub = RecordingPublisher(script={"tiktok": ["unknown"]})
    q = make_queue(pub)
    q.add_job("j", cfg(retry_delay=1.0))
    job = await q.process_one()
    assert job is not None and job.results["tiktok"]["status"] == "unknown"
    clock.advance(5)
    job = await q.process_one()
    assert pub.reconciles == [("tiktok", "mp-j-tiktok")]
    # The service had no record: reposted with the same request id so repeats are recognisable.
    assert [c[2] for c in pub.calls] == ["mp-j-tiktok", "mp-j-tiktok"]
    assert job is not None and job.status == QueueStatus.COMPLETED


async def test_add_job_rejects_bad_input_and_writes_nothing(make_queue: MakeQueue, engine: Engine) -> None:
    q = make_queue()
    with pytest.raises(InputError) as err:
        q.add_job("x", cfg(["myspace"]))
    assert err.value.field == "platform"
    for bad, field in [({"priority": 11}, "priority"), ({"max_retries": -1}, "max_retries")]:
        with pytest.raises(InputError) as err:
            cfg(**bad)
        assert err.value.field == field
    with pytest.raises(InputError) as err:
        QueuedPublishConfig("acc", [], "/v.mp4")
    assert err.value.field == "platforms"
    with pytest.raises(InputError) as err:
        q.add_job("w", cfg(webhook_url="http://127.0.0.1:9/hook"))
    assert err.value.field == "webhook_url"
    assert count(engine, jobs) == 0 and count(engine, job_results) == 0
    q.add_job("dup", cfg(["tiktok", "youtube"]))
    with pytest.raises(ConflictError):
        q.add_job("dup", cfg())
    assert count(engine, jobs) == 1 and count(engine, job_results) == 2
    with pytest.raises(NotFoundError):
        q.get_job("nope")


class CountingConfig(QueuedPublishConfig):
    """A real subclass that counts its validations (the check itself is the parent's)."""

    runs: ClassVar[list[str]] = []

    def validate(self) -> None:
        CountingConfig.runs.append(str(self.account_id))
        super().validate()


async def test_config_is_validated_once_per_enqueue(make_queue: MakeQueue, engine: Engine) -> None:
    """Checked when built, never again by the queue or the store; a checked config cannot change."""
    q = make_queue()
    CountingConfig.runs.clear()
    platforms = ["tiktok", "YouTube"]
    data = {"n": 1}
    c = CountingConfig("acc", platforms, "/videos/clip.mp4", priority=3, callback_data=data)
    job = q.add_job("once", c)
    assert CountingConfig.runs == ["acc"]
    assert job.platforms == ["tiktok", "youtube"]
    # What was checked is what is stored: the caller's list and dict are not the config's.
    platforms.append("myspace")
    data["n"] = object()  # type: ignore[assignment]
    assert c.platforms == ("tiktok", "youtube") and c.callback_data == {"n": 1}
    # Fields cannot be set to a bad value after the check.
    for name, bad in [("priority", 11), ("platforms", []), ("max_retries", -1), ("account_id", "")]:
        with pytest.raises(AttributeError):
            setattr(c, name, bad)
    with pytest.raises(AttributeError):
        c.platforms.append("myspace")  # type: ignore[attr-defined]
    # A changed copy is a new config, checked again, and refused with the same field and reason.
    with pytest.raises(InputError) as err:
        dataclasses.replace(c, priority=11)
    assert (err.value.field, err.value.reason) == ("priority", "must be from 1 to 10, got 11")
    assert CountingConfig.runs == ["acc", "acc"]
    assert count(engine, jobs) == 1 and count(engine, job_results) == 2


async def test_cancel_during_wait_and_control(make_queue: MakeQueue, clock: FakeClock) -> None:
    pub = RecordingPublisher(script={"tiktok": ["transient"]})
    q = make_queue(pub)
    q.add_job("s", cfg(scheduled_time=clock.now + timedelta(hours=1)))
    q.add_job("r", cfg(retry_delay=60.0))
    assert (await q.process_one()).status == QueueStatus.RETRYING  # type: ignore[union-attr]
    assert q.cancel_job("s").status == QueueStatus.CANCELLED
    assert q.cancel_job("r").status == QueueStatus.CANCELLED
    # Platforms that never ran say so; the one that failed keeps its failure.
    assert {r["status"] for r in q.get_job("s").results.values()} == {"cancelled"}
    assert q.get_job("r").results["tiktok"]["error_kind"] == "transient"
    clock.advance(7200)
    assert await q.process_one() is None
    assert len(pub.calls) == 1
    with pytest.raises(ConflictError):
        q.cancel_job("s")
    with pytest.raises(ConflictError):
        q.retry_job("s")
    q.add_job("u", cfg(scheduled_time=clock.now + timedelta(hours=1)))
    job = q.update_job("u", priority=9, scheduled_time=clock.now)
    assert job.priority == 9 and job.status == QueueStatus.PENDING
    with pytest.raises(InputError):
        q.update_job("u", priority=0)
    stats = q.get_queue_stats()
    for key in (
        "pending",
        "processing",
        "completed",
        "failed",
        "scheduled_future",
        "cancelled",
        "retrying",
        "total",
        "success_rate",
    ):
        assert key in stats
    assert stats["cancelled"] == 2 and stats["pending"] == 1 and stats["total"] == 3


async def test_manual_retry_of_failed_job(make_queue: MakeQueue) -> None:
    pub = RecordingPublisher(script={"instagram": ["permanent"]})
    q = make_queue(pub)
    q.add_job("j", cfg(["tiktok", "instagram"]))
    job = await q.process_one()
    assert job is not None and job.status == QueueStatus.FAILED
    assert job.results["tiktok"]["status"] == "published"
    job = q.retry_job("j")
    assert job.status == QueueStatus.PENDING and job.attempts == 0
    job = await q.process_one()
    assert job is not None and job.status == QueueStatus.COMPLETED
    assert [c[1] for c in pub.calls].count("tiktok") == 1
    with pytest.raises(ConflictError):
        q.retry_job("j")


async def test_lease_expiry_reclaim_and_fencing(make_queue: MakeQueue, clock: FakeClock) -> None:
    """A worker that lost its lease cannot overwrite the new owner's result."""
    old = make_queue(worker_id="old")
    new_pub = RecordingPublisher()
    new = make_queue(new_pub, worker_id="new")
    old.add_job("j", cfg())
    [stale] = old.store.claim("old", 1).claims
    assert stale.attempt == 1
    assert new.store.claim("new", 1).claims == []  # leased: nobody else may run it
    clock.advance(31)  # lease_seconds=30 passes without renewal (the old worker hangs)
    assert old.store.renew("new") == {}
    job = await new.process_one()  # reclaimed automatically, reconciled, then published
    assert job is not None and job.status == QueueStatus.COMPLETED and job.attempts == 2
    assert new_pub.reconciles == [("tiktok", "mp-j-tiktok")]
    from multipublish.platforms.base import PublishResult, PublishStatus

    late = PublishResult("tiktok", False, PublishStatus.FAILED, error="late", error_kind=None)
    assert old.store.record(stale, "tiktok", late) is False
    assert old.store.finish(stale, {"tiktok": late}) is None
    assert old.store.renew("old") == {}
    job = new.get_job("j")
    assert job.status == QueueStatus.COMPLETED and job.results["tiktok"]["success"]


def test_a_stale_worker_can_neither_record_nor_checkpoint(make_queue: MakeQueue, clock: FakeClock) -> None:
    """Each fenced write of a platform's row (one statement on PostgreSQL) writes while the lease
    holds and, once another worker owns the job, writes nothing and says so."""
    from multipublish.platforms.base import ProtocolStep, PublishResult, PublishStatus

    q = make_queue()
    q.add_job("j", cfg(platforms=["tiktok", "youtube"]))
    [mine] = q.store.claim("old", 1).claims
    assert q.store.checkpoint(mine, "tiktok", ProtocolStep("session", "ref-1", bytes_sent=10)) is True
    done = PublishResult("tiktok", True, PublishStatus.PUBLISHED, video_id="v1", url="https://x/v1")
    assert q.store.record(mine, "tiktok", done) is True
    assert mine.recorded["tiktok"]["status"] == "published"
    clock.advance(31)
    q.store.recover_expired()
    [theirs] = q.store.claim("new", 1).claims
    assert theirs.attempt == 2
    late = PublishResult("youtube", False, PublishStatus.FAILED, error="late")
    assert q.store.record(mine, "youtube", late) is False
    assert q.store.checkpoint(mine, "youtube", ProtocolStep("session", "stale-ref")) is False
    assert "youtube" not in mine.recorded
    job = q.get_job("j")
    assert job.results["tiktok"]["status"] == "published" and job.results["tiktok"]["reference"] == "ref-1"
    assert job.results["tiktok"]["bytes_sent"] == 0 and job.results["tiktok"]["video_id"] == "v1"
    assert job.results["youtube"]["reference"] is None and job.results["youtube"]["error"] != "late"


async def test_job_that_kills_its_worker_stops_after_max_attempts(
    make_queue: MakeQueue, clock: FakeClock
) -> None:
    q = make_queue()
    q.add_job("j", cfg(max_retries=2))
    for _ in range(3):
        assert len(q.store.claim("w", 1).claims) == 1
        clock.advance(31)  # the worker died each time: the lease just expires
    assert q.store.claim("w", 1).claims == []
    job = q.get_job("j")
    assert job.status == QueueStatus.FAILED and job.attempts == 3
    assert job.results["tiktok"]["status"] == "unknown"


async def test_cancel_running_job_seen_at_renewal(make_queue: MakeQueue) -> None:
    q = make_queue()
    q.add_job("j", cfg())
    [claim] = q.store.claim("w", 1).claims
    assert q.store.renew("w") == {"j": (1, False)}
    assert q.cancel_job("j").cancel_requested
    assert q.store.renew("w") == {"j": (1, True)}
    out = q.store.finish(claim, {}, cancelled=True)
    assert out is not None and out.job.status == QueueStatus.CANCELLED
    # It was claimed, so its upload may have started: unknown, not cancelled.
    assert {r["status"] for r in q.get_job("j").results.values()} == {"unknown"}


async def test_cancel_asked_after_the_last_renewal_is_seen_by_the_finish(make_queue: MakeQueue) -> None:
    """The finishing UPDATE is the fence and answers the row's cancel flag: a cancel asked after
    the worker's last renewal still decides the job (as a locking read before the write did)."""
    from multipublish.platforms.base import PublishResult, PublishStatus

    q = make_queue()
    q.add_job("j", cfg())
    [claim] = q.store.claim("w", 1).claims
    assert q.cancel_job("j").cancel_requested
    done = PublishResult("tiktok", True, PublishStatus.PUBLISHED, video_id="v1")
    out = q.store.finish(claim, {"tiktok": done})
    assert out is not None and out.job.status == QueueStatus.CANCELLED and out.job.cancel_requested
    job = q.get_job("j")
    assert job.status == QueueStatus.CANCELLED and job.locked_by is None
    assert job.results["tiktok"]["status"] == "published" and job.results["tiktok"]["video_id"] == "v1"
    assert q.store.finish(claim, {"tiktok": done}) is None  # the lease is gone with the decision


async def test_cancel_running_job_with_real_workers(engine: Engine) -> None:
    from tests.queue.conftest import queue_settings

    pub = RecordingPublisher(delay=30.0)
    q = PublishingQueue(engine, pub, settings=queue_settings(lease_seconds=1))
    q.add_job("j", cfg())
    await q.start(2)
    try:
        for _ in range(200):
            if pub.calls:
                break
            await asyncio.sleep(0.02)
        assert q.cancel_job("j").cancel_requested
        for _ in range(300):
            if q.get_job("j").status == QueueStatus.CANCELLED:
                break
            await asyncio.sleep(0.02)
        assert q.get_job("j").status == QueueStatus.CANCELLED
    finally:
        await q.stop()


async def test_renewal_never_takes_a_job_claimed_while_it_was_in_flight(make_queue: MakeQueue) -> None:
    """One slot chains job after job (each finish claims the next in its transaction) while leases
    are renewed three times a second: a renewal sent before a chained claim does not list that
    job, which is not lost for it. Every job runs once, on its first attempt (the clock stands
    still: a job wrongly stopped as lost would stay running until the test's timeout)."""
    pub = RecordingPublisher()
    q = make_queue(pub, lease_seconds=1, account_concurrency=10_000)
    n = 400
    for i in range(n):
        q.add_job(f"c{i}", cfg(["tiktok"], account_id=f"a{i % 7}"))
    await q.start(1)
    try:
        assert await q.wait_idle(timeout=60)
    finally:
        await q.stop()
    jobs = [q.get_job(f"c{i}") for i in range(n)]
    assert [j.id for j in jobs if j.status != QueueStatus.COMPLETED or j.attempts != 1] == []
    assert len(pub.calls) == n


async def test_concurrency_caps_hold_across_workers(make_queue: MakeQueue) -> None:
    q1 = make_queue(platform_concurrency={"tiktok": 2, "youtube": 1}, account_concurrency=10)
    q2 = make_queue(platform_concurrency={"tiktok": 2, "youtube": 1}, account_concurrency=10)
    for i in range(4):
        q1.add_job(f"t{i}", cfg(["tiktok"], account_id=f"a{i}"))
    q1.add_job("y0", cfg(["youtube"], account_id="b"))
    q1.add_job("y1", cfg(["youtube"], account_id="c"))
    first = q1.store.claim("w1", 1).claims
    second = q2.store.claim("w2", 10)
    held = [c.job.id for c in first + second.claims]
    assert sorted(held) == ["t0", "t1", "y0"] and second.capped
    assert q2.store.claim("w2", 10).claims == []
    q3 = make_queue(platform_concurrency={"tiktok": 10}, account_concurrency=1)
    q3.add_job("same1", cfg(["instagram"], account_id="z"))
    q3.add_job("same2", cfg(["instagram"], account_id="z"))
    got = [c.job.id for c in q3.store.claim("w3", 10).claims]
    assert "same1" in got and "same2" not in got  # one upload at a time for account z


async def test_a_batch_finish_writes_what_one_finish_at_a_time_writes(
    make_queue: MakeQueue, engine: Engine
) -> None:
    """Jobs finished together (one statement for all of them on PostgreSQL) end with the same job
    and result rows as the same jobs finished one by one: outcomes, retries, details, ids."""
    from multipublish.errors import ErrorKind
    from multipublish.platforms.base import PublishResult, PublishStatus

    def outcomes(key: str, n: int) -> PublishResult:
        if n % 3 == 0:
            return PublishResult(key, True, PublishStatus.PUBLISHED, video_id=f"v{n}", url=f"https://x/{n}")
        if n % 3 == 1:
            return PublishResult.failed(key, ErrorKind.TRANSIENT, f"blip {n}", retry_after=30.0 + n)
        return PublishResult.failed(key, ErrorKind.PERMANENT, f"refused {n}")

    q = make_queue(platform_concurrency={"tiktok": 100, "youtube": 100}, account_concurrency=100)
    rows: dict[str, list[dict[str, object]]] = {}
    for mode in ("one", "batch"):
        for n in range(6):
            q.add_job(f"{mode}{n}", cfg(["tiktok", "youtube"] if n % 2 else ["tiktok"], account_id=f"a{n}"))
        claims = q.store.claim(f"w-{mode}", 6).claims
        assert len(claims) == 6
        items = [
            (c, {t.key: outcomes(t.key, int(c.job.id[-1])) for t in c.tasks}, False, 0) for c in claims
        ]
        if mode == "one":
            for item in items:
                assert q.store.finish_many([item]) != [None]
        else:
            assert None not in q.store.finish_many(items)
        skip_job = ("seq", "id", "locked_by", "run_at", "updated_at")
        skip_result = ("job_id", "request_id", "updated_at", "published_at")
        with engine.connect() as conn:
            got = []
            for n in range(6):
                jid = f"{mode}{n}"
                job = conn.execute(select(jobs).where(jobs.c.id == jid)).mappings().one()
                by_key = select(job_results).where(job_results.c.job_id == jid)
                res = conn.execute(by_key.order_by(job_results.c.platform)).mappings().all()
                kept = [{k: v for k, v in r.items() if k not in skip_result} for r in res]
                got.append({**{k: v for k, v in job.items() if k not in skip_job}, "results": kept})
            rows[mode] = got
    for one, batch in zip(rows["one"], rows["batch"], strict=True):
        for key in ("created_at", "started_at", "completed_at"):
            one.pop(key), batch.pop(key)
        for row in (one, batch):  # the retry time has jitter; the rest of the reason must match
            row["wait_reason"] = re.sub(r"retry at \S+", "retry at T", str(row["wait_reason"]))
        assert one == batch


async def test_a_finish_that_claims_holds_the_claim_lock_from_its_first_statement(
    make_queue: MakeQueue, engine: Engine
) -> None:
    """PostgreSQL: the finishing statement takes the ``queue_state`` lock the chained claim needs
    (one round trip less); another process's claim waits for it, so the caps still hold."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writers take turns: there is no claim lock")
    from sqlalchemy.exc import OperationalError

    from multipublish.platforms.base import PublishResult, PublishStatus

    q = make_queue()
    for i in range(3):
        q.add_job(f"l{i}", cfg(["tiktok"]))
    one = q.store.claim("w1", 1).claims
    pair = q.store.claim("w1", 2).claims
    store = q.store
    for claims in (one, pair):
        ok = PublishResult("tiktok", True, PublishStatus.PUBLISHED, video_id="v")
        items = [(c, {t.key: ok for t in c.tasks}, False, 1) for c in claims]
        with store._tx() as conn:
            now = store.now()
            if len(items) == 1:
                decided = store._finish_one(conn, items[0], now, lock=True)
            else:
                decided = store._finish_fenced(conn, items, now, lock=True)
            assert len(decided) == len(items)
            with engine.connect() as other, pytest.raises(OperationalError, match="lock"):
                other.exec_driver_sql("SELECT id FROM queue_state WHERE id = 1 FOR UPDATE NOWAIT")
            conn.rollback()


async def test_workers_drain_in_process(make_queue: MakeQueue, engine: Engine) -> None:
    from tests.queue.conftest import queue_settings

    pub = RecordingPublisher()
    q = PublishingQueue(engine, pub, settings=queue_settings())
    for i in range(40):
        q.add_job(f"j{i:02d}", cfg(["tiktok", "linkedin"], account_id=f"a{i % 7}"))
    await q.start(4)
    try:
        assert await q.wait_idle(timeout=60)
    finally:
        await q.stop()
    assert q.get_queue_stats()["completed"] == 40
    ids = [c[2] for c in pub.calls]
    assert len(ids) == 80 and len(set(ids)) == 80


async def test_archive_moves_finished_jobs_out_of_the_hot_table(
    make_queue: MakeQueue, clock: FakeClock, engine: Engine
) -> None:
    q = make_queue(job_retention_seconds=3600)
    q.add_job("old", cfg())
    await q.run_until_empty()
    clock.advance(3601)
    q.add_job("new", cfg())
    assert q.store.archive() == 1
    assert count(engine, jobs) == 1
    job = q.get_job("old")
    assert job.status == QueueStatus.COMPLETED and job.results["tiktok"]["success"]
    assert q.get_queue_stats()["completed"] == 1
    with pytest.raises(ConflictError):
        q.add_job("old", cfg())
    assert [j.id for j in q.list_jobs()] == ["new"]
