"""The upload-post emulator, witnessed by the official ``upload-post`` SDK and by raw HTTP."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from upload_post import UploadPostClient, UploadPostError

from tests.sandbox.helpers import HTTP

KEY = {"Authorization": "Apikey sandbox-key"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def posts(base: str, platform: str | None = None) -> list[dict[str, Any]]:
    params = {"platform": platform} if platform else {}
    response = HTTP.get(f"{base}/_sandbox/posts", params=params)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["posts"]
    return result


@pytest.fixture
def sdk(sandbox_url: str) -> Iterator[UploadPostClient]:
    """The official SDK pointed at the sandbox (BASE_URL is a class attribute)."""
    previous = UploadPostClient.BASE_URL
    UploadPostClient.BASE_URL = f"{sandbox_url}/api"
    client = UploadPostClient("sandbox-key")
    try:
        yield client
    finally:
        client.session.close()
        UploadPostClient.BASE_URL = previous


def test_sdk_publishes_to_four_platforms_with_their_options(
    sdk: UploadPostClient, sandbox_url: str, small_video: Path
) -> None:
    answer = sdk.upload_video(
        small_video,
        title="Hello",
        user="alice",
        platforms=["tiktok", "instagram", "facebook", "linkedin"],
        description="Desc",
        privacy_level="SELF_ONLY",
        disable_duet=True,
        media_type="REELS",
        share_to_feed=True,
        facebook_page_id="12345",
        facebook_media_type="VIDEO",
        video_state="DRAFT",
        visibility="CONNECTIONS",
        async_upload=False,
    )
    assert answer["success"] is True
    assert set(answer["results"]) == {"tiktok", "instagram", "facebook", "linkedin"}
    assert answer["results"]["tiktok"]["publish_id"]
    assert answer["results"]["instagram"]["post_id"]
    assert all(r["success"] and r["post_url"] for r in answer["results"].values())
    assert answer["usage"]["count"] == 1
    received = posts(sandbox_url)
    assert sorted(p["platform"] for p in received) == ["facebook", "instagram", "linkedin", "tiktok"]
    digest = sha256(small_video)
    for post in received:
        assert post["user"] == "alice"
        assert post["title"] == "Hello"
        # The service ignores ``description`` for TikTok and Instagram videos (their caption is
        # the title): docs.upload-post.com/api/upload-video.
        shown = "" if post["platform"] in ("tiktok", "instagram") else "Desc"
        assert post["description"] == shown
        assert post["caption"] == ("Hello" if post["platform"] in ("tiktok", "instagram") else "Desc")
        assert post["size"] == small_video.stat().st_size
        assert post["sha256"] == digest
    options = received[0]["options"]
    assert options["privacy_level"] == "SELF_ONLY"
    assert options["disable_duet"] == "true"
    assert options["media_type"] == "REELS"
    assert options["share_to_feed"] == "true"
    assert options["facebook_page_id"] == "12345"
    assert options["facebook_media_type"] == "VIDEO"
    assert options["video_state"] == "DRAFT"
    assert options["visibility"] == "CONNECTIONS"


def test_sdk_async_upload_then_status_completed(
    sdk: UploadPostClient, sandbox_url: str, small_video: Path
) -> None:
    HTTP.post(f"{sandbox_url}/_sandbox/config", json={"async_pending_polls": 1})
    answer = sdk.upload_video(small_video, title="A", user="bob", platforms=["tiktok"],
                              async_upload=True)
    assert answer["success"] is True
    request_id = answer["request_id"]
    first = sdk.get_status(request_id)
    assert first["status"] == "in_progress"
    assert first["completed"] == 0
    second = sdk.get_status(request_id)
    assert second["status"] == "completed"
    assert second["completed"] == second["total"] == 1
    assert second["results"][0]["platform"] == "tiktok"
    assert second["results"][0]["success"] is True


def test_sdk_schedule_list_and_cancel(
    sdk: UploadPostClient, sandbox_url: str, small_video: Path
) -> None:
    when = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = sdk.upload_video(small_video, title="Later", user="carol", platforms=["linkedin"],
                              scheduled_date=when)
    job_id = answer["job_id"]
    assert answer["scheduled_date"].startswith(when[:19])
    assert sdk.get_job_status(job_id)["status"] == "queued"
    scheduled = sdk.list_scheduled()
    assert [j["job_id"] for j in scheduled] == [job_id]
    assert posts(sandbox_url)[0]["status"] == "scheduled"
    assert sdk.cancel_scheduled(job_id)["success"] is True
    assert sdk.list_scheduled() == []
    with pytest.raises(UploadPostError):
        sdk.get_job_status(job_id)


def test_sdk_history_lists_published(sdk: UploadPostClient, small_video: Path) -> None:
    sdk.upload_video(small_video, title="H", user="dave", platforms=["tiktok", "linkedin"])
    history = sdk.get_history(page=1, limit=20)
    assert history["total"] == 2
    assert {h["platform"] for h in history["history"]} == {"tiktok", "linkedin"}
    assert all(h["profile_username"] == "dave" for h in history["history"])


def test_sdk_invalid_key_is_refused(sandbox_url: str, small_video: Path) -> None:
    previous = UploadPostClient.BASE_URL
    UploadPostClient.BASE_URL = f"{sandbox_url}/api"
    try:
        client = UploadPostClient("invalid-key")
        with pytest.raises(UploadPostError) as info:
            client.upload_video(small_video, title="x", user="u", platforms=["tiktok"])
        assert "Invalid or expired token" in str(info.value)
    finally:
        UploadPostClient.BASE_URL = previous
    assert posts(sandbox_url) == []


def upload(base: str, path: Path, fields: list[tuple[str, str]],
           headers: dict[str, str] | None = None, timeout: float = 10) -> httpx.Response:
    data: dict[str, list[str]] = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    with path.open("rb") as fh:
        return HTTP.post(
            f"{base}/api/upload",
            data=data,
            files={"video": (path.name, fh, "video/mp4")},
            headers={**KEY, **(headers or {})},
            timeout=timeout,
        )


def test_bearer_header_is_refused(sandbox_url: str, small_video: Path) -> None:
    response = upload(sandbox_url, small_video, [("user", "u"), ("platform[]", "tiktok")],
                      headers={"Authorization": "Bearer abc"})
    assert response.status_code == 401
    assert response.json() == {"success": False, "message": "Invalid or expired token"}


def test_facebook_without_page_id_and_several_pages_lists_them(
    sandbox_url: str, small_video: Path
) -> None:
    pages = [{"page_id": "1", "page_name": "A"}, {"page_id": "2", "page_name": "B"}]
    httpx.post(f"{sandbox_url}/_sandbox/config", json={"facebook_pages": pages}, timeout=10)
    response = upload(sandbox_url, small_video, [("user", "u"), ("platform[]", "facebook")])
    assert response.status_code == 400
    assert "facebook_page_id" in response.json()["message"]
    assert response.json()["available_pages"] == pages
    assert posts(sandbox_url) == []


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ([("platform[]", "tiktok")], "user"),
        ([("user", "u")], "platform[]"),
        ([("user", "u"), ("platform[]", "myspace")], "platform[]"),
        ([("user", "u"), ("platform[]", "tiktok"), ("privacy_level", "PUBLIC")], "privacy_level"),
        ([("user", "u"), ("platform[]", "tiktok"), ("post_mode", "X")], "post_mode"),
        ([("user", "u"), ("platform[]", "instagram"), ("media_type", "FEED")], "media_type"),
        ([("user", "u"), ("platform[]", "facebook"), ("facebook_page_id", "1"),
          ("facebook_media_type", "PHOTO")], "facebook_media_type"),
        ([("user", "u"), ("platform[]", "facebook"), ("facebook_page_id", "1"),
          ("video_state", "LIVE")], "video_state"),
        ([("user", "u"), ("platform[]", "linkedin"), ("visibility", "FRIENDS")], "visibility"),
        ([("user", "u"), ("platform[]", "tiktok"), ("disable_comment", "yes")], "disable_comment"),
        ([("user", "u"), ("platform[]", "tiktok"), ("scheduled_date", "2001-01-01T00:00:00Z")],
         "scheduled_date"),
        ([("user", "u"), ("platform[]", "tiktok"), ("scheduled_date", "soon")], "scheduled_date"),
        ([("user", "u"), ("platform[]", "tiktok"), ("scheduled_date", "2099-01-01T00:00:00"),
          ("timezone", "Mars/Base")], "timezone"),
        ([("user", "u"), ("platform[]", "youtube")], "title"),
    ],
)
def test_bad_parameters_get_400_naming_the_field(
    sandbox_url: str, small_video: Path, fields: list[tuple[str, str]], named: str
) -> None:
    response = upload(sandbox_url, small_video, fields)
    assert response.status_code == 400
    assert named in response.json()["message"]
    assert posts(sandbox_url) == []


def test_sync_response_has_rate_limit_headers_and_request_id(
    sandbox_url: str, small_video: Path
) -> None:
    response = upload(sandbox_url, small_video, [("user", "u"), ("platform[]", "tiktok")],
                      headers={"X-Request-Id": "mine-1"})
    assert response.status_code == 200
    assert int(response.headers["X-RateLimit-Limit"]) > 0
    assert int(response.headers["X-RateLimit-Remaining"]) < int(response.headers["X-RateLimit-Limit"])
    assert int(response.headers["X-RateLimit-Reset"]) > 0
    assert posts(sandbox_url)[0]["request_id"] == "mine-1"
    status = HTTP.get(f"{sandbox_url}/api/uploadposts/status", params={"request_id": "mine-1"},
                       headers=KEY)
    assert status.json()["status"] == "completed"


def test_status_unknown_and_missing(sandbox_url: str) -> None:
    unknown = HTTP.get(f"{sandbox_url}/api/uploadposts/status", params={"request_id": "nope"},
                        headers=KEY)
    assert unknown.status_code == 404
    assert unknown.json()["status"] == "not_found"
    missing = HTTP.get(f"{sandbox_url}/api/uploadposts/status", headers=KEY)
    assert missing.status_code == 400
    assert missing.json() == {"error": "request_id is required"}


def test_me_checks_the_key(sandbox_url: str) -> None:
    assert HTTP.get(f"{sandbox_url}/api/uploadposts/me", headers=KEY).status_code == 200
    refused = HTTP.get(f"{sandbox_url}/api/uploadposts/me",
                        headers={"Authorization": "Apikey invalid-1"})
    assert refused.status_code == 401


def test_plan_limit_gives_429_quota_exceeded(sandbox_url: str, small_video: Path) -> None:
    HTTP.post(f"{sandbox_url}/_sandbox/config", json={"plan_limit": 1})
    fields = [("user", "erin"), ("platform[]", "tiktok")]
    assert upload(sandbox_url, small_video, fields).status_code == 200
    refused = upload(sandbox_url, small_video, fields)
    assert refused.status_code == 429
    assert refused.json()["error_code"] == "quota_exceeded"
    assert refused.json()["usage"] == {**refused.json()["usage"], "count": 1, "limit": 1}
    assert len(posts(sandbox_url)) == 1
    # Another user has their own plan.
    assert upload(sandbox_url, small_video, [("user", "frank"), ("platform[]", "tiktok")]
                  ).status_code == 200


def test_history_rejects_bad_limit(sandbox_url: str) -> None:
    response = HTTP.get(f"{sandbox_url}/api/uploadposts/history", params={"limit": 7},
                         headers=KEY)
    assert response.status_code == 400


def test_per_platform_overrides_and_video_url(sandbox_url: str) -> None:
    response = HTTP.post(
        f"{sandbox_url}/api/upload",
        data={"user": "u", "platform[]": ["tiktok", "linkedin"], "title": "Common",
              "tiktok_title": "TT title", "linkedin_description": "LI desc",
              "video": "https://example.com/v.mp4"},
        files={"unused": ("", b"")},  # force multipart, as the SDK does
        headers=KEY,
    )
    assert response.status_code == 200, response.text
    by_platform = {p["platform"]: p for p in posts(sandbox_url)}
    assert by_platform["tiktok"]["title"] == "TT title"
    assert by_platform["linkedin"]["title"] == "Common"
    assert by_platform["linkedin"]["description"] == "LI desc"
    assert by_platform["tiktok"]["video_url"] == "https://example.com/v.mp4"
    assert by_platform["tiktok"]["sha256"] is None


# -- the official SDK's calls the project relies on, against the strict emulator -------------------


def test_sdk_lists_profiles_and_facebook_pages(sdk: UploadPostClient, sandbox_url: str) -> None:
    HTTP.post(
        f"{sandbox_url}/_sandbox/config",
        json={"profiles": {"alice": ["tiktok", "facebook"]}, "plan": "pro"},
    ).raise_for_status()
    listing = sdk.list_users()
    assert listing["plan"] == "pro"
    [profile] = listing["profiles"]
    assert profile["username"] == "alice"
    assert profile["social_accounts"]["tiktok"] and profile["social_accounts"]["instagram"] == ""
    pages = sdk.get_facebook_pages("alice")
    assert pages["pages"][0]["page_id"] == "1122334455"


def test_sdk_edits_a_scheduled_post(sdk: UploadPostClient, sandbox_url: str, small_video: Path) -> None:
    later = (datetime.now(UTC) + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    answer = sdk.upload_video(
        small_video, title="later", user="alice", platforms=["linkedin"], scheduled_date=later
    )
    job_id = answer["job_id"]
    moved = (datetime.now(UTC) + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    edited = sdk.edit_scheduled(job_id, scheduled_date=moved)
    assert edited["success"] and edited["scheduled_date"].startswith(moved[:16])
    [job] = sdk.list_scheduled()
    assert job["job_id"] == job_id and job["scheduled_date"].startswith(moved[:16])
    with pytest.raises(UploadPostError):
        sdk.edit_scheduled(job_id, scheduled_date="2001-01-01T00:00:00Z")


def test_history_pages_by_ten_unless_asked(
    sdk: UploadPostClient, sandbox_url: str, small_video: Path
) -> None:
    for i in range(12):
        sdk.upload_video(small_video, title=f"h{i}", user="alice", platforms=["tiktok"])
    default = HTTP.get(f"{sandbox_url}/api/uploadposts/history", headers=KEY).json()
    assert default["limit"] == 10 and len(default["history"]) == 10 and default["total"] == 12
    assert default["history"][0]["post_caption"] == "h11"  # what TikTok shows: the title
    assert len(sdk.get_history(page=1, limit=20)["history"]) == 12
    bad = HTTP.get(f"{sandbox_url}/api/uploadposts/history", params={"limit": "15"}, headers=KEY)
    assert bad.status_code == 400 and bad.json() == {"error": "Invalid limit"}


def test_sdk_status_lags_behind_the_upload(
    sdk: UploadPostClient, sandbox_url: str, small_video: Path
) -> None:
    HTTP.post(f"{sandbox_url}/_sandbox/config", json={"status_lag": 30}).raise_for_status()
    answer = sdk.upload_video(small_video, title="lag", user="alice", platforms=["tiktok"])
    with pytest.raises(UploadPostError):  # 404: the status endpoint does not know it yet
        sdk.get_status(answer["request_id"])
    HTTP.post(f"{sandbox_url}/_sandbox/config", json={"status_lag": 0}).raise_for_status()
    assert sdk.get_status(answer["request_id"])["status"] == "completed"


def test_sdk_uploads_by_url(sdk: UploadPostClient, sandbox_url: str) -> None:
    """A URL goes as the ``video`` field of an urlencoded form (no file part); the emulator takes it."""
    answer = sdk.upload_video(
        "https://cdn.example.com/v.mp4", title="SDK by URL", user="creator", platforms=["tiktok"]
    )
    assert answer["success"] is True and answer["results"]["tiktok"]["success"] is True
    [post] = posts(sandbox_url)
    assert post["video_url"] == "https://cdn.example.com/v.mp4" and post["title"] == "SDK by URL"
    assert post["size"] is None


def test_sdk_sees_documented_refusals(sdk: UploadPostClient, sandbox_url: str, small_video: Path) -> None:
    """A hard cap (429 "Post verification failed") and TikTok's active-user cap, as documented."""
    arm = {"platform": "instagram", "fault": "hard_cap"}
    HTTP.post(f"{sandbox_url}/_sandbox/faults", json=arm).raise_for_status()
    with pytest.raises(UploadPostError, match="Post verification failed"):
        sdk.upload_video(small_video, title="capped", user="u", platforms=["instagram"])
    arm = {"platform": "tiktok", "fault": "reject", "code": "reached_active_user_cap"}
    HTTP.post(f"{sandbox_url}/_sandbox/faults", json=arm).raise_for_status()
    answer = sdk.upload_video(small_video, title="cap", user="u", platforms=["tiktok"])
    tiktok = answer["results"]["tiktok"]
    assert tiktok["success"] is False and "reached_active_user_cap" in tiktok["error"]
    assert posts(sandbox_url) == []
