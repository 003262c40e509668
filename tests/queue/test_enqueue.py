"""The enqueue's own statements (one on PostgreSQL, the driver's cursor on SQLite): what they store,
what they refuse, the counters and the wake-up, on both databases."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from multipublish.accounts import AccountStore
from multipublish.db import job_results, jobs, make_engine
from multipublish.db.retry import is_transient
from multipublish.errors import ConflictError
from multipublish.platforms.base import PublishConfig
from multipublish.queue import QueuedPublishConfig, QueueStatus
from multipublish.queue.schema import jobs_archive, queue_counts
from multipublish.queue.store import CHANNEL
from tests.api.helpers import UPLOAD_POST_CREDENTIALS, YOUTUBE_CREDENTIALS
from tests.queue.conftest import FakeClock, MakeQueue, queue_settings


def rich_config(**kw: Any) -> QueuedPublishConfig:
    return QueuedPublishConfig(
        account_id="acc",
        platforms=["tiktok", "instagram:stories", "youtube"],
        video_path="/videos/clip.mp4",
        config=PublishConfig(
            title="A title",
            description="Some words",
            tags=["a", "b"],
            platform_specific={"tiktok": {"privacy": "public", "nested": {"list": [1, 2]}}},
            localizations={"de": {"title": "Ein Titel", "description": "Worte"}},
        ),
        callback_data={"order": 7, "items": ["x"]},
        priority=8,
        max_retries=2,
        retry_delay=12.5,
        **kw,
    )


def totals(engine: Engine) -> tuple[int, int, int, int]:
    """Rows in jobs, job_results and the archive, and the counters' grand total."""
    with engine.connect() as conn:
        return (
            int(conn.execute(select(func.count()).select_from(jobs)).scalar_one()),
            int(conn.execute(select(func.count()).select_from(job_results)).scalar_one()),
            int(conn.execute(select(func.count()).select_from(jobs_archive)).scalar_one()),
            int(conn.execute(select(func.coalesce(func.sum(queue_counts.c.n), 0))).scalar_one()),
        )


def test_config_to_dict_is_asdict_with_an_iso_time() -> None:
    """Written field by field, so it must keep up with the dataclass: every field, copied deep."""
    c = rich_config(scheduled_time=None).config
    c.scheduled_time = FakeClock().now
    c.thumbnail_path, c.video_url, c.auto_fix = "/t.jpg", "https://example.org/v.mp4", True
    expected = asdict(c)
    expected["scheduled_time"] = c.scheduled_time.isoformat()
    data = c.to_dict()
    assert data == expected and list(data) == list(expected)
    assert PublishConfig.from_dict(data) == c
    data["platform_specific"]["tiktok"]["nested"]["list"].append(3)
    data["localizations"]["de"]["title"] = "changed"
    data["tags"].append("c")
    assert c.platform_specific["tiktok"]["nested"]["list"] == [1, 2]
    assert c.localizations["de"]["title"] == "Ein Titel" and c.tags == ["a", "b"]


async def test_what_is_returned_is_what_is_stored(make_queue: MakeQueue, clock: FakeClock) -> None:
    q = make_queue()
    for job_id, when in (("now", None), ("later", clock.now + timedelta(hours=2))):
        job = q.add_job(job_id, rich_config(scheduled_time=when))
        stored = q.get_job(job_id)
        assert stored.to_dict() == job.to_dict()
        assert stored.created_at == clock.now and stored.created_at.tzinfo is not None
        assert stored.status == (QueueStatus.SCHEDULED if when else QueueStatus.PENDING)
        assert stored.run_at == (when or clock.now)
        assert list(stored.results) == ["tiktok", "instagram:stories", "youtube"]
        assert {r["status"] for r in stored.results.values()} == {"pending"}
        assert stored.config.platform_specific["tiktok"]["nested"] == {"list": [1, 2]}
        assert stored.callback_data == {"order": 7, "items": ["x"]} and stored.retry_delay == 12.5
    assert q.store.stats() == q.store.recount_stats()


