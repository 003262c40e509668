"""Request and response bodies of the REST API, named by role (``...Create``, ``...Public``).

Request bodies refuse what the database or a platform could not take (NUL bytes, lone surrogates,
infinite numbers, out-of-range dates and lengths) so a client input never turns into a 500.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from multipublish.catalogue import base_platform
from multipublish.errors import UnknownPlatformError
from multipublish.platforms.base import parse_platform
from multipublish.queue.models import (
    DEFAULT_MAX_RETRIES,
    MAX_RETRIES_LIMIT,
    MAX_RETRY_DELAY,
    PRIORITY_DEFAULT,
    PRIORITY_MAX,
    PRIORITY_MIN,
)

JOB_ID_PATTERN = r"^[A-Za-z0-9._:@-]{1,128}$"
ACCOUNT_ID_PATTERN = r"^[^\x00-\x1f\x7f]{1,200}$"
JobStatusName = Literal[
    "pending", "scheduled", "processing", "completed", "failed", "cancelled", "retrying"
]


def _check_value(value: Any, where: str, depth: int = 0) -> None:
    if depth > 32:
        raise ValueError(f"{where}: nested too deeply")
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{where}: contains a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{where}: is not valid UTF-8 text") from None
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: must be a finite number")
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_value(k, where, depth + 1)
            _check_value(v, f"{where}.{k}", depth + 1)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_value(v, f"{where}[{i}]", depth + 1)


class RequestModel(BaseModel):
    """Base of request bodies: no unknown fields, no text the database cannot store."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                _check_value(value, str(key))
        return data


def _platform_names(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        try:
            parse_platform(name)
        except UnknownPlatformError as exc:
            raise ValueError(exc.reason) from None
        norm = name.strip().lower()
        if norm not in out:
            out.append(norm)
    return out


Platforms = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=40)]],
    Field(min_length=1, max_length=10, examples=[["tiktok", "instagram"]]),
]
Text500 = Annotated[str, Field(max_length=500)]


# -- accounts ---------------------------------------------------------------------------------
class AccountCreate(RequestModel):
    """An account on one platform; credentials are encrypted at rest and never returned."""

    account_id: str = Field(min_length=1, max_length=200, pattern=ACCOUNT_ID_PATTERN)
    platform: str = Field(min_length=1, max_length=40)
    credentials: dict[str, Any] = Field(default_factory=dict)

    @field_validator("platform")
    @classmethod
    def _known(cls, value: str) -> str:
        return base_platform(_platform_names([value])[0])

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "account_id": "my_tiktok",
                    "platform": "tiktok",
                    "credentials": {"api_key": "...", "user": "..."},
                }
            ]
        },
    )


class AccountPublic(BaseModel):
    """An account as shown to users: credentials masked."""

    model_config = ConfigDict(extra="allow")
    account_id: str
    platform: str


class AccountCheckItemPublic(BaseModel):
    name: str = Field(description="api_key, profile, connected, plan, page_id, token, channel, quota")
    ok: bool
    detail: str


class AccountPlatformCheckPublic(BaseModel):
    platform: str
    ok: bool
    checks: list[AccountCheckItemPublic]


class AccountCheckPublic(BaseModel):
    """``POST /accounts/{id}/check``: each platform verified against its service."""

    account_id: str
    ok: bool = Field(description="true when every check of every platform passed")
    platforms: list[AccountPlatformCheckPublic]


class AccountsRemovedPublic(BaseModel):
    account_id: str
    removed: int


