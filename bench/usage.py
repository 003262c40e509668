"""Quota gate and analytics throughput on SQLite and PostgreSQL.

    python bench/usage.py [--ops 400] [--records 20000] [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Prints: reserve+record cycles per second (one process, then four processes racing for the same
account's quota, which is the contended case the atomic reservation serialises), and how long the
report and the monthly cost table take over ``--records`` usage records. Everything lives in a temp
SQLite file and a temporary PostgreSQL database, both removed afterwards.
"""

# ruff: noqa: E402  (imports follow the sys.path fix below)
from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py would shadow the standard library's ``queue`` (multiprocessing needs it)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import multiprocessing as mp
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, insert, text

from multipublish.db import ensure_schema, make_engine
from multipublish.platforms.base import PublishResult, PublishStatus
from multipublish.settings import Settings
from multipublish.usage import QuotaGate, UsageStore
from multipublish.usage.analytics import build_report, monthly_costs
from multipublish.usage.tables import usage_records

NOW = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
SETTINGS = dict(youtube_daily_units=10**9, youtube_daily_uploads=10**9, upload_post_monthly_limit=10**9)


def cycles(url: str, ops: int, account: str) -> int:
    """``ops`` reserve -> record cycles against one account (tiktok), in this process."""
    engine = make_engine(url)
    gate = QuotaGate(UsageStore(engine, Settings(**SETTINGS), clock=lambda: NOW))
    ok = PublishResult(platform="tiktok", success=True, status=PublishStatus.PUBLISHED, bytes_sent=1)
    done = 0
    for i in range(ops):
        decision = gate.reserve(account, "tiktok")
        if decision.allowed:
            gate.settle(decision.reservation, account, ok, job_id=f"j{i}", duration_s=1.0)
            done += 1
    engine.dispose()
    return done


def _worker(args: tuple[str, int]) -> int:
    return cycles(args[0], args[1], "shared")


def bench_gate(url: str, ops: int) -> None:
    t0 = time.perf_counter()
    n = cycles(url, ops, "solo")
    one = n / (time.perf_counter() - t0)
    ctx = mp.get_context("fork")
    t0 = time.perf_counter()
    with ctx.Pool(4) as pool:
        n = sum(pool.map(_worker, [(url, ops // 4)] * 4))
    four = n / (time.perf_counter() - t0)
    print(f"  reserve+record: 1 process {one:8.0f}/s   4 processes (same account) {four:8.0f}/s")


def bench_report(url: str, records: int) -> None:
    engine = make_engine(url)
    rng = random.Random(1)
    rows = []
    for i in range(records):
        success = rng.random() < 0.8
        rows.append(
            {
                "occurred_at": NOW - timedelta(minutes=rng.randrange(60 * 24 * 60)),
                "account_id": f"acct{rng.randrange(20)}",
                "platform": rng.choice(["tiktok", "instagram", "facebook", "linkedin", "youtube"]),
                "job_id": f"job{i // 2}",
                "attempt": rng.choice([1, 1, 2]),
                "outcome": "published" if success else "failed",
                "success": success,
                "error_kind": None if success else "transient",
                "bytes_sent": 1000,
                "duration_s": rng.uniform(1, 30),
                "plan_uploads": 1,
                "quota_units": 0,
                "cost": 0.1,
                "currency": "USD",
            }
        )
    with engine.begin() as conn:
        conn.execute(insert(usage_records), rows)
    settings = Settings()
    t0 = time.perf_counter()
    report = build_report(engine, settings, NOW - timedelta(days=30), NOW)
    t_report = time.perf_counter() - t0
    t0 = time.perf_counter()
    monthly_costs(engine, settings, "2026-11")
    t_costs = time.perf_counter() - t0
    attempts = report["totals"]["attempts"]
    print(
        f"  report over 30 days ({attempts} of {records} records): {t_report * 1000:7.0f} ms   "
        f"monthly costs: {t_costs * 1000:7.0f} ms"
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=400)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        ensure_schema(make_engine(url))
        print("SQLite (WAL, BEGIN IMMEDIATE)")
        bench_gate(url, args.ops)
        bench_report(url, args.records)
    admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
    name = f"mp_bench_usage_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        print(f"PostgreSQL not reachable ({type(exc).__name__}); skipped")
        return
    try:
        url = args.pg_url.rsplit("/", 1)[0] + "/" + name
        engine = make_engine(url)
        ensure_schema(engine)
        engine.dispose()
        print("PostgreSQL (SELECT ... FOR UPDATE)")
        bench_gate(url, args.ops)
        bench_report(url, args.records)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
