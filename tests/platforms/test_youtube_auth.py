"""YouTube OAuth2 against the sandbox's token endpoint, through the real account store on SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from multipublish.accounts import AccountStore
from multipublish.cli.accounts_auth import authorize_account
from multipublish.errors import ErrorKind, NotFoundError, PlatformError
from multipublish.platforms.base import PublishConfig, PublishStatus
from multipublish.platforms.google_oauth import (
    ANALYTICS_SCOPES,
    UPLOAD_SCOPE,
    YOUTUBE_SCOPES,
    can_read_analytics,
    merge_token,
    token_file_path,
)
from multipublish.settings import Settings
from tests.fixtures.youtube import (
    ACCOUNT,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    ClientFactory,
    arm,
    set_config,
    youtube_posts,
    youtube_state,
)

CONFIG = PublishConfig(title="Auth test", description="d")


def _stored(store: AccountStore, account_id: str = ACCOUNT) -> dict[str, Any]:
    return store.load(account_id, "youtube").credentials


async def test_first_use_refreshes_and_saves_the_token_keeping_the_refresh_token(
    sandbox_url: str,
    yt_add_account: Callable[..., Any],
    yt_client: ClientFactory,
    yt_store: AccountStore,
    yt_clip: Path,
) -> None:
    yt_add_account()  # a refresh token only: the first call must get an access token
    result = await yt_client().publish(yt_clip, CONFIG, post_type="video", request_id="a1")
    assert result.success, result.error
    stored = _stored(yt_store)
    assert stored["token"].startswith("ya29.sandbox-")
    assert datetime.fromisoformat(stored["expiry"].replace("Z", "+00:00")) > datetime.now(UTC)
    # The refresh answer carries no refresh token: the stored one stays.
    assert stored["refresh_token"] == REFRESH_TOKEN


async def test_expired_stored_token_is_refreshed_before_use(
    sandbox_url: str,
    yt_add_account: Callable[..., Any],
    yt_client: ClientFactory,
    yt_store: AccountStore,
    yt_clip: Path,
) -> None:
    past = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    yt_add_account(token="ya29.stale-token-from-yesterday", expiry=past)
    result = await yt_client().publish(yt_clip, CONFIG, post_type="video", request_id="a2")
    assert result.success, result.error
    stored = _stored(yt_store)
    assert stored["token"] != "ya29.stale-token-from-yesterday"
    assert stored["expiry"] > past
    assert stored["refresh_token"] == REFRESH_TOKEN


async def test_token_refused_mid_way_is_refreshed_once_and_the_call_repeated(
    sandbox_url: str,
    yt_add_account: Callable[..., Any],
    yt_client: ClientFactory,
    yt_store: AccountStore,
    yt_clip: Path,
) -> None:
    yt_add_account()
    client = yt_client()
    await client.authenticate()
    first = _stored(yt_store)["token"]
    # Tokens the server expired early (its clock, a revocation of the access token...).
    httpx.post(f"{sandbox_url}/_sandbox/tokens/expire", timeout=10).raise_for_status()
    arm(sandbox_url, "expired_token", on="chunk")  # and one more 401 in the middle of the upload
    result = await client.publish(yt_clip, CONFIG, post_type="video", request_id="a3")
    assert result.success, result.error
    assert _stored(yt_store)["token"] not in (first, None)
    assert _stored(yt_store)["refresh_token"] == REFRESH_TOKEN
    assert len(youtube_posts(sandbox_url)) == 1


async def test_short_lived_tokens_are_refreshed_as_they_expire(
    sandbox_url: str,
    yt_add_account: Callable[..., Any],
    yt_client: ClientFactory,
    yt_store: AccountStore,
    yt_clip: Path,
) -> None:
    set_config(sandbox_url, token_lifetime=60)  # inside google-auth's refresh margin: always due
    yt_add_account()
    client = yt_client()
    tokens = set()
    for n in range(2):
        result = await client.publish(yt_clip, CONFIG, post_type="video", request_id=f"s{n}")
        assert result.success, result.error
        tokens.add(_stored(yt_store)["token"])
    assert len(tokens) == 2


async def test_revoked_refresh_token_is_an_auth_failure_naming_the_fix(
    sandbox_url: str,
    yt_add_account: Callable[..., Any],
    yt_client: ClientFactory,
    yt_store: AccountStore,
    yt_clip: Path,
) -> None:
    yt_add_account(refresh_token="revoked-by-the-user")
    client = yt_client()
    result = await client.publish(yt_clip, CONFIG, post_type="video", request_id="a4")
    assert result.status is PublishStatus.FAILED
    assert result.error_kind is ErrorKind.AUTH
    assert "invalid_grant" in (result.error or "")
    assert f"multipublish accounts auth {ACCOUNT}" in (result.error or "")
    assert "revoked-by-the-user" not in (result.error or "")
    assert youtube_state(sandbox_url)["sessions"] == []
    with pytest.raises(PlatformError) as refused:
        await client.authenticate()
    assert refused.value.kind is ErrorKind.AUTH
    assert _stored(yt_store)["refresh_token"] == "revoked-by-the-user"  # nothing overwritten


async def test_token_endpoint_outage_is_transient_not_auth(
    sandbox_url: str, yt_add_account: Callable[..., Any], yt_client: ClientFactory, yt_clip: Path
) -> None:
    yt_add_account()
    arm(sandbox_url, "drop_connection", platform="token", times=1)
    result = await yt_client().publish(yt_clip, CONFIG, post_type="video", request_id="a5")
    assert result.status is PublishStatus.FAILED
    assert result.error_kind is ErrorKind.TRANSIENT


async def test_authenticate_finds_the_channel_and_saves_its_id(
    sandbox_url: str,
    yt_add_account: Callable[..., Any],
    yt_client: ClientFactory,
    yt_store: AccountStore,
) -> None:
    yt_add_account()
    client = yt_client()
    await client.authenticate()
    assert client.channel is not None and client.channel["id"].startswith("UC")
    stored = _stored(yt_store)
    assert stored["channel_id"] == client.channel["id"]
    assert stored["channel_name"] == client.channel["title"]


async def test_authenticate_refuses_a_token_of_another_channel(
    sandbox_url: str, yt_add_account: Callable[..., Any], yt_client: ClientFactory
) -> None:
    yt_add_account(channel_id="UCsomebody-else-entirely")
    with pytest.raises(PlatformError) as refused:
        await yt_client().authenticate()
    assert refused.value.kind is ErrorKind.AUTH
    assert "UCsomebody-else-entirely" in refused.value.message


async def test_token_file_in_oauth_storage_dir_is_read_and_updated(
    sandbox_url: str,
    yt_store: AccountStore,
    yt_client_secrets: Path,
    yt_client: ClientFactory,
    yt_clip: Path,
    tmp_path: Path,
) -> None:
    storage = tmp_path / "oauth"
    creds = {"client_secrets_file": str(yt_client_secrets), "oauth_storage_dir": str(storage)}
    path = token_file_path(creds, ACCOUNT)
    assert path is not None
    storage.mkdir()
    path.write_text(json.dumps({"refresh_token": REFRESH_TOKEN, "token_uri": "https://example"}))
    yt_store.add(ACCOUNT, "youtube", creds)

    result = await yt_client().publish(yt_clip, CONFIG, post_type="video", request_id="a6")
    assert result.success, result.error
    saved = json.loads(path.read_text())
    assert saved["refresh_token"] == REFRESH_TOKEN
    assert saved["token"] == _stored(yt_store)["token"]
    assert path.stat().st_mode & 0o077 == 0  # owner only


def test_an_empty_refresh_token_never_replaces_the_stored_one(
    yt_add_account: Callable[..., Any], yt_store: AccountStore
) -> None:
    yt_add_account()
    for empty in ("", None):
        partial = merge_token({}, {"token": "ya29.new", "refresh_token": empty})
        yt_store.update_credentials(ACCOUNT, "youtube", partial)
        assert _stored(yt_store)["refresh_token"] == REFRESH_TOKEN
    yt_store.update_credentials(ACCOUNT, "youtube", merge_token({}, {"refresh_token": "1//new"}))
    assert _stored(yt_store)["refresh_token"] == "1//new"


@pytest.fixture
def consenting(sandbox_url: str, yt_store: AccountStore, yt_client_secrets: Path) -> AccountStore:
    """The account, its client secrets sending consent to the sandbox's screen; its store."""
    secrets = json.loads(yt_client_secrets.read_text())
    secrets["installed"]["auth_uri"] = f"{sandbox_url}/o/oauth2/auth"
    yt_client_secrets.write_text(json.dumps(secrets))
    yt_store.add(ACCOUNT, "youtube", {"client_secrets_file": str(yt_client_secrets)})
    return yt_store


