"""Accounts: encrypted at rest, masked on the way out, checked on the way in."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine

from multipublish.accounts import AccountStore
from multipublish.errors import (
    ConfigurationError,
    CredentialsError,
    ErrorKind,
    InputError,
    NotFoundError,
    PlatformError,
)
from multipublish.manager import PublishingManager
from multipublish.platforms.registry import build_client
from multipublish.settings import Settings

API_KEY = "upk_live_SECRETSECRET_9f8e7d6c"
YT_SECRET = "GOCSPX-topsecret-client-secret"
YT_REFRESH = "1//refresh-token-very-secret"


def _store(engine: Engine, key: str | None) -> AccountStore:
    return AccountStore(engine, Settings(secret_key=key))


def test_add_list_get_remove_masked(engine: Engine, secret_key: str) -> None:
    store = _store(engine, secret_key)
    view = store.add("brand", "tiktok", {"api_key": API_KEY, "user": "brand_tt"})
    assert view["credentials"] == {"api_key": "****" + API_KEY[-4:], "user": "brand_tt"}
    store.add("brand", "facebook", {"api_key": "short", "user": "u", "page_id": "42"})
    store.add(
        "brand",
        "youtube",
        {
            "client_id": "cid.apps",
            "client_secret": YT_SECRET,
            "refresh_token": YT_REFRESH,
            "channel_name": "Chan",
        },
    )
    store.add("other", "linkedin", {"api_key": API_KEY, "user": "o"})
    listed = store.list_accounts()
    assert [(a["account_id"], a["platform"]) for a in listed] == [
        ("brand", "facebook"),
        ("brand", "tiktok"),
        ("brand", "youtube"),
        ("other", "linkedin"),
    ]
    assert [a["platform"] for a in store.list_accounts("brand")] == ["facebook", "tiktok", "youtube"]
    fb = store.get("brand", "facebook")["credentials"]
    assert fb == {"api_key": "****", "user": "u", "page_id": "42"}
    yt = store.get("brand", "youtube")["credentials"]
    assert yt["client_secret"] == "****" + YT_SECRET[-4:] and yt["channel_name"] == "Chan"
    assert YT_REFRESH not in repr(listed) and API_KEY not in repr(listed)
    # The clear credentials are what a client gets.
    assert store.load("brand", "tiktok").credentials["api_key"] == API_KEY
    assert store.remove("brand", "tiktok") == 1
    with pytest.raises(NotFoundError):
        store.get("brand", "tiktok")
    assert store.remove("brand") == 2
    with pytest.raises(NotFoundError):
        store.remove("brand")


def test_update_credentials_merges(engine: Engine, secret_key: str) -> None:
    store = _store(engine, secret_key)
    store.add("yt", "youtube", {"client_id": "c", "client_secret": YT_SECRET, "refresh_token": YT_REFRESH})
    store.update_credentials("yt", "youtube", {"token": "ya29.access", "expiry": "2030-01-01T00:00:00Z"})
    creds = store.load("yt", "youtube").credentials
    assert creds == {
        "client_id": "c",
        "client_secret": YT_SECRET,
        "refresh_token": YT_REFRESH,
        "token": "ya29.access",
        "expiry": "2030-01-01T00:00:00Z",
    }
    with pytest.raises(InputError) as info:
        store.update_credentials("yt", "youtube", {"password": "x"})
    assert info.value.field == "credentials.password"
    with pytest.raises(NotFoundError):
        store.update_credentials("nobody", "youtube", {"token": "t"})


@pytest.mark.parametrize(
    ("platform", "credentials", "field"),
    [
        ("tiktok", {"api_key": "k"}, "credentials.user"),
        ("tiktok", {"api_key": "k", "user": "u", "pasword": "x"}, "credentials.pasword"),
        ("instagram", {"api_key": "", "user": "u"}, "credentials.api_key"),
        ("facebook", {"api_key": "k", "user": "u", "page_id": 5}, "credentials.page_id"),
        ("linkedin", {"api_key": 5, "user": "u"}, "credentials.api_key"),
        ("youtube", {"channel_name": "c"}, "credentials.client_secrets_file"),
        ("youtube", {"client_id": "c"}, "credentials.client_secrets_file"),
        ("youtube", {"client_secrets_file": "s.json", "api_key": "k"}, "credentials.api_key"),
    ],
)
def test_credential_shapes_checked_on_add(
    sqlite_url: str, secret_key: str, platform: str, credentials: dict[str, object], field: str
) -> None:
    manager = PublishingManager(Settings(secret_key=secret_key, database_url=sqlite_url))
    with pytest.raises(InputError) as info:
        manager.add_account("acct", platform, credentials)
    assert info.value.field == field
    assert manager.list_accounts() == []


def test_bad_account_id_and_platform(sqlite_url: str, secret_key: str) -> None:
    manager = PublishingManager(Settings(secret_key=secret_key, database_url=sqlite_url))
    with pytest.raises(InputError) as info:
        manager.add_account(" ", "tiktok", {"api_key": "k", "user": "u"})
    assert info.value.field == "account_id"
    with pytest.raises(InputError) as info:
        manager.add_account("a", "vine", {"api_key": "k", "user": "u"})
    assert info.value.field == "platform"


def test_missing_secret_key_is_a_configuration_error(sqlite_url: str) -> None:
    manager = PublishingManager(Settings(database_url=sqlite_url))
    with pytest.raises(ConfigurationError) as info:
        manager.add_account("a", "tiktok", {"api_key": API_KEY, "user": "u"})
    assert "MULTIPUBLISH_SECRET_KEY" in str(info.value) and "keygen" in str(info.value)
    bad = PublishingManager(Settings(database_url=sqlite_url, secret_key="not-a-fernet-key"))
    with pytest.raises(ConfigurationError):
        bad.add_account("a", "tiktok", {"api_key": API_KEY, "user": "u"})


def test_wrong_secret_key_says_so_without_leaking(sqlite_url: str, secret_key: str) -> None:
    first = PublishingManager(Settings(secret_key=secret_key, database_url=sqlite_url))
    first.add_account("a", "tiktok", {"api_key": API_KEY, "user": "u"})
    other_key = Fernet.generate_key().decode()
    second = PublishingManager(Settings(secret_key=other_key, database_url=sqlite_url))
    with pytest.raises(CredentialsError) as info:
        second.get_account("a", "tiktok")
    message = str(info.value)
    assert "MULTIPUBLISH_SECRET_KEY" in message
    for secret in (API_KEY, secret_key, other_key):
        assert secret not in message and secret not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


async def test_secrets_nowhere_in_clear(
    sqlite_url: str, secret_key: str, caplog: pytest.LogCaptureFixture, sandbox_url: str
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings(secret_key=secret_key, database_url=sqlite_url, sandbox_url=sandbox_url)
    manager = PublishingManager(settings)
    manager.add_account("acct", "tiktok", {"api_key": API_KEY, "user": "u"})
    manager.add_account(
        "acct", "youtube", {"client_id": "c", "client_secret": YT_SECRET, "refresh_token": YT_REFRESH}
    )
    manager.add_account("bad", "linkedin", {"api_key": "invalid-" + API_KEY, "user": "u"})
    assert await manager.authenticate_account("acct", "tiktok")
    assert not await manager.authenticate_account("bad", "linkedin")
    record = manager.accounts.load("acct", "tiktok")
    client = build_client("tiktok", "acct", record.credentials, settings, lambda _c: None)
    errors: list[BaseException] = [PlatformError("tiktok", ErrorKind.AUTH, "x")]
    try:
        manager.add_account("acct", "tiktok", {"api_key": API_KEY, "user": "u", "secret": API_KEY})
    except InputError as exc:
        errors.append(exc)
    texts = [
        repr(manager),
        str(manager),
        repr(manager.accounts),
        repr(record),
        str(record),
        repr(client),
        str(client),
        repr(getattr(client, "api", "")),
        repr(manager.list_accounts()),
        repr(manager.get_account("acct", "youtube")),
        *(repr(e) + str(e) for e in errors),
        caplog.text,
    ]
    await client.aclose()
    await manager.aclose()
    db_bytes = b"".join(
        p.read_bytes() for p in Path(sqlite_url.removeprefix("sqlite:///")).parent.glob("multipublish.db*")
    )
    for secret in (API_KEY, YT_SECRET, YT_REFRESH, secret_key):
        for text in texts:
            assert secret not in text
        assert secret.encode() not in db_bytes
    assert b"tiktok" in db_bytes  # the file was read (and holds the rows)
