"""Every request of the brief's "REST API Usage" section, as written, over real HTTP.

Only ``/path/to/video.mp4`` is replaced by a real clip under the test's media root; the accounts
point at the sandbox platforms. Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import httpx

from tests.api.helpers import YOUTUBE_CREDENTIALS, add_account, wait_for_job
from tests.fixtures.api import ApiServer


def test_add_account(api: httpx.Client) -> None:
    resp = api.post(
        "/api/publishing/accounts",
        json={
            "account_id": "my_tiktok",
            "platform": "tiktok",
            "credentials": {"api_key": "...", "user": "..."},
        },
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert (body["account_id"], body["platform"]) == ("my_tiktok", "tiktok")
    assert body["credentials"]["api_key"] == "****"


def test_publish_immediately(api: httpx.Client, api_server: ApiServer, sandbox_url: str) -> None:
    add_account(api, "my_tiktok", "tiktok")
    add_account(api, "my_tiktok", "instagram")
    video = str(api_server.media_root / "video.mp4")
    resp = api.post(
        "/api/publishing/publish/immediate",
        json={
            "account_id": "my_tiktok",
            "platforms": ["tiktok", "instagram"],
            "video_path": video,
            "title": "My Video",
            "description": "Check this out!",
            "tags": ["viral", "trending"],
            "platform_specific": {"tiktok": {"privacy": "public"}},
        },
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["success"] is True
    assert set(body["results"]) == {"tiktok", "instagram"}
    for result in body["results"].values():
        assert result["success"] is True and result["status"] == "published"
    posts = httpx.get(f"{sandbox_url}/_sandbox/posts", timeout=10).json()
    text = str(posts)
    assert "My Video" in text


def test_schedule_then_check_status_and_list(api: httpx.Client, api_server: ApiServer) -> None:
    add_account(api, "my_account", "tiktok")
    yt = api.post(
        "/api/publishing/accounts",
        json={"account_id": "my_account", "platform": "youtube", "credentials": YOUTUBE_CREDENTIALS},
    )
    assert yt.status_code == 201, yt.text
    resp = api.post(
        "/api/publishing/publish/scheduled",
        json={
            "account_id": "my_account",
            "platforms": ["tiktok", "youtube"],
            "video_path": str(api_server.media_root / "video.mp4"),
            "title": "Scheduled Video",
            "description": "Coming soon!",
            "scheduled_time": "2025-11-07T10:00:00Z",
            "priority": 8,
            "max_retries": 3,
        },
    )
    assert resp.status_code == 201, resp.text
    job = resp.json()
    assert job["priority"] == 8 and job["max_retries"] == 3
    assert job["scheduled_time"].startswith("2025-11-07T10:00:00")

    done = wait_for_job(api, job["id"])
    assert done["status"] == "completed", done
    assert {p: r["success"] for p, r in done["results"].items()} == {
        "tiktok": True,
        "youtube": True,
    }

    listed = api.get("/api/publishing/jobs?status=pending&limit=50")
    assert listed.status_code == 200
    assert listed.json()["limit"] == 50
    assert all(j["status"] == "pending" for j in listed.json()["jobs"])
    completed = api.get("/api/publishing/jobs", params={"status": "completed", "limit": 50})
    assert [j["id"] for j in completed.json()["jobs"]] == [job["id"]]


def test_validate_video(api: httpx.Client, api_server: ApiServer) -> None:
    resp = api.post(
        "/api/publishing/validate",
        json={
            "video_path": str(api_server.media_root / "video.mp4"),
            "platforms": ["tiktok", "instagram", "youtube"],
        },
    )
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert set(report) == {"tiktok", "instagram", "youtube"}
    for entry in report.values():
        assert entry["valid"] is True, entry
        assert entry["errors"] == []
