"""Engines and migrations for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, exc, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from multipublish.db.checkpoint import BACKSTOP_PAGES, checkpoint_in_background
from multipublish.errors import ConfigurationError, DatabaseUnavailable

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

_MIGRATIONS = Path(__file__).with_name("migrations")
_schema_lock = threading.Lock()
_schema_ready: set[str] = set()
#: A pooled connection idle longer than this is pinged before use; a hot one is not (a ping per
#: checkout was a round trip per transaction). One that died while in use fails that transaction,
#: is dropped from the pool, and the caller's retry gets a fresh one.
IDLE_PING_SECONDS = 5.0
#: Connections kept open: as many as the API's thread pool (anyio's default, 40) runs at once, so
#: a burst of requests does not open and close connections (SQLite: and rerun the PRAGMAs).
POOL_SIZE = 40
#: Seconds ``loop_connection`` waits for the server to accept a connection.
LOOP_CONNECT_TIMEOUT = 10


def utcnow() -> datetime:
    """Aware UTC now; the one clock of the database layer."""
    return datetime.now(UTC)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine tuned for this project's use of each backend.

    SQLite gets WAL (readers never block the writer), a busy timeout and foreign keys; transactions
    that write start with ``BEGIN IMMEDIATE`` so two workers never both think they won a claim. A
    file's WAL is checkpointed on a thread (``db/checkpoint.py``; ``checkpoint_thread=False``: not
    by this engine), so that no commit pays for a checkpoint's copying and fsyncs.
    """
    parsed = parse_database_url(url)
    pooled = "poolclass" not in kwargs
    checkpoint_thread = kwargs.pop("checkpoint_thread", True)
    if parsed.get_backend_name() == "sqlite":
        path: Path | None = None
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            path = Path(parsed.database).expanduser()
            _create_private(path)
        connect_args = kwargs.pop("connect_args", {})
        connect_args.setdefault("timeout", 30)
        connect_args.setdefault("check_same_thread", False)
        if pooled and parsed.database and parsed.database != ":memory:":
            kwargs.setdefault("pool_size", POOL_SIZE)
            kwargs.setdefault("max_overflow", POOL_SIZE // 2)
        engine = create_engine(url, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy emit BEGIN itself (see _sqlite_begin) instead of pysqlite's implicit one.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            if path is not None:  # the WAL checkpointed on a thread (db/checkpoint.py); this bounds it
                cur.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
            cur.close()

        # pysqlite's dialect sets a level other than AUTOCOMMIT by turning the driver's implicit
        # BEGIN back on (``isolation_level = ""``), which is what a connection returned from an
        # ``isolation_level="AUTOCOMMIT"`` checkout gets: keep it off, as the connect listener
        # left it, since this engine begins every transaction itself (see _sqlite_begin).
        dialect = engine.dialect
        set_level = dialect.set_isolation_level

        def _set_level(dbapi_conn: Any, level: Any) -> None:
            set_level(dbapi_conn, level)
            dbapi_conn.isolation_level = None

        dialect.set_isolation_level = _set_level  # type: ignore[method-assign,assignment]

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # On the driver's cursor: SQLAlchemy's execution path cost several times SQLite's
            # own BEGIN (about 0.4 ms of an empty write transaction's 0.5), paid by every write.
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            statement = f"BEGIN {mode}"
            cursor = conn.connection.driver_connection.cursor()
            try:
                cursor.execute(statement)
            except sqlite3.Error as err:  # as SQLAlchemy raises it (a lock: OperationalError)
                raise exc.DBAPIError.instance(statement, None, err, sqlite3.Error) from err
            finally:
                cursor.close()

        if path is not None and checkpoint_thread:
            checkpoint_in_background(engine, path)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if pooled:
        # Kept, not overflow: with 10 kept and 40 overflow, a burst opened and closed connections
        # all the time (about 12% of a request's wall time in connect under wrk).
        kwargs.setdefault("pool_size", POOL_SIZE)
        kwargs.setdefault("max_overflow", POOL_SIZE // 4)
    engine = create_engine(parsed, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


def single_statement(engine: Engine) -> Engine:
    """``engine`` for reads of one statement outside any transaction (a single statement reads one
    snapshot on both databases): no ``BEGIN`` and no ``COMMIT`` round trip. PostgreSQL: in
    ``AUTOCOMMIT``. SQLite: as it is, its driver connections being in autocommit already (this
    module begins transactions itself); an ``AUTOCOMMIT`` checkout there would cost more than the
    read (its reset runs a PRAGMA)."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


def loop_engine_possible(engine: Engine) -> bool:
    """Whether ``loop_engine`` gives an engine for ``engine`` (SQLite in a plain file)."""
    url = engine.url
    db = url.database or ""
    return url.get_backend_name() == "sqlite" and bool(db) and db != ":memory:" and not db.startswith("file:")


def loop_engine(engine: Engine, **kwargs: Any) -> Engine | None:
    """A one-connection engine on ``engine``'s SQLite file for short statements made on an event loop.

    Its connection never waits: a lock held elsewhere fails at once (``busy_timeout`` 0; the caller
    runs the statement on a thread instead). ``None`` for PostgreSQL, or for a database that is not
    a plain file (another engine would open another database). ``kwargs`` go to ``make_engine``
    (a benchmark's counting ``connect_args``).

    Its commits checkpoint as the other engine's do: on that engine's checkpointer thread
    (``db/checkpoint.py``), with the same larger auto-checkpoint as the WAL's bound; it has no
    checkpointer of its own (one per file is enough).
    """
    if not loop_engine_possible(engine):
        return None
    url = engine.url
    inline = make_engine(
        url.render_as_string(hide_password=False),
        pool_size=1,
        max_overflow=0,
        checkpoint_thread=False,
        **kwargs,
    )

    @event.listens_for(inline, "connect")
    def _never_wait(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=0")
        cur.close()

    return inline


def pg_conninfo(engine: Engine) -> str:
    """A libpq URL for psycopg from a SQLAlchemy engine (``postgresql+psycopg`` -> ``postgresql``)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


async def loop_connection(engine: Engine, **kwargs: Any) -> AsyncConnection[Any] | None:
    """PostgreSQL: an asyncio connection in autocommit to ``engine``'s database, for the one-statement
    writes a worker's event loop awaits (``loop_engine``'s counterpart; ``None`` for SQLite).
    ``kwargs`` go to psycopg (a benchmark's counting ``cursor_factory``). A server that does not
    answer fails the connect after ``LOOP_CONNECT_TIMEOUT`` seconds (libpq waits for ever by
    default), so the writes waiting for it go to the thread pool instead."""
    if engine.dialect.name != "postgresql":
        return None
    import psycopg

    kwargs.setdefault("connect_timeout", LOOP_CONNECT_TIMEOUT)
    conn: AsyncConnection[Any] = await psycopg.AsyncConnection.connect(
        pg_conninfo(engine), autocommit=True, **kwargs
    )
    return conn


class PgLoopConnection:
    """One ``loop_connection`` kept for an event loop's statements, opened on first use; after it
    failed to open or broke, not opened again for ``retry_after`` seconds (callers use threads
    meanwhile), so a database that is down costs a request no connect timeout."""

    def __init__(self, engine: Engine, retry_after: float = 5.0) -> None:
        self.engine = engine
        self.retry_after = retry_after
        self._conn: AsyncConnection[Any] | None = None
        self._retry_at = 0.0
        self._opening: asyncio.Future[AsyncConnection[Any] | None] | None = None

    @property
    def connection(self) -> AsyncConnection[Any] | None:
        """The connection as it is now (``None``: not open), without opening one."""
        return self._conn

    async def get(self) -> AsyncConnection[Any] | None:
        """The open connection, or ``None`` (SQLite, or a failure less than ``retry_after`` ago)."""
        conn = self._conn
        if conn is not None and not conn.closed:
            return conn
        if self.engine.dialect.name != "postgresql" or time.monotonic() < self._retry_at:
            return None
        if self._opening is None:  # concurrent callers await the same attempt
            self._opening = asyncio.ensure_future(self._open())
        opening = self._opening
        try:
            return await asyncio.shield(opening)
        finally:
            if self._opening is opening and opening.done():
                self._opening = None

    async def _open(self) -> AsyncConnection[Any] | None:
        try:
            self._conn = await loop_connection(self.engine)
        except Exception as exc:
            log.warning("could not open the loop's database connection (%s)", type(exc).__name__)
            self._retry_at = time.monotonic() + self.retry_after
            return None
        return self._conn

    async def drop(self) -> None:
        """Close it after a failure; the next ``get`` after ``retry_after`` opens another."""
        conn, self._conn = self._conn, None
        self._retry_at = time.monotonic() + self.retry_after
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def close(self) -> None:
        """Close it for good (``get`` may open another at once)."""
        await self.drop()
        self._retry_at = 0.0


class PgLoopPool:
    """A few asyncio connections (psycopg_pool) for the statements an API request awaits on the
    event loop instead of a thread: its reads, and its enqueue, whose commit (a WAL flush) would
    queue behind the others' on a single connection. Opened on first use, on the loop that uses
    it; ``connection`` gives ``None`` (the caller uses a thread) for SQLite, while the pool
    cannot hand out a connection within ``wait`` seconds, or for ``retry_after`` seconds after
    that. Measured API-only under wrk's POSTs on PostgreSQL: 650 requests/s with the enqueue on a
    thread, 990-1,040 on this pool."""

    def __init__(
        self, engine: Engine, *, size: int = 8, wait: float = 2.0, retry_after: float = 5.0
    ) -> None:
        self.engine = engine
        self.size = size
        self.wait = wait
        self.retry_after = retry_after
        self._pool: AsyncConnectionPool[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._retry_at = 0.0

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[Any] | None]:
        """A connection in autocommit for the block, or ``None``; returned to the pool after."""
        pool = await self._open()
        if pool is None:
            yield None
            return
        from psycopg_pool import PoolTimeout

        try:
            cm = pool.connection(timeout=self.wait)
            conn = await cm.__aenter__()
        except (PoolTimeout, OSError) as exc:
            log.warning("no connection from the loop's pool (%s)", type(exc).__name__)
            self._retry_at = time.monotonic() + self.retry_after
            yield None
            return
        try:
            yield conn
        except BaseException as exc:
            await cm.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        else:
            await cm.__aexit__(None, None, None)

    async def _open(self) -> AsyncConnectionPool[Any] | None:
        if self.engine.dialect.name != "postgresql" or time.monotonic() < self._retry_at:
            return None
        loop = asyncio.get_running_loop()
        if self._pool is not None and self._loop is loop:
            return self._pool
        from psycopg_pool import AsyncConnectionPool

        await self.close()  # one opened on a loop that is gone
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            pg_conninfo(self.engine),
            min_size=min(2, self.size),
            max_size=self.size,
            kwargs={"autocommit": True, "connect_timeout": LOOP_CONNECT_TIMEOUT},
            open=False,
            name="multipublish-loop",
        )
        await pool.open(wait=False)
        self._pool, self._loop = pool, loop
        return pool

    async def close(self) -> None:
        """Close the pool when it belongs to this loop (one of a loop that is gone is dropped)."""
        pool, loop, self._pool, self._loop = self._pool, self._loop, None, None
        if pool is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return
        if loop is running:
            with contextlib.suppress(Exception):
                await pool.close()


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's pessimistic disconnect check, only for connections that sat idle a while."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["mp_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("mp_idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            cur = dbapi_conn.cursor()
            cur.execute("SELECT 1")
            cur.close()
            dbapi_conn.rollback()
        except Exception as err:
            # The pool discards this connection and checks out (or opens) another.
            raise exc.DisconnectionError(str(err)) from err


_KINDS = ("sqlite", "postgresql")
_EXAMPLES = "sqlite:///multipublish.db or postgresql://user:password@host:5432/dbname"


def parse_database_url(url: str) -> URL:
    """``url`` as a SQLAlchemy URL of a kind we support, or a ``ConfigurationError`` in words."""
    import difflib

    try:
        parsed = make_url(url)
    except (exc.ArgumentError, ValueError):
        raise ConfigurationError(
            f"MULTIPUBLISH_DATABASE_URL is not a database URL; use {_EXAMPLES}"
        ) from None
    kind = parsed.get_backend_name()
    if kind not in _KINDS:
        close = difflib.get_close_matches(kind, _KINDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigurationError(
            f"MULTIPUBLISH_DATABASE_URL: {kind!r} databases are not supported{hint}; use {_EXAMPLES}"
        )
    return parsed


def unreachable(engine: Engine, error: BaseException) -> DatabaseUnavailable:
    """The one-line error for a database that does not answer (password hidden)."""
    where = engine.url.render_as_string(hide_password=True)
    orig = getattr(error, "orig", None) or error
    lines = [ln.strip() for ln in str(orig).splitlines() if ln.strip()]
    reason = lines[0] if lines else type(orig).__name__
    reason = reason.removeprefix("connection failed: ")
    return DatabaseUnavailable(
        f"cannot open the database {where}: {reason}. Start the database server or fix "
        "MULTIPUBLISH_DATABASE_URL"
    )


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only (it holds tokens and credentials).

    SQLite gives its ``-wal`` and ``-shm`` files the database file's permissions, so they are 0600
    too. An existing file keeps the mode its owner chose.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine`` (objects stay usable after commit)."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Any:
    """An Alembic config pointing at the packaged migrations and at ``engine``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the migrations up to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def ensure_schema(engine: Engine) -> None:
    """Bring the schema to the newest revision once per engine URL in this process."""
    key = engine.url.render_as_string(hide_password=False)
    if key in _schema_ready:
        return
    with _schema_lock:
        if key in _schema_ready:
            return
        try:
            if not _at_head(engine):
                upgrade(engine)
        except (exc.OperationalError, exc.InterfaceError) as error:
            raise unreachable(engine, error) from None
        _schema_ready.add(key)


def _at_head(engine: Engine) -> bool:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(engine))
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current == set(script.get_heads())
