"""Calendar and queue slots in a real browser: drag a post to another day and see the job's time
change in the database; refusals in words; add to queue takes the next free slot."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.api.helpers import add_account, add_jobs
from tests.e2e.browser import browser_page, shot
from tests.e2e.test_composer import _db_time
from tests.fixtures.api import StartServer

pytestmark = pytest.mark.browser


def _drag(pg: Any, source: Any, target: Any) -> None:
    """Drag as a person does: press, move in steps (FullCalendar waits for real movement), release."""
    from playwright.sync_api import expect

    # a refetch may be redrawing the events (after a refused move, say): the page says so
    expect(pg.locator("#calendar")).not_to_have_attribute("aria-busy", "true")
    a = b = None
    for _ in range(50):  # the element may be replaced by a redraw between finding and measuring it
        expect(source).to_be_visible()
        expect(target).to_be_visible()
        a, b = source.bounding_box(), target.bounding_box()
        if a and b:
            break
        pg.wait_for_timeout(100)
    assert a and b
    pg.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    pg.mouse.down()
    pg.mouse.move(a["x"] + a["width"] / 2 + 5, a["y"] + a["height"] / 2 + 5, steps=3)
    pg.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=12)
    pg.mouse.up()


def _schedule(client: Any, video: str, title: str, when: str) -> str:
    resp = client.post(
        "/api/publishing/publish/scheduled",
        json={"account_id": "acme", "platforms": ["tiktok"], "video_path": video, "title": title,
              "scheduled_time": when},
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def test_calendar_drag_reschedules_and_refuses(start_api: StartServer, db_url: str) -> None:
    from playwright.sync_api import expect

    server = start_api(db_url)
    client = server.client()
    add_account(client, "acme", "tiktok")
    video = str(server.media_root / "video.mp4")
    moving = _schedule(client, video, "Moving", "2099-01-10T10:00:00Z")
    stale = _schedule(client, video, "Stale", "2099-01-14T08:00:00Z")
    with browser_page(server) as pg:
        pg.evaluate("localStorage.setItem('mp-tz', 'UTC')")
        pg.goto(server.url + "/calendar?month=2099-01")
        event = pg.locator(f'.fc-event[data-job="{moving}"]')
        expect(event).to_have_count(1)
        expect(event).to_have_attribute("href", f"/jobs/{moving}")
        expect(pg.locator(f'.fc-event[data-job="{stale}"]')).to_have_count(1)
        # a page showing a job that has moved on since: the drag is refused in words and undone
        assert client.post(f"/api/publishing/jobs/{stale}/cancel").status_code == 200
        stale_event = pg.locator(f'.fc-event[data-job="{stale}"]')
        _drag(pg, stale_event, pg.locator('td.fc-day[data-date="2099-01-20"]'))
        expect(pg.locator("#message")).to_contain_text("can no longer move")
        assert _db_time(server.settings.database_url, stale) == datetime(2099, 1, 14, 8, tzinfo=UTC)
        _drag(pg, event, pg.locator('td.fc-day[data-date="2099-01-12"]'))
        expect(pg.locator("#message")).to_contain_text("Moved")
        assert _db_time(server.settings.database_url, moving) == datetime(2099, 1, 12, 10, tzinfo=UTC)
        day12 = pg.locator(f'td.fc-day[data-date="2099-01-12"] .fc-event[data-job="{moving}"]')
        expect(day12).to_have_count(1)
        shot(pg, "calendar-month-1366")

        # in the user's zone: Tokyo shows the 10:00 UTC post at 19:00 on the same day
        pg.select_option("#user-tz", "Asia/Tokyo")
        expect(day12).to_contain_text("19:00")
        pg.reload()
        expect(pg.locator("#user-tz")).to_have_value("Asia/Tokyo")

        # onto a past day: refused before anything is sent
        pg.evaluate("localStorage.setItem('mp-tz', 'UTC')")
        soon = (datetime.now(UTC) + timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
        current = _schedule(client, video, "Soon", soon.isoformat())
        # this month's six weeks always hold tomorrow and a past day, unless today is their first
        # cell (a Monday the 1st): then the previous month's six weeks hold both
        today = datetime.now(UTC).date()
        shown = today if today.day > 1 or today.weekday() else today - timedelta(days=1)
        pg.goto(server.url + f"/calendar?month={shown:%Y-%m}")
        past = pg.locator("td.fc-day-past")
        expect(past.first).to_be_visible()
        _drag(pg, pg.locator(f'.fc-event[data-job="{current}"]'), past.first)
        expect(pg.locator("#message")).to_contain_text("in the past")
        assert _db_time(server.settings.database_url, current) == soon

        # a finished job cannot be dragged at all
        done = client.get(f"/api/publishing/jobs/{stale}").json()
        assert done["status"] == "cancelled"


def test_busy_month_draws_day_counts_that_open_the_days_list(
    start_api: StartServer, sqlite_url: str
) -> None:
    """A month too busy to draw post by post: a count per busy day, its list paged; the week drawn."""
    from playwright.sync_api import expect

    server = start_api(sqlite_url, start_workers=False)
    busy = [datetime(2099, 2, 10, 8, tzinfo=UTC) + timedelta(minutes=5 * i) for i in range(120)]
    # every other day holds 5 posts: more than the month draws one by one
    spread = [datetime(2099, 2, 1 + i % 28, 7, tzinfo=UTC) + timedelta(minutes=i) for i in range(28 * 5)
              if 1 + i % 28 not in (10, 20)]
    add_jobs(server, busy + spread)
    lone = add_jobs(server, [datetime(2099, 2, 20, 15, tzinfo=UTC)], "Lone")[0]
    with browser_page(server) as pg:
        pg.evaluate("localStorage.setItem('mp-tz', 'UTC')")
        pg.goto(server.url + "/calendar?month=2099-02")
        expect(pg.locator("#calendar")).to_have_attribute("data-mode", "counts")
        badge = pg.locator('.fc-event.day-count[data-day="2099-02-10"]')
        expect(badge).to_contain_text("120 posts")
        expect(pg.locator(f'.fc-event[data-job="{lone}"]')).to_have_count(1)  # a quiet day: the post
        assert pg.locator(".fc-event[data-job]").count() == 1
        badge.focus()
        pg.keyboard.press("Enter")  # a badge is a button
        expect(pg.locator("#day-title")).to_contain_text("10")
        items = pg.locator("#day-jobs li")
        expect(items).to_have_count(50)
        pg.click("#day-more")
        expect(items).to_have_count(100)
        pg.click("#day-more")
        expect(items).to_have_count(120)
        expect(pg.locator("#day-more")).to_be_hidden()
        first_id = items.first.get_attribute("data-job")
        expect(items.first.locator("a")).to_have_attribute("href", f"/jobs/{first_id}")
        shot(pg, "calendar-busy-month-1366")
        pg.click("#day-week")  # zoomed in, the week is drawn post by post
        expect(pg.locator("#calendar")).to_have_attribute("data-mode", "posts")
        expect(pg.locator(".fc-timegrid-event[data-job]").first).to_be_attached()


#: Holds the page's read of an account's saved posting times for a while (in the page: the test's
#: own clicks go on meanwhile), as a slow network or a busy server would.
_SLOW_SLOTS = """
(() => {
  const real = window.fetch;
  window.fetch = (url, opts) => {
    const slow = /\\/api\\/publishing\\/slots\\/[^/]+$/.test(String(url)) && !(opts && opts.method === "PUT");
    return slow ? new Promise((ok) => setTimeout(ok, 900)).then(() => real(url, opts)) : real(url, opts);
  };
})();
"""


def test_edits_made_while_the_saved_slots_load_are_kept(start_api: StartServer, sqlite_url: str) -> None:
    """The form waits for the account's saved times: a zone picked and a time added before they
    arrive are not overwritten by them (the page used to reset both when its read came back)."""
    from playwright.sync_api import expect

    server = start_api(sqlite_url)
    client = server.client()
    add_account(client, "acme", "tiktok")
    with browser_page(server) as pg:
        pg.evaluate("localStorage.setItem('mp-tz', 'UTC')")
        pg.add_init_script(_SLOW_SLOTS)
        pg.goto(server.url + "/slots")
        pg.select_option("#slot-tz", "Asia/Tokyo")  # waits until the form is enabled
        pg.select_option("#slot-day", "0")
        pg.fill("#slot-time", "07:15")
        pg.click("#slot-add")
        pg.wait_for_timeout(1500)  # past the held read: whatever it would reset, it has by now
        expect(pg.locator("#slot-list tbody tr[data-slot]")).to_have_count(1)
        pg.click("#slot-save")
        expect(pg.locator("#message")).to_contain_text("Saved 1 posting time(s)")
        stored = client.get("/api/publishing/slots/acme").json()
        assert stored["timezone"] == "Asia/Tokyo"
        assert [(s["weekday"], s["time"]) for s in stored["slots"]] == [(0, "07:15")]


def test_queue_slots_and_add_to_queue(
    start_api: StartServer, sqlite_url: str, vertical_video: Path
) -> None:
    from playwright.sync_api import expect

    server = start_api(sqlite_url)
    client = server.client()
    add_account(client, "acme", "tiktok")
    uploads = server.media_root / "uploads"
    uploads.mkdir(exist_ok=True)
    shutil.copyfile(vertical_video, uploads / "0123456789ab_clip.mp4")
    with browser_page(server) as pg:
        pg.evaluate("localStorage.setItem('mp-tz', 'UTC')")
        pg.goto(server.url + "/slots")
        pg.select_option("#slot-tz", "Europe/Paris")
        pg.select_option("#slot-day", "all")
        pg.fill("#slot-time", "09:00")
        pg.click("#slot-add")
        pg.fill("#slot-time", "18:30")
        pg.select_option("#slot-day", "2")
        pg.click("#slot-add")
        expect(pg.locator("#slot-list tbody tr")).to_have_count(8)
        pg.click("#slot-save")
        expect(pg.locator("#message")).to_contain_text("Saved 8 posting time(s)")
        stored = client.get("/api/publishing/slots/acme").json()
        assert stored["timezone"] == "Europe/Paris" and len(stored["slots"]) == 8
        first = client.get("/api/publishing/slots/acme/next").json()["scheduled_time"]
        first_at = datetime.fromisoformat(first.replace("Z", "+00:00"))
        local = first_at.astimezone(ZoneInfo("Europe/Paris"))
        assert local.strftime("%H:%M") in ("09:00", "18:30") and first_at > datetime.now(UTC)

        taken: list[datetime] = []
        for title in ("Queued one", "Queued two"):
            pg.goto(server.url + "/compose")
            pg.select_option("#uploaded", str(uploads / "0123456789ab_clip.mp4"))
            expect(pg.locator("#card-tiktok .checks")).to_contain_text("ready for tiktok")
            pg.fill("#title", title)
            pg.check('input[name="when"][value="queue"]')
            expect(pg.locator("#publish")).to_have_text("Add to queue")
            pg.click("#publish")
            link = pg.locator("#published a.job-link").first
            expect(link).to_be_visible()
            taken.append(_db_time(server.settings.database_url, link.inner_text()))
        assert taken[0] == first_at  # the next free slot
        assert taken[1] > taken[0]  # the second one takes the slot after it
        after = client.get("/api/publishing/slots/acme/next").json()["scheduled_time"]
        nxt = datetime.fromisoformat(after.replace("Z", "+00:00"))
        assert nxt > taken[1]

        # the calendar draws the slots (free and taken) in the week view
        pg.goto(server.url + f"/calendar?month={taken[0]:%Y-%m}")
        pg.click(".fc-timeGridWeek-button")
        pg.locator(".fc-timegrid").wait_for()
        expect(pg.locator(".fc-bg-event.slot-free, .fc-bg-event.slot-taken").first).to_be_attached()
        shot(pg, "calendar-week-slots-1366")
