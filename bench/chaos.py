"""Chaos run: 1,000 jobs over all five platforms on PostgreSQL, four worker processes, one killed
(SIGKILL) at random every few seconds and restarted, sandbox faults armed at random. Prints, per
platform, jobs lost, duplicate posts, stuck jobs and wrongly failed jobs (all must be 0), YouTube
videos left without their thumbnail or playlist item, and the time to drain.

Run: ``python bench/chaos.py [--jobs 1000] [--workers 4] [--pg postgresql://postgres@127.0.0.1:5432/test]``

Everything runs on 127.0.0.1: the sandbox (all emulators, in this process), a database created and
dropped here, and the workers (``python -m multipublish worker``). YouTube jobs carry a thumbnail and
a playlist, and upload in 256 KiB chunks, so kills land in every step of the resumable protocol.
Faults armed: ``http_500``, ``rate_limit``, ``drop_connection``, ``slow`` and ``lose_response``
(the post is accepted and the answer never arrives: only reconciliation keeps that from becoming a
duplicate), and, as the services document them:

- the status endpoint lags behind uploads (``--status-lag`` seconds of 404 after each upload, longer
  than the workers' ``status_not_found_window``): only keeping the request id and Idempotency-Key
  until the outcome is known keeps a lost answer to one post;
- ``reject`` with a permanent ``error_code`` (``tiktok_privacy_unavailable``): that job rightly fails
  and the platform is never sent again (printed: re-sent after a permanent code, must be 0);
- ``rate_limit_reset``: a 429 with only ``X-RateLimit-Reset``, which the retry waits for.

Every other fault is transient, so any other failed job is a wrong failure. Faults stop once 95% of
the jobs are done (else every fault lands on the last few jobs).
"""

from __future__ import annotations

import os
import sys

# bench/queue.py would shadow the standard library's ``queue`` for a script run from this folder.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse
import importlib.util
import random
import signal
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from multipublish.bootstrap import build_service
from multipublish.db import make_engine
from multipublish.platforms.base import PublishConfig
from multipublish.queue import QueuedPublishConfig
from multipublish.sandbox import SandboxServer
from multipublish.settings import Settings


