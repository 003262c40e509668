"""Core tables shared by accounts, the manager and the queue.

Other concerns (webhook deliveries, API tokens, usage) declare their tables on the same ``metadata``
in their own modules; ``multipublish.db.migrations`` holds the DDL for all of them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: An integer primary key that autoincrements on both SQLite and PostgreSQL.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


accounts = Table(
    "accounts",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("account_id", String(200), nullable=False),
    Column("platform", String(32), nullable=False),
    #: Fernet token of the JSON credentials; never stored or logged in clear.
    Column("credentials", LargeBinary, nullable=False),
    #: Non-secret facts shown to users (user name, channel, page id).
    Column("display", JSON, nullable=False, default=dict),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("account_id", "platform", name="uq_accounts_account_platform"),
)

jobs = Table(
    "jobs",
    metadata,
    #: Insertion order: FIFO within a priority.
    Column("seq", BigIntPK, primary_key=True, autoincrement=True),
    Column("id", String(128), nullable=False, unique=True),
    Column("account_id", String(200), nullable=False),
    Column("platforms", JSON, nullable=False),
    Column("video_path", Text, nullable=False),
    #: ``PublishConfig.to_dict()``.
    Column("config", JSON, nullable=False),
    Column("title", String(500), nullable=False, default=""),
    Column("status", String(16), nullable=False),
    Column("priority", Integer, nullable=False, default=5),
    Column("scheduled_time", UTCDateTime, nullable=True),
    #: When the job may next be claimed (scheduled time, or the end of a retry backoff).
    Column("run_at", UTCDateTime, nullable=False),
    #: Attempts started (counted at claim time).
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_retries", Integer, nullable=False, default=3),
    Column("retry_delay", Float, nullable=False, default=300.0),
    Column("locked_by", String(200), nullable=True),
    Column("lease_expires_at", UTCDateTime, nullable=True),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("webhook_url", Text, nullable=True),
    Column("callback_data", JSON, nullable=True),
    Column("error_message", Text, nullable=True),
    #: Why a waiting job waits (quota, rate limit, backoff), shown to users.
    Column("wait_reason", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("completed_at", UTCDateTime, nullable=True),
    #: Listings by status or account, newest first (the claim's index is in ``queue.schema``).
    Index("ix_jobs_status_seq", "status", "seq"),
    Index("ix_jobs_account_seq", "account_id", "seq"),
)

job_results = Table(
    "job_results",
    metadata,
    Column("job_id", String(128), ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    #: Platform spec as listed in the job (``instagram`` or ``instagram:stories``).
    Column("platform", String(64), primary_key=True),
    #: The platform alone (``instagram``): what the per-platform concurrency cap counts.
    Column("platform_name", String(32), nullable=False),
    #: pending | processing | published | failed | unknown | deferred (waits for a quota reset)
    #: | cancelled (the job was cancelled before this platform ran)
    Column("status", String(16), nullable=False, default="pending"),
    Column("success", Boolean, nullable=False, default=False),
    Column("video_id", String(500), nullable=True),
    Column("url", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("error_kind", String(32), nullable=True),
    #: Request id / session handle used to reconcile an unknown outcome.
    Column("reference", Text, nullable=True),
    #: Our deterministic request id for this (job, platform); changes only after a confirmed failure.
    Column("request_id", String(300), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("bytes_sent", BigInteger, nullable=False, default=0),
    Column("details", JSON, nullable=True),
    Column("not_before", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("published_at", UTCDateTime, nullable=True),
    #: The step in flight of a running platform: ``preparing`` (media preparation, nothing sent
    #: yet) or ``uploading``; cleared when its result is written (migration ``0013``).
    Column("phase", String(16), nullable=True),
    #: Fraction (0..1) of the video prepared, while ``phase`` is ``preparing`` and after.
    Column("progress", Float, nullable=True),
    #: SQLite: stored in the key's order, one b-tree instead of a table and its key index
    #: (migration 0015).
    sqlite_with_rowid=False,
)
