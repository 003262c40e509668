"""Small helpers shared by the API tests (no fixtures here)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from tests.fixtures.api import ApiServer

TERMINAL = {"completed", "failed", "cancelled"}

UPLOAD_POST_CREDENTIALS = {"api_key": "sk_live_abcdefghijklmnop1234", "user": "demo_user"}
YOUTUBE_CREDENTIALS = {
    "client_id": "sandbox-client.apps.googleusercontent.com",
    "client_secret": "GOCSPX-sandbox-client-secret",
    "refresh_token": "1//sandbox-refresh-token-abcdefghijkl",
    "channel_id": "UCsandbox0000000000000000",
}


def add_account(client: httpx.Client, account_id: str, platform: str) -> dict[str, Any]:
    creds = YOUTUBE_CREDENTIALS if platform == "youtube" else dict(UPLOAD_POST_CREDENTIALS)
    if platform == "facebook":
        creds["page_id"] = "123456789"
    resp = client.post(
        "/api/publishing/accounts",
        json={"account_id": account_id, "platform": platform, "credentials": creds},
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def wait_for_job(
    client: httpx.Client, job_id: str, statuses: set[str] = TERMINAL, timeout: float = 60
) -> dict[str, Any]:
    """Poll the job until its status is in ``statuses`` (the deadline only stops a hung test)."""
    deadline = time.monotonic() + timeout
    while True:
        resp = client.get(f"/api/publishing/jobs/{job_id}")
        assert resp.status_code == 200, resp.text
        job = dict(resp.json())
        if job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, f"job stuck in {job['status']}: {job}"
        time.sleep(0.05)


def dashboard_login(browser: httpx.Client, token: str) -> str:
    """Log in like the form does (its CSRF value and cookie); returns the session ``Cookie`` header.

    The cookies are ``Secure`` (browsers count loopback as secure, httpx does not), so they are
    passed back by hand.
    """
    form = browser.get("/login")
    nonce = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    login_cookie = form.headers["set-cookie"].split(";", 1)[0]
    login = browser.post(
        "/login", data={"token": token, "csrf": nonce}, headers={"Cookie": login_cookie}
    )
    assert login.status_code == 303, login.text
    cookies = [c.split(";", 1)[0] for c in login.headers.get_list("set-cookie")]
    return next(c for c in cookies if c.startswith("multipublish_session="))


def add_jobs(server: ApiServer, times: list[datetime], title: str = "Post") -> list[str]:
    """Waiting jobs of "acme" at these times, added to the queue directly (no HTTP per job)."""
    from multipublish.platforms.base import PublishConfig
    from multipublish.queue.models import QueuedPublishConfig

    queue = server.app.state.service.queue
    return [
        queue.add_job(None, QueuedPublishConfig(
            account_id="acme", platforms=["tiktok"], video_path=str(server.media_root / "video.mp4"),
            config=PublishConfig(title=f"{title} {i}"), scheduled_time=at,
        )).id
        for i, at in enumerate(times)
    ]

