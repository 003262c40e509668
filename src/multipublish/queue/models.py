"""Domain values of the queue: the request to enqueue, the job as stored, and its statuses."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from multipublish.catalogue import PlatformKey, base_platform
from multipublish.errors import InputError
from multipublish.platforms.base import PublishConfig


class QueueStatus(StrEnum):
    """Lifecycle of a job (the brief's seven statuses)."""

    PENDING = "pending"  #: ready to run
    SCHEDULED = "scheduled"  #: waits for its scheduled time (or a quota reset)
    PROCESSING = "processing"  #: claimed by a worker that holds its lease
    COMPLETED = "completed"  #: every platform published
    FAILED = "failed"  #: gave up; per-platform results say which platforms failed
    CANCELLED = "cancelled"  #: cancelled by a user
    RETRYING = "retrying"  #: an attempt failed; waits for its backoff to end

    @classmethod
    def parse(cls, value: str | QueueStatus) -> QueueStatus:
        """Parse a status name, refusing unknown ones with a clear message."""
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            known = ", ".join(s.value for s in cls)
            raise InputError("status", f"unknown status {value!r} (known: {known})") from None


#: The one priority rule: 1-10, higher first; 8-10 go ahead of everything waiting.
PRIORITY_MIN, PRIORITY_MAX, PRIORITY_DEFAULT = 1, 10, 5
#: The one set of retry limits (the API and the Python model both check these).
MAX_RETRIES_LIMIT = 100
MAX_RETRY_DELAY = 7 * 86400.0
DEFAULT_MAX_RETRIES = 3


def check_priority(value: Any, field: str = "priority") -> int:
    """The priority rule, with a clear error naming the field."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(field, f"must be an integer from {PRIORITY_MIN} to {PRIORITY_MAX}")
    if not PRIORITY_MIN <= value <= PRIORITY_MAX:
        raise InputError(field, f"must be from {PRIORITY_MIN} to {PRIORITY_MAX}, got {value}")
    return value


#: Statuses a worker may claim once ``run_at`` has come.
WAITING: tuple[str, ...] = (QueueStatus.PENDING, QueueStatus.SCHEDULED, QueueStatus.RETRYING)
#: Statuses that never change again (except a manual retry of ``failed``).
FINISHED: tuple[str, ...] = (QueueStatus.COMPLETED, QueueStatus.FAILED, QueueStatus.CANCELLED)


def as_utc(value: datetime | None, field_name: str = "scheduled_time") -> datetime | None:
    """Aware UTC datetime; a naive one is taken as UTC."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InputError(field_name, "must be a datetime")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def platform_key(name: str) -> str:
    """Normalised platform spec: ``instagram`` for the default post type, else ``instagram:stories``."""
    return PlatformKey.parse(name).short


def platform_base(key: str) -> str:
    """The platform a spec posts to (``instagram:stories`` -> ``instagram``)."""
    return base_platform(key)


@dataclass(slots=True, frozen=True)
class QueuedPublishConfig:
    """A publish to run through the queue (the brief's fields plus retry knobs).

    Frozen and checked once, when it is built: an instance is valid by construction, so the queue and
    the store take the type as the proof and do not check it again (``validate`` ran three times per
    enqueue before). ``platforms`` is kept as a tuple of normalised keys and ``callback_data`` as a
    copy, so neither the caller's list nor its dict can change what was checked.
    """

    account_id: str
    #: Platform names, or one comma-separated string; kept as a tuple of normalised keys.
    platforms: Sequence[str]
    video_path: str
    config: PublishConfig = field(default_factory=PublishConfig)
    #: When to start; ``None`` means now. Naive datetimes are taken as UTC.
    scheduled_time: datetime | None = None
    #: 1-10, higher first; 8-10 go ahead of everything waiting.
    priority: int = PRIORITY_DEFAULT
    webhook_url: str | None = None
    callback_data: dict[str, Any] | None = None
    max_retries: int = DEFAULT_MAX_RETRIES
    #: Base of the exponential backoff, seconds; ``None``: ``MULTIPUBLISH_RETRY_BASE_DELAY``.
    retry_delay: float | None = None
    #: Same as ``config.auto_fix`` (either turns it on; it is stored with the config).
    auto_fix: bool = False

    def __post_init__(self) -> None:
        self.validate()
        if self.auto_fix:
            self.config.auto_fix = True
        self._set("auto_fix", self.config.auto_fix)

    def _set(self, name: str, value: Any) -> None:
        # The one way a field changes: normalising while the instance is built.
        object.__setattr__(self, name, value)

    def validate(self) -> None:
        """Refuse bad input with the field and the reason (nothing is written before this).

        Runs once, from ``__post_init__``; it normalises the fields it checks (platform keys, UTC
        time, float delay) so what is stored is what was checked.
        """
        if not isinstance(self.account_id, str) or not self.account_id.strip():
            raise InputError("account_id", "must be a non-empty string")
        if len(self.account_id) > 200:
            raise InputError("account_id", "at most 200 characters")
        platforms: Any = self.platforms
        if isinstance(platforms, str):
            platforms = [p for p in platforms.split(",") if p.strip()]
        if not platforms:
            raise InputError("platforms", "at least one platform is required")
        keys: list[str] = []
        for name in platforms:
            if not isinstance(name, str):
                raise InputError("platforms", f"platform names are strings, got {name!r}")
            key = platform_key(name)
            if key in keys:
                raise InputError("platforms", f"{key} is listed twice")
            keys.append(key)
        self._set("platforms", tuple(keys))
        if not isinstance(self.video_path, str) or not str(self.video_path).strip():
            raise InputError("video_path", "must be a non-empty path")
        if self.config is None:
            self._set("config", PublishConfig())
        if not isinstance(self.config, PublishConfig):
            raise InputError("config", "must be a PublishConfig")
        self._set("scheduled_time", as_utc(self.scheduled_time))
        check_priority(self.priority)
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise InputError("max_retries", f"must be an integer from 0 to {MAX_RETRIES_LIMIT}")
        if not 0 <= self.max_retries <= MAX_RETRIES_LIMIT:
            raise InputError("max_retries", f"must be from 0 to {MAX_RETRIES_LIMIT}, got {self.max_retries}")
        if self.retry_delay is not None:
            try:
                delay = float(self.retry_delay)
            except (TypeError, ValueError):
                raise InputError("retry_delay", "must be a number of seconds") from None
            if not math.isfinite(delay) or not 0 <= delay <= MAX_RETRY_DELAY:
                raise InputError("retry_delay", f"must be from 0 to {MAX_RETRY_DELAY:.0f} seconds")
            self._set("retry_delay", delay)
        if self.callback_data is not None:
            if not isinstance(self.callback_data, dict):
                raise InputError("callback_data", "must be a JSON object")
            try:
                # A copy through JSON: proves it serialises and detaches it from the caller's dict.
                self._set("callback_data", json.loads(json.dumps(self.callback_data)))
            except (TypeError, ValueError) as exc:
                raise InputError("callback_data", f"must be JSON-serialisable: {exc}") from None
        if self.webhook_url is not None and not isinstance(self.webhook_url, str):
            raise InputError("webhook_url", "must be a URL string")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


@dataclass(slots=True)
class Job:
    """A job as stored, with one result entry per platform."""

    id: str
    account_id: str
    platforms: list[str]
    video_path: str
    config: PublishConfig
    title: str
    status: QueueStatus
    priority: int
    scheduled_time: datetime | None
    attempts: int
    max_retries: int
    retry_delay: float
    webhook_url: str | None
    callback_data: dict[str, Any] | None
    error_message: str | None
    wait_reason: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    #: Per platform: ``status`` (pending, processing, published, failed, unknown), ``success``,
    #: ``video_id``, ``url``, ``error``, ``error_kind``, ``attempts``.
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: When a worker may next claim it (scheduled time or end of backoff).
    run_at: datetime | None = None
    #: Worker holding the lease while processing.
    locked_by: str | None = None
    lease_expires_at: datetime | None = None
    cancel_requested: bool = False

    @property
    def results_json(self) -> str:
        """The results as a JSON string (the brief does ``json.loads(job.results_json)``)."""
        return json.dumps(self.results, default=str)

    @property
    def success(self) -> bool:
        return self.status == QueueStatus.COMPLETED

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view (datetimes as ISO-8601 UTC with ``Z``)."""
        return {
            "id": self.id,
            "job_id": self.id,
            "account_id": self.account_id,
            "platforms": list(self.platforms),
            "video_path": self.video_path,
            "config": self.config.to_dict(),
            "title": self.title,
            "status": str(self.status),
            "priority": self.priority,
            "scheduled_time": _iso(self.scheduled_time),
            "run_at": _iso(self.run_at),
            "attempts": self.attempts,
            "max_retries": self.max_retries,
            "retry_delay": self.retry_delay,
            "webhook_url": self.webhook_url,
            "callback_data": self.callback_data,
            "error_message": self.error_message,
            "wait_reason": self.wait_reason,
            "cancel_requested": self.cancel_requested,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "started_at": _iso(self.started_at),
            "completed_at": _iso(self.completed_at),
            "results": json.loads(self.results_json),
        }


def iso(value: datetime | None) -> str | None:
    """ISO-8601 UTC with ``Z`` (the webhook payload's format)."""
    return _iso(value)