def _killpoints() -> Any:
    """``bench/killpoints.py`` (accounts, clip, thumbnail, post lookup), loaded by path: this
    folder is off ``sys.path`` (see above)."""
    spec = importlib.util.spec_from_file_location("killpoints", Path(__file__).with_name("killpoints.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["killpoints"] = module
    spec.loader.exec_module(module)
    return module


kp = _killpoints()
PLATFORMS = ["tiktok", "instagram", "facebook", "linkedin", "youtube"]
UPLOAD_POST = PLATFORMS[:4]
PLAYLIST = "PLchaos"
#: Weighted: a ``rate_limit`` answer makes the account wait for the service's minute window, so it
#: is armed rarely (else the run measures that window rather than the queue).
FAULTS = (
    ["http_500"] * 2
    + ["drop_connection"] * 2
    + ["slow"] * 2
    + ["lose_response"] * 3
    + ["rate_limit", "rate_limit_reset", "permanent_code"]
)
PERMANENT_CODE = "tiktok_privacy_unavailable"
ACCOUNTS = 10


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--kill-every", type=float, default=3.0, help="mean seconds between kills")
    ap.add_argument("--timeout", type=float, default=1200.0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--status-lag", type=float, default=2.0, help="seconds the status endpoint lags")
    ap.add_argument(
        "--not-found-window", type=float, default=1.0, help="workers' status_not_found_window"
    )
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
            run(args, rng, Path(tmp), sandbox, db_url, procs)
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
    sandbox: SandboxServer,
    db_url: str,
    procs: list[subprocess.Popen[bytes] | None],
) -> None:
    sandbox_url = sandbox.url
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
        MULTIPUBLISH_STATUS_NOT_FOUND_WINDOW=str(args.not_found_window),
        MULTIPUBLISH_LOG_LEVEL="ERROR",
        MULTIPUBLISH_SHUTDOWN_GRACE_SECONDS="5",
        MULTIPUBLISH_YOUTUBE_CHUNK_SIZE=str(256 * 1024),
        # killed attempts keep the quota they reserved (it may have been spent at Google)
        MULTIPUBLISH_YOUTUBE_DAILY_UNITS="100000000",
        MULTIPUBLISH_YOUTUBE_DAILY_UPLOADS="100000000",
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
        kp.add_accounts(manager, f"acct{a}")
    video = kp.make_clip(tmp / "clip.mp4")  # six 256 KiB chunks on YouTube
    thumbnail = tmp / "thumb.png"
    kp.write_png(thumbnail)
    queue = service.queue
    t0 = time.perf_counter()
    expected: Counter[tuple[str, str]] = Counter()
    for i in range(args.jobs):
        job_id = f"chaos-{i:05d}"
        plats = rng.sample(PLATFORMS, k=1 if rng.random() < 0.8 else 2)
        config = PublishConfig(title=job_id, description="chaos")
        if "youtube" in plats:
            config.thumbnail_path = str(thumbnail)
            config.platform_specific = {"youtube": {"playlist_id": PLAYLIST}}
        queue.add_job(
            job_id,
            QueuedPublishConfig(
                account_id=f"acct{i % ACCOUNTS}",
                platforms=plats,
                video_path=str(video),
                config=config,
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
    client.post("/_sandbox/config", json={"status_lag": args.status_lag}).raise_for_status()
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
        if done < 0.95 * args.jobs and rng.random() < 0.07:
            kind = rng.choice(FAULTS)
            body: dict[str, object] = {
                "platform": rng.choice(PLATFORMS),
                "fault": kind,
                "times": rng.randint(1, 3),
            }
            if kind == "permanent_code":
                body.update(platform=rng.choice(UPLOAD_POST), fault="reject", code=PERMANENT_CODE, times=1)
            if kind in ("slow", "rate_limit", "rate_limit_reset"):
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
    got: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for post in posts:
        job_id = _job_of(post)
        if job_id is not None:
            got.setdefault((job_id, post["platform"]), []).append(post)
    with engine.connect() as conn:
        statuses = dict(conn.execute(text("SELECT status, count(*) FROM jobs GROUP BY status")).all())
        status_of = dict(conn.execute(text("SELECT id, status FROM jobs")).all())
    # Uploads the service refused with the permanent code: that job rightly failed; sent once each.
    sends: Counter[tuple[str, str]] = Counter()
    refused: set[tuple[str, str]] = set()
    with sandbox.state.lock:
        for record in sandbox.state.requests.values():
            for platform, result in record["results"].items():
                sends[(str(record["title"]), platform)] += 1
                if result.get("error_code") == PERMANENT_CODE:
                    refused.add((str(record["title"]), platform))
    resent = sum(1 for key in refused if sends[key] > 1)
    refused_jobs = {job for job, _ in refused}
    rows = {p: Counter[str]() for p in PLATFORMS}
    for (job_id, platform), n in expected.items():
        if job_id in refused_jobs:
            continue
        row, made = rows[platform], got.get((job_id, platform), [])
        status = status_of.get(job_id)
        row["posts"] += n
        row["duplicate"] += max(0, len(made) - 1)
        finished = status in ("completed", "failed", "cancelled")
        row["lost"] += finished and not made  # ended without its post
        row["stuck"] += not finished  # still not finished when the run ended
        row["wrongly_failed"] += status == "failed"
        if platform == "youtube" and made:
            playlists = made[0].get("playlists") or []
            row["duplicate"] += max(0, len(playlists) - 1)
            row["incomplete"] += not made[0].get("thumbnail") or not playlists
    print(f"workers: {args.workers} x concurrency {args.concurrency}; kills: {kills}; faults armed: {faults}")
    print(f"job statuses: {statuses}")
    print(f"time to drain: {drain:.1f}s ({args.jobs} jobs)")
    cols = ("posts", "lost", "duplicate", "stuck", "wrongly_failed", "incomplete")
    print(f"{'platform':10} " + " ".join(f"{c:>14}" for c in cols))
    for platform, row in rows.items():
        print(f"{platform:10} " + " ".join(f"{row[c]:14d}" for c in cols))
    total = sum(rows.values(), Counter[str]())
    print(f"{'all':10} " + " ".join(f"{total[c]:14d}" for c in cols))
    print(f"status lag {args.status_lag:g} s vs not-found window {args.not_found_window:g} s")
    print(
        f"permanent-code refusals: {len(refused)} (jobs failed: "
        f"{sum(status_of.get(j) == 'failed' for j in refused_jobs)}); re-sent after one: {resent}"
    )
    engine.dispose()
    if any(total[c] for c in cols[1:]) or resent:
        sys.exit(1)


def _job_of(post: dict[str, Any]) -> str | None:
    """The chaos job a sandbox post belongs to: the request id ``mp-<job>-<platform>[-...]`` of an
    upload-post post, the title of a YouTube video."""
    rid = str(post.get("request_id") or "")
    if rid.startswith("mp-chaos-"):
        return rid[3:].split("-", 2)[0] + "-" + rid[3:].split("-", 2)[1]
    title = post.get("title")
    return str(title) if isinstance(title, str) and title.startswith("chaos-") else None


if __name__ == "__main__":
    main()
