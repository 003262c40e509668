"""Time-dependent behaviour with an injected clock: schedules come due, tokens expire."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from multipublish.sandbox import SandboxServer
from tests.sandbox.helpers import API_KEY, HTTP, access_token, posts


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(clock: Clock) -> Iterator[SandboxServer]:
    with SandboxServer(clock=clock) as running:
        yield running


def test_scheduled_job_publishes_when_due(
    server: SandboxServer, clock: Clock, small_video: Path
) -> None:
    due = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock.now + 3600))
    with small_video.open("rb") as fh:
        answer = HTTP.post(f"{server.url}/api/upload",
                           data={"user": "u", "platform[]": ["tiktok"], "scheduled_date": due},
                           files={"video": fh}, headers=API_KEY)
    assert answer.status_code == 202
    job_id = answer.json()["job_id"]
    status = HTTP.get(f"{server.url}/api/uploadposts/status", params={"job_id": job_id},
                      headers=API_KEY)
    assert status.json()["status"] == "queued"
    assert posts(server.url)[0]["status"] == "scheduled"
    clock.now += 3601
    status = HTTP.get(f"{server.url}/api/uploadposts/status", params={"job_id": job_id},
                      headers=API_KEY)
    assert status.json()["status"] == "completed"
    assert posts(server.url)[0]["status"] == "published"
    assert HTTP.get(f"{server.url}/api/uploadposts/schedule", headers=API_KEY).json() == []


def test_access_token_expires_with_the_clock(server: SandboxServer, clock: Clock) -> None:
    token = access_token(server.url)
    url = f"{server.url}/youtube/v3/channels"
    params = {"mine": "true", "part": "id"}
    headers = {"Authorization": f"Bearer {token}"}
    clock.now += 3000
    assert HTTP.get(url, params=params, headers=headers).status_code == 200
    clock.now += 600
    assert HTTP.get(url, params=params, headers=headers).status_code == 401


def test_token_endpoint_accepts_basic_client_auth(server: SandboxServer) -> None:
    basic = base64.b64encode(b"cid:secret").decode()
    response = HTTP.post(f"{server.url}/token",
                         data={"grant_type": "refresh_token", "refresh_token": "rt"},
                         headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200
    missing = HTTP.post(f"{server.url}/token",
                        data={"grant_type": "refresh_token", "refresh_token": "rt"})
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"


def test_sdk_scheduled_post_fails_at_its_time(server: SandboxServer, clock: Clock, small_video: Path) -> None:
    """The official SDK follows a scheduled post by job id; a refusal shows only once it is due."""
    from upload_post import UploadPostClient

    previous = UploadPostClient.BASE_URL
    UploadPostClient.BASE_URL = f"{server.url}/api"
    sdk = UploadPostClient("sandbox-key")
    try:
        due = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock.now + 3600))
        job_id = sdk.upload_video(
            small_video, title="Later", user="u", platforms=["linkedin"], scheduled_date=due
        )["job_id"]
        fault = {"platform": "linkedin", "fault": "reject", "on": "due", "code": "tiktok_privacy_unavailable"}
        HTTP.post(f"{server.url}/_sandbox/faults", json=fault).raise_for_status()
        assert sdk.get_job_status(job_id)["status"] == "queued"
        assert posts(server.url)[0]["status"] == "scheduled"
        clock.now += 3601
        status = sdk.get_job_status(job_id)
        assert status["status"] == "failed"
        [result] = status["results"]
        assert result["success"] is False and result["error_code"] == "tiktok_privacy_unavailable"
        assert posts(server.url)[0]["status"] == "failed"
        assert sdk.list_scheduled() == []
        history = sdk.get_history(page=1, limit=10)["history"]
        assert [h["success"] for h in history] == [False]
    finally:
        sdk.session.close()
        UploadPostClient.BASE_URL = previous
