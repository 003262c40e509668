"""PostgreSQL: several jobs' finish and the claim that refills their slots as one function call.

``mp_finish_many_and_claim`` replaces migration 0016's ``mp_finish_and_claim`` (one job): jobs
that end together (a worker's group commit at concurrency 8 and more) took a transaction of six
commands (BEGIN, the fences' locking read with the claim's lock, the decisions and results, the
candidates, the claim, COMMIT); one job is now a batch of one. The jobs come as one JSON array,
each with the columns its decision writes, its results, webhook messages and wake-up, as
``JobStore`` planned them (``p_worker`` claims the refills). The fences are one locking read in
id order (as every batch locks); a job whose fence fails is answered ``lost`` and nothing of it
is written; a fenced job whose row says a cancel was asked for after the plan makes the whole
call write nothing and answer ``replan``. The claim after the finish is 0016's, reading up to
256 candidates instead of 64.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from alembic import op

from multipublish.db.migrations.earlier import earlier_migration

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


OLD = earlier_migration("0016_finish_and_claim.py")
#: The claim reads at most 256 candidates (0016's read 64): a batch of up to 63 freed slots
#: (``4 * want + 4``, rounded up to a power of two) fits.
CLAIM = OLD.CLAIM.replace("LIMIT 64 FOR UPDATE", "LIMIT 256 FOR UPDATE")
assert CLAIM.count("LIMIT 256 FOR UPDATE") == 4
#: An outcome row: the finishing job's id where a claimed job's id goes, the rest NULL.
AFTER_ID = OLD.EMPTY.split(", ", 1)[1]

FUNCTION = f"""
CREATE FUNCTION mp_finish_many_and_claim(
    p_jobs json, p_worker text, p_now timestamptz, p_lease_until timestamptz, p_channel text,
    p_caps jsonb, p_account_cap integer, p_final text[]
) RETURNS TABLE ({OLD.RESULT}) LANGUAGE plpgsql VOLATILE
-- As 0016's: generic plans, plain index scans.
SET plan_cache_mode = force_generic_plan
SET enable_bitmapscan = off
AS $fn$
DECLARE
{OLD.DECLARE}    v_ids text[];
    v_held text[];
    v_stale integer;
    p_want integer;
    p_scan integer;
BEGIN
    v_ids := ARRAY(SELECT d.id FROM json_to_recordset(p_jobs) AS d(id text));
    -- The fences: the jobs' rows locked in id order (looked up by id, as the transaction's
    -- fence does), then those this worker still holds.
    SELECT coalesce(array_agg(f.id) FILTER (WHERE f.held), '{{}}'),
        count(*) FILTER (WHERE f.held AND f.stale)
    INTO v_held, v_stale
    FROM (
        SELECT j.id::text AS id, j.cancel_requested AND NOT d.known AS stale,
            coalesce(j.locked_by = d.worker AND j.attempts = d.attempt
                AND j.status = 'processing', false) AS held
        FROM jobs AS j
        JOIN json_to_recordset(p_jobs) AS d(id text, worker text, attempt integer, known boolean)
            ON j.id = d.id
        WHERE j.id = ANY (v_ids)
        ORDER BY j.id
        FOR UPDATE OF j
    ) AS f;
    IF v_stale > 0 THEN
        RETURN QUERY SELECT 'replan', NULL::boolean, {OLD.EMPTY};
        RETURN;
    END IF;

    UPDATE jobs AS j SET status = d.status, run_at = d.run_at, attempts = d.attempts,
        completed_at = d.completed, error_message = d.errmsg, wait_reason = d.wait,
        locked_by = NULL, lease_expires_at = NULL, updated_at = p_now
    FROM json_to_recordset(p_jobs) AS d(id text, status text, run_at timestamptz,
        attempts integer, completed timestamptz, errmsg text, wait text)
    WHERE j.id = ANY (v_held) AND j.id = d.id;
{OLD.WRITE_RESULTS}    FROM (
        SELECT d.id, x.* FROM json_to_recordset(p_jobs) AS d(id text, results json)
        CROSS JOIN LATERAL json_to_recordset(d.results) AS x(platform text, status text,
            success boolean, error text, kind text, bytes bigint, details json, vid text,
            url text, ref text, rid text, published boolean)
    ) AS w
    WHERE r.job_id = ANY (v_held) AND r.job_id = w.id AND r.platform = w.platform;
    INSERT INTO webhook_messages (id, job_id, account_id, event, url, payload, status, attempts,
        next_attempt_at, created_at, updated_at)
    SELECT h.id, d.id, h.account_id, h.event, h.url, h.payload, 'pending', 0, p_now, p_now, p_now
    FROM json_to_recordset(p_jobs) AS d(id text, hooks json)
    CROSS JOIN LATERAL json_to_recordset(coalesce(d.hooks, '[]')) AS h(id text,
        account_id text, event text, url text, payload json)
    WHERE d.id = ANY (v_held);
    PERFORM pg_notify(p_channel, d.notify)
    FROM json_to_recordset(p_jobs) AS d(id text, notify text)
    WHERE d.id = ANY (v_held) AND d.notify IS NOT NULL;

    RETURN QUERY SELECT CASE WHEN d.id = ANY (v_held) THEN 'done' ELSE 'lost' END,
        NULL::boolean, d.id::varchar, {AFTER_ID}
    FROM json_to_recordset(p_jobs) AS d(id text);
    SELECT coalesce(sum(d.want), 0) INTO p_want
    FROM json_to_recordset(p_jobs) AS d(id text, want integer) WHERE d.id = ANY (v_held);
    IF p_want <= 0 THEN
        RETURN;
    END IF;
    -- The candidates the transaction reads: 4 * want + 4, rounded up to a power of two (at
    -- least 8), as ``queue/store.py``'s ``_pg_candidates`` writes its LIMIT.
    p_scan := 8;
    WHILE p_scan < 4 * p_want + 4 LOOP
        p_scan := p_scan * 2;
    END LOOP;

{CLAIM}END
$fn$
"""
OLD_SIGNATURE = (
    "mp_finish_and_claim(text, text, integer, timestamptz, boolean, text, timestamptz, integer,"
    " timestamptz, text, text, json, json, text, text, integer, integer, timestamptz, jsonb,"
    " integer, text[])"
)
SIGNATURE = "mp_finish_many_and_claim(json, text, timestamptz, timestamptz, text, jsonb, integer, text[])"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {OLD_SIGNATURE}")
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
        op.execute(OLD.FUNCTION)
