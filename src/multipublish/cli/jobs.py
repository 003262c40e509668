"""CLI commands: ``multipublish worker`` and ``multipublish jobs list|show|cancel|retry``.

Both read ``MULTIPUBLISH_DATABASE_URL`` like every other command. ``worker`` runs N async workers in
this process until SIGTERM or Ctrl-C, then stops gracefully: uploads in flight finish (up to
``MULTIPUBLISH_SHUTDOWN_GRACE_SECONDS``) and anything still running is handed back to the queue.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import signal
from typing import TYPE_CHECKING, Any

import typer

from multipublish.errors import ConfigurationError, InputError, MultipublishError
from multipublish.settings import Settings, get_settings

if TYPE_CHECKING:
    from multipublish.queue import PublishingQueue

jobs_app = typer.Typer(help="Inspect and control queued jobs.", no_args_is_help=True)


def _fail(exc: MultipublishError) -> None:
    typer.echo(f"error: {exc.message}", err=True)
    raise typer.Exit(2 if isinstance(exc, InputError | ConfigurationError) else 1)


def _queue(settings: Settings, publisher: Any = None) -> PublishingQueue:
    from multipublish.bootstrap import build_service

    service = build_service(
        settings, publisher=publisher, engine_options={"pool_size": 20, "max_overflow": 50}
    )
    return service.queue


def load_publisher(spec: str, settings: Settings) -> Any:
    """``module:attr`` -> the object, or what it returns when it is a factory taking settings."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise InputError("publisher", "expected module:attribute")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise InputError("publisher", f"cannot load {spec!r}: {exc}") from None
    if not hasattr(obj, "publish_to_platform") and callable(obj):
        obj = obj(settings)
    if not hasattr(obj, "publish_to_platform") or not hasattr(obj, "reconcile"):
        raise InputError("publisher", f"{spec!r} is not a Publisher")
    return obj


def _fmt(job: Any) -> str:
    parts = ", ".join(f"{k}={v.get('status')}" for k, v in job.results.items())
    when = job.scheduled_time.isoformat() if job.scheduled_time else "-"
    return f"{job.id}\t{job.status}\tp{job.priority}\t{job.account_id}\t{when}\t{parts}"


def _step(res: dict[str, Any]) -> str:
    """`` (preparing: 42%)`` while a platform's file is prepared, then what was done to it."""
    out = ""
    phase = res.get("phase")
    if phase == "preparing":
        progress = res.get("progress")
        out += f" (preparing: {round(100 * float(progress or 0.0))}%)"
    elif phase:
        out += f" ({phase})"
    preparation = res.get("preparation")
    if isinstance(preparation, dict) and preparation.get("actions"):
        out += " [prepared: " + ", ".join(str(a) for a in preparation["actions"]) + "]"
    return out


def worker(
    concurrency: int = typer.Option(None, "--concurrency", "-c", help="Async workers in this process."),
    publisher: str = typer.Option(
        None, "--publisher", help="module:attr of a Publisher to use instead of the manager."
    ),
    log_level: str = typer.Option(None, "--log-level", help="Logging level (default: settings)."),
) -> None:
    """Run queue workers until SIGTERM/SIGINT, then stop gracefully."""
    from multipublish.logging import configure_logging

    settings = get_settings()
    if log_level:
        if log_level.upper() not in logging.getLevelNamesMapping():
            _fail(InputError("--log-level", "one of DEBUG, INFO, WARNING, ERROR"))
        settings.log_level = log_level.upper()
    configure_logging(settings)  # as `serve` does: JSON when asked, secrets redacted, Alembic quiet
    try:
        pub = load_publisher(publisher, settings) if publisher else None
        queue = _queue(settings, pub)
    except MultipublishError as exc:
        _fail(exc)
        return

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await queue.start(concurrency)
        typer.echo(f"worker {queue.worker_id} running ({queue.concurrency} slots)", err=True)
        collector = None
        if settings.insights_enabled:  # metrics of published posts, collected by the workers too
            from multipublish.insights.collector import MetricsCollector

            collector = MetricsCollector(queue.engine, settings)
            await collector.start()
        await stop.wait()
        typer.echo("stopping: finishing uploads in flight", err=True)
        if collector is not None:
            await collector.stop()
        await queue.stop(graceful=True)

    try:
        asyncio.run(run())
    except MultipublishError as exc:
        _fail(exc)


@jobs_app.command("list")
def list_cmd(
    status: str = typer.Option(None, "--status", "-s", help="Only jobs with this status."),
    account: str = typer.Option(None, "--account", help="Only this account's jobs."),
    platform: str = typer.Option(None, "--platform", help="Only jobs for this platform."),
    limit: int = typer.Option(50, "--limit"),
    offset: int = typer.Option(0, "--offset"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List jobs, newest first."""
    try:
        found = _queue(get_settings(), _NoPublisher()).list_jobs(
            status=status, account_id=account, platform=platform, limit=limit, offset=offset
        )
    except MultipublishError as exc:
        _fail(exc)
        return
    if as_json:
        typer.echo(json.dumps([j.to_dict() for j in found], indent=2))
        return
    for job in found:
        typer.echo(_fmt(job))


@jobs_app.command("show")
def show_cmd(
    job_id: str = typer.Argument(..., help="Job id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one job with its per-platform results."""
    try:
        job = _queue(get_settings(), _NoPublisher()).get_job(job_id)
    except MultipublishError as exc:
        _fail(exc)
        return
    if as_json:
        typer.echo(json.dumps(job.to_dict(), indent=2))
        return
    data = job.to_dict()
    for key in (
        "id",
        "status",
        "account_id",
        "platforms",
        "title",
        "priority",
        "scheduled_time",
        "attempts",
        "max_retries",
        "error_message",
        "wait_reason",
        "created_at",
        "started_at",
        "completed_at",
    ):
        typer.echo(f"{key}: {data[key]}")
    for key, res in job.results.items():
        extra = res.get("url") or res.get("error") or ""
        typer.echo(f"  {key}: {res.get('status')}{_step(res)} {extra}".rstrip())


@jobs_app.command("cancel")
def cancel_cmd(job_id: str = typer.Argument(..., help="Job id.")) -> None:
    """Cancel a waiting job (a running one stops at its next lease renewal)."""
    try:
        job = _queue(get_settings(), _NoPublisher()).cancel_job(job_id)
    except MultipublishError as exc:
        _fail(exc)
        return
    note = " (cancel requested; stops at next lease renewal)" if job.cancel_requested else ""
    typer.echo(f"{job.id}: {job.status}{note}")


@jobs_app.command("retry")
def retry_cmd(job_id: str = typer.Argument(..., help="Job id.")) -> None:
    """Put a failed job back in the queue."""
    try:
        job = _queue(get_settings(), _NoPublisher()).retry_job(job_id)
    except MultipublishError as exc:
        _fail(exc)
        return
    typer.echo(f"{job.id}: {job.status}")


class _NoPublisher:
    """The inspection commands never publish."""

    async def publish_to_platform(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("inspection commands do not publish")

    async def reconcile(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("inspection commands do not publish")


def register(app: typer.Typer) -> None:
    """Add ``worker`` and the ``jobs`` group to ``app``."""
    app.command("worker")(worker)
    app.add_typer(jobs_app, name="jobs")
