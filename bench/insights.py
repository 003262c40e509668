"""Insights: collection throughput against the emulator, and insight query times at scale.

    python bench/insights.py [--collect 2000] [--posts 100000] [--samples 30] [--pg-url URL]

1. Collection: ``--collect`` YouTube posts and as many upload-post (TikTok) posts, all due, collected
   by one :class:`MetricsCollector` from the sandbox running in its own process. Prints posts
   refreshed per second and HTTP calls per post (YouTube batches 50 videos per ``videos.list``;
   upload-post answers per upload). Reference in the same run: the same HTTP calls made with a bare
   httpx client and no database work (the floor the collector's bookkeeping adds to).
2. Queries: ``--posts`` followed posts with ``--samples`` samples each, bulk-loaded into SQLite and
   PostgreSQL (COPY), then the insights report (all accounts; one account), the best-times fit of
   one account, and one post's series are timed (median of 5 runs). Reference: ``SELECT count(*)``
   over the samples table on the same engine.
"""

# ruff: noqa: E402  (imports follow the sys.path fix below)
from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py would shadow the standard library's ``queue``
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import json
import random
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import Engine, create_engine, insert, select, text

from multipublish.accounts import AccountStore
from multipublish.db import ensure_schema, make_engine
from multipublish.insights import InsightStore, MetricsCollector
from multipublish.insights.besttimes import fit_account
from multipublish.insights.report import build_insights
from multipublish.insights.store import hour_of_week
from multipublish.insights.tables import insight_posts, insight_samples
from multipublish.settings import Settings

EXE = [sys.executable, "-m", "multipublish"]
REFRESH = "1//bench-refresh-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- 1. collection -------------------------------------------------------------------------------