# -- publishing -------------------------------------------------------------------------------
class PublishFields(RequestModel):
    """What every publish request carries: the brief's fields."""

    account_id: str = Field(min_length=1, max_length=200, pattern=ACCOUNT_ID_PATTERN)
    platforms: Platforms
    video_path: str = Field(
        min_length=1,
        max_length=4096,
        examples=["/path/to/video.mp4"],
        description="a file under the media roots, or an http(s):// URL (upload-post platforms only)",
    )
    title: Text500 = ""
    description: str = Field(default="", max_length=10000)
    tags: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=100)
    platform_specific: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: ``"auto"``: pick a frame of the video and set it as the YouTube thumbnail.
    thumbnail_path: str | None = Field(default=None, max_length=4096)
    #: Fix what a platform's rules refuse (reframe, remux, re-encode) before uploading.
    auto_fix: bool = False

    @field_validator("platforms")
    @classmethod
    def _platforms(cls, value: list[str]) -> list[str]:
        return _platform_names(value)

    @field_validator("platform_specific")
    @classmethod
    def _options(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        _platform_names(list(value))
        return {k.strip().lower(): v for k, v in value.items()}


class ImmediatePublishCreate(PublishFields):
    """Publish now and wait for every platform's result."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "account_id": "my_tiktok",
                    "platforms": ["tiktok", "instagram"],
                    "video_path": "/path/to/video.mp4",
                    "title": "My Video",
                    "description": "Check this out!",
                    "tags": ["viral", "trending"],
                    "platform_specific": {"tiktok": {"privacy": "public"}},
                }
            ]
        },
    )


class ScheduledPublishCreate(PublishFields):
    """Queue a publish for later (or as soon as a worker is free)."""

    scheduled_time: datetime | None = Field(
        default=None, description="ISO-8601; a time without zone is taken as UTC"
    )
    # strict: ``true`` or ``"8"`` is refused naming the field, not read as 1 or 8.
    priority: int = Field(
        default=PRIORITY_DEFAULT,
        ge=PRIORITY_MIN,
        le=PRIORITY_MAX,
        strict=True,
        description="1-10, higher is more urgent",
    )
    max_retries: int = Field(default=DEFAULT_MAX_RETRIES, ge=0, le=MAX_RETRIES_LIMIT, strict=True)
    retry_delay: float | None = Field(
        default=None,
        ge=0,
        le=MAX_RETRY_DELAY,
        allow_inf_nan=False,
        strict=True,
        description="backoff base in seconds; default MULTIPUBLISH_RETRY_BASE_DELAY",
    )
    webhook_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    callback_data: dict[str, Any] | None = None
    job_id: str | None = Field(default=None, pattern=JOB_ID_PATTERN)

    @field_validator("scheduled_time")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _as_utc(value)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "account_id": "my_account",
                    "platforms": ["tiktok", "youtube"],
                    "video_path": "/path/to/video.mp4",
                    "title": "Scheduled Video",
                    "description": "Coming soon!",
                    "scheduled_time": "2025-11-07T10:00:00Z",
                    "priority": 8,
                    "max_retries": 3,
                }
            ]
        },
    )


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if not 1970 < value.year < 9000:
        raise ValueError("must be between the years 1971 and 8999")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class BatchScheduleCreate(RequestModel):
    """Several scheduled publishes, accepted all together or not at all."""

    jobs: list[ScheduledPublishCreate] = Field(min_length=1, max_length=500)


class PublishResultPublic(BaseModel):
    """One platform's outcome (``PublishResult.to_dict()``)."""

    model_config = ConfigDict(extra="allow")
    platform: str
    success: bool
    status: str
    video_id: str | None = None
    url: str | None = None
    error: str | None = None
    error_kind: str | None = None


class ImmediatePublishPublic(BaseModel):
    account_id: str
    success: bool = Field(description="true when every platform succeeded")
    results: dict[str, PublishResultPublic]


class JobPlatformResultPublic(BaseModel):
    """One platform's part of a job: its own status, and the post's id and URL once published."""

    model_config = ConfigDict(extra="allow")
    platform: str
    status: str = Field(
        description="pending, processing, published, failed, deferred (quota), unknown or cancelled"
    )
    success: bool = False
    video_id: str | None = None
    url: str | None = None
    error: str | None = None
    error_kind: str | None = Field(
        default=None, description="auth, rate_limited, transient, permanent, quota or unknown"
    )
    attempts: int = 0
    published_at: str | None = None
    updated_at: str | None = None


class JobPublic(BaseModel):
    """A queued job with its per-platform results."""

    model_config = ConfigDict(extra="allow")
    id: str
    account_id: str
    platforms: list[str]
    status: str = Field(
        description="pending, scheduled, processing, completed, failed, cancelled or retrying"
    )
    priority: int = Field(default=5, description="1-10, higher is more urgent")
    title: str | None = None
    scheduled_time: str | None = None
    attempts: int = 0
    max_retries: int = 3
    error_message: str | None = None
    wait_reason: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    results: dict[str, JobPlatformResultPublic] = Field(
        default_factory=dict, description="per platform key (e.g. instagram:stories)"
    )


class JobsPublic(BaseModel):
    jobs: list[JobPublic]
    count: int
    limit: int
    offset: int


class BatchSchedulePublic(BaseModel):
    jobs: list[JobPublic]
    count: int


class JobUpdate(RequestModel):
    """Change a waiting job's priority or time."""

    priority: int | None = Field(default=None, ge=PRIORITY_MIN, le=PRIORITY_MAX, strict=True)
    scheduled_time: datetime | None = None

    @field_validator("scheduled_time")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _as_utc(value)


# -- validation, stats, uploads, health --------------------------------------------------------
class ValidateCreate(RequestModel):
    """A file to check against platform rules (and optionally the text to post with it)."""

    video_path: str = Field(min_length=1, max_length=4096)
    platforms: Platforms
    title: Text500 | None = None
    description: str | None = Field(default=None, max_length=10000)
    tags: list[Annotated[str, Field(max_length=100)]] | None = Field(default=None, max_length=100)

    @field_validator("platforms")
    @classmethod
    def _platforms(cls, value: list[str]) -> list[str]:
        return _platform_names(value)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "video_path": "/path/to/video.mp4",
                    "platforms": ["tiktok", "instagram", "youtube"],
                }
            ]
        },
    )


class PlatformValidationPublic(BaseModel):
    model_config = ConfigDict(extra="allow")
    valid: bool
    errors: list[str]
    warnings: list[str]


class QueueStatsPublic(BaseModel):
    """The brief's ``get_queue_stats()``."""

    model_config = ConfigDict(extra="allow")
    pending: int
    processing: int
    completed: int
    failed: int
    scheduled_future: int


class PlatformRatePublic(BaseModel):
    success: int
    total: int
    rate: float | None = Field(description="percent of finished publishes that succeeded")


class SuccessRatePublic(BaseModel):
    platforms: dict[str, PlatformRatePublic]


class UploadPublic(BaseModel):
    video_path: str = Field(description="absolute path to use as video_path")
    size: int
    filename: str


class HealthPublic(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)


class FieldErrorPublic(BaseModel):
    field: str
    reason: str


class ErrorPublic(BaseModel):
    """Every error answer: a code, a message, and for refused input the field and the reason."""

    error: str = Field(examples=["invalid_input"])
    message: str
    field: str | None = None
    reason: str | None = None
    errors: list[FieldErrorPublic] = Field(default_factory=list)
    details: dict[str, Any] | None = None