async def test_an_archived_id_is_refused_and_nothing_is_written(
    make_queue: MakeQueue, clock: FakeClock, engine: Engine
) -> None:
    q = make_queue(job_retention_seconds=60)
    q.add_job("old", rich_config())
    [done] = await q.run_until_empty()
    q.add_job("live", rich_config())  # waiting: stays in the hot table
    clock.advance(61)
    assert (done.status, q.store.archive()) == (QueueStatus.COMPLETED, 1)
    before = totals(engine)
    for job_id, why in (("old", "already exists (archived)"), ("live", "already exists")):
        with pytest.raises(ConflictError) as err:
            q.add_job(job_id, rich_config())
        assert str(err.value).endswith(f"job {job_id!r} {why}")
    assert totals(engine) == before
    assert q.store.stats() == q.store.recount_stats()
    q.add_job("next", rich_config())  # the refusals left the connections usable
    assert totals(engine)[:2] == (before[0] + 1, before[1] + 3)


async def test_postgres_enqueue_with_the_account_check_writes_only_when_every_platform_is_there(
    make_queue: MakeQueue, clock: FakeClock, engine: Engine, secret_key: str
) -> None:
    """The API's schedule checks the account in the enqueue's statement: a job is written
    exactly when the account has every platform it names and its id is free; otherwise
    nothing is written and the answer is ``None`` (the route's thread path then says why)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the check rides on PostgreSQL's one-statement enqueue")
    q = make_queue(job_retention_seconds=60)
    store = AccountStore(engine, queue_settings(secret_key=secret_key))
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    need = ("acc", ["instagram", "tiktok", "youtube"])
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as aconn:
        store.add("acc", "tiktok", UPLOAD_POST_CREDENTIALS)
        store.add("acc", "instagram", UPLOAD_POST_CREDENTIALS)
        store.add("other", "youtube", YOUTUBE_CREDENTIALS)  # another account's youtube: no help
        before = totals(engine)
        assert await q.add_job_on_loop("a", rich_config(), aconn, account=need) is None
        assert totals(engine) == before
        store.add("acc", "youtube", YOUTUBE_CREDENTIALS)
        job = await q.add_job_on_loop("a", rich_config(), aconn, account=need)
        assert job is not None and job.id == "a"
        assert q.get_job("a").results.keys() == {"tiktok", "instagram:stories", "youtube"}
        assert totals(engine)[:2] == (before[0] + 1, before[1] + 3)
        with pytest.raises(ConflictError):  # a live duplicate is still a conflict
            await q.add_job_on_loop("a", rich_config(), aconn, account=need)
        [done] = await q.run_until_empty()
        clock.advance(61)
        assert (done.status, q.store.archive()) == (QueueStatus.COMPLETED, 1)
        before = totals(engine)
        assert await q.add_job_on_loop("a", rich_config(), aconn, account=need) is None
        with pytest.raises(ConflictError, match="archived"):  # without the check, as before
            await q.add_job_on_loop("a", rich_config(), aconn)
        assert totals(engine) == before
    assert q.store.stats() == q.store.recount_stats()


async def test_postgres_workers_are_woken_at_commit_and_not_by_a_refusal(
    make_queue: MakeQueue, clock: FakeClock, engine: Engine
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("NOTIFY is PostgreSQL's")
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute(f'LISTEN "{CHANNEL}"')
        q = make_queue()
        later = clock.now + timedelta(minutes=5)
        q.add_job("a", rich_config())
        q.add_job("b", rich_config(scheduled_time=later))
        with pytest.raises(ConflictError):
            q.add_job("a", rich_config())
        got = [n.payload for n in listener.notifies(timeout=2.0, stop_after=3)]
    # A job due now wakes with an empty payload; a future one says when it is due.
    assert got == ["", f"{later.timestamp():.6f}"]


async def test_sqlite_lock_is_a_transient_sqlalchemy_error_and_writes_nothing(
    make_queue: MakeQueue, engine: Engine
) -> None:
    """The driver-level path raises what SQLAlchemy would, so ``retry_write`` and the API see it."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock")
    q = make_queue()
    q.add_job("first", rich_config())
    small = make_engine(engine.url.render_as_string(), pool_size=1, max_overflow=0)
    q.store.engine = small
    with small.connect() as conn:  # the pool's one connection waits 50 ms for the lock, not 30 s
        conn.exec_driver_sql("PRAGMA busy_timeout=50")
    before = totals(engine)
    holder = sqlite3.connect(str(engine.url.database), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError) as err:
            q.add_job("blocked", rich_config())
        assert "database is locked" in str(err.value) and is_transient(err.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert totals(engine) == before
    q.add_job("after", rich_config())  # the same pooled connection, back in a clean state
    assert totals(engine)[:2] == (before[0] + 1, before[1] + 3)
    small.dispose()
