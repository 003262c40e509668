"""The workspace API over real HTTP on SQLite and PostgreSQL: queue slots (time zones, DST), add to
queue, drafts, the calendar range read and a job's attempts."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from multipublish.settings import Settings
from multipublish.workspace.slots import SlotStore
from tests.api.helpers import add_account, add_jobs, wait_for_job
from tests.fixtures.api import ApiServer, StartServer


def test_slots_next_free_and_add_to_queue(start_api: StartServer, db_url: str) -> None:
    server = start_api(db_url)
    client = server.client()
    add_account(client, "acme", "tiktok")
    video = str(server.media_root / "video.mp4")
    refused = client.put("/api/publishing/slots/acme", json={"timezone": "Mars/Olympus", "slots": []})
    assert refused.status_code == 422 and refused.json()["field"] == "timezone"
    nobody = client.put("/api/publishing/slots/nobody", json={"timezone": "UTC", "slots": []})
    assert nobody.status_code == 404
    no_slots = client.post("/api/publishing/publish/queue", json={"jobs": [
        {"account_id": "acme", "platforms": ["tiktok"], "video_path": video}]})
    assert no_slots.status_code == 422 and no_slots.json()["field"] == "account_id"
    assert client.get("/api/publishing/jobs").json()["count"] == 0

    saved = client.put("/api/publishing/slots/acme", json={"timezone": "America/New_York", "slots": [
        {"weekday": d, "time": "09:00"} for d in range(7)]})
    assert saved.status_code == 200 and len(saved.json()["slots"]) == 7
    first = client.get("/api/publishing/slots/acme/next").json()["scheduled_time"]
    at = datetime.fromisoformat(first.replace("Z", "+00:00"))
    assert at.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M") == "09:00"
    assert timedelta(0) < at - datetime.now(UTC) <= timedelta(days=1, minutes=1)

    made = client.post("/api/publishing/publish/queue", json={"jobs": [
        {"account_id": "acme", "platforms": ["tiktok"], "video_path": video, "title": "q1"}]})
    assert made.status_code == 201, made.text
    assert made.json()["jobs"][0]["scheduled_time"].replace("Z", "+00:00") == at.isoformat()
    second = client.post("/api/publishing/publish/queue", json={"jobs": [
        {"account_id": "acme", "platforms": ["tiktok"], "video_path": video, "title": "q2"}]}).json()
    took = datetime.fromisoformat(second["jobs"][0]["scheduled_time"].replace("Z", "+00:00"))
    assert took - at >= timedelta(hours=23)  # the next day's slot (a DST day is 23 or 25 hours)
    # a cancelled queued job gives its slot back: the next add to queue takes it over
    assert client.post(f"/api/publishing/jobs/{made.json()['jobs'][0]['id']}/cancel").status_code == 200
    again = client.post("/api/publishing/publish/queue", json={"jobs": [
        {"account_id": "acme", "platforms": ["tiktok"], "video_path": video, "title": "q1"}]})
    assert again.status_code == 201, again.text
    assert again.json()["jobs"][0]["scheduled_time"].replace("Z", "+00:00") == at.isoformat()
    # a platform the account does not have: refused in words, nothing made, the slot still free
    lacking = client.post("/api/publishing/publish/queue", json={"jobs": [
        {"account_id": "acme", "platforms": ["instagram"], "video_path": video}]})
    assert lacking.status_code == 404 and "acme/instagram" in lacking.json()["message"], lacking.text
    # a refused batch leaves the slot free (no job half made, no slot held)
    bad = client.post("/api/publishing/publish/queue", json={"jobs": [
        {"account_id": "acme", "platforms": ["tiktok"], "video_path": "/nowhere/x.mp4"}]})
    assert bad.status_code == 422 and bad.json()["field"] == "jobs[0].video_path"
    nxt = client.get("/api/publishing/slots/acme/next").json()["scheduled_time"]
    assert datetime.fromisoformat(nxt.replace("Z", "+00:00")) - took >= timedelta(hours=23)
    assert client.get("/api/publishing/jobs").json()["count"] == 3  # q1 (cancelled), q2, q1 again
    timed = client.post("/api/publishing/publish/queue", json={"jobs": [
        {"account_id": "acme", "platforms": ["tiktok"], "video_path": video,
         "scheduled_time": "2099-01-01T00:00:00Z"}]})
    assert timed.status_code == 422 and timed.json()["field"] == "jobs[0].scheduled_time"

    # the calendar reads the range; slot times say which are taken
    start = (at - timedelta(hours=1)).isoformat()
    end = (took + timedelta(hours=1)).isoformat()
    cal = client.get("/api/publishing/calendar", params={"start": start, "end": end}).json()["jobs"]
    assert [j["title"] for j in cal] == ["q1", "q2"]  # the cancelled first q1 is not drawn
    slots = client.get("/api/publishing/slot-times", params={"start": start, "end": end}).json()["slots"]
    assert [s["taken"] for s in slots] == [True, True]
    too_long = client.get("/api/publishing/calendar",
                          params={"start": "2099-01-01T00:00:00Z", "end": "2099-06-01T00:00:00Z"})
    assert too_long.status_code == 422 and too_long.json()["field"] == "end"


_SERVE = """
import sys, uvicorn
from multipublish.api import create_app
from multipublish.settings import Settings
settings = Settings.model_validate_json(sys.argv[2])
uvicorn.run(create_app(settings, start_workers=False), host="127.0.0.1", port=int(sys.argv[1]),
            log_level="warning")
