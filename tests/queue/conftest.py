"""Queue test helpers: an injectable clock, a queue factory on either backend, and real worker
processes (``multipublish worker``) to kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from multipublish.queue import PublishingQueue
from multipublish.settings import Settings
from tests.queue.publishers import RecordingPublisher

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A clock tests move by hand (schedules, backoff and leases read it)."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def queue_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"lease_seconds": 30, "queue_poll_interval": 0.2, **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


MakeQueue = Callable[..., PublishingQueue]


@pytest.fixture
def make_queue(engine: Engine, clock: FakeClock) -> Iterator[MakeQueue]:
    """``make_queue(publisher=None, **settings)``: a queue on the test's database and clock."""

    def make(publisher: Any = None, *, worker_id: str | None = None, **overrides: Any) -> PublishingQueue:
        return PublishingQueue(
            engine,
            publisher if publisher is not None else RecordingPublisher(),
            settings=queue_settings(**overrides),
            clock=clock,
            worker_id=worker_id,
        )

    yield make


ROOT = Path(__file__).resolve().parents[2]


def worker_env(db_url: str, sandbox_url: str | None, secret_key: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MULTIPUBLISH_")}
    env.update(
        MULTIPUBLISH_DATABASE_URL=db_url,
        MULTIPUBLISH_SECRET_KEY=secret_key,
        MULTIPUBLISH_LEASE_SECONDS="2",
        MULTIPUBLISH_QUEUE_POLL_INTERVAL="0.5",
        MULTIPUBLISH_HTTP_TIMEOUT="60",
        MULTIPUBLISH_STATUS_POLL_INTERVAL="0.05",
        MULTIPUBLISH_STATUS_POLL_MAX_INTERVAL="0.1",
        MULTIPUBLISH_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        **extra,
    )
    if sandbox_url:
        env["MULTIPUBLISH_SANDBOX_URL"] = sandbox_url
    return env


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Any]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker{len(procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "multipublish", "worker", *args],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
