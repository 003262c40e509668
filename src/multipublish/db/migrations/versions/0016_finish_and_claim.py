"""PostgreSQL: a worker's finish of one job and its next claim as one function call.

A worker at one job in flight used to send five commands per job (BEGIN, the finishing write
that also takes the claim's lock, the candidates, the claim, COMMIT), and each round trip cost
140-200 us on loopback, a third of the job. ``mp_finish_and_claim`` does the same work in one
statement run in autocommit: the fenced decision, the job's result rows, its webhook messages
and wake-up, then the claim's lock, the uploads in flight, the caps, the candidates and the
claim. What to decide stays in Python (``queue/policy.py``): the function gets the columns to
write, the caps and the final error kinds as parameters, and only carries them out.

Each statement in a PL/pgSQL function (``VOLATILE``, read committed) takes a new snapshot, so
the candidates and the uploads in flight are read after the lock is held, as in the
transaction this replaces. A row that says a cancel was asked for after the plan was made
writes nothing and answers ``replan`` (the store then runs the transaction as before); a lost
lease writes nothing and answers ``lost``.

SQLite has no stored functions and no round trips: nothing changes there.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

#: The function's rows: what happened to the finishing job, then one row per claimed job and
#: result (a claimed job with no result rows has one row with a NULL ``r_platform``; nothing
#: claimed: one row with a NULL ``id``). The names are prefixed: PL/pgSQL would otherwise
#: confuse them with the tables' columns.
RESULT = """
    o_outcome text, o_cancel boolean,
    o_id varchar, o_account_id varchar, o_platforms json, o_video_path text, o_config json,
    o_title varchar, o_priority integer, o_scheduled_time timestamptz, o_attempts integer,
    o_max_retries integer, o_retry_delay double precision, o_webhook_url text,
    o_callback_data json, o_error_message text, o_created_at timestamptz,
    o_started_at timestamptz, o_completed_at timestamptz, o_run_at timestamptz,
    o_cancel_requested boolean,
    r_platform varchar, r_status varchar, r_success boolean, r_video_id varchar, r_url text,
    r_error text, r_error_kind varchar, r_attempts integer, r_request_id varchar,
    r_reference text, r_bytes_sent bigint, r_details json, r_updated_at timestamptz,
    r_published_at timestamptz, r_phase varchar, r_progress double precision
"""
#: The row of an answer without a claimed job (typed: ``RETURN QUERY`` checks the types).
EMPTY = ", ".join(f"NULL::{col.split(maxsplit=1)[1]}" for col in RESULT.split(",")[2:])



def _candidates(by_account: bool, by_platform: bool) -> str:
    sql = (
        "SELECT j.id, j.account_id FROM jobs AS j"
        " WHERE j.status IN ('pending', 'scheduled', 'retrying') AND j.run_at <= p_now"
    )
    if by_account:
        sql += " AND j.account_id <> ALL (v_full_accts)"
    if by_platform:
        sql += (
            " AND NOT EXISTS (SELECT 1 FROM job_results AS r WHERE r.job_id = j.id"
            " AND r.platform_name = ANY (v_full_plats) AND r.status <> 'published')"
        )
    return sql + " ORDER BY j.priority DESC, j.seq LIMIT 64 FOR UPDATE OF j SKIP LOCKED"


CANDIDATES = {(a, p): _candidates(a, p) for a in (False, True) for p in (False, True)}

#: A result row written from the JSON of one result (``w``), as ``JobStore._prepare`` made it.
WRITE_RESULTS = """\
    UPDATE job_results AS r SET status = w.status, success = w.success, error = w.error,
        error_kind = w.kind, bytes_sent = w.bytes, details = w.details, updated_at = p_now,
        video_id = coalesce(w.vid, r.video_id), url = coalesce(w.url, r.url),
        reference = coalesce(w.ref, r.reference), request_id = coalesce(w.rid, r.request_id),
        published_at = CASE WHEN w.published THEN p_now ELSE r.published_at END,
        attempts = r.attempts + 1, phase = NULL
"""
#: The variables of the claim (and of the finish before it).
DECLARE = """    v_cancel boolean;
    v_plat jsonb;
    v_acct jsonb;
    v_full_plats text[];
    v_full_accts text[];
    v_picked text[] := '{}';
    v_scanned integer := 0;
    v_fits boolean;
    v_n integer;
    v_used integer;
    c record;
    v_cur refcursor;
    v_add jsonb;
