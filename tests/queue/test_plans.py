"""The claim and the listings read an index in their own order at depth, on both databases.

100,000 jobs (most finished, 10,000 waiting, a few running and a few scheduled for later) are
enough for a sort of every waiting job to show in the plan. The statements checked are the ones the
store really sends (captured from the engine), explained with their real parameters.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.pool import NullPool

from multipublish.platforms.base import PublishResult, PublishStatus
from multipublish.queue import QueuedPublishConfig
from multipublish.queue.store import Claim, JobStore
from tests.queue.conftest import T0, queue_settings

N_JOBS = 100_000


def _fill(engine: Engine) -> None:
    """Generate the rows inside the database (fast on both): 1 in 10 waiting, the rest done.

    The running jobs all belong to ``acct2`` and all post to tiktok, so with caps of one the claim
    takes its capped shapes (accounts and platforms excluded) and still has jobs to choose from.
    """
    pg = engine.dialect.name == "postgresql"
    ts = "TIMESTAMPTZ '2030-01-01 11:00:00+00'" if pg else "'2030-01-01 11:00:00.000000'"
    later = "TIMESTAMPTZ '2030-01-02 11:00:00+00'" if pg else "'2030-01-02 11:00:00.000000'"
    series = (
        f"SELECT g AS n FROM generate_series(1, {N_JOBS}) AS g"
        if pg
        else "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s"
        f" WHERE n < {N_JOBS}) SELECT n FROM s"
    )
    status = (
        "CASE WHEN n % 10 = 0 THEN 'pending' WHEN n % 997 = 1 THEN 'scheduled'"
        " WHEN n % 7049 = 2 THEN 'processing' ELSE 'completed' END"
    )
    run_at = f"CASE WHEN n % 997 = 1 THEN {later} ELSE {ts} END"
    false = "false" if pg else "0"
    json = "::json" if pg else ""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO jobs (id, account_id, platforms, video_path, config, title, status,"
                " priority, run_at, attempts, max_retries, retry_delay, cancel_requested,"
                " locked_by, lease_expires_at, created_at, updated_at) "
                f"SELECT 'job' || n, 'acct' || (n % 7),"
                f" CASE WHEN n % 2 = 0 THEN '[\"tiktok\", \"youtube\"]' ELSE '[\"youtube\"]' END{json},"
                " '/v.mp4', '{}', '',"
                f" {status}, 1 + n % 10, {run_at}, 0, 3, 300, {false},"
                f" CASE WHEN n % 7049 = 2 THEN 'w-other' END, CASE WHEN n % 7049 = 2 THEN {later} END,"
                f" {ts}, {ts} FROM ({series}) AS src"
            )
        )
        for plat in ("tiktok", "youtube"):
            conn.execute(
                text(
                    "INSERT INTO job_results (job_id, platform, platform_name, status, success,"
                    " attempts, bytes_sent, updated_at) SELECT id, :p, :p,"
                    " CASE WHEN status = 'completed' THEN 'published' ELSE 'pending' END,"
                    f" status = 'completed', 0, 0, {ts} FROM jobs"
                    + (" WHERE seq % 2 = 0" if plat == "tiktok" else "")
                ),
                {"p": plat},
            )
        if pg:
            conn.execute(text("ANALYZE jobs"))
            conn.execute(text("ANALYZE job_results"))


@contextmanager
def _captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if not many:
            seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", grab)


def _plan(engine: Engine, statement: str, params: Any) -> list[str]:
    pg = engine.dialect.name == "postgresql"
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(("EXPLAIN " if pg else "EXPLAIN QUERY PLAN ") + statement, params)
        rows = cur.fetchall()
        raw.rollback()
    finally:
        raw.close()
    return [str(r[0]) if pg else str(r[3]) for r in rows]


def _generic_plan(engine: Engine, statement: str, params: dict[str, Any]) -> list[str]:
    """PostgreSQL's generic plan of ``statement`` (the plan a prepared statement keeps once the
    planner finds it no worse than a custom one), explained with its real parameters."""
    import psycopg

    names: list[str] = []

    def number(m: re.Match[str]) -> str:
        if m.group(1) not in names:
            names.append(m.group(1))
        return f"${names.index(m.group(1)) + 1}"

    sql = re.sub(r"%\((\w+)\)s", number, statement)
    raw = engine.raw_connection()
    try:
        cur = psycopg.ClientCursor(raw.driver_connection)  # type: ignore[arg-type]
        cur.execute("SET plan_cache_mode = force_generic_plan")
        cur.execute("PREPARE mp_plan_check AS " + sql)
        marks = ", ".join(["%s"] * len(names))
        cur.execute(f"EXPLAIN EXECUTE mp_plan_check({marks})", [params[n] for n in names])
        rows = cur.fetchall()
        cur.execute("DEALLOCATE mp_plan_check")
        cur.execute("RESET plan_cache_mode")
        raw.rollback()
    finally:
        raw.close()
    return [str(r[0]) for r in rows]


def _bad(engine: Engine, plan: list[str]) -> list[str]:
    if engine.dialect.name == "postgresql":
        return [line for line in plan if re.search(r"\bSort\b|Seq Scan on (jobs|job_results)\b", line)]
    return [
        line
        for line in plan
        if "TEMP B-TREE" in line or re.fullmatch(r"SCAN (jobs|job_results)", line.strip())
    ]


@pytest.fixture
def deep_store(engine: Engine) -> JobStore:
    _fill(engine)
    settings = queue_settings(account_concurrency=1, platform_concurrency={"tiktok": 1, "youtube": 50})
    return JobStore(engine, settings=settings, clock=lambda: T0)


MARKERS = {
    "claim candidates": "ORDER BY jobs.priority DESC, jobs.seq",
    "listing": "ORDER BY jobs.seq DESC",
    "next due time": "min(jobs.run_at)",
    # the claiming UPDATE (PostgreSQL: with the claimed jobs' results in the same statement)
    "claim": "attempts=(jobs.attempts +",
    # the finishing UPDATE whose WHERE is the lease fence (PostgreSQL: with the result's UPDATE)
    "fenced decision": "jobs.locked_by = ",
}


def test_claim_and_listing_plans_read_an_index_in_order(engine: Engine, deep_store: JobStore) -> None:
    store = deep_store
    with _captured(engine) as seen:
        # Running jobs fill the caps of every account and of tiktok: the claim's capped shapes.
        store.claim("w-plan", 3)
        store._next_recovery = None
        store.settings = queue_settings()
        store.claim("w-plan-2", 3)
        # Caps lifted: a job is claimed alone (the chained claim's shape), finished, and its slot
        # refilled in the same transaction.
        store.settings = queue_settings(account_concurrency=10_000, platform_concurrency={})
        claim = store.claim("w-plan-3", 1).claims[0]
        assert store.finish(claim, _published(claim), claim_next=1) is not None
        # Two at once: their fence and the claim that refills both slots look their ids up.
        pair = store.claim("w-plan-4", 2).claims
        assert len(pair) == 2
        items = [(c, _published(c), False, 1) for c in pair]
        assert all(o is not None for o in store.finish_many(items))
        store.list_jobs(status="pending", limit=50)
        store.list_jobs(status="failed", limit=50)
        store.list_jobs(account_id="acct3", limit=50)
        store.list_jobs(status="scheduled", account_id="acct3", limit=50)
        store.next_run_at()
    checked: dict[str, int] = dict.fromkeys(MARKERS, 0)
    by_ids = 0
    failures = []
    for statement, params in seen:
        if "json_each(" in statement or "= ANY (" in statement:
            # A statement over a list of ids must look each one up, never read the queue by status.
            by_ids += 1
            plan = _plan(engine, statement, params)
            if _not_by_id(engine, plan):
                failures.append(("by ids", statement, plan))
        kind = next((k for k, m in MARKERS.items() if m in statement), None)
        if kind is None or not statement.lstrip().upper().startswith(("SELECT", "UPDATE", "WITH")):
            continue
        checked[kind] += 1
        plan = _plan(engine, statement, params)
        if _bad(engine, plan):
            failures.append((kind, statement, plan))
        if kind == "claim candidates" and engine.dialect.name == "postgresql":
            # This one is a prepared statement that keeps its generic plan: check that plan too.
            plan = _generic_plan(engine, statement, params)
            if _bad(engine, plan) or not any("ix_jobs_claim_order" in line for line in plan):
                failures.append(("generic plan", statement, plan))
    assert failures == []
    assert checked["claim candidates"] >= 3 and checked["listing"] == 4 and checked["next due time"] == 1
    # PostgreSQL: the finish of one job is a function call (its plans: the test below).
    pg = engine.dialect.name == "postgresql"
    assert checked["claim"] >= 2 and checked["fenced decision"] == (0 if pg else 1)
    assert by_ids >= 3  # the batch claim, the batch fence and a batch's results


def _published(claim: Claim) -> dict[str, PublishResult]:
    return {t.key: PublishResult(t.key, True, PublishStatus.PUBLISHED, video_id="v") for t in claim.tasks}


def _not_by_id(engine: Engine, plan: list[str]) -> list[str]:
    """Plan lines that read jobs or results other than by their id (or a sort)."""
    if engine.dialect.name == "postgresql":
        return [
            line
            for line in plan
            if re.search(r"\bSort\b|Seq Scan on (jobs|job_results)\b", line)
            or re.search(r"Scan using (?!uq_jobs_id|pk_job_results)\w+ on (jobs|job_results)", line)
        ]
    return [
        line
        for line in plan
        if "TEMP B-TREE" in line
        or (
            re.match(r"(SCAN|SEARCH) (jobs|job_results)\b", line.strip())
            and not re.search(r"\((job_)?id=\?\)", line)
        )
    ]


def test_a_queue_never_analysed_gets_statistics_and_an_ordered_claim(engine: Engine) -> None:
    """PostgreSQL plans a table it never analysed as a few rows and sorts every waiting job on each
    claim; ``refresh_statistics`` (the housekeeper calls it every 10 s) analyses the queue's tables
    once they are far from what the planner knows, and then the claim reads its index in order."""
    store = JobStore(engine, settings=queue_settings(), clock=lambda: T0)
    if not store.is_pg:
        assert store.refresh_statistics() == []  # SQLite's queries pin their index
        return
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO jobs (id, account_id, platforms, video_path, config, title, status,"
                " priority, run_at, attempts, max_retries, retry_delay, cancel_requested,"
                " created_at, updated_at) SELECT 'job' || g, 'acct', '[\"tiktok\"]'::json, '/v.mp4',"
                " '{}', '', 'pending', 0, TIMESTAMPTZ '2030-01-01 11:00:00+00', 0, 3, 300, false,"
                " now(), now() FROM generate_series(1, 5000) AS g"
            )
        )
    engine.dispose()  # the inserting session's counters reach pg_stat when it ends
    analysed: list[str] = []
    for _ in range(100):  # the statistics collector may take a moment
        analysed = store.refresh_statistics()
        if analysed:
            break
        time.sleep(0.1)
    assert "jobs" in analysed
    assert store.refresh_statistics() == []  # fresh now: nothing more to do
    with _captured(engine) as seen:
        store.claim("w-fresh", 1)
    plans = [_plan(engine, st, p) for st, p in seen if MARKERS["claim candidates"] in st]
    assert plans and all(_bad(engine, plan) == [] for plan in plans)


def test_a_queue_table_left_mostly_dead_is_vacuumed(engine: Engine) -> None:
    """With autovacuum off (or behind a fast queue) every finished job's dead row versions stay,
    and each claim's index scan reads them again; ``refresh_statistics`` vacuums such a table,
    and not again within the minute."""
    store = JobStore(engine, settings=queue_settings(), clock=lambda: T0)
    if not store.is_pg:
        pytest.skip("SQLite reuses deleted rows' space: nothing stays behind to vacuum")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO jobs (id, account_id, platforms, video_path, config, title, status,"
                " priority, run_at, attempts, max_retries, retry_delay, cancel_requested,"
                " created_at, updated_at) SELECT 'dead' || g, 'acct', '[\"tiktok\"]'::json, '/v.mp4',"
                " '{}', '', 'completed', 0, now(), 0, 3, 300, false, now(), now()"
                " FROM generate_series(1, 3000) AS g"
            )
        )
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM jobs WHERE id LIKE 'dead%'"))
    engine.dispose()  # the deleting session's counters reach pg_stat when it ends
    done: list[str] = []
    for _ in range(100):  # the statistics may take a moment
        done = store.refresh_statistics()
        if "vacuum jobs" in done:
            break
        time.sleep(0.1)
    assert "vacuum jobs" in done
    with engine.connect() as conn:
        dead = conn.execute(
            text("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'jobs'")
        ).scalar_one()
    assert dead < 1000
    assert "vacuum jobs" not in store.refresh_statistics()


def _explaining(url: Any, extra: str) -> tuple[Engine, list[str]]:
    """An engine whose sessions explain every statement, nested ones included (``auto_explain``),
    and the list their plans arrive in (as notices)."""
    options = (
        "-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0"
        f" -c auto_explain.log_nested_statements=on -c client_min_messages=log {extra}"
    )
    explained = create_engine(url, connect_args={"options": options}, poolclass=NullPool)
    notices: list[str] = []

    @event.listens_for(explained, "connect")
    def _listen(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.add_notice_handler(lambda diag: notices.append(str(diag.message_primary)))

    return explained, notices


def test_the_finish_and_claim_function_reads_indexes_at_depth(engine: Engine, deep_store: JobStore) -> None:
    """PostgreSQL: every statement inside ``mp_finish_many_and_claim`` (a worker's finish and its next
    claim, migration 0018) reads an index at depth, shown by ``auto_explain`` with the plans the
    function really ran, generic ones included (the plans PL/pgSQL keeps)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL function")
    explained, notices = _explaining(engine.url, "-c plan_cache_mode=force_generic_plan")
    try:
        lifted = queue_settings(account_concurrency=10_000, platform_concurrency={})
        # The deep store's caps exclude every waiting job (the capped shape claims nothing), then
        # without caps the next job is claimed.
        for caps, taken in ((deep_store.settings, 0), (lifted, 1)):
            store = JobStore(explained, settings=lifted, clock=lambda: T0)
            claim = store.claim("w-fn", 1).claims[0]
            store.settings = caps
            notices.clear()
            outcome = store.finish(claim, _published(claim), claim_next=1)
            assert outcome is not None and len(outcome.next_claims) == taken
            plans = [n for n in notices if "Query Text" in n]
            inner = [p for p in plans if "mp_finish_many_and_claim" not in p.split("\n", 2)[1]]
            assert len(inner) >= 6, plans  # the fence, results, lock, in flight, candidates, claim
            # (The claim orders the few jobs it took as they were picked: a sort of those only.)
            # A sort is allowed only of rows looked up by id (one job's results, the jobs just
            # claimed), never of the queue.
            bad = [
                p
                for p in inner
                if re.search(r"Seq Scan on (jobs|job_results)\b", p)
                or (
                    re.search(r"\bSort\b", p)
                    and re.search(r"Scan using (?!uq_jobs_id|pk_job_results)\w+ on (jobs|job_results)", p)
                )
            ]
            assert bad == [], "\n\n".join(bad)
            candidates = [p for p in inner if "ORDER BY j.priority DESC" in p]
            assert candidates and all("ix_jobs_claim_order" in p for p in candidates), candidates
    finally:
        explained.dispose()


