"""PostgreSQL connections are pinged only after sitting idle; a dead idle one is replaced unseen."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from multipublish.db import engine as engine_mod
from multipublish.db import make_engine


def _pid_and_kill(url: str, admin_url: str) -> tuple[int, int]:
    eng = make_engine(url)
    try:
        with eng.connect() as conn:
            first = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first})
        admin.dispose()
        with eng.connect() as conn:  # the idle connection died: pinged, replaced, works
            second = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
    finally:
        eng.dispose()
    return first, second


def test_a_connection_killed_while_idle_is_replaced(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_mod, "IDLE_PING_SECONDS", 0.0)
    admin_url = pg_url.rsplit("/", 1)[0] + "/postgres"
    first, second = _pid_and_kill(pg_url, admin_url)
    assert second != first


def test_a_hot_connection_is_not_pinged(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Within the idle window nobody pings, so a connection killed under us fails that use once."""
    monkeypatch.setattr(engine_mod, "IDLE_PING_SECONDS", 3600.0)
    admin_url = pg_url.rsplit("/", 1)[0] + "/postgres"
    with pytest.raises(Exception, match=r"terminat|closed|server"):
        _pid_and_kill(pg_url, admin_url)


def test_sqlite_connection_back_from_an_autocommit_use_still_begins_explicitly(tmp_path: object) -> None:
    """pysqlite's reset after an AUTOCOMMIT checkout would turn its implicit BEGIN back on, so a
    later write outside ``engine.begin()`` would sit in a transaction nobody commits."""
    eng = make_engine(f"sqlite:///{tmp_path}/iso.db", pool_size=1, max_overflow=0)
    try:
        with eng.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
        with eng.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            assert conn.connection.driver_connection is not None  # checked out, then reset
        with eng.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            assert raw.isolation_level is None
            raw.execute("INSERT INTO t VALUES (1)")
            assert raw.in_transaction is False  # the driver began nothing behind our back
        with eng.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
    finally:
        eng.dispose()
