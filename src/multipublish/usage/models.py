"""Value types of usage tracking: charges, reservations and the quota gate's decision."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

#: Returns the current aware UTC time; injectable so tests move time instead of waiting.
Clock = Callable[[], datetime]

#: Quota bucket names (``quota_state.platform``).
YOUTUBE_UNITS = "youtube"
YOUTUBE_INSERTS = "youtube:videos.insert"
UPLOAD_POST = "upload-post"
UPLOAD_POST_RATE = "upload-post:rate"


@dataclass(frozen=True, slots=True, kw_only=True)
class Charge:
    """``amount`` taken from one quota ``bucket`` by one publish."""

    bucket: str
    amount: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Reservation:
    """Quota taken ahead of a publish; hand it to ``record_attempt`` (or ``release``) afterwards."""

    account_id: str
    platform: str
    charges: tuple[Charge, ...]
    reserved_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class QuotaDecision:
    """Whether a publish may go now; if not, until when it should wait and why."""

    allowed: bool
    #: When the quota resets (``None`` when allowed, or when no reset would ever make room).
    wait_until: datetime | None
    #: A sentence for users (``jobs.wait_reason``), e.g. "youtube quota: 9600/10000 units used ...".
    reason: str
    #: Set by ``reserve`` when allowed: the quota now held for this publish.
    reservation: Reservation | None = field(default=None)
    #: Held back by the service's rate-limit window (a short wait), not by a quota.
    rate_limited: bool = False
