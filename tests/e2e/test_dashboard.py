"""The dashboard in a real headless Chromium (Debian's, driven by Playwright).

Log in with a token, watch a job go from scheduled to completed, cancel another, look at the
calendar, stats chart, accounts and validation pages; a screenshot goes to ``test-artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.api.helpers import add_account
from tests.e2e.browser import ARGS, ARTIFACTS, CHROMIUM
from tests.fixtures.api import ApiServer, StartServer

pytestmark = pytest.mark.browser


@pytest.fixture
def page(start_api: StartServer, sqlite_url: str) -> Iterator[tuple[object, ApiServer]]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    server = start_api(sqlite_url)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        pg = context.new_page()
        pg.set_default_timeout(20_000)
        yield pg, server
        context.close()
        browser.close()


def test_dashboard_login_watch_cancel(page: tuple[object, ApiServer]) -> None:
    from playwright.sync_api import Page, expect

    pg, server = page
    assert isinstance(pg, Page)
    client = server.client()
    add_account(client, "acme", "tiktok")
    video = str(server.media_root / "video.mp4")
    later = {"account_id": "acme", "platforms": ["tiktok"], "video_path": video,
             "scheduled_time": "2099-01-01T10:00:00Z"}
    watched = client.post("/api/publishing/publish/scheduled",
                          json={**later, "title": "Watched"}).json()
    doomed = client.post("/api/publishing/publish/scheduled",
                         json={**later, "title": "Doomed"}).json()

    # not logged in: every page sends us to the login form; a wrong token is refused
    pg.goto(server.url + "/")
    expect(pg).to_have_url(server.url + "/login")
    pg.fill("#token", "mpt_wrong-token-value")
    pg.click("#login")
    expect(pg.locator(".error")).to_contain_text("Unknown or revoked token")
    pg.fill("#token", server.token)
    pg.click("#login")
    expect(pg).to_have_url(server.url + "/")
    cookie = next(c for c in pg.context.cookies() if c["name"] == "multipublish_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    row = pg.locator(f"#job-{watched['id']}")
    expect(row).to_have_attribute("data-status", "scheduled")
    expect(pg.locator(f"#job-{doomed['id']}")).to_have_attribute("data-status", "scheduled")

    # the job becomes due; the page follows it to completed without a reload
    now = datetime.now(UTC).isoformat()
    moved = client.patch(f"/api/publishing/jobs/{watched['id']}", json={"scheduled_time": now})
    assert moved.status_code == 200, moved.text
    expect(row).to_have_attribute("data-status", "completed")
    expect(row.locator('[data-platform="tiktok"]')).to_contain_text("published")

    # cancel from the dashboard (a cookie-authenticated POST with its CSRF header)
    pg.click(f"#job-{doomed['id']} button.cancel")
    expect(pg.locator(f"#job-{doomed['id']}")).to_have_attribute("data-status", "cancelled")
    assert client.get(f"/api/publishing/jobs/{doomed['id']}").json()["status"] == "cancelled"
    # without the CSRF header the same cookie cannot change anything
    status = pg.evaluate(
        "async (id) => (await fetch(`/api/publishing/jobs/${id}/retry`, {method: 'POST'})).status",
        doomed["id"],
    )
    assert status == 403

    # filters
    pg.select_option("#filter-status", "cancelled")
    expect(pg.locator("#jobs tbody tr")).to_have_count(1)
    pg.select_option("#filter-status", "")
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "dashboard-jobs.png"), full_page=True)

    pg.goto(server.url + "/stats")
    expect(pg.locator('#chart rect.bar[data-platform="tiktok"]')).to_have_count(1)
    expect(pg.locator('.count[data-key="completed"] b')).to_have_text("1")
    pg.screenshot(path=str(ARTIFACTS / "dashboard-stats.png"), full_page=True)

    pg.goto(server.url + "/calendar?month=2099-01")
    expect(pg.locator(".fc-daygrid-day").first).to_be_visible()
    expect(pg.locator("#calendar .fc-event")).to_have_count(0)  # the watched job was moved to now
    pg.goto(server.url + "/accounts")
    expect(pg.locator("#accounts")).to_contain_text("****")
    assert "sk_live" not in pg.content()

    pg.goto(server.url + "/validate")
    pg.fill("#video_path", video)
    pg.click("#validate")
    expect(pg.locator('#validation tr[data-platform="tiktok"]')).to_contain_text("valid")
    pg.fill("#video_path", "/etc/passwd")
    pg.click("#validate")
    expect(pg.locator("#message")).to_contain_text("outside the configured media roots")

    pg.click("text=Log out")
    expect(pg).to_have_url(server.url + "/login")
    pg.goto(server.url + "/")
    expect(pg).to_have_url(server.url + "/login")
