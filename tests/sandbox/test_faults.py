"""Every fault kind on every emulator, through raw HTTP; resume after a dropped chunk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sandbox.helpers import (
    API_KEY,
    HTTP,
    KIB256,
    access_token,
    arm,
    configure,
    posts,
    sha256,
    with_random_tail,
)

#: What a client sees when the connection goes away without a response.
DROPPED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


def up_upload(base: str, path: Path, platform: str = "tiktok", timeout: float = 10,
              request_id: str | None = None, **fields: str) -> httpx.Response:
    data: dict[str, Any] = {"user": "alice", "platform[]": [platform], "title": "T", **fields}
    if platform == "facebook":
        data["facebook_page_id"] = "42"
    headers = {**API_KEY, **({"X-Request-Id": request_id} if request_id else {})}
    with path.open("rb") as fh:
        return HTTP.post(f"{base}/api/upload", data=data,
                          files={"video": (path.name, fh, "video/mp4")},
                          headers=headers, timeout=timeout)


@pytest.fixture
def big_clip(small_video: Path, tmp_path: Path) -> Path:
    return with_random_tail(small_video, tmp_path / "big.mp4", 3 * 1024 * 1024 + 12345)


# -- upload-post -------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["tiktok", "instagram", "facebook", "linkedin"])
def test_upload_post_http_500(sandbox_url: str, small_video: Path, platform: str) -> None:
    arm(sandbox_url, platform, "http_500")
    response = up_upload(sandbox_url, small_video, platform)
    assert response.status_code == 500
    assert set(response.json()) == {"error", "details"}
    assert posts(sandbox_url) == []
    assert up_upload(sandbox_url, small_video, platform).status_code == 200  # times=1 only


def test_upload_post_rate_limit_has_retry_after(sandbox_url: str, small_video: Path) -> None:
    arm(sandbox_url, "tiktok", "rate_limit", seconds=7)
    response = up_upload(sandbox_url, small_video)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json()["success"] is False


def test_upload_post_expired_token(sandbox_url: str, small_video: Path) -> None:
    arm(sandbox_url, "linkedin", "expired_token")
    response = up_upload(sandbox_url, small_video, "linkedin")
    assert response.status_code == 401
    assert response.json() == {"success": False, "message": "Invalid or expired token"}


def test_upload_post_quota_exceeded(sandbox_url: str, small_video: Path) -> None:
    arm(sandbox_url, "instagram", "quota_exceeded")
    response = up_upload(sandbox_url, small_video, "instagram")
    assert response.status_code == 429
    assert response.json()["error_code"] == "quota_exceeded"
    assert posts(sandbox_url) == []


def test_upload_post_drop_connection_mid_upload(sandbox_url: str, big_clip: Path) -> None:
    arm(sandbox_url, "tiktok", "drop_connection")
    with pytest.raises(DROPPED):
        up_upload(sandbox_url, big_clip)
    assert posts(sandbox_url) == []
    assert up_upload(sandbox_url, big_clip).status_code == 200
    assert posts(sandbox_url)[0]["sha256"] == sha256(big_clip)


def test_upload_post_lose_response_is_published_and_found_by_status(
    sandbox_url: str, small_video: Path
) -> None:
    arm(sandbox_url, "facebook", "lose_response")
    with pytest.raises(DROPPED):
        up_upload(sandbox_url, small_video, "facebook", request_id="ours-7")
    [post] = posts(sandbox_url)
    assert post["request_id"] == "ours-7"
    status = HTTP.get(f"{sandbox_url}/api/uploadposts/status",
                       params={"request_id": "ours-7"}, headers=API_KEY).json()
    assert status["status"] == "completed"
    assert status["results"][0]["success"] is True
    assert status["results"][0]["platform"] == "facebook"


def test_upload_post_slow_response_still_publishes(sandbox_url: str, small_video: Path) -> None:
    arm(sandbox_url, "tiktok", "slow", seconds=1.5)
    with pytest.raises(httpx.ReadTimeout):
        up_upload(sandbox_url, small_video, timeout=0.3, request_id="slow-1")
    assert [p["request_id"] for p in posts(sandbox_url)] == ["slow-1"]


def test_upload_post_reject_fails_one_platform_only(sandbox_url: str, small_video: Path) -> None:
    arm(sandbox_url, "linkedin", "reject")
    data = {"user": "u", "platform[]": ["tiktok", "linkedin"]}
    with small_video.open("rb") as fh:
        body = HTTP.post(f"{sandbox_url}/api/upload", data=data, files={"video": fh},
                          headers=API_KEY).json()
    assert body["results"]["tiktok"]["success"] is True
    assert body["results"]["linkedin"]["success"] is False
    assert body["results"]["linkedin"]["error"]
    assert [p["platform"] for p in posts(sandbox_url)] == ["tiktok"]


def test_fault_matches_its_platform_and_counts_times(sandbox_url: str, small_video: Path) -> None:
    arm(sandbox_url, "instagram", "http_500", times=2)
    assert up_upload(sandbox_url, small_video, "tiktok").status_code == 200
    assert up_upload(sandbox_url, small_video, "instagram").status_code == 500
    faults = HTTP.get(f"{sandbox_url}/_sandbox/faults").json()["faults"]
    assert [(f["platform"], f["times"]) for f in faults] == [("instagram", 1)]
    assert up_upload(sandbox_url, small_video, "instagram").status_code == 500
    assert up_upload(sandbox_url, small_video, "instagram").status_code == 200
    assert HTTP.get(f"{sandbox_url}/_sandbox/faults").json()["faults"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"platform": "myspace", "fault": "http_500"},
        {"platform": "tiktok", "fault": "explode"},
        {"platform": "tiktok", "fault": "http_500", "times": 0},
        {"platform": "tiktok", "fault": "http_500", "on": "nowhere"},
        {"platform": "tiktok", "fault": "slow", "seconds": -1},
    ],
)
def test_bad_fault_requests_are_refused(sandbox_url: str, body: dict[str, Any]) -> None:
    response = HTTP.post(f"{sandbox_url}/_sandbox/faults", json=body)
    assert response.status_code == 400
    assert response.json()["error"]


def test_bad_config_is_refused(sandbox_url: str) -> None:
    assert HTTP.post(f"{sandbox_url}/_sandbox/config", json={"nope": 1}).status_code == 400
    assert HTTP.post(f"{sandbox_url}/_sandbox/config",
                      json={"plan_limit": "many"}).status_code == 400


def test_reset_forgets_posts_faults_and_config(sandbox_url: str, small_video: Path) -> None:
    up_upload(sandbox_url, small_video)
    arm(sandbox_url, "tiktok", "http_500")
    configure(sandbox_url, plan_limit=3)
    HTTP.delete(f"{sandbox_url}/_sandbox/posts").raise_for_status()
    assert posts(sandbox_url) == []
    assert HTTP.get(f"{sandbox_url}/_sandbox/faults").json()["faults"] == []
    assert HTTP.get(f"{sandbox_url}/_sandbox/config").json()["plan_limit"] == 1000


# -- YouTube -----------------------------------------------------------------------------------


def start_session(base: str, token: str, total: int) -> str:
    response = HTTP.post(
        f"{base}/upload/youtube/v3/videos",
        params={"part": "snippet,status", "uploadType": "resumable"},
        json={"snippet": {"title": "Raw", "categoryId": "22"},
              "status": {"privacyStatus": "private"}},
        headers={"Authorization": f"Bearer {token}", "X-Upload-Content-Type": "video/mp4",
                 "X-Upload-Content-Length": str(total)},
    )
    assert response.status_code == 200, response.text
    return response.headers["location"]


def put(session: str, data: bytes, start: int, total: int, timeout: float = 10) -> httpx.Response:
    end = start + len(data) - 1
    return HTTP.put(session, content=data, timeout=timeout,
                     headers={"Content-Range": f"bytes {start}-{end}/{total}"})


def query(session: str, total: int) -> httpx.Response:
    return HTTP.put(session, content=b"", headers={"Content-Range": f"bytes */{total}"})


def confirmed(response: httpx.Response) -> int:
    """Bytes the server holds, from a 308's Range header."""
    assert response.status_code == 308
    if "range" not in response.headers:
        return 0
    return int(response.headers["range"].rsplit("-", 1)[1]) + 1


