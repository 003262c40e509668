"""``multipublish demo``: the whole product once, on the embedded default, with no credentials.

It makes a real sample video, validates it for every platform, starts the sandbox platforms,
publishes through the production clients, then schedules a job through the queue and lets a worker
run it. Everything lives in one directory (SQLite database, key, video), so it is safe to rerun.
"""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from multipublish.bootstrap import Service
    from multipublish.manager import PublishingManager
    from multipublish.platforms.base import PublishConfig
    from multipublish.settings import Settings

console = Console()

DEMO_ACCOUNT = "demo"
_UPLOAD_POST = {"api_key": "demo-api-key", "user": "demo-creator"}
#: Credentials the sandbox accepts; nothing here reaches a real service.
DEMO_CREDENTIALS: dict[str, dict[str, str]] = {
    "tiktok": dict(_UPLOAD_POST),
    "instagram": dict(_UPLOAD_POST),
    "facebook": {**_UPLOAD_POST, "page_id": "100000000000001"},
    "linkedin": dict(_UPLOAD_POST),
    "youtube": {
        "client_id": "demo-client.apps.googleusercontent.com",
        "client_secret": "demo-client-secret",
        "refresh_token": "demo-refresh-token",
        "channel_name": "Demo Channel",
    },
}


def demo_key(workdir: Path) -> str:
    """The demo's own Fernet key, kept beside its database (mode 0600), unless the user set one."""
    from cryptography.fernet import Fernet

    env = os.environ.get("MULTIPUBLISH_SECRET_KEY")
    if env:
        return env
    key_file = workdir / "secret.key"
    if not key_file.exists():
        key_file.write_bytes(Fernet.generate_key())
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def ensure_demo_accounts(manager: PublishingManager) -> None:
    """Add the sandbox account ``demo`` on every platform (idempotent)."""
    existing = {(a["account_id"], a["platform"]) for a in manager.list_accounts(DEMO_ACCOUNT)}
    for platform, creds in DEMO_CREDENTIALS.items():
        if (DEMO_ACCOUNT, platform) not in existing:
            manager.add_account(DEMO_ACCOUNT, platform, creds)


def run_demo(workdir: Path, *, serve: bool = False, host: str = "127.0.0.1", port: int = 8000) -> int:
    """Run the demo in ``workdir``; returns the exit status (0 when every step succeeded).

    With ``serve`` the product then keeps running on the same database and sandbox: REST API,
    queue workers and dashboard, with a fresh login token printed once.
    """
    from multipublish.bootstrap import build_service
    from multipublish.cli.listen import bind
    from multipublish.media.sample import make_video
    from multipublish.platforms.base import PLATFORMS
    from multipublish.sandbox import SandboxServer
    from multipublish.settings import Settings

    sock = bind(host, port) if serve else None  # a taken port is said before the demo runs
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    video = workdir / "sample.mp4"
    if not video.exists():
        console.print("[bold]1.[/] Making a sample video (1080x1920, 3 s, H.264/AAC) with PyAV")
        make_video(video, width=1080, height=1920, duration=3.0, fps=30)

    with SandboxServer() as sandbox:
        settings = Settings(
            database_url=f"sqlite:///{workdir / 'multipublish.db'}",
            secret_key=demo_key(workdir),  # type: ignore[arg-type]
            sandbox_url=sandbox.url,
            media_roots=str(workdir),
            status_poll_interval=0.2,
            status_poll_max_interval=0.5,
            retry_base_delay=1.0,
        )
        console.print(f"[bold]2.[/] Sandbox platforms listening on {sandbox.url}")
        service = build_service(settings)
        manager = service.manager
        _print_validation(manager.validate_video_for_platforms(video, list(PLATFORMS)), video)
        ensure_demo_accounts(manager)
        console.print(f"[bold]3.[/] Account {DEMO_ACCOUNT!r} holds {len(DEMO_CREDENTIALS)} platforms")
        ok = asyncio.run(_publish_and_queue(service, video))
        service.engine.dispose()
        posts = httpx.get(f"{sandbox.url}/_sandbox/posts", timeout=10).json()
        count = len(posts.get("posts", posts) if isinstance(posts, dict) else posts)
        console.print(f"[bold]6.[/] The sandbox received {count} posts; database: {settings.database_url}")
        if sock is not None:
            _serve(settings, sock, host, port)
    return 0 if ok else 1


