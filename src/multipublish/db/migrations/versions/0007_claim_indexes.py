"""Indexes whose order is the order of the claim and of the job listings.

The claim reads waiting jobs by (priority DESC, seq); ``run_at`` is carried in the index so the
"due yet?" test needs no table lookup for jobs that are not due. The listings read one status or
one account newest first, so those indexes end with ``seq``. The old (status, priority, seq) index
made SQLite sort every waiting job on each claim; ``ix_jobs_run_at`` (all rows) served no query.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

WAITING = "status IN ('pending', 'scheduled', 'retrying')"


def upgrade() -> None:
    op.drop_index("ix_jobs_waiting", table_name="jobs")
    op.drop_index("ix_jobs_claim", table_name="jobs")
    op.drop_index("ix_jobs_run_at", table_name="jobs")
    op.drop_index("ix_jobs_account_id", table_name="jobs")
    op.create_index(
        "ix_jobs_claim_order",
        "jobs",
        [sa.text("priority DESC"), "seq", "run_at"],
        postgresql_where=sa.text(WAITING),
        sqlite_where=sa.text(WAITING),
    )
    op.create_index("ix_jobs_status_seq", "jobs", ["status", "seq"])
    op.create_index("ix_jobs_account_seq", "jobs", ["account_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_jobs_account_seq", table_name="jobs")
    op.drop_index("ix_jobs_status_seq", table_name="jobs")
    op.drop_index("ix_jobs_claim_order", table_name="jobs")
    op.create_index("ix_jobs_account_id", "jobs", ["account_id"])
    op.create_index("ix_jobs_run_at", "jobs", ["run_at"])
    op.create_index("ix_jobs_claim", "jobs", ["status", "priority", "seq"])
    op.create_index(
        "ix_jobs_waiting",
        "jobs",
        [sa.text("priority DESC"), "seq"],
        postgresql_where=sa.text(WAITING),
        sqlite_where=sa.text(WAITING),
    )
