"""Shared helpers of the usage tests: a movable clock and result builders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from multipublish.errors import ErrorKind
from multipublish.platforms.base import PublishResult, PublishStatus


class FakeClock:
    """A clock the test moves by hand (the store and gate read time only through it)."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)


@pytest.fixture
def clock() -> FakeClock:
    # 2026-11-24 10:00 Pacific (PST, UTC-8)
    return FakeClock(datetime(2026, 11, 24, 18, 0, tzinfo=UTC))


def ok(platform: str, *, bytes_sent: int = 1000, **details: object) -> PublishResult:
    return PublishResult(
        platform=platform,
        success=True,
        status=PublishStatus.PUBLISHED,
        video_id="v1",
        bytes_sent=bytes_sent,
        details=dict(details),
    )


def failed(platform: str, kind: ErrorKind, *, bytes_sent: int = 0, **details: object) -> PublishResult:
    return PublishResult(
        platform=platform,
        success=False,
        status=PublishStatus.FAILED,
        error=f"{kind} failure",
        error_kind=kind,
        bytes_sent=bytes_sent,
        details=dict(details),
    )
