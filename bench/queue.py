"""Queue benchmark: enqueue and drain rates, scheduling lateness, and procrastinate as reference.

Run: ``python bench/queue.py [--jobs 1000] [--pg postgresql://postgres@127.0.0.1:5432/test]``

* enqueue rate (``add_job`` one by one, one transaction each) and drain rate (jobs/s from
  ``start(concurrency)`` until every job is completed) with a no-op publisher, on SQLite and
  PostgreSQL at concurrency 1, 8 and 32;
* scheduling lateness (publish start minus scheduled time) p50/p99 over 1,000 jobs due at a quarter
  of the drain rate measured at c=8, at least 5 ms apart (``--late-jobs``, ``--late-gap-ms``),
  workers already running (a worker with nothing due sleeps until the next due time, or until a
  NOTIFY/in-process wake-up moves that time earlier);
* procrastinate with a no-op task on the same PostgreSQL server (its own database, created and
  dropped here): defer rate, drain rate at the same concurrencies, and lateness with its default
  poll;
* statements per enqueue and per drained job (``stmts/...``), counted at the driver in a pass of
  their own (200 jobs, the same work), so the timed runs are as uninstrumented as the references;
* usage counting and quota enforcement are off unless ``--with-quota`` (the references do
  neither; with them on, each job costs two more transactions);
* huey (``SqliteHuey``, thread workers) with a no-op task: enqueue rate and drain rate;
* bare claim loops, the protocol's floor: a table with a partial index, one transaction to claim
  (PostgreSQL ``FOR UPDATE SKIP LOCKED``; SQLite ``BEGIN IMMEDIATE``) and one to finish, per job,
  from ``c`` threads each with its own connection.

The last lines print each row of issue 12's table as ratios against these references; with
``--rounds N`` every engine runs N times in turn, and the figures are medians over the rounds
(each ratio the median of the rounds' own ratios, with their range).

The concurrency caps are lifted (they measure the platforms' limits, not the queue).
"""

from __future__ import annotations

import os
import sys

# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# standard library's ``queue`` module (which ``concurrent.futures`` imports).
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import create_engine, text

from multipublish.bootstrap import build_service
from multipublish.db import make_engine
from multipublish.platforms.base import PublishConfig, PublishResult, PublishStatus
from multipublish.queue import PublishingQueue, QueuedPublishConfig
from multipublish.settings import Settings

PLATFORMS = ["tiktok", "instagram", "facebook", "linkedin", "youtube"]
CONCURRENCY = (1, 8, 32)


class NoopPublisher:
    """Publishes nothing, instantly; records how late each scheduled job started, and says when
    the drain's last job has been published (``expect``), as the references' tasks do."""

    def __init__(self) -> None:
        self.lateness: list[float] = []
        self.calls = 0
        self.target = 0
        self.reached: asyncio.Event | None = None

    def expect(self, n: int) -> asyncio.Event:
        self.calls, self.target, self.reached = 0, n, asyncio.Event()
        return self.reached

    async def publish_to_platform(
        self, account_id: str, platform: str, video_path: str, config: PublishConfig, **kw: Any
    ) -> PublishResult:
        if config.description:
            self.lateness.append(time.time() - float(config.description))
        self.calls += 1
        if self.reached is not None and self.calls >= self.target:
            self.reached.set()
        return PublishResult(platform, True, PublishStatus.PUBLISHED, video_id=kw.get("request_id"))

    async def reconcile(self, account_id: str, platform: str, reference: str, **kw: Any) -> PublishResult:
        return PublishResult(platform, True, PublishStatus.PUBLISHED, video_id=reference)


#: ``--with-quota``: count usage and enforce quotas as production does (two more transactions per
#: job); by default off, as the reference engines do neither.
WITH_QUOTA = False
#: Lateness phase: this many jobs due ``LATE_GAP_MS`` apart (``--late-jobs``, ``--late-gap-ms``); the
#: due rate must stay below the drain rate, or the figure is a backlog.
LATE_JOBS = 1000
LATE_GAP_MS: float | None = None
#: The widest gap our runs used (``--late-gap-ms`` unset: a quarter of the drain rate at c=8, at
#: least 5 ms); procrastinate's lateness is measured with the same gap.
LATE_GAP_USED = 5.0


