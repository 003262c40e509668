"""The migrations build exactly the schema the code declares, on both backends."""

from __future__ import annotations

import importlib

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from multipublish.db import metadata
from multipublish.db.engine import alembic_config, upgrade

#: Modules that declare tables on the shared metadata.
TABLE_MODULES = (
    "multipublish.queue.schema",
    "multipublish.api.tables",
    "multipublish.usage.tables",
    "multipublish.insights.tables",
    "multipublish.workspace.tables",
)


def _load_all_tables() -> None:
    for name in TABLE_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if not exc.name or not name.startswith(exc.name):
                raise


def test_migrations_match_declared_schema(engine: Engine) -> None:
    _load_all_tables()
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diffs == []


def test_downgrade_to_base_and_up_again(engine: Engine) -> None:
    command.downgrade(alembic_config(engine), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert {"accounts", "jobs", "job_results"} <= set(inspect(engine).get_table_names())


def test_results_rebuilt_without_rowid_keep_their_rows_and_counters(engine: Engine) -> None:
    """Migration 0015 rebuilds SQLite's ``job_results``: the rows stay, and so do the counter
    triggers (the stats equal a recount after results move again)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("nothing changes on PostgreSQL (the whole chain is tested above)")
    from multipublish.platforms.base import PublishConfig, PublishResult, PublishStatus
    from multipublish.queue import QueuedPublishConfig
    from multipublish.queue.store import JobStore
    from tests.queue.conftest import queue_settings

    command.downgrade(alembic_config(engine), "0014")
    store = JobStore(engine, settings=queue_settings())
    cfg = QueuedPublishConfig(
        account_id="a", platforms=["tiktok", "youtube"], video_path="/v.mp4", config=PublishConfig(title="t")
    )
    for i in range(3):
        store.add(f"m{i}", cfg)
    upgrade(engine)
    with engine.connect() as conn:
        ddl = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'job_results'").scalar_one()
        triggers = conn.exec_driver_sql(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'job_results'"
        ).scalar_one()
    assert ddl.rstrip().endswith("WITHOUT ROWID") and triggers == 3
    assert sorted(store.get("m1").results) == ["tiktok", "youtube"]
    claim = store.claim("w", 1).claims[0]
    ok = {t.key: PublishResult(t.key, True, PublishStatus.PUBLISHED, video_id="v") for t in claim.tasks}
    assert store.finish(claim, ok) is not None
    assert store.stats() == store.recount_stats()
