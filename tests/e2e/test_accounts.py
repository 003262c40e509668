"""Accounts in a real browser against the upload-post sandbox: a key and profile checked with the
service before anything is saved, the connected networks listed, then each account's status."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.browser import browser_page, shot
from tests.fixtures.api import StartServer

pytestmark = pytest.mark.browser


def test_add_upload_post_profile_checked_first(
    start_api: StartServer, sqlite_url: str, sandbox_url: str
) -> None:
    from playwright.sync_api import expect

    httpx.post(f"{sandbox_url}/_sandbox/config", timeout=10,
               json={"profiles": {"studio": ["tiktok", "linkedin"]}, "plan": "pro"}).raise_for_status()
    server = start_api(sqlite_url)
    with browser_page(server) as pg:
        pg.goto(server.url + "/accounts")
        pg.click("#profile-check")
        expect(pg.locator("#err-account_id")).to_be_visible()  # errors next to the fields
        pg.fill("#new-account", "studio")
        pg.fill("#new-key", "invalid-key-123456")
        pg.fill("#new-user", "studio")
        pg.click("#profile-check")
        expect(pg.locator("#profile-verdict")).to_contain_text("refused the API key")
        expect(pg.locator("#profile-save")).to_be_disabled()
        pg.fill("#new-key", "sk_live_studio_key_0001")
        pg.fill("#new-user", "nobody")
        pg.click("#profile-check")
        expect(pg.locator("#profile-verdict")).to_contain_text("does not exist")
        expect(pg.locator("#profile-verdict")).to_contain_text("studio")  # the key's profiles
        assert server.client().get("/api/publishing/accounts").json() == []  # nothing saved yet
        pg.fill("#new-user", "studio")
        pg.click("#profile-check")
        expect(pg.locator("#profile-verdict")).to_contain_text("connected to linkedin, tiktok")
        expect(pg.locator("#profile-platforms input")).to_have_count(2)
        pg.uncheck("#add-linkedin")
        pg.click("#profile-save")
        expect(pg.locator('#accounts tr[data-account="studio"]')).to_have_count(1)
        saved = server.client().get("/api/publishing/accounts").json()
        assert [(a["account_id"], a["platform"]) for a in saved] == [("studio", "tiktok")]
        assert "sk_live_studio_key_0001" not in pg.content()  # masked on the page
        pg.click('#accounts tr[data-platform="tiktok"] button.check')
        status = pg.locator('#accounts tr[data-platform="tiktok"] .account-status [data-ok]')
        expect(status).to_have_attribute("data-ok", "true")
        expect(status).to_have_text("connected")
        shot(pg, "accounts-1366")
