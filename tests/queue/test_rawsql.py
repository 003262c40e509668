"""``Hot`` statements on the DBAPI cursor: rows and types as ``Connection.execute`` gives them, on
every execution, not only the first (whether a statement returns rows is learnt once)."""

from __future__ import annotations

from sqlalchemy import Engine, select, update

from multipublish.db.rawsql import Hot
from multipublish.db.tables import jobs
from multipublish.queue.store.statements import _b
from tests.queue.conftest import T0, MakeQueue
from tests.queue.test_queue import cfg


def test_hot_rows_match_core_on_every_execution(engine: Engine, make_queue: MakeQueue) -> None:
    queue = make_queue()
    for i in range(3):
        queue.add_job(f"j{i}", cfg())
    returning = Hot(
        update(jobs)
        .where(jobs.c.id == _b("b_j"))
        .values(priority=_b("b_p"))
        .returning(jobs.c.id, jobs.c.priority, jobs.c.created_at, jobs.c.platforms)
    )
    silent = Hot(update(jobs).where(jobs.c.id == _b("b_j")).values(priority=_b("b_p")))
    read = Hot(select(jobs.c.id, jobs.c.created_at).where(jobs.c.id == _b("b_j")))
    with engine.begin() as conn:
        for round_ in range(3):  # the first execution learns the shape; the next ones reuse it
            for i in range(3):
                got = returning.rows(conn, {"b_j": f"j{i}", "b_p": 10 * round_ + i})
                assert len(got) == 1
                jid, priority, created, platforms = got[0]
                assert (jid, priority) == (f"j{i}", 10 * round_ + i)
                assert created == T0 and created.tzinfo is not None  # the queue's clock, aware
                assert platforms == ["tiktok"]
                # No RETURNING: no rows, every time (and the write happened).
                assert silent.rows(conn, {"b_j": f"j{i}", "b_p": 5}) == []
                assert silent.run(conn, {"b_j": f"j{i}", "b_p": 7}) == 1
                core = conn.execute(select(jobs.c.id, jobs.c.created_at).where(jobs.c.id == f"j{i}")).one()
                assert read.rows(conn, {"b_j": f"j{i}"}) == [tuple(core)]
            assert returning.rows(conn, {"b_j": "missing", "b_p": 1}) == []


def test_bound_times_are_what_the_type_makes_of_them(engine: Engine) -> None:
    """Bound times are remembered per processor: each must still be exactly what the column's
    type makes of it, for equal instants in other zones and for many distinct times."""
    from datetime import timedelta, timezone

    from multipublish.db.tables import UTCDateTime

    stmt = Hot(select(jobs.c.id).where(jobs.c.run_at <= _b("b_now", UTCDateTime())))
    compiled = stmt._compiled(engine.dialect)
    proc = next(p for name, _, _, p, _ in compiled.binds if name == "b_now")
    assert proc is not None
    plus2 = timezone(timedelta(hours=2))
    for i in range(600):  # past the bound of what is kept, so it is cleared on the way
        when = T0 + timedelta(seconds=i)
        for variant in (when, when.astimezone(plus2)):
            args = compiled.params({"b_now": variant})
            bound = args[0] if isinstance(args, tuple) else args["b_now"]
            assert bound == proc(variant)
