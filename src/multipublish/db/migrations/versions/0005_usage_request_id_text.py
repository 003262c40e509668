"""usage_records.request_id as text: a long request id never fails the record of a publish.

The column was varchar(200); the record of a YouTube publish wrote its reference there (the
session URI plus what follows the upload), which PostgreSQL refused, and the refusal surfaced as
a failed publish. The record now stores the request id, and the column takes any length.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.alter_column(
            "request_id", type_=sa.Text(), existing_type=sa.String(200), existing_nullable=True
        )


def downgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.alter_column(
            "request_id", type_=sa.String(200), existing_type=sa.Text(), existing_nullable=True
        )
