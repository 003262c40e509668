"""Tables of the queue beyond ``jobs``/``job_results``: claim lock, webhook outbox, archive.

``jobs`` and ``job_results`` live in ``multipublish.db.tables``; the DDL of everything here is in
migration ``0002_queue``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)

from multipublish.db.tables import BigIntPK, UTCDateTime, jobs, metadata

#: One row (id 1) that claimers lock so the concurrency caps hold across processes; a row lock,
#: never an advisory lock (those vanish with their session and caused duplicates elsewhere).
queue_state = Table(
    "queue_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("note", String(100), nullable=True),
)

#: Outbox of webhook messages, written in the same transaction as the job's outcome.
webhook_messages = Table(
    "webhook_messages",
    metadata,
    #: The Standard Webhooks ``webhook-id`` (stable across delivery attempts).
    Column("id", String(64), primary_key=True),
    Column("job_id", String(128), nullable=False, index=True),
    Column("account_id", String(200), nullable=False),
    #: job.completed | job.failed | job.retry_scheduled | job.scheduled
    Column("event", String(32), nullable=False),
    Column("url", Text, nullable=False),
    Column("payload", JSON, nullable=False),
    #: pending | delivered | failed
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("locked_by", String(200), nullable=True),
    Column("lease_expires_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_webhook_messages_due", "status", "next_attempt_at"),
)

#: Every delivery attempt of every webhook message.
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("message_id", String(64), nullable=False, index=True),
    Column("attempt", Integer, nullable=False),
    Column("url", Text, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("success", Boolean, nullable=False),
    Column("error", Text, nullable=True),
    Column("duration_ms", Float, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

#: Finished jobs older than the retention, moved out of the hot table as one JSON document each.
jobs_archive = Table(
    "jobs_archive",
    metadata,
    Column("job_id", String(128), primary_key=True),
    Column("account_id", String(200), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime, nullable=True),
    Column("archived_at", UTCDateTime, nullable=False),
    Column("data", JSON, nullable=False),
)

_WAITING_SQL = "status IN ('pending', 'scheduled', 'retrying')"

#: The claim scans only waiting jobs, in claim order, however many finished rows the table holds;
#: ``run_at`` rides along so jobs not yet due are skipped inside the index.
Index(
    "ix_jobs_claim_order",
    jobs.c.priority.desc(),
    jobs.c.seq,
    jobs.c.run_at,
    postgresql_where=text(_WAITING_SQL),
    sqlite_where=text(_WAITING_SQL),
)
Index(
    "ix_jobs_waiting_run_at",
    jobs.c.run_at,
    postgresql_where=text(_WAITING_SQL),
    sqlite_where=text(_WAITING_SQL),
)
Index(
    "ix_jobs_processing",
    jobs.c.lease_expires_at,
    postgresql_where=text("status = 'processing'"),
    sqlite_where=text("status = 'processing'"),
)

#: Job and result counts by status, kept by triggers in the transactions that move the rows
#: (migration ``0008_queue_counts``); a statistic is the sum over a key's shards.
queue_counts = Table(
    "queue_counts",
    metadata,
    #: job (``jobs`` plus ``jobs_archive``) | result (``job_results``)
    Column("kind", String(16), primary_key=True),
    #: ``platform_name`` of a result; empty for jobs.
    Column("platform", String(32), primary_key=True),
    Column("status", String(16), primary_key=True),
    #: PostgreSQL: the backend pid that wrote the row (0: folded); SQLite: always 0.
    Column("shard", Integer, primary_key=True, autoincrement=False),
    Column("n", BigInteger, nullable=False),
)
