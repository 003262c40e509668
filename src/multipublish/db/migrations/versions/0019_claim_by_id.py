"""PostgreSQL: the function's claim looks the picked jobs up by id, whatever the statistics say.

``mp_finish_many_and_claim`` (migration 0018) claimed with ``WHERE j.id = ANY (v_picked) AND
j.status IN ('pending', 'scheduled', 'retrying')``. The status test is the predicate of the
partial indexes on waiting jobs, so the planner may read one of those whole and filter by id. Its
generic plan (the function forces one) estimates ten rows for ``= ANY`` of an array parameter
through ``uq_jobs_id``; while the statistics say the waiting jobs are few (a new database, a burst
of jobs since the last ``ANALYZE``) a whole waiting index looks cheaper. Measured on a new
database with 1,000 jobs enqueued: 993 of 1,000 chained claims read ``ix_jobs_claim_order`` and
fetched every waiting job's row to test its id, so each claim cost time in proportion to the queue.

The status test is redundant there: the candidates' cursor (``FOR UPDATE SKIP LOCKED``, in the same
call) returned only waiting jobs, each locked, its row re-read under the lock, so nothing can have
changed them since. Without it no partial index applies and the jobs are read by id.

With the jobs read by id, the same new database's plan joined their results by hashing the whole
``job_results`` table (a sequential scan per claim), for the same reason: ten rows estimated, a
table believed small. Every statement of the function reads a few rows through an index, and a
queue's row counts swing from none to millions between two ``ANALYZE``: the function now also
turns off sequential scans, hash joins and merge joins (as 0018 turned off bitmap scans), so its
plans are nested loops over index lookups whatever the statistics say.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from alembic import op

from multipublish.db.migrations.earlier import earlier_migration

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


OLD = earlier_migration("0018_finish_many_and_claim.py")
BEFORE = "WHERE j.id = ANY (v_picked) AND j.status IN ('pending', 'scheduled', 'retrying')"
AFTER = "WHERE j.id = ANY (v_picked)  -- locked by the cursor: still waiting (migration 0019)"
assert OLD.FUNCTION.count(BEFORE) == 1
SETTINGS = "SET enable_bitmapscan = off\n"
INDEX_ONLY = "SET enable_seqscan = off\nSET enable_hashjoin = off\nSET enable_mergejoin = off\n"
assert OLD.FUNCTION.count(SETTINGS) == 1
FUNCTION = (
    OLD.FUNCTION.replace(BEFORE, AFTER)
    .replace(SETTINGS, SETTINGS + INDEX_ONLY)
    .replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The function as 0018 wrote it: CREATE OR REPLACE takes the settings it lists, and only those.
        op.execute(OLD.FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
