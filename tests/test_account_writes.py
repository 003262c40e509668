"""Account writes wait for the database instead of failing (issue 9, item 4).

Writers of the queue (``JobStore.add`` and ``claim``, what workers do all day) run in threads on
the same SQLite file while accounts are added and tokens saved; not one write may be refused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from multipublish.accounts import AccountStore
from multipublish.db import ensure_schema, make_engine
from multipublish.db.retry import is_transient, retry_write
from multipublish.queue.models import QueuedPublishConfig
from multipublish.queue.store import JobStore
from multipublish.settings import Settings

WRITERS = 4
WRITES_EACH = 40


def _worker_load(engine: Engine, settings: Settings, stop: threading.Event, errors: list[str]) -> None:
    """Enqueue and claim jobs in a loop: short immediate write transactions, like real workers."""
    store = JobStore(engine, settings=settings)
    n = 0
    while not stop.is_set():
        n += 1
        try:
            store.add(None, QueuedPublishConfig("load", ["tiktok"], "/videos/v.mp4"))
            store.claim(f"w{threading.get_ident()}", 2)
        except Exception as exc:  # the load itself must not be what fails
            errors.append(f"load: {type(exc).__name__}: {exc}")


def _run_under_load(
    engine: Engine, settings: Settings, write: Callable[[int, int], Any]
) -> tuple[int, list[str], list[str]]:
    stop = threading.Event()
    load_errors: list[str] = []
    refusals: list[str] = []
    done = [0]
    lock = threading.Lock()
    loaders = [
        threading.Thread(target=_worker_load, args=(engine, settings, stop, load_errors))
        for _ in range(3)
    ]

    def writer(w: int) -> None:
        for i in range(WRITES_EACH):
            try:
                write(w, i)
            except Exception as exc:
                refusals.append(f"{type(exc).__name__}: {exc}")
            else:
                with lock:
                    done[0] += 1

    writers = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in loaders + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in loaders:
        t.join()
    return done[0], refusals, load_errors


@pytest.fixture
def sqlite_file(tmp_path: Path, secret_key: str) -> tuple[Engine, Settings]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'mp.db'}", secret_key=secret_key)
    # A short busy timeout keeps the test quick; waiting is what is under test, not its length.
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    return engine, settings


def test_add_account_under_worker_load_is_never_refused(sqlite_file: tuple[Engine, Settings]) -> None:
    engine, settings = sqlite_file
    accounts = AccountStore(engine, settings)

    def write(w: int, i: int) -> None:
        # Same few ids again and again: the read-then-replace path that used to be refused.
        accounts.add(f"acct{i % 5}", "tiktok", {"api_key": f"key-{w}-{i}", "user": f"u{w}"})

    done, refusals, load_errors = _run_under_load(engine, settings, write)
    assert refusals == []
    assert done == WRITERS * WRITES_EACH
    assert load_errors == []
    assert len(accounts.list_accounts()) == 5
    engine.dispose()


def test_token_saves_under_worker_load_are_never_lost(sqlite_file: tuple[Engine, Settings]) -> None:
    engine, settings = sqlite_file
    accounts = AccountStore(engine, settings)
    for w in range(WRITERS):
        accounts.add(f"yt{w}", "youtube", {"client_id": "c", "client_secret": "s", "refresh_token": "r"})

    def write(w: int, i: int) -> None:
        accounts.update_credentials(f"yt{w}", "youtube", {"token": f"ya29.{w}.{i}"})

    done, refusals, load_errors = _run_under_load(engine, settings, write)
    assert refusals == []
    assert done == WRITERS * WRITES_EACH
    assert load_errors == []
    # The last refreshed token of every account is the one stored: none dropped.
    for w in range(WRITERS):
        creds = accounts.load(f"yt{w}", "youtube").credentials
        assert creds["token"] == f"ya29.{w}.{WRITES_EACH - 1}"
        assert creds["refresh_token"] == "r"
    engine.dispose()


def test_retry_write_retries_a_locked_database_then_succeeds() -> None:
    calls: list[int] = []
    slept: list[float] = []
    locked = OperationalError("UPDATE accounts", {}, Exception("database is locked"))

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise locked
        return "written"

    assert is_transient(locked)
    assert retry_write(flaky, sleep=slept.append) == "written"
    assert len(calls) == 3 and len(slept) == 2 and slept[1] > 0


def test_retry_write_lets_a_real_error_through_at_once() -> None:
    calls: list[int] = []
    broken = OperationalError("SELECT", {}, Exception("no such table: accounts"))

    def fails() -> None:
        calls.append(1)
        raise broken

    with pytest.raises(OperationalError):
        retry_write(fails, sleep=lambda _s: None)
    assert calls == [1]