def test_claims_read_by_index_on_a_database_never_analysed(pg_url: str) -> None:
    """PostgreSQL: on a new database (no statistics yet) with jobs waiting, each chained claim of
    ``mp_finish_many_and_claim`` reads its jobs by id and their results by index, and so does the
    dispatcher's claim of several. Their plans had scanned the whole waiting index filtering by id
    (the status test matched the partial index's predicate) and, with that fixed, the function's
    hashed all of ``job_results`` (migration 0019)."""
    url = pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
    explained, notices = _explaining(url, "-c auto_explain.log_analyze=on")
    try:
        lifted = queue_settings(account_concurrency=10_000, platform_concurrency={})
        store = JobStore(explained, settings=lifted, clock=lambda: T0)
        for i in range(400):
            store.add(f"j{i:03d}", QueuedPublishConfig(
                account_id=f"a{i % 7}", platforms=["tiktok", "youtube"], video_path="/v.mp4"))
        with explained.connect() as conn:
            assert conn.execute(text(
                "SELECT coalesce(max(last_analyze), max(last_autoanalyze)) FROM pg_stat_user_tables"
                " WHERE relname IN ('jobs', 'job_results')")).scalar() is None
        claim: Claim | None = store.claim("w", 1).claims[0]
        notices.clear()
        done = 0
        while claim is not None and done < 40:
            outcome = store.finish(claim, _published(claim), claim_next=1)
            assert outcome is not None
            claim = outcome.next_claims[0] if outcome.next_claims else None
            done += 1
        assert done == 40
        inner = [n for n in notices if "Query Text" in n and "mp_finish_many_and_claim(" not in n]
        claims = [p for p in inner if "WITH claimed AS" in p]
        assert len(claims) == 40, len(claims)
        bad = [
            p for p in inner
            if re.search(r"Seq Scan on (jobs|job_results)\b|Hash (Right |Left |Anti )?Join|Merge", p)
        ]
        assert bad == [], "\n\n".join(bad[:3])
        for plan in claims:
            cte = plan.split("CTE claimed", 1)[1].split("Nested Loop")[0]  # the UPDATE's own scan
            assert cte.split("->  ", 2)[2].startswith("Index Scan using uq_jobs_id on jobs"), plan
            assert "Rows Removed by Filter" not in cte, plan
        # The dispatcher's claim of several jobs (the transaction, not the function) alike.
        notices.clear()
        for _ in range(10):
            assert len(store.claim("w2", 8).claims) == 8
        claims = [n for n in notices if "WITH claimed AS" in n]
        assert len(claims) == 10, len(claims)
        for plan in claims:
            cte = plan.split("CTE claimed", 1)[1].split("CTE Scan")[0]
            assert re.search(r"Index Scan (using|on) uq_jobs_id", cte), plan
            assert not re.search(r"Rows Removed by Filter|Seq Scan|Hash", plan), plan
    finally:
        explained.dispose()