def _serve(settings: Settings, sock: socket.socket, host: str, port: int) -> None:
    """Serve API, workers and dashboard on the demo's database and sandbox until interrupted."""
    from multipublish.api import create_app
    from multipublish.bootstrap import build_service
    from multipublish.cli.listen import run

    service = build_service(settings)
    app = create_app(service, start_workers=True, workers=4)
    token, _info = service.tokens.create("demo")
    console.print(
        f"[bold]7.[/] Serving the REST API, workers and dashboard on http://{host}:{port}/ "
        f"(docs at /docs); media root {settings.media_roots}\n"
        f"   Log in to the dashboard, or send `Authorization: Bearer <token>`, with this token "
        f"(shown once):\n   {token}\n   The token belongs to the demo's own database "
        f"({settings.database_url}), not to `multipublish serve`'s."
    )
    run(app, sock)


def _print_validation(report: dict[str, dict[str, Any]], video: Path) -> None:
    table = Table(title=f"Validation of {video.name}")
    for col in ("platform", "valid", "errors", "warnings"):
        table.add_column(col)
    for platform, entry in report.items():
        valid = "yes" if entry["valid"] else "no"
        table.add_row(platform, valid, "; ".join(entry["errors"]), "; ".join(entry["warnings"]))
    console.print(table)


async def _publish_and_queue(service: Service, video: Path) -> bool:
    """Publish now to all five platforms, then schedule a job and let in-process workers run it."""
    from multipublish.platforms.base import PLATFORMS, PublishConfig

    config = PublishConfig(
        title="multipublish demo",
        description="Published by the multipublish demo #demo",
        tags=["demo", "multipublish"],
        platform_specific={"tiktok": {"privacy": "public"}, "youtube": {"privacy_status": "private"}},
    )
    manager = service.manager
    try:
        results = await manager.publish_multi_platform(DEMO_ACCOUNT, list(PLATFORMS), str(video), config)
        table = Table(title="Published now")
        for col in ("platform", "status", "video id", "url / error"):
            table.add_column(col)
        for platform, result in results.items():
            detail = result.url or result.error or ""
            table.add_row(platform, str(result.status), result.video_id or "", detail)
        console.print(table)
        ok = all(r.success for r in results.values())
        return await _queue_one(service, video, config) and ok
    finally:
        await manager.aclose()


async def _queue_one(service: Service, video: Path, config: PublishConfig) -> bool:
    from multipublish.queue import QueuedPublishConfig, QueueStatus

    queue = service.queue
    job = queue.add_job(
        None,
        QueuedPublishConfig(
            account_id=DEMO_ACCOUNT,
            platforms=["tiktok", "instagram", "youtube"],
            video_path=str(video),
            config=config,
            scheduled_time=datetime.now(UTC) + timedelta(seconds=2),
            priority=8,
        ),
    )
    console.print(f"[bold]4.[/] Scheduled job {job.id} for two seconds from now (status {job.status})")
    finished = (QueueStatus.COMPLETED, QueueStatus.FAILED, QueueStatus.CANCELLED)
    await queue.start(concurrency=2)
    try:
        for _ in range(600):
            if queue.get_job(job.id).status in finished:
                break
            await asyncio.sleep(0.1)
    finally:
        await queue.stop()
    done = queue.get_job(job.id)
    console.print(f"[bold]5.[/] Job {done.id}: {done.status}")
    for platform, result in done.results.items():
        detail = result.get("url") or result.get("error") or ""
        console.print(f"   {platform}: {result.get('status')} {detail}")
    return bool(done.status == QueueStatus.COMPLETED)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to ``app``."""

    @app.command("demo")
    def demo(
        workdir: Path = typer.Option(
            Path("multipublish-demo"), "--dir", help="Where the demo keeps its database and video."
        ),
        serve: bool = typer.Option(
            False, "--serve/--no-serve", help="Afterwards keep serving API, workers and dashboard."
        ),
        host: str = typer.Option("127.0.0.1", help="Address to serve on (with --serve)."),
        port: int = typer.Option(8000, help="Port to serve on (with --serve)."),
    ) -> None:
        """Run the whole product once on SQLite and the built-in sandbox platforms."""
        raise typer.Exit(run_demo(workdir, serve=serve, host=host, port=port))
