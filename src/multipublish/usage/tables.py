"""Usage and quota tables, declared on the project's one ``metadata`` (migrations ``0004``, ``0005``).

``usage_records`` keeps one row per publish attempt (what it cost, how long it took, how it ended);
it outlives the queue's job rows, which may be pruned, so analytics read it and not ``jobs``.
``quota_state`` keeps one row per (account, quota bucket): the counter the quota gate reserves
against, refreshed from what the services report.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from multipublish.db.tables import BigIntPK, UTCDateTime, metadata

usage_records = Table(
    "usage_records",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    #: When the attempt finished (UTC); months and days of reports are taken from it.
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("account_id", String(200), nullable=False),
    Column("platform", String(32), nullable=False),
    Column("post_type", String(32), nullable=True),
    #: The queue job, when the attempt came from one (the manager path has none).
    Column("job_id", String(128), nullable=True),
    #: 1 for the first attempt of (job, platform); >1 for retries.
    Column("attempt", Integer, nullable=False, default=1),
    Column("request_id", Text, nullable=True),
    #: published | processing | failed | unknown
    Column("outcome", String(16), nullable=False),
    Column("success", Boolean, nullable=False),
    Column("error_kind", String(32), nullable=True),
    Column("error", Text, nullable=True),
    Column("bytes_sent", BigInteger, nullable=False, default=0),
    Column("duration_s", Float, nullable=False, default=0.0),
    #: The quota bucket charged (``upload-post``, ``youtube``), if any.
    Column("quota_bucket", String(64), nullable=True),
    #: Uploads counted against the upload-post monthly plan (0 or 1).
    Column("plan_uploads", Integer, nullable=False, default=0),
    #: YouTube quota units spent by the attempt's calls.
    Column("quota_units", Integer, nullable=False, default=0),
    #: Money spent, priced when recorded (later price changes do not rewrite history).
    Column("cost", Float, nullable=False, default=0.0),
    Column("currency", String(8), nullable=False, default="USD"),
    #: Media fixes applied before the upload (``auto_fix``), action names comma-separated.
    Column("fixes", Text, nullable=True),
    Index("ix_usage_records_occurred_at", "occurred_at"),
    Index("ix_usage_records_account_platform", "account_id", "platform", "occurred_at"),
    Index("ix_usage_records_job_id", "job_id"),
)

quota_state = Table(
    "quota_state",
    metadata,
    Column("account_id", String(200), nullable=False),
    #: Quota bucket: ``youtube`` (units/day), ``youtube:videos.insert`` (calls/day),
    #: ``upload-post`` (uploads/month, shared by the four upload-post platforms),
    #: ``upload-post:rate`` (the ``X-RateLimit-*`` window).
    Column("platform", String(64), nullable=False),
    Column("limit", Integer, nullable=False),
    Column("used", Integer, nullable=False, default=0),
    Column("remaining", Integer, nullable=False),
    #: When the counter starts again from zero.
    Column("reset_at", UTCDateTime, nullable=False),
    #: Set when the service itself refused for quota: no publish before this time.
    Column("exhausted_until", UTCDateTime, nullable=True),
    #: ``config`` (limit from settings) or ``service`` (limit the service reported).
    Column("limit_source", String(16), nullable=False, default="config"),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("account_id", "platform", name="pk_quota_state"),
)