def send_all(session: str, data: bytes, start: int, chunk: int) -> httpx.Response:
    position = start
    while True:
        piece = data[position : position + chunk]
        response = put(session, piece, position, len(data))
        if response.status_code in (200, 201):
            return response
        position = confirmed(response)


def test_resumable_protocol_by_hand(sandbox_url: str, big_clip: Path) -> None:
    data = big_clip.read_bytes()
    total = len(data)
    session = start_session(sandbox_url, access_token(sandbox_url), total)
    assert confirmed(query(session, total)) == 0
    first = put(session, data[:KIB256 * 4], 0, total)
    assert confirmed(first) == KIB256 * 4
    again = put(session, data[:KIB256 * 4], 0, total)  # the same chunk twice: accepted
    assert confirmed(again) == KIB256 * 4
    odd = put(session, data[KIB256 * 4 : KIB256 * 4 + 1000], KIB256 * 4, total)
    assert odd.status_code == 400  # not a multiple of 256 KiB and not the last
    gap = put(session, data[KIB256 * 8 : KIB256 * 9], KIB256 * 8, total)
    assert gap.status_code == 400  # starts past what the server holds
    done = send_all(session, data, KIB256 * 4, KIB256 * 4)
    assert done.status_code == 200
    video = done.json()
    assert video["kind"] == "youtube#video"
    assert video["status"]["uploadStatus"] == "uploaded"
    assert query(session, total).json()["id"] == video["id"]  # finished: the video again
    [post] = posts(sandbox_url, "youtube")
    assert post["sha256"] == sha256(big_clip)
    assert post["size"] == total