def settings(url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        platform_concurrency=dict.fromkeys(PLATFORMS, 10_000),
        account_concurrency=10_000,
        queue_poll_interval=1.0,
        quota_enforce=WITH_QUOTA,
        record_usage=WITH_QUOTA,
    )


class Statements:
    """Statements sent per job while a phase runs, counted at the driver (its cursors' ``execute``
    and ``executemany``), so a path that runs on the DBAPI cursor directly is counted as one
    through SQLAlchemy; the progress polls of this script excluded. COMMIT is not a statement here
    (as in SQLAlchemy's own count); SQLite's explicit ``BEGIN IMMEDIATE`` is."""

    def __init__(self) -> None:
        self.n = 0
        counter = self

        def seen(statement: Any) -> None:
            if "count(*) FROM jobs WHERE status = 'completed'" not in str(statement):
                counter.n += 1

        class SqliteCursor(sqlite3.Cursor):
            def execute(self, sql: str, *args: Any) -> Any:
                seen(sql)
                return super().execute(sql, *args)

            def executemany(self, sql: str, *args: Any) -> Any:
                seen(sql)
                return super().executemany(sql, *args)

        class SqliteConnection(sqlite3.Connection):
            def cursor(self, factory: Any = SqliteCursor) -> Any:
                return super().cursor(factory)

        class PgCursor(psycopg.Cursor[Any]):
            def execute(self, query: Any, *args: Any, **kw: Any) -> Any:
                seen(query)
                return super().execute(query, *args, **kw)

            def executemany(self, query: Any, *args: Any, **kw: Any) -> Any:
                seen(query)
                return super().executemany(query, *args, **kw)

        class PgAsyncCursor(psycopg.AsyncCursor[Any]):
            async def execute(self, query: Any, *args: Any, **kw: Any) -> Any:
                seen(query)
                return await super().execute(query, *args, **kw)

        self.connect_args = {"sqlite": {"factory": SqliteConnection}, "pg": {"cursor_factory": PgCursor}}
        self.async_cursor = PgAsyncCursor

    def engine(self, url: str, **kw: Any) -> Any:
        """An engine whose connections count here."""
        kind = "pg" if url.startswith("postgresql") else "sqlite"
        return make_engine(url, connect_args=self.connect_args[kind], **kw)

    def take(self) -> int:
        n, self.n = self.n, 0
        return n

    def loop_engines(self) -> None:
        """Count the statements of the workers' connections on the event loop too (SQLite's
        engine, PostgreSQL's asyncio connection), until ``restore``."""
        import multipublish.db.engine as engine_mod
        import multipublish.queue.loop_store as loop_store

        loop_engine, loop_connection = loop_store.loop_engine, engine_mod.loop_connection
        self._restore = lambda: (
            setattr(loop_store, "loop_engine", loop_engine),
            setattr(engine_mod, "loop_connection", loop_connection),
        )

        def counted(engine: Any) -> Any:
            return loop_engine(engine, connect_args=self.connect_args["sqlite"])

        async def counted_conn(engine: Any, **kw: Any) -> Any:
            return await loop_connection(engine, cursor_factory=self.async_cursor, **kw)

        loop_store.loop_engine = counted  # type: ignore[assignment]
        engine_mod.loop_connection = counted_conn  # type: ignore[assignment]

    def restore(self) -> None:
        """The loop engines as they were (the timed runs are not counted)."""
        restore = getattr(self, "_restore", None)
        if restore is not None:
            restore()


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def job(i: int, *, when: datetime | None = None) -> QueuedPublishConfig:
    desc = f"{when.timestamp():.6f}" if when else ""
    return QueuedPublishConfig(
        account_id=f"acct{i % 100}",
        platforms=[PLATFORMS[i % 5]],
        video_path="/videos/noop.mp4",
        config=PublishConfig(title=f"bench {i}", description=desc),
        scheduled_time=when,
    )


