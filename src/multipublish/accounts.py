"""Accounts: per-platform credentials, encrypted at rest with Fernet.

One ``account_id`` may hold several platforms (the brief's ``publish_multi_platform(account_id=...)``).
Credentials are JSON encrypted with ``settings.secret_key``; reads for display return a masked copy,
and nothing secret reaches a repr, a log line or an error message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Engine, bindparam, delete, insert, select, update

from multipublish.catalogue import PLATFORMS, UPLOAD_POST_PLATFORMS, parse_platform
from multipublish.db import accounts, utcnow
from multipublish.db.engine import single_statement
from multipublish.db.rawsql import Hot
from multipublish.db.retry import retry_write, write_transaction
from multipublish.errors import (
    ConfigurationError,
    ConflictError,
    CredentialsError,
    InputError,
    NotFoundError,
)
from multipublish.settings import Settings

log = logging.getLogger(__name__)
#: An account's platforms, in order (``platforms_of``: a check made by every schedule).
_H_PLATFORMS_OF = Hot(
    select(accounts.c.platform)
    .where(accounts.c.account_id == bindparam("account_id"))
    .order_by(accounts.c.platform)
)

#: Credential fields per platform: (required, optional). YouTube's ``client_secrets_file`` or
#: ``client_id`` + ``client_secret`` is checked separately.
_UPLOAD_POST_FIELDS: tuple[frozenset[str], frozenset[str]] = (
    frozenset({"api_key", "user"}),
    frozenset(),
)
CREDENTIAL_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "tiktok": _UPLOAD_POST_FIELDS,
    "instagram": _UPLOAD_POST_FIELDS,
    "linkedin": _UPLOAD_POST_FIELDS,
    # Without a page id upload-post posts to the profile's only page, or lists the pages.
    "facebook": (frozenset({"api_key", "user"}), frozenset({"page_id"})),
    "youtube": (
        frozenset(),
        frozenset(
            {
                "client_secrets",
                "client_secrets_file",
                "client_id",
                "client_secret",
                "channel_name",
                "channel_id",
                # the channel's channels.list status.longUploadsStatus, cached (youtube.py)
                "long_uploads_status",
                "long_uploads_checked_at",
                "oauth_storage_dir",
                "refresh_token",
                "token",
                "token_uri",
                "scopes",
                "expiry",
            }
        ),
    ),
}

#: Fields shown in clear (names and ids a user recognises); everything else is masked.
PUBLIC_FIELDS = frozenset(
    {
        "user",
        "page_id",
        "channel_name",
        "channel_id",
        "client_secrets_file",
        "oauth_storage_dir",
        "token_uri",
        "scopes",
        "expiry",
        "client_id",
    }
)


def mask_secret(value: Any) -> str:
    """``"****abcd"`` for long secrets (last four kept), ``"****"`` for short or non-strings."""
    if isinstance(value, str) and len(value) >= 12:
        return "****" + value[-4:]
    return "****"


def mask_credentials(credentials: Mapping[str, Any]) -> dict[str, Any]:
    """A copy fit for display: public fields in clear, secrets masked, empty values kept empty."""
    return {
        key: value if key in PUBLIC_FIELDS or value in (None, "") else mask_secret(value)
        for key, value in credentials.items()
    }


def google_secrets_file_as_credentials(platform: str, credentials: dict[str, Any]) -> dict[str, Any]:
    """Google's downloaded ``client_secret_*.json`` as it is (``{"installed": {...}}`` for a
    desktop client, ``{"web": {...}}`` for a web one) becomes ``{"client_secrets": <file>}``."""
    if platform != "youtube":
        return credentials
    kinds = [k for k in ("installed", "web") if isinstance(credentials.get(k), dict)]
    if len(kinds) != 1:
        return credentials
    rest = {k: v for k, v in credentials.items() if k not in ("installed", "web")}
    return {"client_secrets": {kinds[0]: credentials[kinds[0]]}, **rest}


def check_credentials(platform: str, credentials: Mapping[str, Any], *, partial: bool = False) -> None:
    """Refuse unknown or missing fields with ``InputError(field, reason)``, before anything is stored."""
    if not isinstance(credentials, Mapping):
        raise InputError("credentials", "must be an object of field names to values")
    required, optional = CREDENTIAL_FIELDS[platform]
    allowed = required | optional
    for key, value in credentials.items():
        if key not in allowed:
            raise InputError(
                f"credentials.{key}",
                f"unknown field for {platform} (allowed: {', '.join(sorted(allowed))})",
            )
        if key == "scopes":
            if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
                raise InputError("credentials.scopes", "must be a list of strings")
        elif key == "client_secrets":
            if not isinstance(value, dict | str):
                raise InputError(
                    "credentials.client_secrets", "must be the client secrets JSON (object or text)"
                )
        elif value is not None and not isinstance(value, str):
            raise InputError(f"credentials.{key}", "must be a string")
    if partial:
        return
    for key in sorted(required):
        if not str(credentials.get(key) or "").strip():
            raise InputError(f"credentials.{key}", f"required for {platform}")
    if platform == "youtube":
        has_file = bool(credentials.get("client_secrets_file") or credentials.get("client_secrets"))
        has_pair = bool(credentials.get("client_id")) and bool(credentials.get("client_secret"))
        if not (has_file or has_pair):
            raise InputError(
                "credentials.client_secrets_file",
                "youtube needs client_secrets (the file's content), client_secrets_file, "
                "or client_id and client_secret",
            )


def check_remote_credentials(
    platform: str, credentials: Mapping[str, Any], settings: Settings
) -> None:
    """Refuse what a remote client may not make the server reach: endpoints and server paths.

    For credentials that arrive over the network (REST API, dashboard). ``token_uri`` is a server
    setting (a client's could aim the refresh, with the secrets, at an internal address);
    ``client_secrets_file`` must lie in ``MULTIPUBLISH_GOOGLE_SECRETS_DIR`` and
    ``oauth_storage_dir`` in ``MULTIPUBLISH_GOOGLE_TOKEN_DIR``. Nothing is fetched and the answer
    for a bad path is the same whether or not the file exists.
    """
    from multipublish.platforms.google_oauth import (
        BAD_SECRETS_PATH,
        contained,
        load_client_config,
        resolve_token_uri,
    )

    if platform != "youtube":
        return
    token_uri = credentials.get("token_uri")
    if token_uri and token_uri != resolve_token_uri(settings):
        raise InputError(
            "credentials.token_uri",
            "the token endpoint is a server setting (MULTIPUBLISH_GOOGLE_TOKEN_URL); leave it out",
        )
    path = credentials.get("client_secrets_file")
    if path and not credentials.get("client_secrets"):
        if settings.google_secrets_dir is None:
            raise InputError(
                "credentials.client_secrets_file",
                "this server takes no secrets paths (MULTIPUBLISH_GOOGLE_SECRETS_DIR is unset); "
                "send the file's content as credentials.client_secrets",
            )
        try:
            load_client_config(
                {"client_secrets_file": path}, secrets_dir=settings.google_secrets_dir
            )
        except ValueError:
            raise InputError("credentials.client_secrets_file", BAD_SECRETS_PATH) from None
    elif credentials.get("client_secrets"):
        try:
            load_client_config(credentials)
        except ValueError as exc:
            raise InputError("credentials.client_secrets", str(exc)) from None
    storage = credentials.get("oauth_storage_dir")
    if storage:
        root = settings.google_token_dir
        if root is None or contained(str(storage), root) is None:
            raise InputError(
                "credentials.oauth_storage_dir",
                "must be a folder under the server's token folder (MULTIPUBLISH_GOOGLE_TOKEN_DIR)",
            )


def _display(credentials: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: credentials[k] for k in ("user", "page_id", "channel_name", "channel_id") if credentials.get(k)
    }


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """One stored (account, platform) pair with decrypted credentials; repr hides them."""

    account_id: str
    platform: str
    credentials: dict[str, Any]

    def __repr__(self) -> str:
        return f"AccountRecord(account_id={self.account_id!r}, platform={self.platform!r})"

    __str__ = __repr__


class AccountStore:
    """CRUD over the ``accounts`` table; credentials go in and out encrypted."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        #: One-statement reads outside any transaction (no BEGIN, COMMIT or ROLLBACK round trip).
        self._single = single_statement(engine)
        self._settings = settings

    def __repr__(self) -> str:
        return f"AccountStore(url={self._engine.url.render_as_string(hide_password=True)!r})"

    # -- encryption -----------------------------------------------------------------------------
    def _fernet(self) -> Fernet:
        key = self._settings.secret_key
        if key is None or not key.get_secret_value().strip():
            raise ConfigurationError(
                "no secret key for credential encryption: set MULTIPUBLISH_SECRET_KEY "
                "(create one with `multipublish keygen`)"
            )
        try:
            return Fernet(key.get_secret_value().strip().encode())
        except (ValueError, TypeError):
            raise ConfigurationError(
                "MULTIPUBLISH_SECRET_KEY is not a valid Fernet key (32 url-safe base64 bytes; "
                "create one with `multipublish keygen`)"
            ) from None

    def _encrypt(self, credentials: Mapping[str, Any]) -> bytes:
        return self._fernet().encrypt(json.dumps(dict(credentials)).encode())

    def _decrypt(self, token: bytes, account_id: str, platform: str) -> dict[str, Any]:
        fernet = self._fernet()
        try:
            data = json.loads(fernet.decrypt(bytes(token)))
        except InvalidToken:
            raise CredentialsError(
                f"credentials of account {account_id!r} ({platform}) cannot be decrypted: "
                "MULTIPUBLISH_SECRET_KEY is not the key they were stored with"
            ) from None
        except ValueError:
            raise CredentialsError(
                f"credentials of account {account_id!r} ({platform}) are malformed"
            ) from None
        if not isinstance(data, dict):
            raise CredentialsError(f"credentials of account {account_id!r} ({platform}) are malformed")
        return data

    # -- operations -----------------------------------------------------------------------------
    @staticmethod
    def _platform(platform: str) -> str:
        base, _ = parse_platform(platform)
        return base

    @staticmethod
    def _check_id(account_id: str) -> str:
        if not isinstance(account_id, str) or not account_id.strip():
            raise InputError("account_id", "must be a non-empty string")
        if len(account_id) > 200:
            raise InputError("account_id", "at most 200 characters")
        return account_id.strip()

    def add(
        self, account_id: str, platform: str, credentials: Mapping[str, Any], *, replace: bool = True
    ) -> dict[str, Any]:
        """Store (or replace) one platform's credentials under ``account_id``; returns the masked view."""
        account_id = self._check_id(account_id)
        platform = self._platform(platform)
        creds = google_secrets_file_as_credentials(platform, dict(credentials))
        check_credentials(platform, creds)
        for key in ("api_key", "user", "page_id"):
            if isinstance(creds.get(key), str):
                creds[key] = creds[key].strip()
        token = self._encrypt(creds)
        now = utcnow()

        def write() -> None:
            # Read then write under the write lock taken up front, so the busy timeout applies.
            with write_transaction(self._engine) as conn:
                exists = conn.execute(
                    select(accounts.c.id).where(
                        accounts.c.account_id == account_id, accounts.c.platform == platform
                    )
                ).first()
                if exists and not replace:
                    raise ConflictError(f"account {account_id!r} already has {platform}")
                if exists:
                    conn.execute(
                        update(accounts)
                        .where(accounts.c.id == exists.id)
                        .values(credentials=token, display=_display(creds), updated_at=now)
                    )
                else:
                    conn.execute(
                        insert(accounts).values(
                            account_id=account_id,
                            platform=platform,
                            credentials=token,
                            display=_display(creds),
                            created_at=now,
                            updated_at=now,
                        )
                    )

        retry_write(write, what=f"storing account {account_id}/{platform}")
        log.info("account %s: %s credentials stored", account_id, platform)
        return self._view(account_id, platform, creds, now, now)

    @staticmethod
    def _view(
        account_id: str, platform: str, creds: Mapping[str, Any], created: Any, updated: Any
    ) -> dict[str, Any]:
        return {
            "account_id": account_id,
            "platform": platform,
            "credentials": mask_credentials(creds),
            "created_at": created.isoformat() if created else None,
            "updated_at": updated.isoformat() if updated else None,
        }

    def get(self, account_id: str, platform: str) -> dict[str, Any]:
        """The masked view of one (account, platform)."""
        record = self.load(account_id, platform)
        with self._engine.connect() as conn:
            row = conn.execute(
                select(accounts.c.created_at, accounts.c.updated_at).where(
                    accounts.c.account_id == record.account_id,
                    accounts.c.platform == record.platform,
                )
            ).one()
        return self._view(
            record.account_id, record.platform, record.credentials, row.created_at, row.updated_at
        )

    def load(self, account_id: str, platform: str) -> AccountRecord:
        """Decrypted credentials for a client; raises ``NotFoundError`` when absent."""
        base = self._platform(platform)
        with self._engine.connect() as conn:
            row = conn.execute(
                select(accounts.c.credentials).where(
                    accounts.c.account_id == account_id, accounts.c.platform == base
                )
            ).first()
        if row is None:
            raise NotFoundError("account", f"{account_id}/{base}")
        return AccountRecord(account_id, base, self._decrypt(row.credentials, account_id, base))

    def list_accounts(self, account_id: str | None = None) -> list[dict[str, Any]]:
        """Masked views of every stored pair (of one account id when given), sorted."""
        query = select(accounts).order_by(accounts.c.account_id, accounts.c.platform)
        if account_id is not None:
            query = query.where(accounts.c.account_id == account_id)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            self._view(
                row.account_id,
                row.platform,
                self._decrypt(row.credentials, row.account_id, row.platform),
                row.created_at,
                row.updated_at,
            )
            for row in rows
        ]

    def platforms_of(self, account_id: str) -> list[str]:
        """The platforms stored under ``account_id`` (no decryption)."""
        with self._single.connect() as conn:  # every schedule reads it
            return [row[0] for row in _H_PLATFORMS_OF.rows(conn, {"account_id": account_id})]

    def remove(self, account_id: str, platform: str | None = None) -> int:
        """Delete one platform (or all) of ``account_id``; returns how many were deleted."""
        stmt = delete(accounts).where(accounts.c.account_id == account_id)
        if platform is not None:
            stmt = stmt.where(accounts.c.platform == self._platform(platform))

        def write() -> int:
            with write_transaction(self._engine) as conn:
                return int(conn.execute(stmt).rowcount or 0)

        count = retry_write(write, what=f"removing account {account_id}")
        if count == 0:
            raise NotFoundError("account", f"{account_id}/{platform}" if platform else account_id)
        log.info("account %s: %d platform(s) removed", account_id, count)
        return int(count)

    def update_credentials(
        self, account_id: str, platform: str, partial: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Merge ``partial`` into the stored credentials (refreshed tokens); returns the masked view.

        Merging, not replacing: a token refresh that returns only an access token keeps the
        stored refresh token and client secrets.
        """
        base = self._platform(platform)
        check_credentials(base, partial, partial=True)

        def write() -> dict[str, Any]:
            # A refreshed token must not be lost to a busy database: the lock is taken up front
            # (the busy timeout applies) and a transient failure is retried.
            with write_transaction(self._engine) as conn:
                row = conn.execute(
                    select(accounts.c.id, accounts.c.credentials).where(
                        accounts.c.account_id == account_id, accounts.c.platform == base
                    )
                ).first()
                if row is None:
                    raise NotFoundError("account", f"{account_id}/{base}")
                merged = self._decrypt(row.credentials, account_id, base)
                merged.update(dict(partial))
                conn.execute(
                    update(accounts)
                    .where(accounts.c.id == row.id)
                    .values(
                        credentials=self._encrypt(merged), display=_display(merged), updated_at=utcnow()
                    )
                )
                return merged

        creds = retry_write(write, what=f"updating account {account_id}/{base}")
        log.info("account %s: %s credentials updated", account_id, base)
        return mask_credentials(creds)


__all__ = [
    "CREDENTIAL_FIELDS",
    "PLATFORMS",
    "UPLOAD_POST_PLATFORMS",
    "AccountRecord",
    "AccountStore",
    "check_credentials",
    "check_remote_credentials",
    "mask_credentials",
]
