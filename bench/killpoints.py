"""Kill harness: SIGKILL a real worker process at each named step of each platform's protocol, on
SQLite and PostgreSQL, then let a fresh worker take the job up. Prints, per platform, jobs lost,
duplicate posts, stuck jobs, wrongly failed jobs and YouTube videos left without their thumbnail or
playlist item (all must be 0), and the time each database took.

Run: ``python bench/killpoints.py [--db sqlite,postgresql] [--platforms youtube,tiktok,...]
[--pg postgresql://postgres@127.0.0.1:5432/test] [--async-upload-post]``

How a step is hit: the sandbox (all emulators, in this process, on 127.0.0.1) sits behind a kill
switch, an ASGI wrapper armed with one step at a time. When the step's request arrives it kills the
worker, either before the request is handled (the platform never saw it) or after it was handled
and before the answer leaves (the platform did it; the worker never heard). Nothing in the worker
is instrumented: it is ``python -m multipublish worker`` as deployed.
"""

from __future__ import annotations

import os
import sys

# bench/queue.py would shadow the standard library's ``queue`` for a script run from this folder.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse
import json
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from multipublish.db import ensure_schema, make_engine
from multipublish.manager import PublishingManager
from multipublish.media.sample import make_video
from multipublish.platforms.base import PublishConfig
from multipublish.queue import PublishingQueue, QueuedPublishConfig
from multipublish.sandbox.server import create_app, free_port
from multipublish.sandbox.state import SandboxState
from multipublish.settings import Settings

UPLOAD_POST = ("tiktok", "instagram", "facebook", "linkedin")
PLATFORMS = (*UPLOAD_POST, "youtube")
PLAYLIST = "PLkillpoints"
FINISHED = ("completed", "failed", "cancelled")
Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


@dataclass(frozen=True)
class KillPoint:
    """A request of a platform's protocol; ``after``: kill once it was handled, before the answer."""

    name: str
    method: str
    path: str
    after: bool
    #: Which matching request (1 = the first); chunks: only PUTs carrying bytes count.
    nth: int = 1
    #: Only the chunk that completes the file.
    final_chunk: bool = False
    #: Kill while the request's body is arriving (part of the chunk received).
    during: bool = False

    def matches(self, scope: Scope) -> bool:
        if scope["method"] != self.method or not scope["path"].startswith(self.path):
            return False
        if self.method == "PUT":
            headers = dict(scope.get("headers") or [])
            crange = headers.get(b"content-range", b"").decode()
            if "*/" in crange or not crange:
                return False  # a status query, not a chunk
            if self.final_chunk:
                span, _, total = crange.removeprefix("bytes ").partition("/")
                return total.isdigit() and int(span.partition("-")[2]) + 1 == int(total)
        return True


YOUTUBE_POINTS = (
    KillPoint("token_refresh", "POST", "/token", after=False),
    KillPoint("session_request_unanswered", "POST", "/upload/youtube/v3/videos", after=False),
    KillPoint("session_created", "POST", "/upload/youtube/v3/videos", after=True),
    KillPoint("first_chunk", "PUT", "/upload/youtube/v3/videos", after=False),
    KillPoint("mid_file", "PUT", "/upload/youtube/v3/videos", after=True, nth=2),
    KillPoint("mid_chunk", "PUT", "/upload/youtube/v3/videos", after=False, nth=3, during=True),
    KillPoint("final_chunk_accepted", "PUT", "/upload/youtube/v3/videos", after=True, final_chunk=True),
    KillPoint("thumbnail_being_set", "POST", "/upload/youtube/v3/thumbnails/set", after=False),
    KillPoint("thumbnail_session", "POST", "/upload/youtube/v3/thumbnails/set", after=True),
    KillPoint("thumbnail_set", "PUT", "/upload/youtube/v3/thumbnails/set", after=True),
    KillPoint("playlist_item_added", "POST", "/youtube/v3/playlistItems", after=True),
)
UPLOAD_POST_POINTS = (
    KillPoint("upload_unanswered", "POST", "/api/upload", after=False),
    KillPoint("upload_accepted", "POST", "/api/upload", after=True),
)
ASYNC_POINTS = (KillPoint("status_asked", "GET", "/api/uploadposts/status", after=False),)