def test_drop_mid_chunk_then_resume_gives_identical_bytes(sandbox_url: str, big_clip: Path) -> None:
    data = big_clip.read_bytes()
    total = len(data)
    session = start_session(sandbox_url, access_token(sandbox_url), total)
    chunk = KIB256 * 8
    assert confirmed(put(session, data[:chunk], 0, total)) == chunk
    arm(sandbox_url, "youtube", "drop_connection")
    with pytest.raises(DROPPED):
        put(session, data[chunk : 2 * chunk], chunk, total)
    held = confirmed(query(session, total))
    assert chunk < held < 2 * chunk  # part of the dropped chunk was persisted
    done = send_all(session, data, held, chunk)
    assert done.status_code == 200
    [post] = posts(sandbox_url, "youtube")
    assert post["sha256"] == sha256(big_clip)


def test_lose_response_on_final_chunk_then_query_returns_video(
    sandbox_url: str, small_video: Path
) -> None:
    data = small_video.read_bytes()
    session = start_session(sandbox_url, access_token(sandbox_url), len(data))
    arm(sandbox_url, "youtube", "lose_response")
    with pytest.raises(DROPPED):
        put(session, data, 0, len(data))
    answer = query(session, len(data))
    assert answer.status_code == 200
    assert answer.json()["kind"] == "youtube#video"
    assert len(posts(sandbox_url, "youtube")) == 1


@pytest.mark.parametrize(
    ("fault", "status", "reason"),
    [
        ("http_500", 500, "backendError"),
        ("rate_limit", 429, "rateLimitExceeded"),
        ("expired_token", 401, "authError"),
        ("quota_exceeded", 403, "quotaExceeded"),
    ],
)
def test_youtube_error_faults(sandbox_url: str, fault: str, status: int, reason: str) -> None:
    token = access_token(sandbox_url)
    arm(sandbox_url, "youtube", fault, seconds=3)
    response = HTTP.post(
        f"{sandbox_url}/upload/youtube/v3/videos",
        params={"part": "snippet,status", "uploadType": "resumable"},
        json={"snippet": {"title": "F"}, "status": {"privacyStatus": "private"}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == status
    assert error["errors"][0]["reason"] == reason
    if fault == "quota_exceeded":
        assert error["errors"][0]["domain"] == "youtube.quota"
    if fault == "rate_limit":
        assert response.headers["Retry-After"] == "3"
    if fault == "expired_token":
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_youtube_slow_chunk(sandbox_url: str, small_video: Path) -> None:
    data = small_video.read_bytes()
    session = start_session(sandbox_url, access_token(sandbox_url), len(data))
    arm(sandbox_url, "youtube", "slow", on="chunk", seconds=1.5)
    with pytest.raises(httpx.ReadTimeout):
        put(session, data, 0, len(data), timeout=0.3)
    # The slow answer was held back before the bytes were read: the upload goes on.
    assert put(session, data, 0, len(data)).status_code == 200


def test_unknown_and_missing_tokens_get_401(sandbox_url: str) -> None:
    url = f"{sandbox_url}/youtube/v3/videos"
    for headers in ({}, {"Authorization": "Bearer made-up"}, {"Authorization": "Apikey x"}):
        response = HTTP.get(url, params={"id": "x", "part": "id"}, headers=headers)
        assert response.status_code == 401
    configure(sandbox_url, accept_any_token=True)
    accepted = HTTP.get(url, params={"id": "x", "part": "id"},
                         headers={"Authorization": "Bearer made-up"})
    assert accepted.status_code == 200


# -- token endpoint ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "error"),
    [
        ("http_500", 500, "internal_failure"),
        ("rate_limit", 429, "rate_limit_exceeded"),
        ("expired_token", 400, "invalid_grant"),
    ],
)
def test_token_faults(sandbox_url: str, fault: str, status: int, error: str) -> None:
    arm(sandbox_url, "token", fault)
    form = {"grant_type": "refresh_token", "client_id": "c", "client_secret": "s",
            "refresh_token": "rt"}
    response = HTTP.post(f"{sandbox_url}/token", data=form)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert HTTP.post(f"{sandbox_url}/token", data=form).status_code == 200


def test_token_drop_connection(sandbox_url: str) -> None:
    arm(sandbox_url, "token", "drop_connection")
    with pytest.raises(DROPPED):
        HTTP.post(f"{sandbox_url}/token", data={"grant_type": "refresh_token",
                                                 "client_id": "c", "refresh_token": "rt"})


def test_revoked_refresh_token(sandbox_url: str) -> None:
    response = HTTP.post(f"{sandbox_url}/token", data={
        "grant_type": "refresh_token", "client_id": "c", "client_secret": "s",
        "refresh_token": "revoked-1"})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant",
                               "error_description": "Token has been expired or revoked."}