def _consent_in_background(url_holder: list[str]) -> Callable[[str], None]:
    """Play the user: open the printed URL; the sandbox consents and redirects to our server."""

    def prompt(message: str) -> None:
        url = message.strip().splitlines()[-1]
        url_holder.append(url)

        def visit() -> None:
            httpx.get(url, follow_redirects=True, timeout=10)

        threading.Thread(target=visit, daemon=True).start()

    return prompt


def test_consent_flow_stores_the_new_token_and_it_works(
    sandbox_url: str, yt_settings: Settings, consenting: AccountStore
) -> None:
    yt_store = consenting
    urls: list[str] = []

    masked = authorize_account(
        ACCOUNT,
        yt_settings,
        open_browser=False,
        host="127.0.0.1",
        timeout_seconds=20,
        echo=_consent_in_background(urls),
    )

    [url] = urls
    assert url.startswith(f"{sandbox_url}/o/oauth2/auth?")
    assert "access_type=offline" in url and CLIENT_SECRET not in url
    stored = _stored(yt_store)
    assert stored["refresh_token"].startswith("1//sandbox-")
    assert stored["token"].startswith("ya29.sandbox-")
    assert "token_uri" not in stored  # the sandbox's endpoint is not written into the account
    assert stored["refresh_token"] not in json.dumps(masked)


