"""Service tables: API tokens (stored as SHA-256 hashes) and idempotency keys.

Declared on the project's one ``metadata``; migration ``0003_service`` holds their DDL
(``api_token_state``: ``0009_token_version``).
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Integer, String, Table, Text

from multipublish.db.tables import BigIntPK, UTCDateTime, metadata

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    #: ``sha256(token)`` in hex; the token itself is shown once and never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    #: First characters of the token, so a user can tell tokens apart in listings.
    Column("prefix", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    #: Whose key this is (the token id): two clients never share a key space.
    Column("scope", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("method", String(8), nullable=False),
    Column("path", Text, nullable=False),
    #: ``sha256`` of the canonical JSON body: the same key with another body is refused.
    Column("request_hash", String(64), nullable=False),
    #: ``NULL`` while the first request is still running.
    Column("status_code", Integer, nullable=True),
    Column("response", JSON, nullable=True),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("completed_at", UTCDateTime, nullable=True),
)

#: One row (id 1): a counter every revocation bumps, so cached verifications end at once.
api_token_state = Table(
    "api_token_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
)