"""
#: The claim after the finish, given ``p_want`` and ``p_scan`` (migration 0018 reuses it).
CLAIM = f"""    -- The claim: one claimer at a time, so the caps count what is really in flight.
    PERFORM 1 FROM queue_state WHERE id = 1 FOR UPDATE;
    SELECT coalesce(jsonb_object_agg(u.platform_name, u.n)
                FILTER (WHERE u.platform_name IS NOT NULL), '{{}}'),
           coalesce(jsonb_object_agg(u.account_id, u.n)
                FILTER (WHERE u.account_id IS NOT NULL), '{{}}')
    INTO v_plat, v_acct
    FROM (
        SELECT r.platform_name, j.account_id, count(*) AS n
        FROM job_results AS r JOIN jobs AS j ON j.id = r.job_id
        WHERE j.status = 'processing' AND r.status <> 'published'
            AND NOT (r.status = 'failed' AND coalesce(r.error_kind, '') = ANY (p_final))
        GROUP BY GROUPING SETS ((r.platform_name), (j.account_id))
    ) AS u;
    SELECT array_agg(e.key) INTO v_full_plats FROM jsonb_each_text(v_plat) AS e
    WHERE e.value::integer >= coalesce((p_caps ->> e.key)::integer, 1073741824);
    SELECT array_agg(e.key) INTO v_full_accts FROM jsonb_each_text(v_acct) AS e
    WHERE e.value::integer >= p_account_cap;

    -- The candidates in claim order (``ix_jobs_claim_order``), without the jobs a full cap
    -- excludes: one static query per shape, each with its own cached plan (an ``IS NULL OR``
    -- would make one generic plan hash every result row), and a constant LIMIT so that plan
    -- reads the index in order.
    IF v_full_accts IS NULL AND v_full_plats IS NULL THEN
        OPEN v_cur FOR {CANDIDATES[False, False]};
    ELSIF v_full_plats IS NULL THEN
        OPEN v_cur FOR {CANDIDATES[True, False]};
    ELSIF v_full_accts IS NULL THEN
        OPEN v_cur FOR {CANDIDATES[False, True]};
    ELSE
        OPEN v_cur FOR {CANDIDATES[True, True]};
    END IF;
    LOOP
        FETCH v_cur INTO c;
        EXIT WHEN NOT FOUND OR v_scanned >= p_scan;
        v_scanned := v_scanned + 1;
        -- A job fits when each of its caps is free or has room for all of it (its platforms
        -- counted from its result rows, one per platform, named as the caps name them).
        SELECT coalesce(sum(g.n), 0)::integer,
            coalesce(bool_and(coalesce((v_plat ->> g.name)::integer, 0) = 0
                OR coalesce((v_plat ->> g.name)::integer, 0) + g.n
                    <= coalesce((p_caps ->> g.name)::integer, 1073741824)), true),
            coalesce(jsonb_object_agg(g.name, coalesce((v_plat ->> g.name)::integer, 0) + g.n),
                '{{}}')
        INTO v_n, v_fits, v_add
        FROM (SELECT r.platform_name AS name, count(*)::integer AS n FROM job_results AS r
              WHERE r.job_id = c.id GROUP BY r.platform_name) AS g;
        v_used := coalesce((v_acct ->> c.account_id)::integer, 0);
        CONTINUE WHEN NOT (v_fits AND (v_used = 0 OR v_used + v_n <= p_account_cap));
        v_acct := v_acct || jsonb_build_object(c.account_id, v_used + v_n);
        v_plat := v_plat || v_add;
        v_picked := v_picked || c.id::text;
        EXIT WHEN cardinality(v_picked) >= p_want;
    END LOOP;
    CLOSE v_cur;

    RETURN QUERY
    WITH claimed AS (
        UPDATE jobs AS j SET status = 'processing', locked_by = p_worker,
            lease_expires_at = p_lease_until, attempts = j.attempts + 1,
            started_at = coalesce(j.started_at, p_now), wait_reason = NULL, updated_at = p_now
        WHERE j.id = ANY (v_picked) AND j.status IN ('pending', 'scheduled', 'retrying')
        RETURNING j.id, j.account_id, j.platforms, j.video_path, j.config, j.title, j.priority,
            j.scheduled_time, j.attempts, j.max_retries, j.retry_delay, j.webhook_url,
            j.callback_data, j.error_message, j.created_at, j.started_at, j.completed_at,
            j.run_at, j.cancel_requested
    )
    SELECT 'ok', v_cancel, claimed.*, r.platform, r.status, r.success, r.video_id, r.url,
        r.error, r.error_kind, r.attempts, r.request_id, r.reference, r.bytes_sent, r.details,
        r.updated_at, r.published_at, r.phase, r.progress
    FROM claimed LEFT JOIN job_results AS r ON r.job_id = claimed.id
    ORDER BY array_position(v_picked, claimed.id::text);
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'ok', v_cancel, {EMPTY};
    END IF;
