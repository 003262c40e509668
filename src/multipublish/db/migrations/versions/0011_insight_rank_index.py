"""Insights: an index to find each account's best and worst post without sorting every post.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_insight_posts_rank", "insight_posts", ["account_id", "platform", "views_24h"])


def downgrade() -> None:
    op.drop_index("ix_insight_posts_rank", table_name="insight_posts")
