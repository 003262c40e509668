"""Queue statistics kept as counters equal a recount after any mix of queue operations."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from multipublish.errors import ConflictError, ErrorKind
from multipublish.platforms.base import PublishConfig, PublishResult, PublishStatus
from multipublish.queue import QueuedPublishConfig
from multipublish.queue.schema import queue_counts
from multipublish.queue.store import Claim, JobStore
from multipublish.queue.store import stats as stats_part
from tests.queue.conftest import FakeClock, queue_settings

PLATFORMS = ["tiktok", "youtube", "instagram", "linkedin"]
KINDS = ["enqueue", "claim", "finish", "record", "cancel", "retry", "crash", "release", "move", "archive"]


def _cfg(rng: random.Random, clock: FakeClock) -> QueuedPublishConfig:
    later = clock.now + timedelta(seconds=rng.choice([0, 0, 0, 30, 4000]))
    return QueuedPublishConfig(
        account_id=f"acct{rng.randrange(4)}",
        platforms=rng.sample(PLATFORMS, rng.randint(1, 3)),
        video_path="/videos/clip.mp4",
        config=PublishConfig(title="counted"),
        priority=rng.randint(1, 10),
        scheduled_time=later,
        max_retries=rng.choice([0, 1, 3]),
        retry_delay=5.0,
    )


def _result(rng: random.Random, key: str) -> PublishResult:
    roll = rng.random()
    if roll < 0.55:
        return PublishResult(key, True, PublishStatus.PUBLISHED, video_id="v1", url="https://x/v1")
    kind = rng.choice([ErrorKind.TRANSIENT, ErrorKind.PERMANENT, ErrorKind.QUOTA, ErrorKind.UNKNOWN])
    status = PublishStatus.UNKNOWN if kind == ErrorKind.UNKNOWN else PublishStatus.FAILED
    return PublishResult(key, False, status, error=f"{kind} trouble", error_kind=kind, retry_after=20.0)


def _shards(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count(func.distinct(queue_counts.c.shard)))).scalar_one())


def _assert_counts_match(store: JobStore) -> None:
    assert store.stats() == store.recount_stats()


@pytest.mark.parametrize("seed", [1, 2])
def test_stats_equal_a_recount_after_a_random_mix(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    rng = random.Random(seed)
    clock = FakeClock()
    settings = queue_settings(lease_seconds=30, account_concurrency=3)
    store = JobStore(engine, settings=settings, clock=clock, rand=rng.random)
    held: list[Claim] = []
    ids: list[str] = []
    ops = {"enqueue": 0, "claim": 0, "finish": 0, "record": 0, "cancel": 0, "retry": 0, "crash": 0}
    for step in range(260):
        op = rng.choices(KINDS, [30, 18, 18, 6, 8, 6, 5, 3, 4, 2])[0]
        if op == "enqueue":
            ids.append(store.add(None, _cfg(rng, clock)).id)
        elif op == "claim":
            held.extend(store.claim(f"w{rng.randrange(3)}", rng.randint(1, 3)).claims)
        elif op in ("finish", "record", "release", "crash") and held:
            claim = held.pop(rng.randrange(len(held)))
            if op == "finish":
                results = {t.key: _result(rng, t.key) for t in claim.tasks if rng.random() < 0.9}
                store.finish(claim, results, cancelled=rng.random() < 0.05)
            elif op == "record" and claim.tasks:
                store.record(claim, claim.tasks[0].key, _result(rng, claim.tasks[0].key))
                held.append(claim)
            elif op == "release":
                store.release(claim)
            # "crash": the worker vanishes with the claim; its lease runs out below.
        elif op == "cancel" and ids:
            try:
                store.cancel(rng.choice(ids))
            except ConflictError:
                pass
        elif op == "retry" and ids:
            try:
                store.retry(rng.choice(ids))
            except ConflictError:
                pass
        elif op == "move" and ids:
            try:
                when = clock.now + timedelta(seconds=rng.choice([0, 90]))
                store.update(rng.choice(ids), scheduled_time=when)
            except ConflictError:
                pass
        elif op == "archive":
            store.archive(older_than=clock.now + timedelta(seconds=1))
        if op in ops:
            ops[op] += 1
        clock.advance(rng.choice([0, 0, 1, 5, 40]))
        if step % 10 == 0:
            store.recover_expired()
            _assert_counts_match(store)
    # Many connections writing at once (PostgreSQL: one counter shard each), then a fold.
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: store.add(None, _cfg(random.Random(), clock)), range(24)))
    _assert_counts_match(store)
    pg = engine.dialect.name == "postgresql"
    if pg:
        assert _shards(engine) >= 2
    monkeypatch.setattr(stats_part, "_FOLD_AT", 0)
    _assert_counts_match(store)
    if pg:
        assert _shards(engine) <= 2  # shard 0 and, at most, the connection that folded
    clock.advance(10_000)
    store.recover_expired()
    _assert_counts_match(store)
    assert min(ops.values()) > 0, ops
    stats = store.stats()
    assert stats["completed"] > 0 and stats["failed"] > 0 and stats["cancelled"] > 0


def test_stats_read_the_counters_not_the_rows(engine: Engine) -> None:
    """A counter changed behind the store's back shows in ``stats``: it is what stats reads."""
    clock = FakeClock()
    store = JobStore(engine, settings=queue_settings(), clock=clock)
    store.add("one", _cfg(random.Random(3), clock))
    before = store.stats()
    with engine.begin() as conn:
        conn.execute(
            queue_counts.insert().values(kind="job", platform="", status="completed", shard=0, n=5)
        )
    after = store.stats()
    assert after["completed"] == before["completed"] + 5
    assert store.recount_stats()["completed"] == before["completed"]
