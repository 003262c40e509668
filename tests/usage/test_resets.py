"""Quota resets: midnight Pacific across DST changes, upload-post months, reporting months."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from multipublish.errors import InputError
from multipublish.usage.resets import (
    add_months,
    month_bounds,
    month_of,
    next_local_midnight,
    upload_post_reset,
)

LA = ZoneInfo("America/Los_Angeles")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # PST (UTC-8): midnight Pacific is 08:00 UTC
        (datetime(2026, 11, 24, 18, 0, tzinfo=UTC), datetime(2026, 11, 25, 8, 0, tzinfo=UTC)),
        # PDT (UTC-7): midnight Pacific is 07:00 UTC
        (datetime(2026, 7, 1, 12, 0, tzinfo=UTC), datetime(2026, 7, 2, 7, 0, tzinfo=UTC)),
        # Saturday 2026-03-07 evening PST: the next day (Mar 8) springs forward at 02:00, but the
        # midnight that starts it is still PST -> 08:00 UTC
        (datetime(2026, 3, 8, 5, 0, tzinfo=UTC), datetime(2026, 3, 8, 8, 0, tzinfo=UTC)),
        # On Mar 8 after the change (PDT): the next midnight (Mar 9) is 07:00 UTC, a 23 h day
        (datetime(2026, 3, 8, 12, 0, tzinfo=UTC), datetime(2026, 3, 9, 7, 0, tzinfo=UTC)),
        # On Nov 1 2026 (falls back at 02:00 PDT -> 01:00 PST): the day is 25 h; next midnight PST
        (datetime(2026, 11, 1, 8, 30, tzinfo=UTC), datetime(2026, 11, 2, 8, 0, tzinfo=UTC)),
        # one microsecond before midnight PDT -> that midnight
        (
            datetime(2026, 10, 31, 6, 59, 59, 999999, tzinfo=UTC),
            datetime(2026, 10, 31, 7, 0, tzinfo=UTC),
        ),
        # exactly midnight -> the next one, never "now"
        (datetime(2026, 10, 31, 7, 0, tzinfo=UTC), datetime(2026, 11, 1, 7, 0, tzinfo=UTC)),
    ],
)
def test_next_pacific_midnight(now: datetime, expected: datetime) -> None:
    got = next_local_midnight(now)
    assert got == expected
    local = got.astimezone(LA)
    assert (local.hour, local.minute, local.second) == (0, 0, 0)
    assert got > now


def test_pacific_day_lengths_around_dst() -> None:
    """Walking midnight to midnight gives 23 h in March, 25 h in November, 24 h otherwise."""
    t = datetime(2026, 3, 7, 8, 0, tzinfo=UTC)  # midnight PST on Mar 7
    lengths = []
    for _ in range(3):
        nxt = next_local_midnight(t)
        lengths.append(nxt - t)
        t = nxt
    assert lengths == [timedelta(hours=24), timedelta(hours=23), timedelta(hours=24)]
    t = datetime(2026, 10, 31, 7, 0, tzinfo=UTC)  # midnight PDT on Oct 31
    lengths = []
    for _ in range(3):
        nxt = next_local_midnight(t)
        lengths.append(nxt - t)
        t = nxt
    assert lengths == [timedelta(hours=24), timedelta(hours=25), timedelta(hours=24)]


def test_upload_post_reset_from_service_or_month() -> None:
    now = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
    assert upload_post_reset(now, None) == datetime(2026, 12, 1, tzinfo=UTC)
    last = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
    assert upload_post_reset(now, last) == datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
    # a stale last_reset rolls forward past now
    assert upload_post_reset(now, datetime(2026, 8, 31, tzinfo=UTC)) == datetime(2026, 11, 30, tzinfo=UTC)
    assert add_months(datetime(2026, 1, 31, tzinfo=UTC)) == datetime(2026, 2, 28, tzinfo=UTC)


def test_month_of_a_late_pacific_evening_depends_on_reporting_zone() -> None:
    when = datetime.fromisoformat("2026-11-30T23:30:00-08:00")
    assert month_of(when, "UTC") == "2026-12"
    assert month_of(when, "America/Los_Angeles") == "2026-11"
    start, end = month_bounds("2026-11", "America/Los_Angeles")
    assert start == datetime(2026, 11, 1, 7, 0, tzinfo=UTC)  # Nov 1 00:00 PDT
    assert end == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # Dec 1 00:00 PST
    assert start <= when < end


@pytest.mark.parametrize("bad", ["2026", "2026-13", "nov", ""])
def test_bad_month_names_the_field(bad: str) -> None:
    with pytest.raises(InputError) as info:
        month_bounds(bad)
    assert info.value.field == "month"
