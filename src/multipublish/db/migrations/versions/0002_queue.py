"""Queue tables (claim lock, webhook outbox and attempts, archive) and claim indexes.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIGPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WAITING = "status IN ('pending', 'scheduled', 'retrying')"


def upgrade() -> None:
    op.create_table(
        "queue_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("note", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_queue_state"),
    )
    op.execute("INSERT INTO queue_state (id, note) VALUES (1, 'claim lock')")
    op.create_table(
        "webhook_messages",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("job_id", sa.String(128), nullable=False),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("locked_by", sa.String(200), nullable=True),
        sa.Column("lease_expires_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_messages"),
    )
    op.create_index("ix_webhook_messages_job_id", "webhook_messages", ["job_id"])
    op.create_index("ix_webhook_messages_due", "webhook_messages", ["status", "next_attempt_at"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", BIGPK, autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_attempts"),
    )
    op.create_index("ix_webhook_attempts_message_id", "webhook_attempts", ["message_id"])
    op.create_table(
        "jobs_archive",
        sa.Column("job_id", sa.String(128), nullable=False),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("completed_at", TS, nullable=True),
        sa.Column("archived_at", TS, nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name="pk_jobs_archive"),
    )
    op.create_index("ix_jobs_archive_account_id", "jobs_archive", ["account_id"])
    op.create_index(
        "ix_jobs_waiting",
        "jobs",
        [sa.text("priority DESC"), "seq"],
        postgresql_where=sa.text(WAITING),
        sqlite_where=sa.text(WAITING),
    )
    op.create_index(
        "ix_jobs_waiting_run_at",
        "jobs",
        ["run_at"],
        postgresql_where=sa.text(WAITING),
        sqlite_where=sa.text(WAITING),
    )
    op.create_index(
        "ix_jobs_processing",
        "jobs",
        ["lease_expires_at"],
        postgresql_where=sa.text("status = 'processing'"),
        sqlite_where=sa.text("status = 'processing'"),
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_processing", table_name="jobs")
    op.drop_index("ix_jobs_waiting_run_at", table_name="jobs")
    op.drop_index("ix_jobs_waiting", table_name="jobs")
    op.drop_table("jobs_archive")
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_messages")
    op.drop_table("queue_state")