def test_reconnect_with_analytics_asks_for_it_and_stores_the_granted_scopes(
    sandbox_url: str, yt_settings: Settings, consenting: AccountStore
) -> None:
    yt_store = consenting
    urls: list[str] = []

    def consent(**kwargs: Any) -> None:
        authorize_account(ACCOUNT, yt_settings, open_browser=False, host="127.0.0.1",
                          timeout_seconds=20, echo=_consent_in_background(urls), **kwargs)

    consent()  # connected without analytics: not asked, not stored
    assert ANALYTICS_SCOPES[0] not in httpx.URL(urls[-1]).params["scope"].split()
    assert not can_read_analytics(_stored(yt_store)["scopes"])
    consent(analytics=True)  # the same account again, with analytics
    assert ANALYTICS_SCOPES[0] in httpx.URL(urls[-1]).params["scope"].split()
    stored = _stored(yt_store)
    assert ANALYTICS_SCOPES[0] in stored["scopes"] and UPLOAD_SCOPE in stored["scopes"]
    # a user who unticks analytics on Google's screen is still connected, without it
    set_config(sandbox_url, youtube_granted_scopes=" ".join(YOUTUBE_SCOPES))
    consent(analytics=True)
    stored = _stored(yt_store)
    assert stored["refresh_token"].startswith("1//sandbox-") and not can_read_analytics(stored["scopes"])


def test_consent_for_an_unknown_account_is_not_found(yt_settings: Settings) -> None:
    with pytest.raises(NotFoundError):
        authorize_account("nobody", yt_settings, open_browser=False, timeout_seconds=1)


def test_cli_accounts_auth_no_browser_prints_the_url_and_stores_the_token(
    sandbox_url: str, yt_settings: Settings, consenting: AccountStore
) -> None:
    yt_store = consenting
    assert yt_settings.secret_key is not None
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MULTIPUBLISH_")},
        "MULTIPUBLISH_DATABASE_URL": yt_settings.database_url,
        "MULTIPUBLISH_SECRET_KEY": yt_settings.secret_key.get_secret_value(),
        "MULTIPUBLISH_SANDBOX_URL": sandbox_url,
    }
    command = [sys.executable, "-m", "multipublish", "accounts", "auth", ACCOUNT, "--no-browser"]
    command += ["--host", "127.0.0.1", "--timeout", "30"]
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith(f"{sandbox_url}/o/oauth2/auth?"):
                httpx.get(line.strip(), follow_redirects=True, timeout=10)  # the user consents
                break
        out, err = proc.communicate(timeout=60)
    output = "".join(lines) + out
    assert proc.returncode == 0, err
    assert f"Stored the YouTube token of account {ACCOUNT}." in output
    stored = _stored(yt_store)
    assert "Channel: Sandbox channel" in output and stored["channel_id"].startswith("UC")
    assert stored["refresh_token"].startswith("1//sandbox-")
    assert stored["refresh_token"] not in output + err


def test_cli_accounts_auth_of_an_unknown_account_fails_clearly(yt_settings: Settings) -> None:
    from typer.testing import CliRunner

    from multipublish.cli import app

    assert yt_settings.secret_key is not None
    env = {
        "MULTIPUBLISH_DATABASE_URL": yt_settings.database_url,
        "MULTIPUBLISH_SECRET_KEY": yt_settings.secret_key.get_secret_value(),
    }
    result = CliRunner().invoke(app, ["accounts", "auth", "nobody", "--no-browser"], env=env)
    assert result.exit_code == 1
    assert "nobody" in result.output and "multipublish accounts add" in result.output
    wrong = CliRunner().invoke(app, ["accounts", "auth", "nobody", "--platform", "tiktok"], env=env)
    assert wrong.exit_code == 2


async def test_user_granting_only_the_upload_scope_still_publishes(
    sandbox_url: str,
    yt_settings: Settings,
    yt_store: AccountStore,
    yt_client_secrets: Path,
    yt_client: Any,
    yt_clip: Path,
    yt_thumbnail: Path,
) -> None:
    """Google's consent screen lets a user untick a scope: oauthlib's "Scope has changed" is not
    raised, the granted scopes are stored, and what they do not cover is skipped with a warning."""
    upload_only = "https://www.googleapis.com/auth/youtube.upload"
    set_config(sandbox_url, youtube_granted_scopes=upload_only)
    yt_store.add(ACCOUNT, "youtube", {"client_secrets_file": str(yt_client_secrets)})
    authorize_account(
        ACCOUNT,
        yt_settings,
        open_browser=False,
        host="127.0.0.1",
        timeout_seconds=20,
        echo=_consent_in_background([]),
    )
    assert _stored(yt_store)["scopes"] == [upload_only]
    config = PublishConfig(
        title="t", thumbnail_path=str(yt_thumbnail), platform_specific={"youtube": {"playlist_id": "PL1"}}
    )
    result = await yt_client().publish(yt_clip, config, post_type="video", request_id="r")
    assert result.success, result.error
    [warning] = result.details["warnings"]
    assert "only the upload scope" in warning and "thumbnail and playlist not set" in warning
    assert youtube_state(sandbox_url)["thumbnails"] == {}