"""

FUNCTION = f"""
CREATE FUNCTION mp_finish_and_claim(
    p_job text, p_worker text, p_attempt integer, p_now timestamptz, p_cancel_known boolean,
    p_status text, p_run_at timestamptz, p_attempts integer, p_completed timestamptz,
    p_errmsg text, p_wait text, p_results json, p_hooks json, p_channel text, p_notify text,
    p_want integer, p_scan integer, p_lease_until timestamptz, p_caps jsonb,
    p_account_cap integer, p_final text[]
) RETURNS TABLE ({RESULT}) LANGUAGE plpgsql VOLATILE
-- Every statement keeps one generic plan: planning them anew on each call (the planner's
-- choice for several of them) took longer than running them.
SET plan_cache_mode = force_generic_plan
-- Plain index scans only. Every job passes through ``ix_jobs_processing``, whose entries stay
-- until a vacuum; a plain scan marks those of finished jobs dead and skips them from then on,
-- where a bitmap scan (the planner's choice for the uploads in flight) visited every one's
-- heap page on every claim: 9,000 entries, 0.4-0.7 ms per job, after one drain of 10,000.
SET enable_bitmapscan = off
AS $fn$
DECLARE
{DECLARE}BEGIN
    -- The decision, fenced: still this worker's, this attempt, still processing; and no cancel
    -- asked for that the plan did not know of.
    UPDATE jobs SET status = p_status, run_at = p_run_at, attempts = p_attempts,
        completed_at = p_completed, error_message = p_errmsg, wait_reason = p_wait,
        locked_by = NULL, lease_expires_at = NULL, updated_at = p_now
    WHERE id = p_job AND locked_by = p_worker AND attempts = p_attempt
        AND status = 'processing' AND (p_cancel_known OR NOT cancel_requested)
    RETURNING cancel_requested INTO v_cancel;
    IF NOT FOUND THEN
        RETURN QUERY SELECT CASE WHEN EXISTS (
            SELECT 1 FROM jobs WHERE id = p_job AND locked_by = p_worker
                AND attempts = p_attempt AND status = 'processing'
        ) THEN 'replan' ELSE 'lost' END, NULL::boolean, {EMPTY};
        RETURN;
    END IF;
    -- Its results (the columns ``JobStore._prepare`` computed, as a JSON array).
{WRITE_RESULTS}    FROM json_to_recordset(p_results) AS w(platform text, status text, success boolean,
        error text, kind text, bytes bigint, details json, vid text, url text, ref text,
        rid text, published boolean)
    WHERE r.job_id = p_job AND r.platform = w.platform;
    IF p_hooks IS NOT NULL THEN
        INSERT INTO webhook_messages (id, job_id, account_id, event, url, payload, status,
            attempts, next_attempt_at, created_at, updated_at)
        SELECT h.id, p_job, h.account_id, h.event, h.url, h.payload, 'pending', 0, p_now,
            p_now, p_now
        FROM json_to_recordset(p_hooks) AS h(id text, account_id text, event text, url text,
            payload json);
    END IF;
    IF p_notify IS NOT NULL THEN
        PERFORM pg_notify(p_channel, p_notify);
    END IF;
    IF p_want <= 0 THEN
        RETURN QUERY SELECT 'ok', v_cancel, {EMPTY};
        RETURN;
    END IF;

{CLAIM}END
$fn$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION mp_finish_and_claim(text, text, integer, timestamptz, boolean, text,"
            " timestamptz, integer, timestamptz, text, text, json, json, text, text, integer,"
            " integer, timestamptz, jsonb, integer, text[])"
        )