def bench_collect(n: int, tmp: Path) -> None:
    port = free_port()
    sb = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [*EXE, "sandbox", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{sb}/_sandbox/config", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise SystemExit("the sandbox did not start") from None
                time.sleep(0.1)
        _collect(sb, n, tmp)
    finally:
        proc.terminate()
        proc.wait(10)


def _collect(sb: str, n: int, tmp: Path) -> None:
    settings = Settings(sandbox_url=sb, database_url=f"sqlite:///{tmp / 'collect.db'}",
                        secret_key=Fernet.generate_key().decode(), insights_batch=500,
                        youtube_daily_units=10**9, youtube_daily_uploads=10**9)
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    secrets = tmp / "client_secrets.json"
    secrets.write_text(json.dumps({"installed": {
        "client_id": "bench.apps.googleusercontent.com", "client_secret": "GOCSPX-bench",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token", "redirect_uris": ["http://localhost"]}}))
    accounts = AccountStore(engine, settings)
    accounts.add("yt", "youtube", {"client_secrets_file": str(secrets), "refresh_token": REFRESH})
    accounts.add("up", "tiktok", {"api_key": "bench-key", "user": "benchuser"})
    published = datetime.now(UTC) - timedelta(hours=2)
    when = [published.isoformat()] * n
    yt = httpx.post(f"{sb}/_sandbox/audience/seed", timeout=120,
                    json={"platform": "youtube", "refresh_token": REFRESH, "published": when}).json()["posts"]
    up = httpx.post(f"{sb}/_sandbox/audience/seed", timeout=120,
                    json={"platform": "tiktok", "user": "benchuser", "published": when}).json()["posts"]
    store = InsightStore(engine, settings)
    store.register_many(
        [{"account_id": "yt", "platform": "youtube", "video_id": p["video_id"], "published_at": published}
         for p in yt]
        + [{"account_id": "up", "platform": "tiktok", "video_id": p["video_id"],
            "reference": p["request_id"], "published_at": published} for p in up]
    )
    collector = MetricsCollector(engine, settings, worker_id="bench", accounts=accounts)

    async def run() -> tuple[float, Any]:
        t0 = time.perf_counter()
        stats = await collector.run_until_idle()
        return time.perf_counter() - t0, stats

    elapsed, stats = asyncio.run(run())
    print(f"  collector: {stats.sampled} posts in {elapsed:.2f} s = {stats.sampled / elapsed:8.0f} posts/s, "
          f"{stats.calls / max(1, stats.sampled):.3f} calls/post ({stats.calls} calls, "
          f"{stats.quota_units} YouTube units)")

    async def reference() -> float:
        async with httpx.AsyncClient(timeout=30) as http:
            tok = (await http.post(f"{sb}/token", data={
                "grant_type": "refresh_token", "refresh_token": REFRESH,
                "client_id": "bench.apps.googleusercontent.com", "client_secret": "GOCSPX-bench"})).json()
            auth = {"Authorization": f"Bearer {tok['access_token']}"}
            t0 = time.perf_counter()
            for i in range(0, len(yt), 50):
                ids = ",".join(p["video_id"] for p in yt[i:i + 50])
                (await http.get(f"{sb}/youtube/v3/videos", params={"part": "statistics", "id": ids},
                                headers=auth)).raise_for_status()
            up_auth = {"Authorization": "Apikey bench-key"}
            gate = asyncio.Semaphore(8)  # as many in flight as the collector allows itself

            async def one(rid: str) -> None:
                async with gate:
                    (await http.get(f"{sb}/api/uploadposts/post-analytics/{rid}",
                                    headers=up_auth)).raise_for_status()

            await asyncio.gather(*(one(p["request_id"]) for p in up))
            return time.perf_counter() - t0

    ref = asyncio.run(reference())
    print(f"  reference (bare httpx, same calls, no database): {2 * n / ref:8.0f} posts/s")
    engine.dispose()


# -- 2. queries --------------------------------------------------------------------------------------


def _rows(posts: int, samples: int, accounts: int) -> tuple[list[dict[str, Any]], Callable[[], Any]]:
    rng = random.Random(16)
    now = datetime.now(UTC)
    ages = [3600.0 * h for h in (0.25, 0.5, 1, 2, 3, 4, 6, 8, 10, 12, 15, 18, 21, 24, 30, 36, 42, 48,
                                 72, 96, 120, 168, 240, 336, 504, 720, 900, 1100, 1300, 1500)][:samples]
    post_rows = []
    for i in range(posts):
        published = now - timedelta(seconds=rng.uniform(0, 29 * 86400))
        base = rng.lognormvariate(7, 1)
        final = int(base)
        post_rows.append({
            "id": i + 1, "account_id": f"acct{i % accounts}",
            "platform": ("youtube", "tiktok", "instagram", "facebook", "linkedin")[i % 5],
            "video_id": f"v{i}", "title": f"post {i}", "published_at": published,
            "hour_of_week": hour_of_week(published), "state": "active", "samples": samples,
            "attempts": 0, "quota_units": 0.0, "views": final, "likes": final // 20,
            "comments": final // 200, "shares": final // 100,
            "views_1h": base * 0.05, "views_24h": base * 0.6, "views_7d": base * 0.97,
            "next_sample_at": now, "created_at": now, "updated_at": now,
        })

    def sample_rows() -> Any:
        for p in post_rows:
            for age in ages:
                v = int(p["views"] * (1 - 2.718 ** (-age / 86400)))
                taken = p["published_at"] + timedelta(seconds=age)
                yield (p["id"], taken, age, v, v // 20, v // 200, v // 100)

    return post_rows, sample_rows


def _load(engine: Engine, posts: int, samples: int) -> float:
    post_rows, sample_rows = _rows(posts, samples, accounts=50)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        for i in range(0, len(post_rows), 20000):
            conn.execute(insert(insight_posts), post_rows[i:i + 20000])
    cols = ("post_id", "taken_at", "age_s", "views", "likes", "comments", "shares")
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            with cur.copy(f"COPY insight_samples ({', '.join(cols)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in sample_rows():
                    copy.write_row(row)
            raw.commit()
        finally:
            raw.close()
    else:
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("BEGIN")
            batch: list[tuple[Any, ...]] = []
            for row in sample_rows():
                batch.append((row[0], row[1].replace(tzinfo=None).isoformat(sep=" "), *row[2:]))
                if len(batch) >= 50000:
                    cur.executemany(f"INSERT INTO insight_samples ({', '.join(cols)}) VALUES (?,?,?,?,?,?,?)",
                                    batch)
                    batch.clear()
            if batch:
                cur.executemany(f"INSERT INTO insight_samples ({', '.join(cols)}) VALUES (?,?,?,?,?,?,?)",
                                batch)
            cur.execute("COMMIT")
        finally:
            raw.close()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE insight_posts"))
            conn.execute(text("ANALYZE insight_samples"))
        else:
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - t0


def _median_ms(fn: Callable[[], Any], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def bench_queries(url: str, posts: int, samples: int) -> None:
    engine = make_engine(url)
    ensure_schema(engine)
    took = _load(engine, posts, samples)
    print(f"  loaded {posts} posts x {samples} samples in {took:.1f} s")
    now = datetime.now(UTC)
    since = now - timedelta(days=30)
    report = build_insights(engine, since, now)
    assert sum(g["posts"] for g in report["groups"]) == posts
    print(f"  insights, all {len(report['groups'])} account/platform groups: "
          f"{_median_ms(lambda: build_insights(engine, since, now)):8.1f} ms")
    print(f"  insights, one account:                       "
          f"{_median_ms(lambda: build_insights(engine, since, now, account_id='acct7')):8.1f} ms")
    print(f"  best times, one account and platform:        "
          f"{_median_ms(lambda: fit_account(engine, 'acct7', 'instagram')):8.1f} ms")
    store = InsightStore(engine)
    print(f"  one post's series ({samples} samples):            "
          f"{_median_ms(lambda: store.samples(4242)):8.1f} ms")

    def count() -> None:
        with engine.connect() as conn:
            conn.execute(select(text("count(*)")).select_from(insight_samples)).scalar()

    print(f"  reference: SELECT count(*) over the samples:  {_median_ms(count):8.1f} ms")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--collect", type=int, default=2000, help="posts per platform kind to collect")
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-collect", action="store_true")
    parser.add_argument("--skip-queries", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if not args.skip_collect:
            print(f"Collection against the sandbox (own process): {args.collect} YouTube + "
                  f"{args.collect} TikTok posts")
            bench_collect(args.collect, tmp)
        if args.skip_queries:
            return
        print("SQLite (WAL)")
        bench_queries(f"sqlite:///{tmp / 'queries.db'}", args.posts, args.samples)
    admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
    name = f"mp_bench_insights_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        print(f"PostgreSQL not reachable ({type(exc).__name__}); skipped")
        return
    try:
        print("PostgreSQL")
        bench_queries(args.pg_url.rsplit("/", 1)[0] + "/" + name, args.posts, args.samples)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
