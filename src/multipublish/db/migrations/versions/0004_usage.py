"""Usage and quota tables; owned by cost tracking.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIGPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "usage_records",
        sa.Column("id", BIGPK, primary_key=True, autoincrement=True),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("post_type", sa.String(32), nullable=True),
        sa.Column("job_id", sa.String(128), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(200), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("error_kind", sa.String(32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("bytes_sent", sa.BigInteger(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("quota_bucket", sa.String(64), nullable=True),
        sa.Column("plan_uploads", sa.Integer(), nullable=False),
        sa.Column("quota_units", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_usage_records"),
    )
    op.create_index("ix_usage_records_occurred_at", "usage_records", ["occurred_at"])
    op.create_index(
        "ix_usage_records_account_platform",
        "usage_records",
        ["account_id", "platform", "occurred_at"],
    )
    op.create_index("ix_usage_records_job_id", "usage_records", ["job_id"])
    op.create_table(
        "quota_state",
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("platform", sa.String(64), nullable=False),
        sa.Column("limit", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("reset_at", TS, nullable=False),
        sa.Column("exhausted_until", TS, nullable=True),
        sa.Column("limit_source", sa.String(16), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "platform", name="pk_quota_state"),
    )


def downgrade() -> None:
    op.drop_table("quota_state")
    op.drop_index("ix_usage_records_job_id", table_name="usage_records")
    op.drop_index("ix_usage_records_account_platform", table_name="usage_records")
    op.drop_index("ix_usage_records_occurred_at", table_name="usage_records")
    op.drop_table("usage_records")
