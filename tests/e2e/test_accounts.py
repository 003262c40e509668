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
        checks = pg.locator('#accounts tr[data-platform="tiktok"] .account-status li[data-check="profile"]')
        expect(checks).to_contain_text("studio")  # each check said in words
        expect(pg.locator("#page-id-label")).to_be_hidden()
        shot(pg, "accounts-1366")


def test_connect_youtube_through_the_consent_screen(
    start_api: StartServer, sqlite_url: str, sandbox_url: str
) -> None:
    from playwright.sync_api import expect

    httpx.post(f"{sandbox_url}/_sandbox/config", json={"consent_screen": True}, timeout=10).raise_for_status()
    server = start_api(sqlite_url)
    with browser_page(server) as pg:
        pg.goto(server.url + "/accounts")
        expect(pg.locator("#yt-redirect")).to_have_text(server.url + "/accounts/youtube/callback")
        pg.fill("#yt-account", "channel1")
        pg.fill("#yt-client-id", "web-client.apps.googleusercontent.com")
        pg.fill("#yt-client-secret", "GOCSPX-web-secret")
        # Cancel on Google's screen: said in words, nothing stored
        pg.click("#yt-connect")
        pg.locator("#deny").click()
        expect(pg.locator("#message")).to_contain_text("did not grant access")
        assert server.client().get("/api/publishing/accounts").json() == []
        # Allow: back on the accounts page with the channel connected (PKCE checked by the sandbox)
        pg.fill("#yt-account", "channel1")
        pg.fill("#yt-client-id", "web-client.apps.googleusercontent.com")
        pg.fill("#yt-client-secret", "GOCSPX-web-secret")
        pg.check("#yt-analytics")  # opted in: Google's screen asks for Analytics too
        pg.click("#yt-connect")
        expect(pg.locator("#allow")).to_be_visible()
        assert "code_challenge_method=S256" in pg.url and "state=" in pg.url
        expect(pg.locator("main li", has_text="yt-analytics.readonly")).to_have_count(1)
        pg.locator("#allow").click()
        expect(pg.locator("#message")).to_contain_text("YouTube connected for channel1")
        expect(pg.locator('#accounts tr[data-account="channel1"][data-platform="youtube"]')).to_have_count(1)
        assert "GOCSPX-web-secret" not in pg.content() and "1//sandbox-" not in pg.content()
        # the stored token works: the account check reaches the channel with it
        pg.click('#accounts tr[data-platform="youtube"] button.check')
        status = pg.locator('#accounts tr[data-platform="youtube"] .account-status [data-ok]')
        expect(status).to_have_attribute("data-ok", "true")
        # a replayed callback (stale tab, forged state) is refused in words
        pg.goto(server.url + "/accounts/youtube/callback?code=sandbox-code-x&state=forged")
        expect(pg.locator("#message")).to_contain_text("without a state this server started")
    # the sandbox is strict about PKCE: a code exchanged without its verifier is refused
    start = httpx.get(f"{sandbox_url}/o/oauth2/auth", follow_redirects=False, timeout=10, params={
        "client_id": "c", "redirect_uri": "http://127.0.0.1:9/cb", "code_challenge": "abc",
        "code_challenge_method": "S256", "sandbox_consent": "allow", "state": "s"})
    code = httpx.URL(start.headers["location"]).params["code"]
    refused = httpx.post(f"{sandbox_url}/token", timeout=10, data={
        "grant_type": "authorization_code", "code": code, "client_id": "c", "client_secret": "s",
        "redirect_uri": "http://127.0.0.1:9/cb", "code_verifier": "wrong"})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
