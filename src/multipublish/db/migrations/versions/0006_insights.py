"""Insight tables: followed posts (the collector's leased work), metric samples, experiments.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIGPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "insight_posts",
        sa.Column("id", BIGPK, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("post_type", sa.String(32), nullable=True),
        sa.Column("video_id", sa.String(500), nullable=False),
        sa.Column("reference", sa.String(500), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("job_id", sa.String(128), nullable=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("published_at", TS, nullable=False),
        sa.Column("hour_of_week", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("next_sample_at", TS, nullable=True),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("locked_by", sa.String(200), nullable=True),
        sa.Column("lease_expires_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_sampled_at", TS, nullable=True),
        sa.Column("views", sa.BigInteger(), nullable=True),
        sa.Column("likes", sa.BigInteger(), nullable=True),
        sa.Column("comments", sa.BigInteger(), nullable=True),
        sa.Column("shares", sa.BigInteger(), nullable=True),
        sa.Column("watch_time_s", sa.Float(), nullable=True),
        sa.Column("views_1h", sa.Float(), nullable=True),
        sa.Column("views_24h", sa.Float(), nullable=True),
        sa.Column("views_7d", sa.Float(), nullable=True),
        sa.Column("quota_units", sa.Float(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_insight_posts"),
        sa.UniqueConstraint("platform", "account_id", "video_id", name="uq_insight_posts_platform"),
    )
    op.create_index("ix_insight_posts_due", "insight_posts", ["state", "next_sample_at"])
    op.create_index(
        "ix_insight_posts_account", "insight_posts", ["account_id", "platform", "published_at"]
    )
    op.create_table(
        "insight_samples",
        sa.Column("id", BIGPK, primary_key=True, autoincrement=True),
        sa.Column("post_id", BIGPK, nullable=False),
        sa.Column("taken_at", TS, nullable=False),
        sa.Column("age_s", sa.Float(), nullable=False),
        sa.Column("views", sa.BigInteger(), nullable=True),
        sa.Column("likes", sa.BigInteger(), nullable=True),
        sa.Column("comments", sa.BigInteger(), nullable=True),
        sa.Column("shares", sa.BigInteger(), nullable=True),
        sa.Column("watch_time_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_insight_samples"),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["insight_posts.id"],
            name="fk_insight_samples_post_id_insight_posts",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_insight_samples_post", "insight_samples", ["post_id", "age_s"])
    op.create_table(
        "insight_experiments",
        sa.Column("id", BIGPK, primary_key=True, autoincrement=True),
        sa.Column("post_id", BIGPK, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("variant_a", sa.Text(), nullable=False),
        sa.Column("variant_b", sa.Text(), nullable=False),
        sa.Column("window_s", sa.Float(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("switch_at", TS, nullable=False),
        sa.Column("end_at", TS, nullable=False),
        sa.Column("winner", sa.String(8), nullable=True),
        sa.Column("p_value", sa.Float(), nullable=True),
        sa.Column("quota_units", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("locked_by", sa.String(200), nullable=True),
        sa.Column("lease_expires_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_insight_experiments"),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["insight_posts.id"],
            name="fk_insight_experiments_post_id_insight_posts",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_insight_experiments_due", "insight_experiments", ["state", "switch_at"])


def downgrade() -> None:
    op.drop_index("ix_insight_experiments_due", table_name="insight_experiments")
    op.drop_table("insight_experiments")
    op.drop_index("ix_insight_samples_post", table_name="insight_samples")
    op.drop_table("insight_samples")
    op.drop_index("ix_insight_posts_account", table_name="insight_posts")
    op.drop_index("ix_insight_posts_due", table_name="insight_posts")
    op.drop_table("insight_posts")
