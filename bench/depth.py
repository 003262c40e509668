"""Depth benchmark: does the queue's cost stay flat as work piles up?

Run: ``python bench/depth.py [--depth 1000000] [--drain 300] [--rounds 3] [--pg URL]``

For each database (a SQLite file and a PostgreSQL database created and dropped here) two queues are
filled inside the database (``INSERT ... SELECT``, so filling a million rows takes seconds): a
shallow one with 1,000 waiting jobs and a deep one with ``--depth`` waiting jobs (plus as many
finished ones, as a queue that has run for a while has). Then, in interleaved rounds (shallow,
deep, shallow, ...; the machine is shared and noisy, so medians and the deep/shallow ratio are
what count):

* drain: claim one job and finish it (the worker's hot path, one worker), jobs/s;
* ``get_queue_stats()`` and ``list_jobs(status="pending", limit=50)`` latency, ms.

The reference is the same code on the shallow queue in the same run; the goal is a ratio near 1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)  # this folder's queue.py must not shadow the standard library's queue

from sqlalchemy import Engine, create_engine, text

from multipublish.db import ensure_schema, make_engine
from multipublish.platforms.base import PublishResult, PublishStatus
from multipublish.queue.store import JobStore
from multipublish.settings import Settings

SHALLOW = 1000


def settings() -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        platform_concurrency={"tiktok": 10_000},
        account_concurrency=10_000,
    )


def fill(engine: Engine, waiting: int, finished: int) -> float:
    """Generate ``waiting`` pending jobs and ``finished`` completed ones; returns seconds taken."""
    pg = engine.dialect.name == "postgresql"
    total = waiting + finished
    ts = "TIMESTAMPTZ '2020-01-01 00:00:00+00'" if pg else "'2020-01-01 00:00:00.000000'"
    series = (
        f"SELECT g AS n FROM generate_series(1, {total}) AS g"
        if pg
        else "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s"
        f" WHERE n < {total}) SELECT n FROM s"
    )
    json = "::json" if pg else ""
    false = "false" if pg else "0"
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO jobs (id, account_id, platforms, video_path, config, title, status,"
                " priority, run_at, attempts, max_retries, retry_delay, cancel_requested,"
                " created_at, updated_at) "
                f"SELECT 'job' || n, 'acct' || (n % 100), '[\"tiktok\"]'{json}, '/v.mp4', '{{}}'{json},"
                f" '', CASE WHEN n <= {finished} THEN 'completed' ELSE 'pending' END, 5, {ts}, 0, 3,"
                f" 300, {false}, {ts}, {ts} FROM ({series}) AS src"
            )
        )
        conn.execute(
            text(
                "INSERT INTO job_results (job_id, platform, platform_name, status, success,"
                " attempts, bytes_sent, updated_at) SELECT id, 'tiktok', 'tiktok',"
                " CASE WHEN status = 'completed' THEN 'published' ELSE 'pending' END,"
                f" status = 'completed', 0, 0, {ts} FROM jobs"
            )
        )
    if pg:  # what autovacuum would have done by then
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    return time.perf_counter() - started


def drain(store: JobStore, n: int) -> float:
    ok = PublishResult("tiktok", True, PublishStatus.PUBLISHED, video_id="v")
    started = time.perf_counter()
    done = 0
    while done < n:
        batch = store.claim("bench-depth", 1)
        if not batch.claims:
            break
        for claim in batch.claims:
            store.finish(claim, {t.key: ok for t in claim.tasks})
            done += 1
    return done / (time.perf_counter() - started)


def latency_ms(fn: Any, repeat: int = 15) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run(label: str, urls: dict[str, str], depth: int, drain_n: int, rounds: int) -> list[str]:
    stores: dict[str, JobStore] = {}
    lines = []
    for kind, url in urls.items():
        engine = make_engine(url)
        ensure_schema(engine)
        waiting = SHALLOW if kind == "shallow" else depth
        secs = fill(engine, waiting, waiting)
        lines.append(f"  {label} {kind}: {waiting:,} waiting + {waiting:,} finished filled in {secs:.1f} s")
        stores[kind] = JobStore(engine, settings=settings())
    figures: dict[str, dict[str, list[float]]] = {k: {"drain": [], "stats": [], "list": []} for k in stores}
    for _ in range(rounds):
        for kind, store in stores.items():
            figures[kind]["drain"].append(drain(store, drain_n // rounds))
            figures[kind]["stats"].append(latency_ms(store.stats))
            figures[kind]["list"].append(latency_ms(lambda s=store: s.list_jobs(status="pending", limit=50)))
    med = {k: {m: statistics.median(v) for m, v in f.items()} for k, f in figures.items()}
    s, d = med["shallow"], med["deep"]
    lines.append(
        f"| {label} drain, {depth:,} vs {SHALLOW:,} waiting | {d['drain']:,.0f} vs {s['drain']:,.0f} jobs/s"
        f" | {d['drain'] / s['drain']:.2f} |"
    )
    lines.append(
        f"| {label} get_queue_stats(), {depth:,} vs {SHALLOW:,} | {d['stats']:.2f} vs {s['stats']:.2f} ms"
        f" | {d['stats'] / s['stats']:.2f} |"
    )
    lines.append(
        f"| {label} list_jobs(pending, 50), {depth:,} vs {SHALLOW:,} | {d['list']:.2f} vs {s['list']:.2f} ms"
        f" | {d['list'] / s['list']:.2f} |"
    )
    for store in stores.values():
        store.engine.dispose()
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=1_000_000)
    ap.add_argument("--drain", type=int, default=300, help="jobs drained per queue over all rounds")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--pg",
        default=os.environ.get("MULTIPUBLISH_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="an existing database on the server; the benchmark creates and drops its own",
    )
    ap.add_argument("--skip-pg", action="store_true")
    args = ap.parse_args()
    out = [f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"]
    with tempfile.TemporaryDirectory() as tmp:
        urls = {k: f"sqlite:///{Path(tmp) / f'{k}.db'}" for k in ("shallow", "deep")}
        out += run("SQLite", urls, args.depth, args.drain, args.rounds)
    if not args.skip_pg:
        admin_url = make_engine(args.pg).url.render_as_string(hide_password=False)
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        names = {k: f"mp_depth_{k}_{uuid.uuid4().hex[:6]}" for k in ("shallow", "deep")}
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            base = make_engine(admin_url).url
            urls = {k: base.set(database=n).render_as_string(hide_password=False) for k, n in names.items()}
            out += run("PostgreSQL", urls, args.depth, args.drain, args.rounds)
        finally:
            with admin.connect() as conn:
                for name in names.values():
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    out.append(f"load average after: {os.getloadavg()[0]:.1f}")
    print("| workload | deep vs shallow | ratio (goal ~1) |")
    print("|---|---|---|")
    for line in out:
        print(line)


if __name__ == "__main__":
    main()
