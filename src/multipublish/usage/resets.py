"""When quotas start again: YouTube at midnight Pacific time, upload-post monthly.

All functions take and return aware datetimes; results are in UTC. Midnight in a zone is found on
the zone's own calendar (``zoneinfo``), so a day of 23 or 25 hours around a DST change still ends
at the next local midnight.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from multipublish.errors import InputError

PACIFIC = "America/Los_Angeles"


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone(name: str, field: str = "timezone") -> ZoneInfo:
    """The ``ZoneInfo`` named ``name``; a clear ``InputError`` when it is not a known zone."""
    try:
        return _zone(name)
    except (KeyError, ValueError) as exc:
        raise InputError(field, f"unknown time zone {name!r}") from exc


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("naive datetime; pass an aware one (UTC)")
    return now


def next_local_midnight(now: datetime, tz: str = PACIFIC) -> datetime:
    """The next midnight after ``now`` on the calendar of ``tz``, in UTC."""
    local = _aware(now).astimezone(zone(tz))
    tomorrow = local.date() + timedelta(days=1)
    midnight = datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=zone(tz))
    return midnight.astimezone(UTC)


def local_day_start(now: datetime, tz: str = PACIFIC) -> datetime:
    """The midnight that began ``now``'s day on the calendar of ``tz``, in UTC."""
    local = _aware(now).astimezone(zone(tz))
    return datetime(local.year, local.month, local.day, tzinfo=zone(tz)).astimezone(UTC)


def add_months(when: datetime, months: int = 1) -> datetime:
    """``when`` moved by whole calendar months (the day clamped to the month's last day)."""
    month0 = when.month - 1 + months
    year, month = when.year + month0 // 12, month0 % 12 + 1
    day = min(when.day, _days_in_month(year, month))
    return when.replace(year=year, month=month, day=day)


def _days_in_month(year: int, month: int) -> int:
    nxt = datetime(year + (month == 12), month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


def next_month_start(now: datetime, tz: str = "UTC") -> datetime:
    """The first instant of the month after ``now``'s month on the calendar of ``tz``, in UTC."""
    local = _aware(now).astimezone(zone(tz))
    first = datetime(local.year, local.month, 1, tzinfo=zone(tz))
    return add_months(first, 1).astimezone(UTC)


def month_bounds(month: str, tz: str = "UTC") -> tuple[datetime, datetime]:
    """``"2026-11"`` -> [start, end) of that month on the calendar of ``tz``, in UTC."""
    try:
        year_s, month_s = month.split("-")
        start_local = datetime(int(year_s), int(month_s), 1, tzinfo=zone(tz))
    except (ValueError, TypeError) as exc:
        raise InputError("month", f"expected YYYY-MM, got {month!r}") from exc
    return start_local.astimezone(UTC), add_months(start_local, 1).astimezone(UTC)


def month_of(when: datetime, tz: str = "UTC") -> str:
    """``YYYY-MM`` of ``when`` on the calendar of ``tz``."""
    return _aware(when).astimezone(zone(tz, "usage_timezone")).strftime("%Y-%m")


def day_of(when: datetime, tz: str = "UTC") -> str:
    """``YYYY-MM-DD`` of ``when`` on the calendar of ``tz``."""
    return _aware(when).astimezone(zone(tz)).strftime("%Y-%m-%d")


def upload_post_reset(now: datetime, last_reset: datetime | None) -> datetime:
    """Next upload-post plan reset: a month after the service's ``last_reset`` (rolled forward
    past ``now``), else the first of next month in UTC."""
    if last_reset is None:
        return next_month_start(now, "UTC")
    last = _aware(last_reset).astimezone(UTC)
    months = 1
    nxt = add_months(last, months)
    while nxt <= now:
        months += 1
        nxt = add_months(last, months)
    return nxt


def parse_timestamp(value: object) -> datetime | None:
    """An aware UTC datetime from an ISO-8601 string or Unix seconds; ``None`` when unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
        try:
            return datetime.fromtimestamp(float(value), UTC)  # type: ignore[arg-type]
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
