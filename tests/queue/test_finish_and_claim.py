"""PostgreSQL: a worker's finish of one or several jobs and the claim that refills their slots as
one function call (``mp_finish_many_and_claim``) does exactly what the transaction it replaces
does.

The same random run (enqueues, claims and finishes under tight caps, cancels asked for while jobs
run, retries, lost leases) is played on two fresh databases: once with the function, once with the
transaction only. Every outcome, every claim and every row must come out the same.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from multipublish.db import ensure_schema, job_results, jobs, make_engine
from multipublish.errors import ConflictError, ErrorKind
from multipublish.platforms.base import PublishConfig, PublishResult, PublishStatus
from multipublish.queue import QueuedPublishConfig
from multipublish.queue.store import Claim, JobStore
from tests.fixtures.db import _pg_admin, _pg_url
from tests.queue.conftest import FakeClock, queue_settings

PLATFORMS = ["tiktok", "youtube", "instagram", "linkedin", "instagram:stories"]
CAPS = {"tiktok": 2, "youtube": 1, "instagram": 3, "linkedin": 2}


@pytest.fixture
def pg_engines(pg_template: str) -> Iterator[Callable[[], Engine]]:
    """Fresh migrated PostgreSQL databases, as many as the test asks for."""
    admin = _pg_admin()
    made: list[tuple[str, Engine]] = []

    def make() -> Engine:
        name = f"mp_t_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
        engine = make_engine(_pg_url(name))
        ensure_schema(engine)
        made.append((name, engine))
        return engine

    yield make
    for name, engine in made:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _result(rng: random.Random, key: str) -> PublishResult:
    roll = rng.random()
    if roll < 0.6:
        return PublishResult(key, True, PublishStatus.PUBLISHED, video_id=f"v-{key}", url="https://x/v")
    kind = rng.choice([ErrorKind.TRANSIENT, ErrorKind.PERMANENT, ErrorKind.UNKNOWN])
    status = PublishStatus.UNKNOWN if kind == ErrorKind.UNKNOWN else PublishStatus.FAILED
    return PublishResult(key, False, status, error=f"{kind} trouble", error_kind=kind, retry_after=10.0)


def _play(engine: Engine, seed: int) -> tuple[list[Any], list[Any], list[Any]]:
    """One random run; returns its trace and the job and result rows it leaves."""
    rng = random.Random(seed)
    clock = FakeClock()
    settings = queue_settings(lease_seconds=30, account_concurrency=2, platform_concurrency=CAPS)
    store = JobStore(engine, settings=settings, clock=clock, rand=lambda: 0.5)
    held: list[Claim] = []
    trace: list[Any] = []
    n = 0

    def add() -> None:
        nonlocal n
        cfg = QueuedPublishConfig(
            account_id=f"acct{rng.randrange(4)}",
            platforms=rng.sample(PLATFORMS, rng.randint(1, 3)),
            video_path="/videos/clip.mp4",
            config=PublishConfig(title=f"job {n}"),
            priority=rng.randint(1, 4),
            max_retries=rng.choice([0, 2]),
            retry_delay=5.0,
            webhook_url=rng.choice([None, "https://hooks.example/h"]),
        )
        store.add(f"j{n}", cfg)
        n += 1

    def took(claims: list[Claim]) -> list[Any]:
        held.extend(claims)
        return [
            (c.job.id, c.attempt, [(t.key, t.request_id, t.previous_status) for t in c.tasks]) for c in claims
        ]

    for _ in range(30):
        add()
    for _ in range(220):
        kinds = ["add", "claim", "finish", "batch", "cancel", "crash", "wait"]
        op = rng.choices(kinds, [12, 10, 40, 8, 6, 3, 8])[0]
        if op == "add":
            add()
        elif op == "claim":
            trace.append(("claim", took(store.claim(f"w{rng.randrange(3)}", rng.randint(1, 3)).claims)))
        elif op == "batch" and held:
            worker = rng.choice(held).worker_id
            mine = [c for c in held if c.worker_id == worker][: rng.randint(2, 4)]
            for c in mine:
                held.remove(c)
            items = [
                (c, {t.key: _result(rng, t.key) for t in c.tasks}, False, rng.choice([0, 1, 2])) for c in mine
            ]
            for c, outcome in zip(mine, store.finish_many(items), strict=True):
                if outcome is None:
                    trace.append(("lost", c.job.id))
                else:
                    ended = (outcome.job.status, outcome.event, outcome.webhook)
                    trace.append(("finish", c.job.id, *ended, took(outcome.next_claims)))
        elif op in ("finish", "crash") and held:
            claim = held.pop(rng.randrange(len(held)))
            if op == "finish":
                results = {t.key: _result(rng, t.key) for t in claim.tasks if rng.random() < 0.95}
                outcome = store.finish(claim, results, claim_next=rng.choice([0, 1, 1, 2, 3]))
                if outcome is None:
                    trace.append(("lost", claim.job.id))
                else:
                    ended = (outcome.job.status, outcome.event, outcome.webhook)
                    trace.append(("finish", claim.job.id, *ended, took(outcome.next_claims)))
        elif op == "cancel" and n:
            try:
                trace.append(("cancel", store.cancel(f"j{rng.randrange(n)}").status))
            except ConflictError:
                trace.append(("cancel", "refused"))
        clock.advance(rng.choice([0, 0, 0, 0.2, 0.5, 3, 40]))
    with engine.connect() as conn:
        job_rows = [tuple(r) for r in conn.execute(select(jobs).order_by(jobs.c.id))]
        by_key = select(job_results).order_by(job_results.c.job_id, job_results.c.platform)
        result_rows = [tuple(r) for r in conn.execute(by_key)]
        hooks = conn.execute(
            text("SELECT job_id, event, payload::text FROM webhook_messages ORDER BY job_id, event")
        ).all()
    return trace, job_rows + [tuple(h) for h in hooks], result_rows


@pytest.mark.parametrize("seed", [3, 4])
def test_the_function_does_what_the_transaction_does(
    pg_engines: Callable[[], Engine], monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    used: Counter[str] = Counter()
    real = JobStore._finish_and_claim

    def counted(self: JobStore, items: Any, now: Any) -> Any:
        out = real(self, items, now)
        used["function" if out is not None else "transaction"] += 1
        return out

    monkeypatch.setattr(JobStore, "_finish_and_claim", counted)
    with_function = _play(pg_engines(), seed)
    assert used["function"] >= 25 and used["transaction"] >= 10, used
    monkeypatch.setattr(JobStore, "_finish_and_claim", lambda self, items, now: None)
    with_transaction = _play(pg_engines(), seed)
    trace_f, jobs_f, results_f = with_function
    trace_t, jobs_t, results_t = with_transaction
    for a, b in zip(trace_f, trace_t, strict=True):
        assert a == b
    assert jobs_f == jobs_t
    assert results_f == results_t
    kinds = Counter(step[0] for step in trace_f)
    statuses = Counter(step[2] for step in trace_f if step[0] == "finish")
    # The run went through what it is meant to: refills, caps that held jobs back, every ending.
    assert kinds["finish"] >= 40 and kinds["cancel"] >= 5, kinds
    assert {"completed", "failed", "retrying"} <= set(statuses), statuses
    assert any(step[0] == "finish" and step[5] for step in trace_f)


def test_a_cancel_asked_for_while_the_job_ran_is_carried_out(pg_engines: Callable[[], Engine]) -> None:
    """The function writes nothing when the row says a cancel came after the plan was made; the
    transaction then plans again with it (the job ends cancelled, nothing else is claimed twice)."""
    engine = pg_engines()
    clock = FakeClock()
    store = JobStore(engine, settings=queue_settings(), clock=clock)
    for job_id, platforms in (("a", ["tiktok", "youtube"]), ("b", ["tiktok"])):
        cfg = QueuedPublishConfig(
            account_id="x", platforms=platforms, video_path="/v.mp4", config=PublishConfig(title=job_id)
        )
        store.add(job_id, cfg)
    claim = store.claim("w", 1).claims[0]
    assert claim.job.id == "a"
    store.cancel("a")  # asked for while it runs: the flag, the worker finds it at its finish
    done = {
        "tiktok": PublishResult("tiktok", True, PublishStatus.PUBLISHED, video_id="v"),
        # Without the cancel this failure would be retried.
        "youtube": PublishResult(
            "youtube", False, PublishStatus.FAILED, error="busy", error_kind=ErrorKind.TRANSIENT
        ),
    }
    outcome = store.finish(claim, done, claim_next=1)
    assert outcome is not None and outcome.job.status == "cancelled"
    assert [c.job.id for c in outcome.next_claims] == ["b"]
    got = store.get("a")
    assert got.status == "cancelled" and got.results["tiktok"]["status"] == "published"


def test_each_job_is_fenced_by_its_own_worker(pg_engines: Callable[[], Engine]) -> None:
    """Jobs of two workers finished in one call each end under their own lease (the fence reads
    each job's owner), and a job whose lease passed to another worker is answered lost."""
    engine = pg_engines()
    clock = FakeClock()
    store = JobStore(engine, settings=queue_settings(lease_seconds=30), clock=clock)
    for job_id in ("a", "b", "c"):
        cfg = QueuedPublishConfig(
            account_id=job_id, platforms=["tiktok"], video_path="/v.mp4", config=PublishConfig(title=job_id)
        )
        store.add(job_id, cfg)
    a = store.claim("w1", 1).claims[0]
    b = store.claim("w2", 1).claims[0]
    c = store.claim("w2", 1).claims[0]
    stale = Claim(job=c.job, worker_id="w1", attempt=c.attempt, tasks=c.tasks)  # not w1's job
    done = {"tiktok": PublishResult("tiktok", True, PublishStatus.PUBLISHED, video_id="v")}
    outcomes = store.finish_many([(a, done, False, 0), (b, done, False, 0), (stale, done, False, 0)])
    assert [o.job.status if o else None for o in outcomes] == ["completed", "completed", None]
    assert store.get("c").status == "processing"
