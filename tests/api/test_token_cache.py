"""Verified tokens are cached, and a revocation from anywhere still refuses the next request."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, event

from multipublish.api.tokens import TokenInfo, TokenStore, hash_token
from multipublish.db import make_engine


def _token_reads(engine: Engine) -> list[str]:
    seen: list[str] = []

    def grab(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if "FROM api_tokens" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", grab)
    return seen


def _revoke_elsewhere(engine: Engine, name: str) -> None:
    """Revoke as another process does: on an engine of its own (the CLI's)."""
    other_engine = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        TokenStore(other_engine).revoke(name)
    finally:
        other_engine.dispose()


def test_a_cached_token_is_read_once_and_revocation_ends_it_at_once(engine: Engine) -> None:
    api = TokenStore(engine, cache_seconds=60)
    token, info = api.create("cached")
    reads = _token_reads(engine)
    for _ in range(5):
        verified = api.verify(token)
        assert verified is not None and verified.id == info.id
    assert len(reads) == 1
    _revoke_elsewhere(engine, "cached")
    assert api.verify(token) is None
    assert api.verify(token) is None


def test_revocation_of_one_token_leaves_the_others_working(engine: Engine) -> None:
    api = TokenStore(engine, cache_seconds=60)
    keep, _ = api.create("keep")
    drop, _ = api.create("drop")
    assert api.verify(keep) is not None and api.verify(drop) is not None
    api.revoke("drop")
    assert api.verify(drop) is None
    assert api.verify(keep) is not None


def test_without_cache_every_request_reads_the_token(engine: Engine) -> None:
    api = TokenStore(engine, cache_seconds=0)
    token, _ = api.create("uncached")
    reads = _token_reads(engine)
    for _ in range(3):
        assert api.verify(token) is not None
    assert len(reads) == 3


def test_the_loop_confirms_a_cached_token_and_a_revocation_from_elsewhere_ends_it(engine: Engine) -> None:
    """``verify_on_loop`` (the API's event loop) answers only for a token ``verify`` cached, and
    re-reads the revocation counter every time: another process's revocation counts at once."""
    api = TokenStore(engine, cache_seconds=60)
    try:
        token, info = api.create("inline")
        assert api.verify_inline(token) is None  # never verified: the thread path reads the row
        assert api.verify(token) is not None
        reads = _token_reads(engine)

        async def on_loop(value: str) -> TokenInfo | None:
            return await api.verify_on_loop(value)

        async def twice_then_close() -> tuple[TokenInfo | None, TokenInfo | None]:
            first = await api.verify_on_loop(token)
            second = await api.verify_on_loop(token)  # the same connection, on PostgreSQL
            await api.aclose()
            return first, second

        first, second = asyncio.run(twice_then_close())
        assert first is not None and first.id == info.id and second == first
        assert reads == []  # the token row was not read again
        assert asyncio.run(on_loop("mpt_" + "x" * 43)) is None
        _revoke_elsewhere(engine, "inline")
        assert asyncio.run(on_loop(token)) is None
        assert api.verify(token) is None
    finally:
        api.close()


def test_the_loop_sends_to_the_thread_when_postgresql_does_not_answer(pg_url: str) -> None:
    dead = make_engine(pg_url.rsplit("@", 1)[0] + "@127.0.0.1:1/none")  # nothing listens there
    api = TokenStore(dead, cache_seconds=60)
    token = "mpt_" + "y" * 43
    info = TokenInfo(id=1, name="n", prefix=token[:12], created_at=datetime.now(UTC),
                     last_used_at=None, revoked_at=None)
    api._cache[hash_token(token)] = (info, time.monotonic() + 60, 0)  # as a verify had left it
    try:
        assert asyncio.run(api.verify_on_loop(token)) is None  # refused: the thread decides
    finally:
        dead.dispose()


def test_the_loop_does_not_confirm_an_expired_cache_entry(engine: Engine) -> None:
    api = TokenStore(engine, cache_seconds=0.05)
    try:
        token, _ = api.create("short")
        assert api.verify(token) is not None
        time.sleep(0.1)
        assert api.verify_inline(token) is None
    finally:
        api.close()


def test_concurrent_requests_share_counter_reads_and_a_revocation_between_rounds_counts(
    pg_url: str,
) -> None:
    """On PostgreSQL the callers that arrive while a counter read is in flight share the next one:
    far fewer reads than requests, and a revocation committed after a read began still refuses
    every request that arrives after it."""
    engine = make_engine(pg_url)
    api = TokenStore(engine, cache_seconds=60)
    try:
        token, info = api.create("shared")
        assert api.verify(token) is not None

        async def burst() -> tuple[list[TokenInfo | None], int]:
            answers = await asyncio.gather(*(api.verify_on_loop(token) for _ in range(50)))
            return list(answers), api.version_reads

        async def revoke_during_a_round() -> tuple[TokenInfo | None, TokenInfo | None]:
            before = asyncio.ensure_future(api.verify_on_loop(token))  # its round begins first
            for _ in range(3):
                await asyncio.sleep(0)
            _revoke_elsewhere(engine, "shared")  # committed while that round may be in flight
            after = await api.verify_on_loop(token)  # arrived after the commit: must see it
            result = await before, after
            await api.aclose()
            return result

        answers, reads = asyncio.run(burst())
        assert all(a is not None and a.id == info.id for a in answers)
        assert 1 <= reads <= 3  # one round for the first caller, one for all who came meanwhile
        _, after = asyncio.run(revoke_during_a_round())
        assert after is None
    finally:
        api.close()
        engine.dispose()