class KillSwitch:
    """ASGI wrapper of the sandbox: kills ``victim`` at the armed step (one shot)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._point: KillPoint | None = None
        self._seen = 0
        self._victim: int | None = None
        self.fired = threading.Event()

    def arm(self, point: KillPoint, victim: int) -> None:
        with self._lock:
            self._point, self._seen, self._victim = point, 0, victim
            self.fired.clear()

    def disarm(self) -> None:
        with self._lock:
            self._point = None

    def _take(self, scope: Scope) -> KillPoint | None:
        with self._lock:
            point = self._point
            if point is None or not point.matches(scope):
                return None
            self._seen += 1
            if self._seen < point.nth:
                return None
            self._point = None
            return point

    def _kill(self) -> None:
        if self._victim is not None:
            try:
                os.kill(self._victim, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.fired.set()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        point = self._take(scope) if scope["type"] == "http" else None
        if point is None:
            await self.app(scope, receive, send)
            return
        if point.during:

            async def receive_then_kill() -> dict[str, Any]:
                message: dict[str, Any] = await receive()
                if message.get("type") == "http.request" and not self.fired.is_set():
                    self._kill()  # part of the body arrived; the sender is gone mid-request
                return message

            await self.app(scope, receive_then_kill, send)
            return
        if not point.after:
            self._kill()  # the platform never handles this request
            return

        async def send_after_kill(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and not self.fired.is_set():
                self._kill()  # handled; the answer goes nowhere
            await send(message)

        await self.app(scope, receive, send_after_kill)


@contextmanager
def sandbox() -> Iterator[tuple[str, KillSwitch, SandboxState]]:
    """The sandbox behind the kill switch, served by uvicorn in a thread on 127.0.0.1."""
    state = SandboxState()
    switch = KillSwitch(create_app(state))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(switch, host="127.0.0.1", port=port, log_level="critical", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", switch, state
    finally:
        server.should_exit = True
        thread.join(10)
        state.close()


@dataclass
class Tally:
    cases: int = 0
    lost: int = 0
    duplicate: int = 0
    stuck: int = 0
    wrongly_failed: int = 0
    incomplete: int = 0
    not_reached: int = 0
    notes: list[str] = field(default_factory=list)

    def bad(self) -> int:
        return self.lost + self.duplicate + self.stuck + self.wrongly_failed + self.incomplete


def client_secrets() -> dict[str, Any]:
    return {
        "installed": {
            "client_id": "1234-killpoints.apps.googleusercontent.com",
            "client_secret": "GOCSPX-killpoints-secret",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "https://oauth2.googleapis.com/token",
            "redirect_uris": ["http://localhost"],
        }
    }


def add_accounts(manager: PublishingManager, account: str) -> None:
    for platform in UPLOAD_POST:
        creds = {"api_key": f"kp-key-{account}", "user": account}
        if platform == "facebook":
            creds["page_id"] = "1122334455"
        manager.add_account(account, platform, creds)
    manager.add_account(
        account, "youtube", {"client_secrets": client_secrets(), "refresh_token": f"1//refresh-{account}"}
    )


def job_config(platform: str, title: str, video: Path, thumbnail: Path, account: str) -> QueuedPublishConfig:
    config = PublishConfig(title=title, description="kill harness")
    if platform == "youtube":
        config.thumbnail_path = str(thumbnail)
        config.platform_specific = {"youtube": {"playlist_id": PLAYLIST}}
    return QueuedPublishConfig(
        account_id=account,
        platforms=[platform],
        video_path=str(video),
        config=config,
        max_retries=10,
        retry_delay=0.2,
    )


def worker_env(db_url: str, secret: str, sandbox_url: str, async_upload: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MULTIPUBLISH_")}
    env.update(
        MULTIPUBLISH_DATABASE_URL=db_url,
        MULTIPUBLISH_SECRET_KEY=secret,
        MULTIPUBLISH_SANDBOX_URL=sandbox_url,
        MULTIPUBLISH_LEASE_SECONDS="2",
        MULTIPUBLISH_QUEUE_POLL_INTERVAL="0.5",
        MULTIPUBLISH_HTTP_TIMEOUT="20",
        MULTIPUBLISH_YOUTUBE_CHUNK_SIZE=str(256 * 1024),
        MULTIPUBLISH_STATUS_POLL_INTERVAL="0.1",
        MULTIPUBLISH_STATUS_POLL_MAX_INTERVAL="0.2",
        MULTIPUBLISH_STATUS_POLL_TIMEOUT="5",
        MULTIPUBLISH_UPLOAD_POST_ASYNC="true" if async_upload else "false",
        MULTIPUBLISH_LOG_LEVEL="ERROR",
        MULTIPUBLISH_SHUTDOWN_GRACE_SECONDS="2",
        # A killed attempt keeps the quota it reserved (it may have been spent at Google): a day's
        # 10,000 units would run out after six kills and park the rest until midnight Pacific.
        MULTIPUBLISH_YOUTUBE_DAILY_UNITS="10000000",
        MULTIPUBLISH_YOUTUBE_DAILY_UPLOADS="10000000",
    )
    return env


def posts_of(sandbox_url: str, job_id: str) -> list[dict[str, Any]]:
    """The sandbox's posts of one job: by its request ids (upload-post's caption may not be the
    title) or by title (YouTube's snippet)."""
    posts = httpx.get(f"{sandbox_url}/_sandbox/posts", timeout=10).json()["posts"]
    prefix = f"mp-{job_id}-"
    return [
        p for p in posts if str(p.get("request_id") or "").startswith(prefix) or p.get("title") == job_id
    ]


def run_database(
    label: str, db_url: str, args: argparse.Namespace, tmp: Path, tallies: dict[str, Tally]
) -> float:
    """Every kill point of every platform on one database; returns the seconds it took."""
    secret = Fernet.generate_key().decode()
    started = time.perf_counter()
    with sandbox() as (url, switch, _state):
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=db_url,
            secret_key=secret,
            sandbox_url=url,
        )
        engine = make_engine(db_url)
        ensure_schema(engine)
        manager = PublishingManager(settings, engine=engine)
        account = f"kp{uuid.uuid4().hex[:6]}"
        add_accounts(manager, account)
        queue = PublishingQueue(engine, manager, settings=settings)
        video = make_clip(tmp / "clip.mp4")
        thumbnail = tmp / "thumb.png"
        write_png(thumbnail)
        env = worker_env(db_url, secret, url, args.async_upload_post)
        log = open(tmp / f"worker-{label}.log", "ab")

        def spawn() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [sys.executable, "-m", "multipublish", "worker", "--concurrency", "2"],
                env=env,
                cwd=tmp,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        worker = spawn()
        try:
            for platform in args.platforms:
                points: tuple[KillPoint, ...] = (
                    YOUTUBE_POINTS if platform == "youtube" else UPLOAD_POST_POINTS
                )
                if platform != "youtube" and args.async_upload_post:
                    points = points + ASYNC_POINTS
                tally = tallies.setdefault(platform, Tally())
                for point in points:
                    if args.points and point.name not in args.points:
                        continue
                    title = f"kp-{label}-{platform}-{point.name}"
                    tally.cases += 1
                    switch.arm(point, worker.pid)
                    queue.add_job(title, job_config(platform, title, video, thumbnail, account))
                    if not switch.fired.wait(args.step_timeout):
                        switch.disarm()
                        tally.not_reached += 1
                        tally.notes.append(f"{label} {platform} {point.name}: step never reached")
                    else:
                        worker.wait(10)
                        worker = spawn()
                    t0 = time.monotonic()
                    _judge(queue, url, title, platform, label, point, tally, args.job_timeout)
                    if args.verbose:
                        done = queue.get_job(title)
                        print(f"  {label} {platform} {point.name}: {done.status} after "
                              f"{time.monotonic() - t0:.1f}s {done.error_message or ''}", flush=True)
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
            log.close()
            engine.dispose()
    return time.perf_counter() - started


