"""Hot statements on the DBAPI cursor, compiled once per dialect: the queue worker's few, and the
API's status and account reads.

SQLAlchemy Core costs about 150 us of Python per execution (parameter construction, execution
context, result set-up, event dispatch) against 20-200 us for the statement itself on SQLite; at
one job in flight that machinery was half of a job's cost. A ``Hot`` statement is compiled once
per dialect into its SQL string, its parameter order and its type processors (the dialect's own:
``UTCDateTime``, JSON and booleans behave exactly as through ``Connection.execute``), then sent on
the connection's cursor. What SQLAlchemy still does for us is kept:

* ``before_cursor_execute`` listeners see every statement with the parameters the cursor gets
  (the plan test explains them; ``bench/queue.py`` counts them);
* DBAPI errors are wrapped as through ``Connection.execute`` (``DBAPIError`` subclasses, a dead
  connection invalidated), so retries over a blip and conflict handling are unchanged.

Statements with an expanding ``IN`` are not hot (their SQL depends on the list): they go through
``Connection.execute`` as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

if TYPE_CHECKING:
    from psycopg import AsyncConnection

_Proc = Callable[[Any], Any] | None


class _Compiled:
    __slots__ = ("binds", "names", "positional", "results", "returns_rows", "sql", "types")

    def __init__(self, stmt: ClauseElement, dialect: Dialect) -> None:
        compiled: Any = stmt.compile(dialect=dialect)
        self.sql: str = compiled.string
        procs: Mapping[str, _Proc] = compiled._bind_processors
        defaults: dict[str, Any] = {}
        #: Per bind, what its processor does: the dialect and the type (``repr`` names its
        #: arguments), so the binds of every statement with the same type share bound times.
        kinds: dict[str, tuple[int, str]] = {}
        for bind, name in compiled.bind_names.items():
            if bind.expanding:
                raise ValueError(f"{name}: an expanding IN is not a hot statement")
            if not bind.required:
                defaults[name] = bind.effective_value
            kinds[name] = (id(dialect), repr(bind.type))
        order: Sequence[str] = (
            compiled.positiontup if compiled.positional else sorted(set(compiled.bind_names.values()))
        )
        #: (name, is given by the caller, default, processor, processor's kind) in the order the
        #: cursor takes them.
        self.binds: list[tuple[str, bool, Any, _Proc, tuple[int, str]]] = [
            (name, name not in defaults, defaults.get(name), procs.get(name), kinds[name]) for name in order
        ]
        self.names = [name for name, *_ in self.binds]
        self.positional: bool = bool(compiled.positional)
        self.types = [col[3] for col in compiled._result_columns or ()]
        #: (column index, result processor) of the columns that have one, set at the first
        #: execution: some depend on the column's type code in the cursor's description
        #: (PostgreSQL's numerics).
        self.results: list[tuple[int, Callable[[Any], Any]]] | None = None
        #: Whether the statement returns rows (a SELECT, or DML with RETURNING), from the first
        #: execution's cursor description; later executions skip the description, which psycopg
        #: builds anew on every read (about 40 us for a claim's 35 columns).
        self.returns_rows: bool | None = None

    def params(self, given: Mapping[str, Any]) -> Any:
        values = []
        for name, required, default, proc, kind in self.binds:
            value = given[name] if required or name in given else default
            if proc is None or value is None:
                values.append(value)
            elif type(value) is datetime:
                values.append(_bound_time(kind, proc, value))
            else:
                values.append(proc(value))
        return tuple(values) if self.positional else dict(zip(self.names, values, strict=True))


#: Times as their bind processors made them, per kind of processor (``_Compiled.binds``): a
#: job's statements bind the same few (its ``now``, its lease's end) a dozen times, at a few
#: microseconds each on SQLite (a string built in Python). Bounded: cleared when it holds
#: ``_TIMES_KEPT`` entries.
_times: dict[tuple[tuple[int, str], datetime], Any] = {}
_TIMES_KEPT = 256


def _bound_time(kind: tuple[int, str], proc: Callable[[Any], Any], value: datetime) -> Any:
    key = (kind, value)
    found = _times.get(key, _times)
    if found is _times:
        if len(_times) >= _TIMES_KEPT:
            _times.clear()
        found = _times[key] = proc(value)
    return found


class Hot:
    """One hot statement: ``rows(conn, params)`` returns its processed rows as tuples."""

    __slots__ = ("_by_dialect", "stmt")

    def __init__(self, stmt: ClauseElement) -> None:
        self.stmt = stmt
        self._by_dialect: dict[int, _Compiled] = {}

    def _compiled(self, dialect: Dialect) -> _Compiled:
        key = id(dialect)
        found = self._by_dialect.get(key)
        if found is None:
            found = self._by_dialect[key] = _Compiled(self.stmt, dialect)
        return found

    def sql(self, dialect: Dialect) -> str:
        """The SQL string the cursor gets on ``dialect`` (the same as ``Connection.execute``'s)."""
        return self._compiled(dialect).sql

    def args(self, dialect: Dialect, params: Mapping[str, Any]) -> Any:
        """The cursor's parameters for ``params`` (each through its type's bind processor), for a
        caller that drives the DBAPI connection itself."""
        return self._compiled(dialect).params(params)

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Execute and fetch every row, each column through its type's result processor."""
        c = self._compiled(conn.dialect)
        cursor, args = _run(conn, c, params)
        procs = c.results
        try:
            if procs is None:  # the first execution: what the rows are, from the description
                description = cursor.description
                c.returns_rows = description is not None
                if description is not None:
                    dialect = conn.dialect
                    pairs = zip(c.types, description, strict=False)
                    found = [t._cached_result_processor(dialect, d[1]) for t, d in pairs]
                    procs = c.results = [(i, p) for i, p in enumerate(found) if p is not None]
            if not c.returns_rows:
                return []
            raw = cursor.fetchall()
        except Exception as exc:  # wrapped as SQLAlchemy does, then raised
            conn._handle_dbapi_exception(exc, c.sql, args, cursor, None)
        finally:
            cursor.close()
        assert procs is not None
        return _processed(raw, procs)

    async def rows_on(
        self, aconn: AsyncConnection[Any], dialect: Dialect, params: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """``rows`` on a psycopg asyncio connection (``dialect``: the engine's, whose SQL, bind and
        result processors it uses). Nothing is wrapped or dispatched: driver errors propagate as
        psycopg raises them, and no ``before_cursor_execute`` listener sees the statement."""
        c = self._compiled(dialect)
        args = c.params(params)
        async with aconn.cursor() as cursor:
            await cursor.execute(c.sql, args)
            procs = c.results
            if procs is None:
                description = cursor.description
                c.returns_rows = description is not None
                if description is not None:
                    pairs = zip(c.types, description, strict=False)
                    found = [t._cached_result_processor(dialect, d[1]) for t, d in pairs]
                    procs = c.results = [(i, p) for i, p in enumerate(found) if p is not None]
            if not c.returns_rows:
                return []
            raw = await cursor.fetchall()
        return _processed(raw, procs or [])

    def run_many(self, conn: Connection, many: Sequence[Mapping[str, Any]]) -> None:
        """Execute once per parameter set in one ``executemany`` (no rows back)."""
        if len(many) <= 1:
            for params in many:
                self.run(conn, params)
            return
        c = self._compiled(conn.dialect)
        sql, args = c.sql, [c.params(p) for p in many]
        cursor = conn.connection.cursor()
        try:
            if conn._has_events or conn.engine._has_events:
                for fn in conn.dispatch.before_cursor_execute:
                    sql, args = fn(conn, cursor, sql, args, None, True)
            cursor.executemany(sql, args)
        except Exception as exc:  # wrapped as SQLAlchemy does, then raised
            conn._handle_dbapi_exception(exc, sql, args, cursor, None)
        finally:
            cursor.close()

    def run(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Execute a statement without rows; returns the rows it changed."""
        c = self._compiled(conn.dialect)
        cursor, _ = _run(conn, c, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()


def _processed(raw: Sequence[Any], procs: list[tuple[int, Callable[[Any], Any]]]) -> list[tuple[Any, ...]]:
    """Rows as tuples, each column that has a result processor through it. Only those columns are
    touched (a claim's row has about 35 columns and 10 processors: a generator over every column
    was a third of the claim's Python)."""
    if not procs:
        return [tuple(r) for r in raw]
    out = []
    for r in raw:
        row = list(r)
        for i, proc in procs:
            v = row[i]
            if v is not None:
                row[i] = proc(v)
        out.append(tuple(row))
    return out


def _run(conn: Connection, c: _Compiled, params: Mapping[str, Any]) -> tuple[Any, Any]:
    sql, args = c.sql, c.params(params)
    cursor = conn.connection.cursor()
    try:
        if conn._has_events or conn.engine._has_events:  # as ``Connection._execute_context`` does
            for fn in conn.dispatch.before_cursor_execute:
                sql, args = fn(conn, cursor, sql, args, None, False)
        cursor.execute(sql, args)
    except Exception as exc:  # wrapped as SQLAlchemy does, then raised
        try:
            conn._handle_dbapi_exception(exc, sql, args, cursor, None)
        finally:
            cursor.close()
    return cursor, args


__all__ = ["Hot"]
