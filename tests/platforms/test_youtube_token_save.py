"""A refreshed YouTube token is never dropped, even when the database refuses it for a while."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import OperationalError

from multipublish.accounts import AccountStore
from multipublish.platforms.google_oauth import GoogleOAuth
from multipublish.settings import Settings
from tests.fixtures.youtube import ACCOUNT, REFRESH_TOKEN


async def test_a_token_the_store_refused_is_saved_on_next_use(
    yt_add_account: Callable[..., Any], yt_store: AccountStore, yt_settings: Settings
) -> None:
    yt_add_account()
    outage = [True]
    saves: list[dict[str, Any]] = []

    def save(partial: dict[str, Any]) -> None:
        if outage[0]:  # a database outage longer than the store's own retries
            raise OperationalError("UPDATE accounts", {}, Exception("database is locked"))
        saves.append(dict(partial))
        yt_store.update_credentials(ACCOUNT, "youtube", partial)

    oauth = GoogleOAuth(ACCOUNT, yt_store.load(ACCOUNT, "youtube").credentials, yt_settings, save)
    token = await oauth.access_token()  # refreshes against the sandbox; the save is refused
    assert token.startswith("ya29.")
    assert "token" not in yt_store.load(ACCOUNT, "youtube").credentials
    outage[0] = False
    assert await oauth.access_token() == token  # still valid: no new refresh, the pending save runs
    stored = yt_store.load(ACCOUNT, "youtube").credentials
    assert stored["token"] == token and stored["refresh_token"] == REFRESH_TOKEN
    assert len(saves) == 1
    oauth.close()