def _judge(
    queue: PublishingQueue,
    url: str,
    title: str,
    platform: str,
    label: str,
    point: KillPoint,
    tally: Tally,
    timeout: float,
) -> None:
    deadline = time.monotonic() + timeout
    job = queue.get_job(title)
    while str(job.status) not in FINISHED and time.monotonic() < deadline:
        time.sleep(0.1)
        job = queue.get_job(title)
    where = f"{label} {platform} {point.name}"
    posts = posts_of(url, title)
    if str(job.status) not in FINISHED:
        tally.stuck += 1
        tally.notes.append(f"{where}: stuck in {job.status} ({job.wait_reason or job.error_message})")
        return
    if job.status == "failed":
        tally.wrongly_failed += 1
        tally.notes.append(f"{where}: failed: {job.error_message}")
    if len(posts) > 1:
        tally.duplicate += len(posts) - 1
        tally.notes.append(f"{where}: {len(posts)} posts")
    if not posts:
        tally.lost += 1
        tally.notes.append(f"{where}: no post ({job.status})")
    if platform == "youtube" and posts:
        post = posts[0]
        playlists = post.get("playlists") or []
        if len(playlists) > 1:
            tally.duplicate += len(playlists) - 1
            tally.notes.append(f"{where}: in the playlist {len(playlists)} times")
        if not post.get("thumbnail") or not playlists:
            tally.incomplete += 1
            tally.notes.append(f"{where}: thumbnail={bool(post.get('thumbnail'))} playlists={playlists}")


