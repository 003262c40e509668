"""A schedule made on the event loop (SQLite, PostgreSQL): the same answers and the same refusals
as the thread path, nothing written twice, and every check that could wait left to a thread."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from multipublish.api.schemas import ScheduledPublishCreate
from multipublish.bootstrap import build_service
from multipublish.errors import NotFoundError, ValidationFailed
from multipublish.media.probe import is_cached, probe
from multipublish.scheduling import prepare, prepare_on_loop
from tests.api.helpers import add_account
from tests.fixtures.api import StartServer, api_settings_for

SCHEDULE = "/api/publishing/publish/scheduled"


def _body(video: Path, **extra: object) -> dict[str, object]:
    return {"account_id": "loop", "platforms": ["tiktok"], "video_path": str(video), **extra}


def test_a_schedule_made_while_another_connection_holds_the_lock_is_written_once(
    start_api: StartServer, sqlite_url: str
) -> None:
    server = start_api(sqlite_url, start_workers=False)
    video = server.media_root / "video.mp4"
    with server.client() as api:
        add_account(api, "loop", "tiktok")
        first = api.post(SCHEDULE, json=_body(video, title="first"))
        assert first.status_code == 201, first.text
        assert api.get(f"/api/publishing/jobs/{first.json()['id']}").json()["title"] == "first"
        # Another process writes for longer than the loop's patience: the request waits on a
        # thread and is written once, when the lock is free.
        other = sqlite3.connect(
            sqlite_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
        )
        other.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.4, other.execute, ("COMMIT",))
        release.start()
        try:
            held = api.post(SCHEDULE, json=_body(video, title="held", job_id="held-1"))
        finally:
            release.join()
            other.close()
        assert held.status_code == 201, held.text
        assert held.json()["id"] == "held-1"
        again = api.post(SCHEDULE, json=_body(video, job_id="held-1"))
        assert again.status_code == 409, again.text
        listed = api.get("/api/publishing/jobs", params={"limit": 10}).json()
        assert sorted(j["title"] for j in listed["jobs"]) == ["first", "held"]
        # Refusals name the field, as on the thread path.
        missing = api.post(SCHEDULE, json=_body(server.media_root / "nope.mp4"))
        assert missing.status_code == 422 and "video_path" in missing.text, missing.text
        unknown = api.post(SCHEDULE, json={**_body(video), "account_id": "nobody"})
        assert unknown.status_code == 404, unknown.text


def test_checks_that_could_wait_are_left_to_a_thread(
    sqlite_url: str, sandbox_url: str, media_root: Path, secret_key: str, small_video: Path
) -> None:
    service = build_service(api_settings_for(sqlite_url, sandbox_url, media_root, secret_key))
    try:
        service.manager.accounts.add("loop", "tiktok", {"api_key": "sk_live_abcdefghijkl1234", "user": "u"})
        roots = service.settings.media_root_paths()
        clip = media_root / "fresh.mp4"
        shutil.copyfile(media_root / "video.mp4", clip)

        def body(**extra: object) -> ScheduledPublishCreate:
            return ScheduledPublishCreate.model_validate(_body(clip, **extra))

        assert not is_cached(clip)
        assert prepare_on_loop(body(), roots, service.manager) is None  # opening it would block
        probe(clip)
        queued = prepare_on_loop(body(title="t"), roots, service.manager)
        assert queued is not None and queued == prepare(body(title="t"), roots, service.manager)
        url = ScheduledPublishCreate.model_validate({**_body(clip), "video_path": "https://example.com/v.mp4"})
        assert prepare_on_loop(url, roots, service.manager) is None  # a HEAD request
        assert prepare_on_loop(body(auto_fix=True), roots, service.manager) is None
        assert prepare_on_loop(body(webhook_url="https://example.com/hook"), roots, service.manager) is None
        with pytest.raises(NotFoundError):
            prepare_on_loop(body(account_id="nobody"), roots, service.manager)
        small = media_root / "small.mp4"  # 180x320: under TikTok's minimum
        shutil.copyfile(small_video, small)
        probe(small)
        with pytest.raises(ValidationFailed):  # the same validation as the thread path
            prepare_on_loop(
                ScheduledPublishCreate.model_validate(_body(small)), roots, service.manager
            )
        # Rewritten: the cached probe no longer answers, so the loop declines again.
        shutil.copyfile(small_video, clip)
        assert not is_cached(clip)
        assert prepare_on_loop(body(), roots, service.manager) is None
    finally:
        service.queue.close()
        service.engine.dispose()


def test_postgres_schedule_checks_the_account_in_its_enqueue_and_refuses_as_the_thread_path(
    start_api: StartServer, pg_url: str, small_video: Path
) -> None:
    """PostgreSQL's loop path reads no account: the enqueue finds it or writes nothing, and the
    refusal comes from the thread path's checks, in their order (the account before the video)."""
    server = start_api(pg_url, start_workers=False)
    video = server.media_root / "video.mp4"
    small = server.media_root / "small.mp4"  # 180x320: under TikTok's minimum
    shutil.copyfile(small_video, small)
    with server.client() as api:
        add_account(api, "loop", "tiktok")
        for _ in range(2):  # the second finds the probe cached: the loop path
            ok = api.post(SCHEDULE, json=_body(video, title="ok"))
            assert ok.status_code == 201, ok.text
        one_short = api.post(SCHEDULE, json={**_body(video), "platforms": ["tiktok", "youtube"]})
        assert one_short.status_code == 404 and "loop/youtube" in one_short.text, one_short.text
        nobody = api.post(SCHEDULE, json={**_body(small), "account_id": "nobody"})
        assert nobody.status_code == 404 and "nobody/tiktok" in nobody.text, nobody.text
        too_small = api.post(SCHEDULE, json=_body(small))
        assert too_small.status_code == 422, too_small.text
        taken = api.post(SCHEDULE, json=_body(video, job_id=ok.json()["id"]))
        assert taken.status_code == 409, taken.text
        listed = api.get("/api/publishing/jobs", params={"limit": 10}).json()
        assert [j["title"] for j in listed["jobs"]] == ["ok", "ok"]
