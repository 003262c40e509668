"""Workspace under concurrency: slots claimed atomically by "add to queue"; drafts versioned.

A ``slot_claims`` row per (account, slot time) taken through the queue: its primary key lets only
one request, in any process, take a slot. ``drafts.version`` lets a save from a stale tab be
refused instead of overwriting a newer one.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "slot_claims",
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("slot_time", TS, nullable=False),
        sa.Column("claim", sa.String(40), nullable=False),
        sa.Column("claimed_at", TS, nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("account_id", "slot_time", name="pk_slot_claims"),
    )
    with op.batch_alter_table("drafts") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("drafts") as batch:
        batch.drop_column("version")
    op.drop_table("slot_claims")
