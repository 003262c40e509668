"""The migrations build exactly the schema the code declares, on both backends."""

from __future__ import annotations

import importlib

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
