"""``Idempotency-Key``: a repeated publish or schedule request returns the first response.

The first request with a key inserts a row (unique per token and key) before doing any work, so two
concurrent retries cannot both create a job: the second sees the row and gets 409 while the first
runs, or the stored response once it has finished. A failed first attempt (4xx/5xx) deletes its row,
so the client can retry it. The same key with another body is refused (422).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from multipublish.api.tables import idempotency_keys
from multipublish.db import utcnow
from multipublish.errors import ConflictError, InputError

HEADER = "Idempotency-Key"
#: How long a stored response is replayed.
RETENTION = timedelta(hours=24)
#: After this, a first attempt that never finished (a crashed server) no longer blocks retries.
STALE_IN_PROGRESS = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: Any


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """A hash of what the request asks for (canonical JSON, so key order does not matter)."""
    canon = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()


def check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > 255 or not key.isascii() or not key.isprintable():
        raise InputError(HEADER, "must be 1 to 255 printable ASCII characters")
    return key


class IdempotencyStore:
    """Rows of ``idempotency_keys``: reserve, complete, or release a key."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def reserve(
        self, scope: str, key: str, method: str, path: str, fingerprint: str
    ) -> StoredResponse | None:
        """Claim ``key`` for this request; return the first response if there already is one."""
        now = utcnow()
        for _ in range(3):
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        insert(idempotency_keys).values(
                            scope=scope, key=key, method=method.upper(), path=path,
                            request_hash=fingerprint, created_at=now,
                        )
                    )
                return None
            except IntegrityError:
                pass
            with self.engine.begin() as conn:
                row = conn.execute(
                    select(idempotency_keys).where(
                        idempotency_keys.c.scope == scope, idempotency_keys.c.key == key
                    )
                ).mappings().first()
                if row is None:
                    continue  # released meanwhile: try again
                if row["request_hash"] != fingerprint:
                    raise InputError(HEADER, "this key was already used with a different request")
                if row["status_code"] is not None:
                    if row["created_at"] < now - RETENTION:
                        self._delete(conn, scope, key)
                        continue
                    return StoredResponse(int(row["status_code"]), row["response"])
                if row["created_at"] < now - STALE_IN_PROGRESS:
                    self._delete(conn, scope, key)
                    continue
            raise ConflictError("a request with this Idempotency-Key is still in progress")
        raise ConflictError("a request with this Idempotency-Key is still in progress")

    def complete(self, scope: str, key: str, status_code: int, body: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(idempotency_keys)
                .where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
                .values(status_code=status_code, response=body, completed_at=utcnow())
            )

    def release(self, scope: str, key: str) -> None:
        """Forget an attempt that failed, so the client may retry with the same key."""
        with self.engine.begin() as conn:
            self._delete(conn, scope, key)

    def purge(self) -> int:
        """Drop responses older than the retention period."""
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    delete(idempotency_keys).where(
                        idempotency_keys.c.created_at < utcnow() - RETENTION
                    )
                ).rowcount
            )

    @staticmethod
    def _delete(conn: Any, scope: str, key: str) -> None:
        conn.execute(
            delete(idempotency_keys).where(
                and_(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
            )
        )
