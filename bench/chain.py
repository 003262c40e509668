"""The store's chained finish on PostgreSQL, without the worker around it.

Run: ``python bench/chain.py [--jobs 2000] [--rounds 2] [--platforms 1] [--pg postgresql://...]``

A loop of ``JobStore.finish(claim, results, claim_next=1)``, each finish handing the next claim
to the next turn, on a database of its own: the time and this process's CPU a job costs in the
store, once through ``mp_finish_many_and_claim`` (one statement) and once through the transaction it
replaces (the function declined), in alternating rounds so that a noisy machine weighs on both.
The reference in the same run is a bare autocommit one-row ``UPDATE`` loop (one round trip and
one WAL flush: the floor of any durable finish).
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

from sqlalchemy import create_engine, text

from multipublish.db import ensure_schema, make_engine
from multipublish.platforms.base import PublishConfig, PublishResult, PublishStatus
from multipublish.queue import QueuedPublishConfig
from multipublish.queue.store import JobStore
from multipublish.settings import Settings

PLATFORMS = ("tiktok", "instagram", "facebook", "linkedin", "youtube")


def chain(store: JobStore, n: int, tag: str, platforms: int = 1) -> tuple[float, float]:
    """Drain ``n`` jobs by chained finishes; (wall us, CPU us) per job. A job of several platforms
    has each result recorded as it comes (as the worker does), then is finished."""
    for i in range(n):
        cfg = QueuedPublishConfig(
            account_id=f"acct{i % 100}",
            platforms=[PLATFORMS[(i + k) % 5] for k in range(platforms)],
            video_path="/videos/noop.mp4",
            config=PublishConfig(title=f"chain {i}"),
        )
        store.add(f"{tag}-{i}", cfg)
    claim = store.claim("bench", 1).claims[0]
    done = 0
    t0, c0 = time.perf_counter(), time.process_time()
    while claim is not None:
        results = {
            t.key: PublishResult(t.key, True, PublishStatus.PUBLISHED, video_id="v") for t in claim.tasks
        }
        if len(results) > 1:
            for key, result in results.items():
                store.record(claim, key, result)
            results = {}
        outcome = store.finish(claim, results, claim_next=1)
        done += 1
        claim = outcome.next_claims[0] if outcome is not None and outcome.next_claims else None
    return (time.perf_counter() - t0) / done * 1e6, (time.process_time() - c0) / done * 1e6


def bare(url: str, n: int) -> float:
    """An autocommit one-row UPDATE loop on the driver; wall us per statement."""
    engine = make_engine(url)
    raw: Any = engine.raw_connection()
    try:
        raw.driver_connection.autocommit = True
        cur = raw.cursor()
        t0 = time.perf_counter()
        for i in range(n):
            cur.execute("UPDATE queue_state SET note = %s WHERE id = 1", (str(i),))
        return (time.perf_counter() - t0) / n * 1e6
    finally:
        raw.close()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--platforms", type=int, default=1, help="platforms per job (1 to 5)")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    admin_url = make_engine(args.pg).url.render_as_string(hide_password=False)
    name = f"mp_chain_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_engine(admin_url).url.set(database=name).render_as_string(hide_password=False)
    try:
        engine = make_engine(url)
        ensure_schema(engine)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=url,
            platform_concurrency=dict.fromkeys(PLATFORMS, 10_000),
            account_concurrency=10_000,
        )
        store = JobStore(engine, settings=settings)
        function = JobStore._finish_and_claim
        rows = []
        for r in range(args.rounds):
            for label in ("function", "transaction"):
                if label == "function":
                    store._finish_and_claim = function.__get__(store)  # type: ignore[method-assign]
                else:
                    store._finish_and_claim = lambda items, now: None  # type: ignore[method-assign]
                wall, cpu = chain(store, args.jobs, f"{label}{r}", args.platforms)
                rows.append((label, r + 1, wall, cpu))
            rows.append(("bare UPDATE autocommit", r + 1, bare(url, args.jobs), float("nan")))
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print(f"jobs per round: {args.jobs}; platforms per job: {args.platforms}; PostgreSQL; one connection")
    print("| path | round | us per job (wall) | us per job (this process's CPU) |")
    print("|---|---|---|---|")
    for label, r, wall, cpu in rows:
        print(f"| {label} | {r} | {wall:,.0f} | {cpu:,.0f} |")


if __name__ == "__main__":
    main()
