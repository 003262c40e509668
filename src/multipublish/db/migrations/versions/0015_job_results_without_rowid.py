"""SQLite: ``job_results`` is a ``WITHOUT ROWID`` table, stored in the order of its key.

Every result is read and written by (job_id, platform). As a rowid table that key was a second
b-tree beside the table, so each enqueue wrote two pages for a result and each lookup read both;
clustered on the key it is one. PostgreSQL has no such choice (nothing changes there).

The table is rebuilt as SQLite requires: its counter triggers (migration 0008) are kept as
written and created again on the new table.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import re

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _rebuild(with_rowid: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    ddl = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'job_results'"
    ).scalar_one()
    triggers = bind.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'job_results'"
    ).all()
    indexes = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'job_results'"
        " AND sql IS NOT NULL"
    ).all()
    body = ddl.rstrip()
    if body.upper().endswith("WITHOUT ROWID"):
        body = body[: -len("WITHOUT ROWID")].rstrip()
    # After a rename SQLite keeps the name quoted in the stored statement.
    new, found = re.subn(r'^CREATE TABLE\s+("?)job_results\1', "CREATE TABLE job_results_rebuilt", body)
    if found != 1:
        raise RuntimeError(f"unexpected job_results definition: {body[:80]}")
    if not with_rowid:
        new += " WITHOUT ROWID"
    for name, _ in triggers:  # dropped first: moving the rows must not move the counters
        op.execute(f'DROP TRIGGER "{name}"')
    op.execute(new)
    op.execute("INSERT INTO job_results_rebuilt SELECT * FROM job_results")
    op.execute("DROP TABLE job_results")
    op.execute("ALTER TABLE job_results_rebuilt RENAME TO job_results")
    for (sql,) in indexes:
        op.execute(sql)
    for _, sql in triggers:
        op.execute(sql)


def upgrade() -> None:
    _rebuild(with_rowid=False)


def downgrade() -> None:
    _rebuild(with_rowid=True)
