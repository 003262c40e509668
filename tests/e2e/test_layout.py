"""The finish of the dashboard in a real browser: no horizontal scroll at 390 px, dark mode (from the
system and from the toggle, remembered), screenshots at 1366 and 390 px, an axe-core scan with no
serious violations, and the API docs rendered from local assets."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import add_account
from tests.e2e.browser import axe_violations, browser_page, shot
from tests.fixtures.api import ApiServer, StartServer

pytestmark = pytest.mark.browser

PAGES = ("/", "/compose", "/calendar", "/slots", "/accounts", "/stats", "/insights", "/validate")


def _server_with_a_job(start_api: StartServer, sqlite_url: str) -> tuple[ApiServer, str]:
    server = start_api(sqlite_url)
    client = server.client()
    add_account(client, "acme", "tiktok")
    add_account(client, "acme", "youtube")
    job = client.post(
        "/api/publishing/publish/scheduled",
        json={"account_id": "acme", "platforms": ["tiktok", "youtube"], "title": "A rather long title "
              "that has to wrap on a phone", "video_path": str(server.media_root / "video.mp4"),
              "scheduled_time": "2099-01-01T10:00:00Z"},
    ).json()
    return server, str(job["id"])


def _ready(pg: Any, path: str) -> None:
    pg.wait_for_load_state("networkidle")
    if path == "/calendar":
        pg.locator(".fc-view-harness, .fc-list").first.wait_for()


def test_phone_width_has_no_horizontal_scroll(start_api: StartServer, sqlite_url: str) -> None:
    server, job = _server_with_a_job(start_api, sqlite_url)
    with browser_page(server, width=390, height=844, is_mobile=True, has_touch=True) as pg:
        for path in (*PAGES, f"/jobs/{job}"):
            pg.goto(server.url + path)
            _ready(pg, path)
            wide = pg.evaluate(
                "() => [document.documentElement.scrollWidth, "
                "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391)"
                ".slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className)]"
            )
            assert wide[0] <= 390, (path, wide)
            name = "job" if path.startswith("/jobs/") else (path.strip("/") or "jobs")
            shot(pg, f"layout-390-{name}")


def test_dark_mode_follows_system_and_toggle(start_api: StartServer, sqlite_url: str) -> None:
    from playwright.sync_api import expect

    server, job = _server_with_a_job(start_api, sqlite_url)
    background = "() => getComputedStyle(document.body).backgroundColor"
    with browser_page(server, color_scheme="dark") as pg:
        pg.goto(server.url + "/compose")
        dark = pg.evaluate(background)
        assert dark == "rgb(18, 21, 28)", dark
        expect(pg.locator("#theme-toggle")).to_have_attribute("aria-pressed", "true")
        shot(pg, "dark-compose-1366")
        pg.goto(server.url + f"/jobs/{job}")
        pg.wait_for_load_state("networkidle")
        shot(pg, "dark-job-1366")
        pg.goto(server.url + "/calendar?month=2099-01")
        pg.locator(".fc-daygrid-day").first.wait_for()
        shot(pg, "dark-calendar-1366")
        # the toggle wins over the system and is remembered
        pg.click("#theme-toggle")
        assert pg.evaluate(background) == "rgb(246, 247, 251)"
        pg.reload()
        assert pg.evaluate(background) == "rgb(246, 247, 251)"
        expect(pg.locator("#theme-toggle")).to_have_attribute("aria-pressed", "false")
    with browser_page(server, color_scheme="light") as pg:
        pg.goto(server.url + "/")
        assert pg.evaluate(background) == "rgb(246, 247, 251)"
        pg.click("#theme-toggle")
        assert pg.evaluate(background) == "rgb(18, 21, 28)"
        for path in PAGES:
            pg.goto(server.url + path)
            _ready(pg, path)
            shot(pg, f"layout-1366-{path.strip('/') or 'jobs'}")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_accessibility_scan(start_api: StartServer, sqlite_url: str, scheme: str) -> None:
    server, job = _server_with_a_job(start_api, sqlite_url)
    # axe is injected as a script tag, which the pages' CSP would refuse: bypass it for the scan
    with browser_page(server, color_scheme=scheme, bypass_csp=True) as pg:
        found: dict[str, list[Any]] = {}
        for path in (*PAGES, f"/jobs/{job}"):
            pg.goto(server.url + path)
            _ready(pg, path)
            bad = axe_violations(pg)
            if bad:
                found[path] = [(v["id"], v["help"], v["nodes"]) for v in bad]
        assert found == {}


def test_api_docs_render_from_local_assets(start_api: StartServer, sqlite_url: str) -> None:
    from playwright.sync_api import expect

    server = start_api(sqlite_url)
    with browser_page(server) as pg:
        outside: list[str] = []
        pg.on("requestfinished",
              lambda r: outside.append(r.url) if not r.url.startswith(server.url) else None)
        pg.goto(server.url + "/docs")
        expect(pg.locator(".swagger-ui .opblock").first).to_be_visible(timeout=30_000)
        expect(pg.locator(".swagger-ui")).to_contain_text("/api/publishing/uploads/files")
        pg.goto(server.url + "/redoc")
        expect(pg.locator("redoc, [data-role='redoc'], .redoc-wrap").first).to_be_attached()
        expect(pg.get_by_text("Publish now, schedule, batch").first).to_be_visible(timeout=30_000)
        assert [u for u in outside if not u.startswith(("data:", "blob:"))] == []
