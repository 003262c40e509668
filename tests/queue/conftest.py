"""Queue test helpers: an injectable clock and a queue factory on either backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
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