"""


@contextmanager
def _api_process(settings: Settings) -> Iterator[str]:
    """The same service in a process of its own (its own engine, its own memory): the base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    values = settings.model_dump(mode="json")
    assert settings.secret_key is not None
    values["secret_key"] = settings.secret_key.get_secret_value()  # dumped masked otherwise
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(port), json.dumps(values)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the second API process did not start"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_concurrent_add_to_queue_across_processes_get_distinct_slots(
    start_api: StartServer, db_url: str
) -> None:
    """Two API processes on one database, eight "add to queue" at once: eight different slots."""
    server: ApiServer = start_api(db_url, start_workers=False)
    client = server.client()
    add_account(client, "acme", "tiktok")
    assert client.put("/api/publishing/slots/acme", json={"timezone": "UTC", "slots": [
        {"weekday": d, "time": t} for d in range(7) for t in ("08:00", "12:00", "18:00")]}
    ).status_code == 200
    video = str(server.media_root / "video.mp4")
    count = 8
    with _api_process(server.settings) as other:
        barrier = threading.Barrier(count)
        answers: list[httpx.Response] = []

        def add(i: int) -> None:
            url = other if i % 2 else server.url
            with httpx.Client(base_url=url, timeout=120,
                              headers={"Authorization": f"Bearer {server.token}"}) as c:
                barrier.wait()
                answers.append(c.post("/api/publishing/publish/queue", json={"jobs": [
                    {"account_id": "acme", "platforms": ["tiktok"], "video_path": video,
                     "title": f"q{i}"}]}))

        threads = [threading.Thread(target=add, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert [a.status_code for a in answers] == [201] * count, [a.text for a in answers]
    times = sorted(a.json()["jobs"][0]["scheduled_time"] for a in answers)
    assert len(set(times)) == count, times
    # and they are the first eight free slots, none skipped for good
    expected = [at.isoformat() for at, _ in SlotStore(server.app.state.service.engine).occurrences(
        "acme", datetime.fromisoformat(times[0].replace("Z", "+00:00")),
        datetime.fromisoformat(times[-1].replace("Z", "+00:00")) + timedelta(seconds=1))]
    assert [t.replace("Z", "+00:00") for t in times] == expected


def test_slots_keep_wall_clock_across_dst(start_api: StartServer, sqlite_url: str) -> None:
    server = start_api(sqlite_url, start_workers=False)
    add_account(server.client(), "acme", "tiktok")
    store = SlotStore(server.app.state.service.engine)
    from multipublish.workspace.slots import Slot

    store.replace("acme", "Europe/Paris", [Slot(6, "10:00")])  # Sundays at 10:00 in Paris
    # 2030-03-31 is the Sunday clocks go forward in Europe: 10:00 is 08:00 UTC, a week before 09:00
    before = store.next_free("acme", after=datetime(2030, 3, 23, tzinfo=UTC))
    after = store.next_free("acme", after=datetime(2030, 3, 30, tzinfo=UTC))
    assert before == datetime(2030, 3, 24, 9, tzinfo=UTC)
    assert after == datetime(2030, 3, 31, 8, tzinfo=UTC)


def test_drafts_and_attempts(start_api: StartServer, sqlite_url: str) -> None:
    server = start_api(sqlite_url)
    client = server.client()
    add_account(client, "acme", "tiktok")
    made = client.post("/api/publishing/drafts", json={"data": {"title": "T", "description": "d"}})
    assert made.status_code == 201
    draft = made.json()
    assert draft["version"] == 1
    url = f"/api/publishing/drafts/{draft['id']}"
    saved = client.put(url, json={"data": {"title": "T2"}, "version": 1}).json()
    assert (saved["title"], saved["version"]) == ("T2", 2)
    # a second tab still at version 1: refused in words, the newer words kept
    stale = client.put(url, json={"data": {"title": "old tab"}, "version": 1})
    assert stale.status_code == 409 and "another tab" in stale.json()["message"]
    assert client.get(url).json()["title"] == "T2"
    # overwrite on purpose (no version): the last save wins, and the version still moves on
    assert client.put(url, json={"data": {"title": "T3"}}).json()["version"] == 3
    versioned_new = client.post("/api/publishing/drafts", json={"data": {}, "version": 4})
    assert versioned_new.status_code == 422 and versioned_new.json()["field"] == "version"
    big = client.post("/api/publishing/drafts", json={"data": {"x": "y" * 70_000}})
    assert big.status_code == 422 and big.json()["field"] == "data"
    gone = client.delete(f"/api/publishing/drafts/{draft['id']}")
    assert gone.json() == {"id": draft["id"], "deleted": True}
    assert client.get(f"/api/publishing/drafts/{draft['id']}").status_code == 404

    video = str(server.media_root / "video.mp4")
    job = client.post("/api/publishing/publish/scheduled", json={
        "account_id": "acme", "platforms": ["tiktok"], "video_path": video}).json()
    assert wait_for_job(client, job["id"])["status"] == "completed"
    # The attempt is counted just after the result is stored (a stored success never waits on
    # counting), so it may trail the job's completion by a moment.
    deadline = time.monotonic() + 15
    while True:
        attempts = client.get(f"/api/publishing/jobs/{job['id']}/attempts").json()
        if attempts["attempts"] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert [(a["platform"], a["success"]) for a in attempts["attempts"]] == [("tiktok", True)]
    assert attempts["webhooks"] == []  # no webhook_url: nothing sent
    assert client.get("/api/publishing/jobs/job_nope/attempts").status_code == 404


def test_calendar_summary_counts_per_day_of_the_users_zone(start_api: StartServer, db_url: str) -> None:
    server = start_api(db_url, start_workers=False)
    client = server.client()
    busy = [datetime(2099, 3, 10, 10, m, tzinfo=UTC) for m in range(5)]
    ids = add_jobs(server, [*busy, datetime(2099, 3, 10, 23, 30, tzinfo=UTC)])
    gone = add_jobs(server, [datetime(2099, 3, 12, 9, tzinfo=UTC)], "Gone")[0]
    server.app.state.service.queue.cancel_job(gone)
    month = {"start": "2099-03-01T00:00:00Z", "end": "2099-04-01T00:00:00Z"}

    utc = client.get("/api/publishing/calendar/summary", params=month).json()
    assert utc["complete"] is True and utc["total"] == 6
    assert utc["days"] == [{"date": "2099-03-10", "count": 6}]  # the cancelled job is not counted
    assert sorted(j["id"] for j in utc["jobs"]) == sorted(ids)
    # in Tokyo (UTC+9) the 23:30 UTC post falls on the next day; over the limit, only the days with
    # at most ``few`` posts come as posts, the busy day as a number
    tokyo = client.get("/api/publishing/calendar/summary",
                       params={**month, "timezone": "Asia/Tokyo", "limit": 3, "few": 1}).json()
    assert tokyo["complete"] is False and tokyo["total"] == 6
    assert tokyo["days"] == [{"date": "2099-03-10", "count": 5}, {"date": "2099-03-11", "count": 1}]
    assert [j["id"] for j in tokyo["jobs"]] == [ids[5]]
    refused = client.get("/api/publishing/calendar/summary", params={**month, "timezone": "Mars/Base"})
    assert refused.status_code == 422 and refused.json()["field"] == "timezone"

    # a day's list, a page at a time, in time order
    day = {"start": "2099-03-10T00:00:00Z", "end": "2099-03-11T00:00:00Z"}
    first = client.get("/api/publishing/calendar", params={**day, "limit": 4}).json()
    rest = client.get("/api/publishing/calendar", params={**day, "limit": 4, "offset": 4}).json()
    assert first["more"] is True and rest["more"] is False
    assert [j["id"] for j in first["jobs"] + rest["jobs"]] == ids
    too_many = client.get("/api/publishing/calendar", params={**day, "limit": 5000})
    assert too_many.status_code == 422