def clear(queue: PublishingQueue) -> None:
    with queue.engine.begin() as conn:
        for table in ("job_results", "jobs", "jobs_archive"):
            conn.execute(text(f"DELETE FROM {table}"))


async def completed(queue: PublishingQueue) -> int:
    def q() -> int:
        with queue.engine.connect() as conn:
            return int(
                conn.execute(text("SELECT count(*) FROM jobs WHERE status = 'completed'")).scalar_one()
            )

    return await asyncio.to_thread(q)


async def phase(
    url: str,
    engine: Any,
    pub: NoopPublisher,
    queue: PublishingQueue,
    conc: int,
    n: int,
    prefix: str,
    *,
    between: Any = None,
) -> tuple[float, float]:
    """One concurrency's run: ``n`` jobs enqueued one by one, then drained by ``conc`` workers
    until every completion is committed; the seconds each took (``between`` runs in between)."""
    clear(queue)
    t0 = time.perf_counter()
    for i in range(n):
        queue.add_job(f"{prefix}{conc}-{i}", job(i))
    enqueue_s = time.perf_counter() - t0
    if between is not None:
        between()
    q = build_service(settings(url), engine=engine, publisher=pub).queue
    reached = pub.expect(n)
    t0 = time.perf_counter()
    await q.start(conc)
    # Until the last job is published (the references' tasks signal that much in-process),
    # then until every job's completion is committed, read closely: a coarse poll of the
    # table would add its own queries and up to a poll interval to the figure.
    await reached.wait()
    while await completed(q) < n:
        await asyncio.sleep(0.001)
    drain_s = time.perf_counter() - t0
    await q.stop()
    return enqueue_s, drain_s


async def counted(url: str, n: int, out: dict[str, Any]) -> None:
    """Statements per enqueue and per drained job at each concurrency (``stmts/...``): the same
    work as the timed phases, ``n`` jobs, on connections that count at the driver."""
    pub = NoopPublisher()
    count = Statements()
    count.loop_engines()
    engine = count.engine(url, pool_size=40, max_overflow=40)
    queue = build_service(settings(url), engine=engine, publisher=pub).queue
    try:
        for conc in CONCURRENCY:
            count.take()
            enqueued: list[int] = []
            mark = enqueued.append
            await phase(url, engine, pub, queue, conc, n, "s", between=lambda m=mark: m(count.take()))
            out[f"stmts/job c={conc}"] = count.take() / n
            if conc == 1:
                out["stmts/enqueue"] = enqueued[0] / n
    finally:
        count.restore()
        engine.dispose()


async def ours(url: str, label: str, n: int) -> dict[str, Any]:
    out: dict[str, Any] = {"backend": label}
    pub = NoopPublisher()
    # Timed on plain connections: the references run uninstrumented, and counting at the driver
    # (a Python ``execute`` around every statement) cost ours 3-5% of an enqueue. The statements
    # are counted in a pass of their own afterwards (``counted``).
    engine = make_engine(url, pool_size=40, max_overflow=40)
    queue = build_service(settings(url), engine=engine, publisher=pub).queue
    for conc in CONCURRENCY:
        enqueue_s, drain_s = await phase(url, engine, pub, queue, conc, n, "b")
        out[f"enqueue/s c={conc}"] = n / enqueue_s
        out[f"drain/s c={conc}"] = n / drain_s
    # Lateness: workers running, 1,000 jobs scheduled over the next few seconds.
    clear(queue)
    pub.lateness.clear()
    q = build_service(settings(url), engine=engine, publisher=pub).queue
    await q.start(8)
    # Every job must be enqueued before its time comes: leave room for the enqueue itself.
    rate = max(1.0, min(v for k, v in out.items() if k.startswith("enqueue")))
    base = datetime.now(UTC) + timedelta(seconds=2 + 1.5 * LATE_JOBS / rate)
    # Due at most a quarter of the measured drain rate at c=8: lateness, not a backlog.
    global LATE_GAP_USED
    gap = LATE_GAP_MS if LATE_GAP_MS is not None else max(5.0, 4000.0 / out["drain/s c=8"])
    LATE_GAP_USED = max(LATE_GAP_USED, gap)
    out["late gap ms"] = gap
    for i in range(LATE_JOBS):
        q.add_job(f"late-{i}", job(i, when=base + timedelta(milliseconds=gap * i)))
    deadline = time.monotonic() + 300
    while len(pub.lateness) < LATE_JOBS and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await q.stop()
    lat = [x * 1000 for x in pub.lateness]
    out["late p50 ms"] = pct(lat, 0.50)
    out["late p99 ms"] = pct(lat, 0.99)
    out["late n"] = len(lat)
    engine.dispose()
    await counted(url, min(n, 200), out)
    return out


