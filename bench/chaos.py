"""Chaos run: 1,000 jobs on PostgreSQL, four worker processes, one killed (SIGKILL) at random every
few seconds and restarted, sandbox faults armed at random. Prints jobs lost and duplicate posts
(both must be 0) and the time to drain.

Run: ``python bench/chaos.py [--jobs 1000] [--workers 4] [--pg postgresql://postgres@127.0.0.1:5432/test]``

Everything runs on 127.0.0.1: the sandbox (all emulators, in this process), a database created and
dropped here, and the workers (``python -m multipublish worker``). Faults armed: ``http_500``,
``rate_limit``, ``drop_connection``, ``slow`` and ``lose_response`` (the post is accepted and the
answer never arrives: only reconciliation keeps that from becoming a duplicate).
"""

from __future__ import annotations

import os
import sys

# bench/queue.py would shadow the standard library's ``queue`` for a script run from this folder.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse
import random
import signal
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from multipublish.bootstrap import build_service
from multipublish.db import make_engine
from multipublish.media.sample import make_video
from multipublish.platforms.base import PublishConfig
from multipublish.queue import QueuedPublishConfig
from multipublish.sandbox import SandboxServer
from multipublish.settings import Settings

PLATFORMS = ["tiktok", "instagram", "facebook", "linkedin"]
#: Weighted: a ``rate_limit`` answer makes the account wait for the service's minute window, so it
#: is armed rarely (else the run measures that window rather than the queue).
FAULTS = ["http_500"] * 2 + ["drop_connection"] * 2 + ["slow"] * 2 + ["lose_response"] * 2 + ["rate_limit"]
ACCOUNTS = 10


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--kill-every", type=float, default=3.0, help="mean seconds between kills")
    ap.add_argument("--timeout", type=float, default=1200.0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument(
        "--pg",
        default=os.environ.get("MULTIPUBLISH_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    args = ap.parse_args()
    rng = random.Random(args.seed)
    admin_url = make_engine(args.pg).url.render_as_string(hide_password=False)
    name = f"mp_chaos_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db_url = make_engine(admin_url).url.set(database=name).render_as_string(hide_password=False)
    procs: list[subprocess.Popen[bytes] | None] = [None] * args.workers
    try:
        with tempfile.TemporaryDirectory() as tmp, SandboxServer() as sandbox:
            run(args, rng, Path(tmp), sandbox.url, db_url, procs)
    finally:
        for proc in procs:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(
    args: argparse.Namespace,
    rng: random.Random,
    tmp: Path,
    sandbox_url: str,
    db_url: str,
    procs: list[subprocess.Popen[bytes] | None],
) -> None:
    secret = Fernet.generate_key().decode()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MULTIPUBLISH_")}
    env.update(
        MULTIPUBLISH_DATABASE_URL=db_url,
        MULTIPUBLISH_SECRET_KEY=secret,
        MULTIPUBLISH_SANDBOX_URL=sandbox_url,
        MULTIPUBLISH_LEASE_SECONDS="3",
        MULTIPUBLISH_QUEUE_POLL_INTERVAL="1",
        MULTIPUBLISH_HTTP_TIMEOUT="20",
        MULTIPUBLISH_STATUS_POLL_INTERVAL="0.1",
        MULTIPUBLISH_STATUS_POLL_MAX_INTERVAL="0.2",
        MULTIPUBLISH_STATUS_POLL_TIMEOUT="5",
        MULTIPUBLISH_LOG_LEVEL="ERROR",
        MULTIPUBLISH_SHUTDOWN_GRACE_SECONDS="5",
    )
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db_url,
        secret_key=secret,
        sandbox_url=sandbox_url,
    )
    service = build_service(settings)
    engine, manager = service.engine, service.manager
    for a in range(ACCOUNTS):
        for platform in PLATFORMS:
            creds = {"api_key": f"chaos-key-{a}", "user": f"creator{a}"}
            if platform == "facebook":
                creds["page_id"] = "1122334455"
            manager.add_account(f"acct{a}", platform, creds)
    video = make_video(tmp / "clip.mp4", width=1080, height=1920, duration=3.0, fps=24)
    queue = service.queue
    t0 = time.perf_counter()
    expected: Counter[tuple[str, str]] = Counter()
    for i in range(args.jobs):
        job_id = f"chaos-{i:05d}"
        plats = rng.sample(PLATFORMS, k=1 if rng.random() < 0.8 else 2)
        queue.add_job(
            job_id,
            QueuedPublishConfig(
                account_id=f"acct{i % ACCOUNTS}",
                platforms=plats,
                video_path=str(video),
                config=PublishConfig(title=job_id, description="chaos"),
                priority=rng.randint(1, 10),
                max_retries=30,
                retry_delay=0.5,
            ),
        )
        for p in plats:
            expected[(job_id, p)] += 1
    print(f"enqueued {args.jobs} jobs ({sum(expected.values())} posts) in {time.perf_counter() - t0:.1f}s")

    logs = [open(tmp / f"worker{i}.log", "ab") for i in range(args.workers)]

    def spawn(i: int) -> None:
        procs[i] = subprocess.Popen(
            [sys.executable, "-m", "multipublish", "worker", "--concurrency", str(args.concurrency)],
            env=env,
            cwd=tmp,
            stdout=logs[i],
            stderr=subprocess.STDOUT,
        )

    for i in range(args.workers):
        spawn(i)
    start = time.perf_counter()
    kills = faults = 0
    next_kill = start + rng.expovariate(1 / args.kill_every)
    client = httpx.Client(base_url=sandbox_url, timeout=10)
    done = 0
    while time.perf_counter() - start < args.timeout:
        with engine.connect() as conn:
            done = int(
                conn.execute(
                    text("SELECT count(*) FROM jobs WHERE status IN ('completed', 'failed', 'cancelled')")
                ).scalar_one()
            )
        if done >= args.jobs:
            break
        now = time.perf_counter()
        if now >= next_kill:
            i = rng.randrange(args.workers)
            proc = procs[i]
            if proc is not None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            spawn(i)
            kills += 1
            next_kill = now + rng.expovariate(1 / args.kill_every)
        if rng.random() < 0.07:
            kind = rng.choice(FAULTS)
            body: dict[str, object] = {
                "platform": rng.choice(PLATFORMS),
                "fault": kind,
                "times": rng.randint(1, 3),
            }
            if kind in ("slow", "rate_limit"):
                body["seconds"] = 1.0
            client.post("/_sandbox/faults", json=body).raise_for_status()
            faults += 1
        time.sleep(0.2)
    drain = time.perf_counter() - start
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        if proc is not None:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    for fh in logs:
        fh.close()
    posts = client.get("/_sandbox/posts").json()["posts"]
    got: Counter[tuple[str, str]] = Counter((p["title"], p["platform"]) for p in posts)
    duplicates = sum(n - 1 for n in got.values() if n > 1)
    with engine.connect() as conn:
        statuses = dict(conn.execute(text("SELECT status, count(*) FROM jobs GROUP BY status")).all())
        not_done = int(
            conn.execute(text("SELECT count(*) FROM jobs WHERE status <> 'completed'")).scalar_one()
        )
    missing_posts = sum(1 for key in expected if got.get(key, 0) == 0)
    lost = not_done
    print(f"workers: {args.workers} x concurrency {args.concurrency}; kills: {kills}; faults armed: {faults}")
    print(f"job statuses: {statuses}")
    print(f"time to drain: {drain:.1f}s")
    print(f"jobs lost (not completed): {lost}")
    print(f"posts missing on the sandbox: {missing_posts}")
    print(f"duplicate posts: {duplicates}")
    engine.dispose()
    if lost or duplicates or missing_posts:
        sys.exit(1)


if __name__ == "__main__":
    main()
