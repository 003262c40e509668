"""Per-account weekly posting times ("queue slots") and the next free one.

A slot is a weekday and a wall-clock time in the account's time zone, so "Tuesday 09:00
Europe/Paris" stays 09:00 in Paris across daylight-saving changes. A slot is taken when a job of
that account that is not cancelled is scheduled at that minute; "add to queue" takes the first
slot after now that is not taken.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, and_, delete, insert, select

from multipublish.db import jobs, utcnow
from multipublish.errors import ConflictError, InputError
from multipublish.workspace.tables import queue_slots

_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: How far ahead "add to queue" looks for a free slot.
HORIZON = timedelta(weeks=12)
#: Serialises "find a free slot, then schedule into it" within one process (two tabs at once).
take_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Slot:
    weekday: int
    time: str

    def to_dict(self) -> dict[str, Any]:
        return {"weekday": self.weekday, "day": WEEKDAYS[self.weekday], "time": self.time}


def zone(name: str, field: str = "timezone") -> ZoneInfo:
    """The IANA zone ``name`` or an ``InputError`` naming ``field``."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(field, f"unknown time zone {name!r} (use an IANA name like Europe/Paris)") from None


def parse_slots(raw: list[dict[str, Any]]) -> list[Slot]:
    """Checked, de-duplicated and sorted slots, or an ``InputError`` naming the bad entry."""
    out: set[Slot] = set()
    for i, item in enumerate(raw):
        day = item.get("weekday")
        if not isinstance(day, int) or isinstance(day, bool) or not 0 <= day <= 6:
            raise InputError(f"slots[{i}].weekday", "must be 0 (Monday) to 6 (Sunday)")
        time = str(item.get("time") or "")
        if not _TIME.match(time):
            raise InputError(f"slots[{i}].time", "must be HH:MM (24-hour clock)")
        out.add(Slot(day, time))
    return sorted(out, key=lambda s: (s.weekday, s.time))


class SlotStore:
    """Read and replace an account's slots; find its next free one."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, account_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(queue_slots.c.weekday, queue_slots.c.time, queue_slots.c.timezone)
                .where(queue_slots.c.account_id == account_id)
                .order_by(queue_slots.c.weekday, queue_slots.c.time)
            ).all()
        tz = rows[0].timezone if rows else "UTC"
        return {
            "account_id": account_id,
            "timezone": tz,
            "slots": [Slot(r.weekday, r.time).to_dict() for r in rows],
        }

    def all(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            ids = conn.execute(select(queue_slots.c.account_id).distinct()).scalars().all()
        return [self.get(a) for a in sorted(ids)]

    def replace(self, account_id: str, timezone: str, slots: list[Slot]) -> dict[str, Any]:
        zone(timezone)
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(delete(queue_slots).where(queue_slots.c.account_id == account_id))
            if slots:
                conn.execute(
                    insert(queue_slots),
                    [
                        {"account_id": account_id, "weekday": s.weekday, "time": s.time,
                         "timezone": timezone, "created_at": now}
                        for s in slots
                    ],
                )
        return self.get(account_id)

    def occurrences(
        self, account_id: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, bool]]:
        """Every slot time of ``account_id`` in ``[start, end)`` (UTC) with whether it is taken."""
        info = self.get(account_id)
        if not info["slots"]:
            return []
        tz = zone(info["timezone"])
        taken = self._taken(account_id, start, end)
        out: list[tuple[datetime, bool]] = []
        day = start.astimezone(tz).date()
        last = end.astimezone(tz).date()
        by_day: dict[int, list[str]] = {}
        for s in info["slots"]:
            by_day.setdefault(s["weekday"], []).append(s["time"])
        while day <= last:
            for hhmm in by_day.get(day.weekday(), []):
                h, m = (int(x) for x in hhmm.split(":"))
                local = datetime(day.year, day.month, day.day, h, m, tzinfo=tz)
                at = local.astimezone(UTC)
                if start <= at < end:
                    out.append((at, _minute(at) in taken))
            day += timedelta(days=1)
        return out

    def next_free(self, account_id: str, after: datetime | None = None) -> datetime:
        """The first slot after ``after`` (default now) that no waiting job of the account holds."""
        start = (after or utcnow()) + timedelta(seconds=30)
        if not self.get(account_id)["slots"]:
            raise InputError(
                "account_id", f"account {account_id!r} has no posting slots: add some under Queue slots"
            )
        for at, taken in self.occurrences(account_id, start, start + HORIZON):
            if not taken:
                return at
        raise ConflictError(f"every posting slot of {account_id!r} in the next 12 weeks is taken")

    def _taken(self, account_id: str, start: datetime, end: datetime) -> set[datetime]:
        with self.engine.connect() as conn:
            times = conn.execute(
                select(jobs.c.scheduled_time).where(
                    and_(
                        jobs.c.account_id == account_id,
                        jobs.c.status != "cancelled",
                        jobs.c.scheduled_time >= start - timedelta(minutes=1),
                        jobs.c.scheduled_time < end + timedelta(minutes=1),
                    )
                )
            ).scalars().all()
        return {_minute(t) for t in times if t is not None}


def _minute(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(second=0, microsecond=0)