async def procrastinate_ref(pg_admin: str, n: int) -> dict[str, Any]:
    import procrastinate

    name = f"mp_bench_proc_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    conninfo = make_engine(pg_admin).url.set(drivername="postgresql", database=name)
    dsn = conninfo.render_as_string(hide_password=False)
    out: dict[str, Any] = {"backend": "procrastinate (PostgreSQL)"}
    lateness: list[float] = []
    try:
        app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))

        @app.task(name="noop")
        async def noop(sched: float = 0.0) -> None:
            if sched:
                lateness.append(time.time() - sched)

        async with app.open_async():
            await app.schema_manager.apply_schema_async()
            for conc in CONCURRENCY:
                t0 = time.perf_counter()
                for _ in range(n):
                    await noop.defer_async()
                out[f"enqueue/s c={conc}"] = n / (time.perf_counter() - t0)
                t0 = time.perf_counter()
                await app.run_worker_async(concurrency=conc, wait=False, install_signal_handlers=False)
                out[f"drain/s c={conc}"] = n / (time.perf_counter() - t0)
            rate = max(1.0, min(v for k, v in out.items() if k.startswith("enqueue")))
            base = datetime.now(UTC) + timedelta(seconds=2 + 1.5 * LATE_JOBS / rate)
            for i in range(LATE_JOBS):
                when = base + timedelta(milliseconds=LATE_GAP_USED * i)
                await noop.configure(schedule_at=when).defer_async(sched=when.timestamp())
            worker = asyncio.create_task(
                app.run_worker_async(concurrency=8, wait=True, install_signal_handlers=False)
            )
            deadline = time.monotonic() + 300
            while len(lateness) < LATE_JOBS and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            worker.cancel()
            try:
                await worker
            except (asyncio.CancelledError, Exception):
                pass
        lat = [x * 1000 for x in lateness]
        out["late p50 ms"] = pct(lat, 0.50)
        out["late p99 ms"] = pct(lat, 0.99)
        out["late n"] = len(lat)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return out


def huey_ref(tmp: str, n: int) -> dict[str, Any]:
    """huey on SQLite: one-by-one enqueue, then a drain by a consumer of ``c`` threads."""
    import threading

    from huey import SqliteHuey

    out: dict[str, Any] = {"backend": "huey (SQLite)"}
    for conc in CONCURRENCY:
        huey = SqliteHuey(filename=str(Path(tmp) / f"huey{conc}.db"))
        done = threading.Semaphore(0)

        @huey.task()
        def noop(sem: threading.Semaphore = done) -> None:
            sem.release()

        t0 = time.perf_counter()
        for _ in range(n):
            noop()
        out[f"enqueue/s c={conc}"] = n / (time.perf_counter() - t0)
        consumer = huey.create_consumer(workers=conc, worker_type="thread", periodic=False,
                                        check_worker_health=False, initial_delay=0.001)
        t0 = time.perf_counter()
        consumer.start()
        for _ in range(n):
            done.acquire()
        out[f"drain/s c={conc}"] = n / (time.perf_counter() - t0)
        consumer.stop(graceful=True)
    return out


