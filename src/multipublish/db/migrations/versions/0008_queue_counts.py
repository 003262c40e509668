"""Queue statistics as counters that move in the same transaction as the rows they count.

Triggers on ``jobs``, ``jobs_archive`` and ``job_results`` add and subtract, so no code path can
forget them and ``get_queue_stats()`` reads a table as small as the number of statuses, however
many jobs there are. On PostgreSQL each connection counts into its own rows (``shard`` is its
backend pid): concurrent workers never wait for one another on a hot counter row; the store folds
old shards into shard 0 (skipping rows in use). SQLite has one writer, so one shard.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: (trigger suffix, table, kind, platform expression)
COUNTED = (
    ("jobs", "jobs", "job", "''"),
    ("archive", "jobs_archive", "job", "''"),
    ("results", "job_results", "result", "{row}.platform_name"),
)
FILL = (
    "INSERT INTO queue_counts (kind, platform, status, shard, n) "
    "SELECT 'job', '', status, 0, sum(n) FROM ("
    " SELECT status, count(*) AS n FROM jobs GROUP BY status"
    " UNION ALL SELECT status, count(*) AS n FROM jobs_archive GROUP BY status) AS t GROUP BY status"
)
FILL_RESULTS = (
    "INSERT INTO queue_counts (kind, platform, status, shard, n) "
    "SELECT 'result', platform_name, status, 0, count(*) FROM job_results GROUP BY platform_name, status"
)


def _sqlite_upsert(kind: str, platform: str, row: str, delta: str) -> str:
    return (
        "INSERT INTO queue_counts (kind, platform, status, shard, n) "
        f"VALUES ('{kind}', {platform.format(row=row)}, {row}.status, 0, {delta}) "
        f"ON CONFLICT (kind, platform, status, shard) DO UPDATE SET n = n + ({delta});"
    )


def _pg_upsert(kind: str, platform: str, row: str, delta: str) -> str:
    return (
        "INSERT INTO queue_counts AS c (kind, platform, status, shard, n) "
        f"VALUES ('{kind}', {platform.format(row=row)}, {row}.status, pg_backend_pid(), {delta}) "
        f"ON CONFLICT (kind, platform, status, shard) DO UPDATE SET n = c.n + ({delta});"
    )


def upgrade() -> None:
    op.create_table(
        "queue_counts",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "platform", "status", "shard", name="pk_queue_counts"),
    )
    op.execute(FILL)
    op.execute(FILL_RESULTS)
    pg = op.get_bind().dialect.name == "postgresql"
    for suffix, table, kind, platform in COUNTED:
        if pg:
            # Inserts and deletes: one aggregated upsert per statement (a row trigger would update
            # one counter row once per row of a bulk insert, and PostgreSQL walks every version).
            op.execute(
                f"CREATE FUNCTION mp_count_{suffix}_bulk() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                "BEGIN\n"
                "  INSERT INTO queue_counts AS c (kind, platform, status, shard, n)\n"
                f"  SELECT '{kind}', {platform.format(row='moved')}, moved.status, pg_backend_pid(),\n"
                "         CASE WHEN TG_OP = 'INSERT' THEN count(*) ELSE -count(*) END\n"
                "  FROM moved GROUP BY 2, 3\n"
                "  ON CONFLICT (kind, platform, status, shard) DO UPDATE SET n = c.n + excluded.n;\n"
                "  RETURN NULL;\n"
                "END $$"
            )
            for event, which in (("INSERT", "NEW"), ("DELETE", "OLD")):
                op.execute(
                    f"CREATE TRIGGER mp_count_{suffix}_{event.lower()} AFTER {event} ON {table}"
                    f" REFERENCING {which} TABLE AS moved FOR EACH STATEMENT"
                    f" EXECUTE FUNCTION mp_count_{suffix}_bulk()"
                )
            # A change of status: a row trigger whose WHEN costs nothing when the status stays.
            op.execute(
                f"CREATE FUNCTION mp_count_{suffix}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                "BEGIN\n"
                f"  {_pg_upsert(kind, platform, 'OLD', '-1')}\n"
                f"  {_pg_upsert(kind, platform, 'NEW', '1')}\n"
                "  RETURN NULL;\n"
                "END $$"
            )
            op.execute(
                f"CREATE TRIGGER mp_count_{suffix}_status AFTER UPDATE OF status ON {table}"
                " FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)"
                f" EXECUTE FUNCTION mp_count_{suffix}()"
            )
        else:
            op.execute(
                f"CREATE TRIGGER mp_count_{suffix}_insert AFTER INSERT ON {table} BEGIN "
                f"{_sqlite_upsert(kind, platform, 'NEW', '1')} END"
            )
            op.execute(
                f"CREATE TRIGGER mp_count_{suffix}_delete AFTER DELETE ON {table} BEGIN "
                f"{_sqlite_upsert(kind, platform, 'OLD', '-1')} END"
            )
            op.execute(
                f"CREATE TRIGGER mp_count_{suffix}_status AFTER UPDATE OF status ON {table}"
                " WHEN OLD.status IS NOT NEW.status BEGIN "
                f"{_sqlite_upsert(kind, platform, 'OLD', '-1')} "
                f"{_sqlite_upsert(kind, platform, 'NEW', '1')} END"
            )


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    for suffix, table, _, _ in COUNTED:
        if pg:
            for what in ("insert", "delete", "status"):
                op.execute(f"DROP TRIGGER IF EXISTS mp_count_{suffix}_{what} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS mp_count_{suffix}()")
            op.execute(f"DROP FUNCTION IF EXISTS mp_count_{suffix}_bulk()")
        else:
            for what in ("insert", "delete", "status"):
                op.execute(f"DROP TRIGGER IF EXISTS mp_count_{suffix}_{what}")
    op.drop_table("queue_counts")
