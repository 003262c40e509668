"""A revocation counter for API tokens: the API caches verified tokens and checks this counter.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_token_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_api_token_state"),
    )
    op.execute("INSERT INTO api_token_state (id, version) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("api_token_state")
