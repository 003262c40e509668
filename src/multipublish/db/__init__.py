"""The project database: one SQLAlchemy metadata, two engines (SQLite by default, PostgreSQL).

Alembic owns the schema (``multipublish db upgrade``); ``ensure_schema`` runs the same migrations for
the embedded default so a first run needs no manual step.
"""

from multipublish.db.engine import ensure_schema, make_engine, session_factory, utcnow
from multipublish.db.tables import (
    UTCDateTime,
    accounts,
    job_results,
    jobs,
    metadata,
)

__all__ = [
    "UTCDateTime",
    "accounts",
    "ensure_schema",
    "job_results",
    "jobs",
    "make_engine",
    "metadata",
    "session_factory",
    "utcnow",
]
