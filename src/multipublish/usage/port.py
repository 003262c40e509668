"""The usage port: how publishing code reports an attempt for counting, and why it never fails.

The manager and the queue hand every finished attempt to a ``UsagePort``. The port only counts
(usage records, quota counters): a counting error is logged and swallowed, because a video that
is live must never become a failed publish (or worse, a second upload) over bookkeeping. The
service wires one port per process and hands it to the manager; the queue's quota gate settles
its own reservations, so the queue tells the manager not to record (``record_usage=False``)
instead of relying on hidden state.
"""

from __future__ import annotations

import logging
from typing import Protocol, Required, TypedDict, Unpack

from sqlalchemy import Engine

from multipublish.platforms.base import PublishConfig, PublishResult
from multipublish.settings import Settings
from multipublish.usage.models import Reservation
from multipublish.usage.store import UsageStore

__all__ = ["Attempt", "NoUsage", "StoreUsage", "UsagePort", "usage_port_for"]

log = logging.getLogger(__name__)


class Attempt(TypedDict, total=False):
    """What is known of one attempt besides its result (the keywords of ``UsagePort.record``)."""

    duration_s: Required[float]
    post_type: str | None
    config: PublishConfig | None
    job_id: str | None
    attempt: int
    request_id: str | None
    reservation: Reservation | None


class UsagePort(Protocol):
    """Counts one publish attempt; must not raise (see the module docstring)."""

    def record(self, account_id: str, result: PublishResult, **attempt: Unpack[Attempt]) -> None: ...


class NoUsage:
    """Counts nothing (``record_usage`` off, or a publisher used without a database)."""

    def record(self, account_id: str, result: PublishResult, **attempt: Unpack[Attempt]) -> None:
        return None


class StoreUsage:
    """Records into the project database's :class:`UsageStore`; logs and swallows its errors."""

    def __init__(self, store: UsageStore) -> None:
        self.store = store

    def record(self, account_id: str, result: PublishResult, **attempt: Unpack[Attempt]) -> None:
        try:
            self.store.record_attempt(account_id, result, **attempt)
        except Exception as exc:
            log.warning(
                "could not record usage of a publish to %s (the publish stands): %s",
                result.platform,
                type(exc).__name__,
            )


def usage_port_for(engine: Engine, settings: Settings) -> UsagePort:
    """The port the service wires: the usage store, or nothing when ``record_usage`` is off."""
    if not settings.record_usage:
        return NoUsage()
    return StoreUsage(UsageStore(engine, settings))