def bare_ref(url: str, label: str, n: int) -> dict[str, Any]:
    """The floor: claim and finish with one statement each, no queue around them."""
    from concurrent.futures import ThreadPoolExecutor

    pg = url.startswith("postgresql")
    engine = make_engine(url)
    ddl = (
        "CREATE TABLE bare_jobs (id BIGSERIAL PRIMARY KEY, status TEXT NOT NULL, payload TEXT)"
        if pg
        else "CREATE TABLE bare_jobs (id INTEGER PRIMARY KEY, status TEXT NOT NULL, payload TEXT)"
    )
    claim = (
        "UPDATE bare_jobs SET status = 'running' WHERE id = (SELECT id FROM bare_jobs"
        " WHERE status = 'pending' ORDER BY id LIMIT 1"
        + (" FOR UPDATE SKIP LOCKED" if pg else "")
        + ") RETURNING id"
    )
    out: dict[str, Any] = {"backend": label}
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bare_jobs"))
        conn.execute(text(ddl))
        conn.execute(text("CREATE INDEX ix_bare_pending ON bare_jobs (id) WHERE status = 'pending'"))
    for conc in CONCURRENCY:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM bare_jobs"))
        raw = engine.raw_connection()
        t0 = time.perf_counter()
        cur = raw.cursor()
        for i in range(n):
            if not pg:
                cur.execute("BEGIN IMMEDIATE")
            cur.execute("INSERT INTO bare_jobs (status, payload) VALUES ('pending', ?)" if not pg
                        else "INSERT INTO bare_jobs (status, payload) VALUES ('pending', %s)", (str(i),))
            raw.commit() if pg else cur.execute("COMMIT")
        out[f"enqueue/s c={conc}"] = n / (time.perf_counter() - t0)
        raw.close()

        def loop(_: int) -> int:
            conn = engine.raw_connection()
            c = conn.cursor()
            got = 0
            try:
                while True:
                    if not pg:
                        c.execute("BEGIN IMMEDIATE")
                    c.execute(claim)
                    row = c.fetchone()
                    conn.commit() if pg else c.execute("COMMIT")
                    if row is None:
                        return got
                    if not pg:
                        c.execute("BEGIN IMMEDIATE")
                    c.execute("UPDATE bare_jobs SET status = 'done' WHERE id = " + ("%s" if pg else "?"),
                              (row[0],))
                    conn.commit() if pg else c.execute("COMMIT")
                    got += 1
            finally:
                conn.close()

        t0 = time.perf_counter()
        with ThreadPoolExecutor(conc) as pool:
            total = sum(pool.map(loop, range(conc)))
        out[f"drain/s c={conc}"] = total / (time.perf_counter() - t0)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE bare_jobs"))
    engine.dispose()
    return out


def ratios(rounds: list[dict[str, dict[str, Any]]]) -> None:
    """Issue 12's table rows: ours over each reference. With several rounds each figure is the
    median over the rounds and each ratio the median of the rounds' own ratios (their range in
    brackets): both sides of a ratio ran in the same round, so they saw the same machine."""

    def med(name: str, key: str) -> float:
        values = [r[name][key] for r in rounds if name in r and isinstance(r[name].get(key), float)]
        return statistics.median(values) if values else float("nan")

    def r(a: str, b: str, key: str) -> str:
        each = [x[a][key] / x[b][key] for x in rounds if a in x and b in x and x[b].get(key)]
        if not each:
            return "n/a"
        spread = f" ({min(each):.2f}-{max(each):.2f})" if len(each) > 1 else ""
        return f"{statistics.median(each):.2f}x{spread}"

    rows = rounds[0]
    print("\n| workload | ours | reference | ratio |")
    print("|---|---|---|---|")
    for conc in CONCURRENCY:
        key = f"drain/s c={conc}"
        for ours, refs in (("pg", ("procrastinate", "bare pg")), ("sqlite", ("huey", "bare sqlite"))):
            if ours not in rows:
                continue
            cells = "; ".join(f"{ref} {med(ref, key):,.0f}" for ref in refs if ref in rows)
            ratio = " / ".join(f"{r(ours, ref, key)} {ref}" for ref in refs if ref in rows)
            print(f"| {ours} drain c={conc} | {med(ours, key):,.0f} jobs/s | {cells} | {ratio} |")
    key = "enqueue/s c=1"
    for ours, refs in (("pg", ("procrastinate", "bare pg")), ("sqlite", ("huey", "bare sqlite"))):
        if ours not in rows:
            continue
        cells = "; ".join(f"{ref} {med(ref, key):,.0f}" for ref in refs if ref in rows)
        ratio = " / ".join(f"{r(ours, ref, key)} {ref}" for ref in refs if ref in rows)
        print(f"| {ours} enqueue one by one ({med(ours, 'stmts/enqueue'):.0f} statements) |"
              f" {med(ours, key):,.0f} jobs/s | {cells} | {ratio} |")
    for ours in ("pg", "sqlite"):
        if ours in rows:
            proc = med("procrastinate", "late p99 ms")
            print(f"| {ours} scheduling lateness p99 | {med(ours, 'late p99 ms'):.1f} ms |"
                  f" procrastinate {proc:.0f} ms (default poll) | - |")


