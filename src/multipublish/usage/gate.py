"""The quota gate the queue asks before each publish.

A thin face over :class:`UsageStore`: the queue needs three verbs (check, reserve, settle) and the
store's counters stay the one source of truth. ``check`` reads; ``reserve`` takes atomically, so of
two workers racing for the last unit exactly one wins and the other is told when to come back.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from multipublish.errors import ErrorKind
from multipublish.platforms.base import PublishConfig, PublishResult
from multipublish.usage.models import QuotaDecision, Reservation
from multipublish.usage.store import UsageStore, quota_bucket

__all__ = ["QuotaDecision", "QuotaGate", "Reservation", "deferred_result", "quota_gate_for"]

log = logging.getLogger(__name__)


class QuotaGate:
    """Decides whether an account may publish to a platform now, and holds its quota if so."""

    def __init__(self, store: UsageStore) -> None:
        self.store = store

    def check(
        self, account_id: str, platform: str, now: datetime | None = None, config: PublishConfig | None = None
    ) -> QuotaDecision:
        """Would a publish fit now? Reads only."""
        return self.store.check(account_id, platform, now, config)

    def reserve(
        self, account_id: str, platform: str, now: datetime | None = None, config: PublishConfig | None = None
    ) -> QuotaDecision:
        """Take the quota of one publish, or return until when to wait (``allowed=False``)."""
        return self.store.reserve(account_id, platform, now, config)

    def release(self, reservation: Reservation, now: datetime | None = None) -> None:
        """Give back quota held for a publish that did not happen (cancelled, lease lost)."""
        self.store.release(reservation, now)

    def settle(
        self,
        reservation: Reservation | None,
        account_id: str,
        result: PublishResult,
        *,
        job_id: str | None = None,
        attempt: int = 1,
        duration_s: float = 0.0,
        post_type: str | None = None,
        config: PublishConfig | None = None,
        request_id: str | None = None,
        now: datetime | None = None,
    ) -> QuotaDecision | None:
        """Record the attempt and settle its quota; when the service refused for quota, return the
        decision that tells the caller until when the platform must wait.

        May raise (a database error): the queue calls it after a success is stored, or before a
        failure is, and never lets its error change the publish's outcome.
        """
        self.store.record_attempt(
            account_id,
            result,
            job_id=job_id,
            attempt=attempt,
            request_id=request_id,
            duration_s=duration_s,
            post_type=post_type,
            reservation=reservation,
            config=config,
            occurred_at=now,
        )
        if result.error_kind == ErrorKind.QUOTA:
            decision = self.store.check(account_id, result.platform, now, config)
            if not decision.allowed:
                return decision
            return QuotaDecision(
                allowed=False,
                wait_until=self.store.next_reset(
                    quota_bucket(result.platform) or "", now or self.store.now()
                ),
                reason=f"{result.platform} quota refused by the service",
            )
        return None


def deferred_result(platform: str, decision: QuotaDecision, now: datetime) -> PublishResult:
    """The result of a publish the gate held back: ``quota`` until the reset, ``rate_limited``
    until the service's rate window opens, or ``permanent`` when no reset would ever make room
    (the publish is bigger than the whole quota)."""
    if decision.wait_until is None:
        return PublishResult.failed(platform, ErrorKind.PERMANENT, decision.reason)
    return PublishResult.failed(
        platform,
        # the service's rate window is a short wait (policy: Retry-After), a quota a park
        ErrorKind.RATE_LIMITED if decision.rate_limited else ErrorKind.QUOTA,
        decision.reason,
        retry_after=max(0.0, (decision.wait_until - now).total_seconds()),
        details={"quota_wait_until": decision.wait_until.isoformat(), "deferred_by": "quota_gate"},
    )


def quota_gate_for(engine: Any, settings: Any) -> QuotaGate | None:
    """The gate the entry points hand to ``PublishingQueue`` (``None`` when quotas are off)."""
    if not settings.quota_enforce:
        return None
    return QuotaGate(UsageStore(engine, settings))
