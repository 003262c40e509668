"""The composer in a real browser: a real video uploaded over tus (and resumed after a cut),
live checks per platform, publish now and watch the job page, schedule in the user's zone."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from multipublish.db import jobs as jobs_table
from tests.api.helpers import add_account
from tests.e2e.browser import browser_page, shot
from tests.fixtures.api import StartServer

pytestmark = pytest.mark.browser


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _db_time(url: str, job_id: str) -> datetime:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            value = conn.execute(
                select(jobs_table.c.scheduled_time).where(jobs_table.c.id == job_id)
            ).scalar_one()
    finally:
        engine.dispose()
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_compose_upload_publish_and_job_page(
    start_api: StartServer, db_url: str, vertical_video: Path
) -> None:
    from playwright.sync_api import expect

    server = start_api(db_url)
    client = server.client()
    add_account(client, "acme", "tiktok")
    add_account(client, "acme", "youtube")
    with browser_page(server) as pg:
        pg.goto(server.url + "/compose")
        expect(pg.locator("#pf-tiktok")).to_be_checked()
        expect(pg.locator("#pf-instagram")).to_be_disabled()  # not connected to this account
        # small chunks so the upload takes several PATCH requests; one of them is cut off
        pg.evaluate("document.getElementById('video-drop').dataset.chunkSize = '131072'")
        patches: list[int] = []
        cut = {"done": False}

        def on_route(route: Any) -> None:
            req = route.request
            if req.method == "PATCH":
                offset = int(req.headers.get("upload-offset", "0"))
                patches.append(offset)
                if len(patches) == 3 and not cut["done"]:
                    cut["done"] = True
                    route.abort("connectionreset")
                    return
            route.continue_()

        pg.route("**/api/publishing/uploads/tus/**", on_route)
        pg.set_input_files("#video-file", str(vertical_video))
        expect(pg.locator("#upload-status")).to_contain_text("Uploaded", timeout=60_000)
        assert cut["done"]
        # after the cut, the upload went on from the server's offset, not from zero
        assert patches[3] == patches[2] > 0, patches
        assert 0 not in patches[1:]
        assert pg.locator("#upload-progress").evaluate("p => p.value") == 100
        expect(pg.locator("#media-facts")).to_contain_text("1080×1920")
        path = Path(pg.locator("#video_path").input_value())
        assert path.is_file() and _sha(path) == _sha(vertical_video)
        expect(pg.locator("#card-tiktok .checks")).to_contain_text("ready for tiktok")

        # live checks as the user types: YouTube's title limit, counted and refused
        pg.fill("#title", "x" * 120)
        expect(pg.locator('#counters-youtube [data-counter="title"]')).to_have_class("counter over")
        expect(pg.locator("#card-youtube .checks")).to_contain_text("100")
        expect(pg.locator("#card-youtube")).to_have_attribute("data-valid", "false")
        pg.click("#publish")
        expect(pg.locator("#message")).to_contain_text("youtube")
        assert client.get("/api/publishing/jobs").json()["count"] == 0  # nothing half made
        pg.fill("#title", "Launch day")
        pg.fill("#description", "Our new thing")
        pg.fill("#tags", "launch, new")
        expect(pg.locator("#card-youtube")).to_have_attribute("data-valid", "true")
        expect(pg.locator('[data-caption="tiktok"]')).to_contain_text("#launch #new")
        expect(pg.locator("#preview-tiktok .frame")).to_have_attribute("data-mode", "as is")
        expect(pg.locator("#preview-youtube .frame")).to_have_attribute("data-mode", "pad")
        pg.select_option("#opt-youtube-privacy_status", "unlisted")
        shot(pg, "composer-1366")

        # publish now, then follow the link to the job page and watch it complete
        pg.click("#publish")
        link = pg.locator("#published a.job-link").first
        expect(link).to_be_visible()
        job_id = link.inner_text()
        job = client.get(f"/api/publishing/jobs/{job_id}").json()
        assert job["config"]["platform_specific"]["youtube"] == {"privacy_status": "unlisted"}
        assert job["config"]["tags"] == ["launch", "new"]
        link.click()
        expect(pg.locator("#job-status")).to_have_attribute("data-status", "completed", timeout=30_000)
        for name in ("tiktok", "youtube"):
            card = pg.locator(f'#platforms [data-platform="{name}"]')
            expect(card).to_have_attribute("data-status", "published")
            url = client.get(f"/api/publishing/jobs/{job_id}").json()["results"][name]["url"]
            expect(card.locator("a.post-link")).to_have_attribute("href", url)
            expect(card.locator(".timeline li[data-outcome]")).to_have_count(1)
        expect(pg.locator("#cancel")).to_have_count(0)  # a finished job cannot be cancelled
        expect(pg.locator("#summary")).not_to_contain_text("null")
        shot(pg, "job-page-1366")

        # schedule at a wall-clock time in the user's chosen zone; a past time is refused in words
        pg.goto(server.url + "/compose")
        pg.select_option("#user-tz", "Asia/Tokyo")
        pg.select_option("#uploaded", str(path))
        expect(pg.locator("#media-facts")).to_contain_text("1080×1920")
        pg.fill("#title", "Later")
        pg.check('input[name="when"][value="at"]')
        pg.fill("#scheduled_time", "2020-01-01T10:00")
        pg.click("#publish")
        expect(pg.locator("#err-scheduled_time")).to_contain_text("in the past")
        pg.fill("#scheduled_time", "2099-01-01T10:00")
        pg.click("#publish")
        expect(pg.locator("#published a.job-link")).to_be_visible()
        later = pg.locator("#published a.job-link").first.inner_text()
        assert _db_time(server.settings.database_url, later) == datetime(2099, 1, 1, 1, 0, tzinfo=UTC)
        assert pg.evaluate("localStorage.getItem('mp-tz')") == "Asia/Tokyo"


def test_upload_cut_off_resumes_after_reload_and_refuses_non_video(
    start_api: StartServer, sqlite_url: str, vertical_video: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    server = start_api(sqlite_url)
    add_account(server.client(), "acme", "tiktok")
    with browser_page(server) as pg:
        pg.goto(server.url + "/compose")
        # not a video: refused next to the field, nothing uploaded
        text = tmp_path / "notes.txt"
        text.write_text("hello")
        pg.set_input_files("#video-file", str(text))
        expect(pg.locator("#err-video_file")).to_contain_text("not a video")
        # the server refuses it too, whatever the page does
        status = pg.evaluate(
            """async () => (await fetch('/api/publishing/uploads/tus', {method: 'POST', headers: {
                'Tus-Resumable': '1.0.0', 'Upload-Length': '5', 'X-CSRF-Token': csrf(),
                'Upload-Metadata': 'filename ' + btoa('notes.txt') + ',filetype ' + btoa('text/plain')
            }})).status"""
        )
        assert status == 415

        # cut the connection for good after two pieces: the page says where it stopped
        pg.evaluate(
            "Object.assign(document.getElementById('video-drop').dataset, "
            "{chunkSize: '131072', retryDelays: '[]'})"
        )
        sent: list[int] = []

        def cut(route: Any) -> None:
            if route.request.method == "PATCH":
                sent.append(int(route.request.headers.get("upload-offset", "0")))
                if len(sent) > 2:
                    route.abort("connectionreset")
                    return
            route.continue_()

        pg.route("**/api/publishing/uploads/tus/**", cut)
        pg.set_input_files("#video-file", str(vertical_video))
        expect(pg.locator("#upload-status")).to_contain_text("stopped at")
        expect(pg.locator("#upload-resume")).to_be_visible()
        pg.unroute("**/api/publishing/uploads/tus/**")

        # a new page (the tab was closed): the same file goes on from where the server stopped
        resumed: list[int] = []
        pg.goto(server.url + "/compose")
        pg.evaluate("document.getElementById('video-drop').dataset.chunkSize = '131072'")
        pg.on("request", lambda r: resumed.append(int(r.headers.get("upload-offset", "0")))
              if r.method == "PATCH" else None)
        pg.set_input_files("#video-file", str(vertical_video))
        expect(pg.locator("#upload-status")).to_contain_text("Uploaded", timeout=60_000)
        assert resumed and resumed[0] == 2 * 131072, (sent, resumed)
        expect(pg.locator("#media-facts")).to_contain_text("1080×1920")
        path = Path(pg.locator("#video_path").input_value())
        assert _sha(path) == _sha(vertical_video)
        listing = server.client().get("/api/publishing/uploads/files").json()["files"]
        assert [f["filename"] for f in listing] == [vertical_video.name]


def test_drafts_are_saved_and_reopened(start_api: StartServer, sqlite_url: str) -> None:
    from playwright.sync_api import expect

    server = start_api(sqlite_url)
    add_account(server.client(), "acme", "tiktok")
    add_account(server.client(), "acme", "linkedin")
    with browser_page(server) as pg:
        pg.goto(server.url + "/compose")
        pg.fill("#title", "Half done")
        pg.fill("#description", "to finish tomorrow")
        pg.uncheck("#pf-linkedin")
        pg.fill("#override-tiktok", "tiktok words")
        pg.click("#save-draft")
        expect(pg.locator("#message")).to_contain_text("Draft saved")
        drafts = server.client().get("/api/publishing/drafts").json()["drafts"]
        assert len(drafts) == 1 and drafts[0]["title"] == "Half done"
        assert json.dumps(drafts[0]["data"]).count("tiktok words") == 1
        pg.goto(server.url + "/compose")
        pg.select_option("#drafts", drafts[0]["id"])
        expect(pg.locator("#title")).to_have_value("Half done")
        expect(pg.locator("#override-tiktok")).to_have_value("tiktok words")
        expect(pg.locator("#pf-linkedin")).not_to_be_checked()


def _save_draft(page: Any, title: str, saved: bool = True) -> None:
    """Type a title and press "Save draft"; wait for the word that it was saved (when expected)."""
    from playwright.sync_api import expect

    page.fill("#title", title)
    page.click("#save-draft")
    if saved:
        expect(page.locator("#message")).to_contain_text("Draft saved")


def test_a_second_tab_saving_a_stale_draft_is_refused(start_api: StartServer, sqlite_url: str) -> None:
    """Two tabs on one draft: the stale one is told, nothing is lost, and it may overwrite."""
    from playwright.sync_api import expect

    server = start_api(sqlite_url, start_workers=False)
    client = server.client()
    add_account(client, "acme", "tiktok")
    with browser_page(server) as first:
        first.goto(server.url + "/compose")
        _save_draft(first, "Version one")
        draft_id = client.get("/api/publishing/drafts").json()["drafts"][0]["id"]
        second = first.context.new_page()  # another tab, same session
        second.goto(server.url + "/compose")
        second.locator(f'#drafts option[value="{draft_id}"]').wait_for(state="attached")
        second.select_option("#drafts", draft_id)
        expect(second.locator("#title")).to_have_value("Version one")

        _save_draft(first, "Newer words from the first tab")
        _save_draft(second, "Stale tab words", saved=False)
        expect(second.locator("#message")).to_contain_text("changed in another tab")
        expect(second.locator("#draft-conflict")).to_be_visible()
        assert client.get(f"/api/publishing/drafts/{draft_id}").json()["title"] == (
            "Newer words from the first tab")  # nothing overwritten
        expect(second.locator("#title")).to_have_value("Stale tab words")  # nor lost in the tab

        second.click("#draft-copy")  # keep both
        expect(second.locator("#message")).to_contain_text("Draft saved")
        titles = sorted(d["title"] for d in client.get("/api/publishing/drafts").json()["drafts"])
        assert titles == ["Newer words from the first tab", "Stale tab words"]

        # the second tab opens the draft afresh and saves: now the first tab is the stale one, and
        # overwrites on purpose
        second.select_option("#drafts", draft_id)
        expect(second.locator("#title")).to_have_value("Newer words from the first tab")
        _save_draft(second, "Second tab wins")
        _save_draft(first, "First tab, now stale", saved=False)
        expect(first.locator("#draft-conflict")).to_be_visible()
        first.click("#draft-overwrite")
        expect(first.locator("#message")).to_contain_text("Draft saved")
        assert client.get(f"/api/publishing/drafts/{draft_id}").json()["title"] == "First tab, now stale"


def test_fix_offered_for_a_video_a_platform_refuses(
    start_api: StartServer, sqlite_url: str, video_factory: Any
) -> None:
    from playwright.sync_api import expect

    server = start_api(sqlite_url)
    client = server.client()
    add_account(client, "acme", "tiktok")
    four_three = Path(video_factory("mp4", width=640, height=480, duration=3.0, fps=30))
    uploads = server.media_root / "uploads"
    uploads.mkdir(exist_ok=True)
    target = uploads / "00000000000a_four_three.mp4"
    target.write_bytes(four_three.read_bytes())
    with browser_page(server) as pg:
        pg.goto(server.url + "/compose")
        pg.select_option("#uploaded", str(target))
        expect(pg.locator("#card-tiktok")).to_have_attribute("data-valid", "false")
        expect(pg.locator("#card-tiktok .checks")).to_contain_text("aspect")
        expect(pg.locator("#fix-text")).to_contain_text("Fix offered")
        pg.fill("#title", "Fixed")
        pg.click("#publish")
        expect(pg.locator("#message")).to_contain_text("tiktok")  # refused until the fix is chosen
        pg.check("#auto_fix")
        expect(pg.locator("#card-tiktok")).to_have_attribute("data-valid", "true")
        expect(pg.locator("#card-tiktok .checks")).to_contain_text("will be fixed before upload")
        pg.click("#publish")
        link = pg.locator("#published a.job-link").first
        expect(link).to_be_visible()
        job_id = link.inner_text()
        link.click()
        expect(pg.locator("#job-status")).to_have_attribute("data-status", "completed", timeout=90_000)
        job = client.get(f"/api/publishing/jobs/{job_id}").json()
        actions = job["results"]["tiktok"]["preparation"]["actions"]
        assert "reframe_pad" in actions
        expect(pg.locator('.platform-card[data-platform="tiktok"] .prepared')).to_have_text(
            "Prepared for this platform: " + ", ".join(actions)
        )
    assert job["config"]["auto_fix"] is True
    assert job["results"]["tiktok"]["status"] == "published"


def test_job_page_cancel_with_confirmation_and_a_stale_page(start_api: StartServer, sqlite_url: str) -> None:
    from playwright.sync_api import expect

    server = start_api(sqlite_url)
    client = server.client()
    add_account(client, "acme", "tiktok")
    job = client.post("/api/publishing/publish/scheduled", json={
        "account_id": "acme", "platforms": ["tiktok"], "video_path": str(server.media_root / "video.mp4"),
        "title": "Later", "scheduled_time": "2099-01-01T10:00:00Z"}).json()
    other = client.post("/api/publishing/publish/scheduled", json={
        "account_id": "acme", "platforms": ["tiktok"], "video_path": str(server.media_root / "video.mp4"),
        "title": "Also later", "scheduled_time": "2099-01-02T10:00:00Z"}).json()
    with browser_page(server) as pg:
        pg.goto(server.url + f"/jobs/{job['id']}")
        expect(pg.locator("#job-status")).to_have_attribute("data-status", "scheduled")
        expect(pg.locator("#retry")).to_have_count(0)  # only a failed job retries
        expect(pg.locator(".timeline li.next")).to_contain_text("Publishes")
        pg.click("#cancel")
        expect(pg.locator("#confirm")).to_be_visible()
        pg.click("#confirm-no")  # changed their mind: nothing happens
        assert client.get(f"/api/publishing/jobs/{job['id']}").json()["status"] == "scheduled"
        pg.click("#cancel")
        pg.click("#confirm-yes")
        expect(pg.locator("#job-status")).to_have_attribute("data-status", "cancelled")
        expect(pg.locator("#cancel")).to_have_count(0)
        expect(pg.locator("#retry")).to_have_count(0)  # the queue does not retry a cancelled job

        # a stale page: the job is cancelled elsewhere while this page asks for confirmation
        pg.goto(server.url + f"/jobs/{other['id']}")
        expect(pg.locator("#job-status")).to_have_attribute("data-status", "scheduled")
        pg.click("#cancel")
        expect(pg.locator("#confirm")).to_be_visible()
        assert client.post(f"/api/publishing/jobs/{other['id']}/cancel").status_code == 200
        pg.click("#confirm-yes")
        expect(pg.locator("#message")).to_contain_text("Cannot cancel")
        expect(pg.locator("#message")).to_contain_text("now shows the job as it is")
        expect(pg.locator("#job-status")).to_have_attribute("data-status", "cancelled")
        expect(pg.locator("#cancel")).to_have_count(0)
        pg.goto(server.url + "/jobs/job_doesnotexist")
        expect(pg.locator("#summary")).to_contain_text("No job job_doesnotexist")