def table(rows: list[dict[str, Any]]) -> None:
    keys = [k for k in rows[0] if k != "backend"]
    width = max(len(r["backend"]) for r in rows) + 2
    print(f"{'':{width}}" + "".join(f"{k:>16}" for k in keys))
    for r in rows:
        cells = "".join(
            f"{r.get(k, float('nan')):>16.1f}" if isinstance(r.get(k), float) else f"{r.get(k)!s:>16}"
            for k in keys
        )
        print(f"{r['backend']:{width}}{cells}")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument(
        "--pg",
        default=os.environ.get("MULTIPUBLISH_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="an existing database on the server; the benchmark creates and drops its own",
    )
    ap.add_argument("--skip-procrastinate", action="store_true")
    ap.add_argument("--skip-huey", action="store_true")
    ap.add_argument("--with-quota", action="store_true", help="count usage and enforce quotas (production)")
    ap.add_argument("--late-jobs", type=int, default=1000, help="jobs in the lateness phase")
    ap.add_argument(
        "--late-gap-ms",
        type=float,
        default=None,
        help="due times this far apart (default: 4 s / the drain rate at c=8, at least 5 ms)",
    )
    ap.add_argument("--only", choices=("sqlite", "pg"), help="one database (and its references) only")
    ap.add_argument("--rounds", type=int, default=1, help="run every engine this many times, in turn")
    args = ap.parse_args()
    global WITH_QUOTA, LATE_JOBS, LATE_GAP_MS
    WITH_QUOTA, LATE_JOBS, LATE_GAP_MS = args.with_quota, args.late_jobs, args.late_gap_ms
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"usage counted and quotas enforced: {WITH_QUOTA}")
    admin_url = make_engine(args.pg).url.render_as_string(hide_password=False)
    rounds: list[dict[str, dict[str, Any]]] = []
    for _ in range(args.rounds):
        named: dict[str, dict[str, Any]] = {}
        rounds.append(named)
        if args.only != "pg":
            with tempfile.TemporaryDirectory() as tmp:
                db = Path(tmp)
                url = f"sqlite:///{db / 'bench.db'}"
                named["sqlite"] = await ours(url, "multipublish (SQLite)", args.jobs)
                bare = f"sqlite:///{db / 'bare.db'}"
                named["bare sqlite"] = bare_ref(bare, "bare loop (SQLite)", args.jobs)
                if not args.skip_huey:
                    named["huey"] = huey_ref(tmp, args.jobs)
        if args.only != "sqlite":
            name = f"mp_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                pg = make_engine(admin_url).url.set(database=name).render_as_string(hide_password=False)
                named["pg"] = await ours(pg, "multipublish (PostgreSQL)", args.jobs)
                named["bare pg"] = bare_ref(pg, "bare loop (PostgreSQL)", args.jobs)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            if not args.skip_procrastinate:
                named["procrastinate"] = await procrastinate_ref(admin_url, args.jobs)
        print(f"\njobs per run: {args.jobs}; no-op publisher/task; {os.cpu_count()} CPUs;"
              f" round {len(rounds)} of {args.rounds}")
        table(list(named.values()))
    ratios(rounds)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
