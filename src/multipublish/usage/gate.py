"""The quota gate the queue asks before each publish.

A thin face over :class:`UsageStore`: the queue needs three verbs (check, reserve, settle) and the
store's counters stay the one source of truth. ``check`` reads; ``reserve`` takes atomically, so of
two workers racing for the last unit exactly one wins and the other is told when to come back.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from multipublish.errors import ErrorKind
from multipublish.platforms.base import PublishConfig, PublishResult, PublishStatus
from multipublish.usage.models import QuotaDecision, Reservation
from multipublish.usage.store import UsageStore, quota_bucket

__all__ = ["QuotaDecision", "QuotaGate", "Reservation", "record_direct_publish"]

log = logging.getLogger(__name__)

#: Set while ``QuotaGate.guard`` runs a publish: the gate records that attempt itself, so the
#: manager's own recording of direct publishes stands aside (no attempt is counted twice).
_GUARDED: contextvars.ContextVar[bool] = contextvars.ContextVar("multipublish_usage_guarded", default=False)


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
        now: datetime | None = None,
    ) -> QuotaDecision | None:
        """Record the attempt and settle its quota; when the service refused for quota, return the
        decision that tells the caller until when the platform must wait."""
        self.store.record_attempt(
            account_id,
            result,
            job_id=job_id,
            attempt=attempt,
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

    async def guard(
        self,
        account_id: str,
        platform: str,
        config: PublishConfig | None,
        publish: Callable[[], Awaitable[PublishResult]],
        *,
        job_id: str | None = None,
        attempt: int = 1,
        clock: Callable[[], datetime] | None = None,
        run_sync: Callable[..., Awaitable[Any]] | None = None,
    ) -> PublishResult:
        """Reserve, publish, record: the queue's whole use of the gate in one call.

        Over quota, ``publish`` is not called and a ``quota`` failure comes back whose
        ``retry_after`` reaches the reset, so the queue schedules that platform for then (status
        ``scheduled``, reason in ``wait_reason``) while the job's other platforms go ahead. A quota
        refusal from the service comes back the same way. ``run_sync`` runs the blocking database
        calls (the queue passes its thread pool; default ``asyncio.to_thread``).
        """
        now = clock or self.store.now
        call = run_sync or _to_thread
        decision: QuotaDecision = await call(self.reserve, account_id, platform, now(), config)
        if not decision.allowed:
            return deferred_result(platform, decision, now())
        started = time.monotonic()
        token = _GUARDED.set(True)
        try:
            result = await publish()
        except BaseException:
            if decision.reservation is not None:
                await asyncio.shield(call(self.release, decision.reservation, now()))
            raise
        finally:
            _GUARDED.reset(token)
        verdict: QuotaDecision | None = await call(
            self.settle,
            decision.reservation,
            account_id,
            result,
            job_id=job_id,
            attempt=attempt,
            duration_s=time.monotonic() - started,
            post_type=platform.partition(":")[2] or None,
            config=config,
            now=now(),
        )
        if verdict is not None and verdict.wait_until is not None:
            wait = max(0.0, (verdict.wait_until - now()).total_seconds())
            # the store's reset time (midnight Pacific, the service's reset) on the caller's clock
            result.retry_after = wait
            result.details = {**result.details, "quota_wait_until": verdict.wait_until.isoformat()}
        return result


def deferred_result(platform: str, decision: QuotaDecision, now: datetime) -> PublishResult:
    """The result of a publish the gate held back: ``quota`` until the reset, or ``permanent``
    when no reset would ever make room (the publish is bigger than the whole quota)."""
    if decision.wait_until is None:
        return PublishResult(
            platform=platform,
            success=False,
            status=PublishStatus.FAILED,
            error=decision.reason,
            error_kind=ErrorKind.PERMANENT,
        )
    return PublishResult(
        platform=platform,
        success=False,
        status=PublishStatus.FAILED,
        error=decision.reason,
        error_kind=ErrorKind.QUOTA,
        retry_after=max(0.0, (decision.wait_until - now).total_seconds()),
        details={"quota_wait_until": decision.wait_until.isoformat(), "deferred_by": "quota_gate"},
    )


async def _to_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


def quota_gate_for(engine: Any, settings: Any) -> QuotaGate | None:
    """The gate the entry points hand to ``PublishingQueue`` (``None`` when quotas are off)."""
    if not settings.quota_enforce:
        return None
    return QuotaGate(UsageStore(engine, settings))


async def record_direct_publish(
    engine: Any,
    settings: Any,
    account_id: str,
    result: PublishResult,
    *,
    duration_s: float,
    post_type: str | None = None,
    config: PublishConfig | None = None,
) -> None:
    """Record a publish made through the manager directly (REST immediate, CLI, Python API).

    Does nothing inside ``QuotaGate.guard`` (the queue path records with its job id and
    reservation) or when ``settings.record_usage`` is off. Never raises: bookkeeping must not turn
    a published video into an error.
    """
    if _GUARDED.get() or not getattr(settings, "record_usage", True):
        return
    try:
        store = UsageStore(engine, settings)
        await asyncio.to_thread(
            store.record_attempt,
            account_id,
            result,
            duration_s=duration_s,
            post_type=post_type,
            config=config,
        )
    except Exception as exc:
        log.warning("could not record usage of a publish to %s: %s", result.platform, type(exc).__name__)
