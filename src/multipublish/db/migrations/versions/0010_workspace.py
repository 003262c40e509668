"""Workspace tables: per-account queue slots and composer drafts; jobs indexed by time (calendar).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIGPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "queue_slots",
        sa.Column("id", BIGPK, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("time", sa.String(5), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_queue_slots"),
        sa.UniqueConstraint(
            "account_id", "weekday", "time", name="uq_queue_slots_account_weekday_time"
        ),
    )
    op.create_index("ix_queue_slots_account_id", "queue_slots", ["account_id"])
    op.create_table(
        "drafts",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drafts"),
    )
    op.create_index("ix_drafts_updated_at", "drafts", ["updated_at"])
    op.create_index("ix_jobs_scheduled_time", "jobs", ["scheduled_time"])


def downgrade() -> None:
    op.drop_index("ix_jobs_scheduled_time", table_name="jobs")
    op.drop_index("ix_drafts_updated_at", table_name="drafts")
    op.drop_table("drafts")
    op.drop_index("ix_queue_slots_account_id", table_name="queue_slots")
    op.drop_table("queue_slots")