def test_slow_sync_upload_past_the_limit_answers_async(sandbox_url: str, small_video: Path) -> None:
    configure(sandbox_url, sync_timeout=0.2)
    arm(sandbox_url, "tiktok", "slow", seconds=30)
    response = up_upload(sandbox_url, small_video, request_id="late-1")
    assert response.status_code == 200
    assert response.json() == {"success": True, "request_id": "late-1",
                                "message": "Upload initiated"}
    status = HTTP.get(f"{sandbox_url}/api/uploadposts/status",
                       params={"request_id": "late-1"}, headers=API_KEY).json()
    assert status["status"] == "completed"


def test_idempotency_key_replays_the_first_answer(sandbox_url: str, small_video: Path) -> None:
    arm(sandbox_url, "tiktok", "lose_response")
    headers = {**API_KEY, "Idempotency-Key": "idem-1"}
    data = {"user": "u", "platform[]": ["tiktok"]}
    with small_video.open("rb") as fh, pytest.raises(DROPPED):
        HTTP.post(f"{sandbox_url}/api/upload", data=data, files={"video": fh}, headers=headers)
    with small_video.open("rb") as fh:
        again = HTTP.post(f"{sandbox_url}/api/upload", data=data, files={"video": fh},
                           headers=headers)
    assert again.status_code == 200
    assert again.json()["results"]["tiktok"]["success"] is True
    assert len(posts(sandbox_url)) == 1


def test_youtube_daily_quota_and_upload_limit(sandbox_url: str) -> None:
    token = access_token(sandbox_url)
    configure(sandbox_url, youtube_insert_calls=1, youtube_quota=10)
    start_session(sandbox_url, token, 100)
    # videos.insert is charged to its own bucket (1 per call), not to the 10-unit pool.
    spent = HTTP.get(f"{sandbox_url}/_sandbox/youtube").json()
    assert (spent["inserts_used"], spent["quota_used"]) == (1, 0)
    refused = HTTP.post(
        f"{sandbox_url}/upload/youtube/v3/videos",
        params={"part": "snippet", "uploadType": "resumable"},
        json={"snippet": {"title": "again"}}, headers={"Authorization": f"Bearer {token}"},
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["errors"][0]["reason"] == "quotaExceeded"
    configure(sandbox_url, youtube_insert_calls=10**6, youtube_upload_limit=1)
    limited = HTTP.post(
        f"{sandbox_url}/upload/youtube/v3/videos",
        params={"part": "snippet", "uploadType": "resumable"},
        json={"snippet": {"title": "again"}}, headers={"Authorization": f"Bearer {token}"},
    )
    assert limited.status_code == 400
    assert limited.json()["error"]["errors"][0]["reason"] == "uploadLimitExceeded"
    other = access_token(sandbox_url, "rt-bob")  # another channel has its own limit
    start_session(sandbox_url, other, 100)


def test_malformed_requests_get_4xx_not_5xx(sandbox_url: str) -> None:
    token = access_token(sandbox_url)
    bearer = {"Authorization": f"Bearer {token}"}
    no_boundary = HTTP.post(f"{sandbox_url}/api/upload", content=b"x",
                            headers={**API_KEY, "Content-Type": "multipart/form-data"})
    assert no_boundary.status_code == 400
    broken = HTTP.post(f"{sandbox_url}/api/upload", content=b"--B\r\nnonsense",
                       headers={**API_KEY, "Content-Type": "multipart/form-data; boundary=B"})
    assert broken.status_code == 400
    not_json = HTTP.post(f"{sandbox_url}/upload/youtube/v3/videos",
                         params={"part": "snippet", "uploadType": "resumable"},
                         content=b"{", headers=bearer)
    assert not_json.status_code == 400
    session = start_session(sandbox_url, token, 10)
    bad_range = HTTP.put(session, content=b"abc", headers={"Content-Range": "bytes 5-1/10"})
    assert bad_range.status_code == 400
    garbage = HTTP.put(session, content=b"abc", headers={"Content-Range": "lots"})
    assert garbage.status_code == 400
    unknown = HTTP.put(session.replace("upload_id=", "upload_id=x"), content=b"")
    assert unknown.status_code == 404
    wrong_grant = HTTP.post(f"{sandbox_url}/token", data={"grant_type": "password",
                                                          "client_id": "c"})
    assert wrong_grant.status_code == 400
    assert wrong_grant.json()["error"] == "unsupported_grant_type"
