"""The calendar's index holds only jobs with a time.

Most jobs are published at once and have no ``scheduled_time``; the full index still took an
entry (and a page write) for each of them on every enqueue. Every query on the column reads a
range of it, which implies ``IS NOT NULL``, so both planners use the partial index as before.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_jobs_scheduled_time", table_name="jobs")
    op.create_index(
        "ix_jobs_scheduled_time",
        "jobs",
        ["scheduled_time"],
        postgresql_where=sa.text("scheduled_time IS NOT NULL"),
        sqlite_where=sa.text("scheduled_time IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_scheduled_time", table_name="jobs")
    op.create_index("ix_jobs_scheduled_time", "jobs", ["scheduled_time"])
