"""API tokens: created once (shown once), stored as SHA-256 hashes, revocable.

A token is 32 random bytes in URL-safe base64 behind an ``mpt_`` prefix; only its hash and its
first characters (to tell tokens apart) reach the database.

Verified tokens are cached for a few seconds, keyed by their hash, together with the value the
revocation counter (``api_token_state.version``) had when they were read. Every revocation bumps
that counter in its own transaction, and every request reads it (one tiny primary-key read on a
bare DBAPI cursor, no statement compilation), so a revocation from any process refuses the very
next request while the token row itself is read at most once per ``cache_seconds``.

The API makes that read on its event loop instead of sending every request to the thread pool
twice (``verify_on_loop``): on SQLite it is a library call of microseconds, made on a connection
that never waits for a lock; on PostgreSQL it is awaited on an asyncio connection of the store's
own. Anything else (a miss, an expired entry, a failure) goes to ``verify`` on a thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, RowMapping, insert, or_, select, update

from multipublish.api.tables import api_token_state, api_tokens
from multipublish.db import utcnow
from multipublish.db.engine import loop_connection, loop_engine
from multipublish.errors import InputError, NotFoundError

TOKEN_PREFIX = "mpt_"
#: Verified tokens kept at most this many (the cache is cleared when it would grow past it).
_CACHE_MAX = 10_000
_S_VERSION = "SELECT version FROM api_token_state WHERE id = 1"
#: Seconds before ``verify_on_loop`` tries to connect again after a failed attempt.
_ACONN_RETRY = 5.0


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenInfo:
    """What is known of a token without its secret."""

    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "active": self.active,
        }


class TokenStore:
    """Create, list, verify and revoke API tokens in the project database."""

    def __init__(self, engine: Engine, *, cache_seconds: float = 5.0) -> None:
        self.engine = engine
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[TokenInfo, float, int]] = {}
        self._lock = threading.Lock()
        #: ``verify_inline``'s connection (``loop_engine``), made on first use; ``False``: none.
        self._inline: Engine | bool | None = None
        self._inline_lock = threading.Lock()
        #: PostgreSQL: ``verify_on_loop``'s connection, per event loop (a task while it connects).
        self._aconn: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None
        self._aconn_failed_at = -_ACONN_RETRY
        #: PostgreSQL: the counter reads ``verify_on_loop``'s callers share (per event loop).
        self._reads: _SharedReads | None = None
        #: Counter reads made by ``verify_on_loop`` (one per round, however many requests share it).
        self.version_reads = 0

    def close(self) -> None:
        """Close ``verify_inline``'s connection (the shared engine is its owner's to dispose)."""
        inline, self._inline = self._inline, None
        if isinstance(inline, Engine):
            inline.dispose()

    async def aclose(self) -> None:
        """``close``, and ``verify_on_loop``'s PostgreSQL connection when it is this loop's."""
        self.close()
        reads, self._reads = self._reads, None
        if reads is not None and reads.task is not None and reads.loop is asyncio.get_running_loop():
            reads.task.cancel()
        held, self._aconn = self._aconn, None
        if held is None or held[0] is not asyncio.get_running_loop():
            return
        if not held[1].done():
            held[1].cancel()
        elif (aconn := _connected(held[1])) is not None:
            await aconn.close()

    async def verify_on_loop(self, token: str | None) -> TokenInfo | None:
        """``verify_inline`` for both databases, for a coroutine: PostgreSQL's counter is awaited
        on an asyncio connection (no thread); ``None`` sends the caller to ``verify``."""
        if self.engine.dialect.name != "postgresql":
            return self.verify_inline(token)
        hit = self._hit(token)
        if hit is None:
            return None
        try:
            version = await self._shared_version()
        except Exception:  # no connection, or it broke: the thread path answers
            return None
        return hit[0] if hit[2] == version else None

    async def _shared_version(self) -> int:
        """The counter as read by a query that began after this call, shared by every caller
        that arrived while the previous read was in flight.

        Why: at 50 concurrent requests a read each queued them all on the one connection and was
        a third of the event loop's time per request. Sharing a read that began before a caller
        arrived would let a revocation committed in between pass; a caller therefore waits for
        the next round, which begins when the current one ends, so revocation stays immediate.
        """
        loop = asyncio.get_running_loop()
        reads = self._reads
        if reads is None or reads.loop is not loop:
            reads = self._reads = _SharedReads(loop)
        if reads.next is None:
            reads.next = loop.create_future()
            if reads.task is None:
                reads.task = loop.create_task(self._read_rounds(reads))
        return await asyncio.shield(reads.next)

    async def _read_rounds(self, reads: _SharedReads) -> None:
        """Read the counter for each round that has callers waiting, one round at a time."""
        current: asyncio.Future[int] | None = None
        try:
            while reads.next is not None:
                current, reads.next = reads.next, None  # later callers wait for the next round
                aconn = await self._loop_conn()
                if aconn is None:
                    current.set_exception(ConnectionError("no connection for the token counter"))
                    continue
                self.version_reads += 1
                try:
                    cur = await aconn.execute(_S_VERSION)
                    row = await cur.fetchone()
                except Exception as exc:  # broken: a new connection comes later
                    self._drop_aconn()
                    current.set_exception(exc)
                    continue
                current.set_result(int(row[0]) if row else 0)
        finally:
            reads.task = None
            for fut in (current, reads.next):  # cancelled (the loop closing): nobody hangs
                if fut is not None and not fut.done():
                    fut.set_exception(ConnectionError("the token counter read was cancelled"))
            reads.next = None

    def _hit(self, token: str | None) -> tuple[TokenInfo, float, int] | None:
        if self.cache_seconds <= 0 or not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        hit = self._cache.get(hash_token(token))
        return None if hit is None or time.monotonic() >= hit[1] else hit

    async def _loop_conn(self) -> Any:
        """This loop's connection, connected once (concurrent callers await the same attempt);
        ``None`` while connecting failed less than ``_ACONN_RETRY`` seconds ago."""
        loop = asyncio.get_running_loop()
        held = self._aconn
        if held is None or held[0] is not loop:
            if time.monotonic() - self._aconn_failed_at < _ACONN_RETRY:
                return None
            held = self._aconn = (loop, loop.create_task(loop_connection(self.engine)))
        try:
            return await asyncio.shield(held[1])  # a cancelled request leaves the connect running
        except Exception:
            self._drop_aconn()
            self._aconn_failed_at = time.monotonic()
            return None

    def _drop_aconn(self) -> None:
        held, self._aconn = self._aconn, None
        if held is not None and (aconn := _connected(held[1])) is not None:
            held[0].create_task(aconn.close())

    def verify_inline(self, token: str | None) -> TokenInfo | None:
        """A cached verification of ``token`` confirmed without waiting, for an event loop: the
        revocation counter read on SQLite on a connection whose ``busy_timeout`` is 0. ``None``
        when that cannot say (PostgreSQL, not cached, expired, a lock held, an error): the caller
        runs ``verify`` on a thread, which gives the definitive answer."""
        hit = self._hit(token)
        if hit is None:
            return None
        inline = self._inline
        if inline is None:
            inline = self._inline = loop_engine(self.engine) or False
        if inline is False or not self._inline_lock.acquire(blocking=False):
            return None
        try:
            version = _read_version(cast(Engine, inline))
        except Exception:  # a lock or a closed file: the thread path decides
            return None
        finally:
            self._inline_lock.release()
        return hit[0] if hit[2] == version else None

    def _version(self) -> int:
        return _read_version(self.engine)

    def create(self, name: str) -> tuple[str, TokenInfo]:
        """Make a new token; returns the secret (shown once) and its record."""
        name = name.strip()
        if not name or len(name) > 200:
            raise InputError("name", "a token name of 1 to 200 characters is required")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = utcnow()
        with self.engine.begin() as conn:
            row_id = conn.execute(
                insert(api_tokens)
                .values(
                    name=name,
                    token_hash=hash_token(token),
                    prefix=token[:12],
                    created_at=now,
                )
                .returning(api_tokens.c.id)
            ).scalar_one()
        info = TokenInfo(
            id=int(row_id), name=name, prefix=token[:12], created_at=now,
            last_used_at=None, revoked_at=None,
        )
        return token, info

    def list(self, *, include_revoked: bool = True) -> list[TokenInfo]:
        query = select(api_tokens).order_by(api_tokens.c.id)
        if not include_revoked:
            query = query.where(api_tokens.c.revoked_at.is_(None))
        with self.engine.connect() as conn:
            return [_info(row) for row in conn.execute(query).mappings()]

    def has_active(self) -> bool:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(api_tokens.c.id).where(api_tokens.c.revoked_at.is_(None)).limit(1)
            ).first()
        return found is not None

    def verify(self, token: str | None) -> TokenInfo | None:
        """The active token matching ``token``, or ``None``; compares hashes in constant time."""
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = hash_token(token)
        version = self._version() if self.cache_seconds > 0 else 0
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and hit[2] == version and now < hit[1]:
            return hit[0]
        with self.engine.connect() as conn:
            row = conn.execute(
                select(api_tokens).where(api_tokens.c.token_hash == digest)
            ).mappings().first()
        if row is None or not hmac.compare_digest(row["token_hash"], digest):
            return None
        info = _info(row)
        if not info.active:
            return None
        if self.cache_seconds > 0:
            with self._lock:
                if len(self._cache) >= _CACHE_MAX:
                    self._cache.clear()
                self._cache[digest] = (info, now + self.cache_seconds, version)
        return info

    def active_by_id(self, token_id: int) -> tuple[TokenInfo, str] | None:
        """The active token with this id and its stored hash (dashboard sessions are bound to it)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).mappings().first()
        if row is None:
            return None
        info = _info(row)
        return (info, str(row["token_hash"])) if info.active else None

    def touch(self, token_id: int) -> None:
        """Record a use (best effort: called at most once a minute per token by the API)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=utcnow())
            )

    def revoke(self, ident: str) -> int:
        """Revoke by id or by name (every active token of that name); returns how many."""
        cond = api_tokens.c.name == ident
        if ident.isdigit():
            cond = or_(cond, api_tokens.c.id == int(ident))
        with self.engine.begin() as conn:
            count = conn.execute(
                update(api_tokens)
                .where(cond, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            ).rowcount
            if count:
                # Every process's cached verifications end with this commit.
                conn.execute(
                    update(api_token_state)
                    .where(api_token_state.c.id == 1)
                    .values(version=api_token_state.c.version + 1)
                )
        with self._lock:
            self._cache.clear()
        if not count:
            raise NotFoundError("active token", ident)
        return int(count)


class _SharedReads:
    """One event loop's rounds of counter reads (``TokenStore._shared_version``)."""

    __slots__ = ("loop", "next", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        #: The round the callers arriving now wait for (not begun yet); ``None``: nobody waits.
        self.next: asyncio.Future[int] | None = None
        self.task: asyncio.Task[None] | None = None


def _connected(task: asyncio.Task[Any]) -> Any:
    """The connection a finished connect task made, or ``None`` (not done, cancelled, failed)."""
    if not task.done() or task.cancelled() or task.exception() is not None:
        return None
    return task.result()


def _read_version(engine: Engine) -> int:
    """The revocation counter, read on a bare DBAPI cursor (the cost of a cache hit)."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(_S_VERSION)
        row = cur.fetchone()
        cur.close()
        raw.rollback()
    finally:
        raw.close()
    return int(row[0]) if row else 0


def _info(m: RowMapping) -> TokenInfo:
    return TokenInfo(
        id=int(m["id"]),
        name=m["name"],
        prefix=m["prefix"],
        created_at=m["created_at"],
        last_used_at=m["last_used_at"],
        revoked_at=m["revoked_at"],
    )
