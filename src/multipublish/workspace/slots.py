"""Per-account weekly posting times ("queue slots") and the next free one.

A slot is a weekday and a wall-clock time in the account's time zone, so "Tuesday 09:00
Europe/Paris" stays 09:00 in Paris across daylight-saving changes. A slot is taken when a job of
that account that is not cancelled is scheduled at that minute; "add to queue" takes the first
slot after now that is not taken.

Taking a slot is atomic in the database, not in a process: "add to queue" first inserts a
``slot_claims`` row keyed by (account, slot time), and a second request at the same moment (another
tab, another API process) hits the primary key and moves on to the next free slot. A claim whose
jobs were cancelled or moved since, or whose request died before adding them, is taken over by one
compare-and-swap on its token.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from multipublish.db import jobs, utcnow
from multipublish.db.retry import retry_write
from multipublish.errors import ConflictError, InputError
from multipublish.workspace.tables import queue_slots, slot_claims

_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: How far ahead "add to queue" looks for a free slot.
HORIZON = timedelta(weeks=12)
#: A claim still being filled (its request adding the jobs) is left alone this long; after it, the
#: request is taken to have died and the slot is free again.
CLAIM_GRACE = timedelta(minutes=10)


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
        start = self._search_start(account_id, after)
        for at, taken in self.occurrences(account_id, start, start + HORIZON):
            if not taken:
                return at
        raise ConflictError(f"every posting slot of {account_id!r} in the next 12 weeks is taken")

    def claim_next(self, account_id: str, after: datetime | None = None) -> tuple[datetime, str]:
        """Take the first free slot for a request: ``(slot time, claim token)``.

        Call :meth:`confirm` once the jobs are added (or :meth:`release` when they were refused).
        """
        start = self._search_start(account_id, after)
        token = secrets.token_hex(16)
        for at, taken in self.occurrences(account_id, start, start + HORIZON):
            if not taken and retry_write(partial(self._try_claim, account_id, at, token),
                                         what="slot claim"):
                return at, token
        raise ConflictError(f"every posting slot of {account_id!r} in the next 12 weeks is taken")

    def confirm(self, account_id: str, at: datetime, token: str) -> None:
        """The claim's jobs exist: from now on the jobs themselves hold the slot."""
        with self.engine.begin() as conn:
            conn.execute(update(slot_claims).where(*_claim_is(account_id, at, token)).values(done=True))

    def release(self, account_id: str, at: datetime, token: str) -> None:
        """Give the slot back (the request's jobs were refused)."""
        with self.engine.begin() as conn:
            conn.execute(delete(slot_claims).where(*_claim_is(account_id, at, token)))

    def _search_start(self, account_id: str, after: datetime | None) -> datetime:
        """Where the search for a free slot begins; an ``InputError`` when the account has none."""
        if not self.get(account_id)["slots"]:
            raise InputError(
                "account_id", f"account {account_id!r} has no posting slots: add some under Queue slots"
            )
        return (after or utcnow()) + timedelta(seconds=30)

    def _try_claim(self, account_id: str, at: datetime, token: str) -> bool:
        now = utcnow()
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(slot_claims).values(
                    account_id=account_id, slot_time=at, claim=token, claimed_at=now, done=False
                ))
            return True
        except IntegrityError:
            pass  # someone holds (or held) this slot: is it still theirs?
        with self.engine.connect() as conn:
            held = conn.execute(select(slot_claims.c.claim, slot_claims.c.claimed_at, slot_claims.c.done)
                                .where(slot_claims.c.account_id == account_id,
                                       slot_claims.c.slot_time == at)).first()
        if held is None:  # released meanwhile: try once more from the top
            return self._try_claim(account_id, at, token)
        in_flight = not held.done and held.claimed_at > now - CLAIM_GRACE
        if in_flight or _minute(at) in self._taken(account_id, at, at + timedelta(minutes=1)):
            return False
        # stale (its jobs cancelled or moved, or its request died): one taker wins the swap
        with self.engine.begin() as conn:
            swapped = conn.execute(update(slot_claims).where(*_claim_is(account_id, at, held.claim))
                                   .values(claim=token, claimed_at=now, done=False))
        return bool(swapped.rowcount == 1)

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


def _claim_is(account_id: str, at: datetime, token: str) -> tuple[Any, ...]:
    """The claim of ``account_id`` at ``at`` when ``token`` still holds it."""
    return (slot_claims.c.account_id == account_id, slot_claims.c.slot_time == at,
            slot_claims.c.claim == token)


def _minute(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(second=0, microsecond=0)