def make_clip(path: Path, size: int = 1_500_001) -> Path:
    """A real vertical MP4 every platform accepts, padded with a ``free`` box of random bytes to
    ``size`` so a YouTube upload takes six 256 KiB chunks (the mid-file kill points need them)."""
    make_video(path, width=720, height=1280, duration=4.0, fps=24)
    extra = size - path.stat().st_size
    if extra > 8:
        with path.open("ab") as fh:
            fh.write(extra.to_bytes(4, "big") + b"free" + os.urandom(extra - 8))
    return path


def write_png(path: Path) -> None:
    """A small real PNG (PyAV's image encoder), the YouTube thumbnail of every job."""
    import av

    with av.open(str(path), "w", format="image2") as out:
        stream = out.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = 64, 36, "rgb24"
        for packet in stream.encode(av.VideoFrame(64, 36, "rgb24")):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@contextmanager
def database(kind: str, pg: str, tmp: Path) -> Iterator[str]:
    """A fresh database of ``kind`` (created and dropped here)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / f'kp-{uuid.uuid4().hex[:6]}.db'}"
        return
    admin_url = make_engine(pg).url.render_as_string(hide_password=False)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"mp_kp_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_engine(admin_url).url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="sqlite,postgresql")
    ap.add_argument("--platforms", default=",".join(PLATFORMS))
    ap.add_argument(
        "--pg",
        default=os.environ.get("MULTIPUBLISH_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    ap.add_argument("--async-upload-post", action="store_true", help="also kill while following status")
    ap.add_argument("--step-timeout", type=float, default=120.0)
    ap.add_argument("--job-timeout", type=float, default=120.0)
    ap.add_argument("--json", action="store_true", help="print the tallies as JSON too")
    ap.add_argument("--verbose", "-v", action="store_true", help="one line per kill point")
    ap.add_argument("--points", default="", help="only these kill points (comma-separated names)")
    args = ap.parse_args(argv)
    args.platforms = [p.strip() for p in args.platforms.split(",") if p.strip()]
    args.points = {p.strip() for p in args.points.split(",") if p.strip()}
    failures = 0
    report: dict[str, Any] = {}
    for kind in [d.strip() for d in args.db.split(",") if d.strip()]:
        tallies: dict[str, Tally] = {}
        with tempfile.TemporaryDirectory() as tmp, database(kind, args.pg, Path(tmp)) as url:
            seconds = run_database(kind, url, args, Path(tmp), tallies)
        print(f"== {kind}: {sum(t.cases for t in tallies.values())} kill points in {seconds:.1f}s")
        print(f"{'platform':10} {'cases':>5} {'lost':>5} {'dup':>5} {'stuck':>5} {'wrongly_failed':>14} "
              f"{'incomplete':>10} {'not_reached':>11}")
        for platform, t in tallies.items():
            print(f"{platform:10} {t.cases:5d} {t.lost:5d} {t.duplicate:5d} {t.stuck:5d} "
                  f"{t.wrongly_failed:14d} {t.incomplete:10d} {t.not_reached:11d}")
            for note in t.notes:
                print(f"   {note}")
            failures += t.bad() + t.not_reached
        report[kind] = {
            "seconds": round(seconds, 1),
            "platforms": {p: {k: v for k, v in vars(t).items() if k != "notes"} for p, t in tallies.items()},
            "total": dict(sum((Counter({k: v for k, v in vars(t).items() if k != "notes"})
                               for t in tallies.values()), Counter())),
        }
    if args.json:
        print(json.dumps(report))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
