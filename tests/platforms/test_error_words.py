"""Errors in words (issue 9, item 8): one platform prefix, no HTML, the reason and what to do."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from multipublish.accounts import AccountStore
from multipublish.errors import ErrorKind, PlatformError, with_platform
from multipublish.manager import PublishingManager
from multipublish.platforms.base import PublishConfig
from multipublish.platforms.google_oauth import GoogleOAuth
from multipublish.platforms.http import error_message
from multipublish.settings import Settings
from tests.api.helpers import UPLOAD_POST_CREDENTIALS, add_account, wait_for_job
from tests.fixtures.api import StartServer
from tests.fixtures.youtube import ACCOUNT
from tests.sandbox.helpers import arm

GOOGLE_404 = """<!DOCTYPE html>
<html lang=en>
  <meta charset=utf-8>
  <title>Error 404 (Not Found)!!1</title>
  <style>*{margin:0;padding:0}</style>
  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>
  <p><b>404.</b> <ins>That&#39;s an error.</ins>
  <p>The requested URL <code>/upload/youtube/v3/videos</code> was not found on this server.
"""


def test_one_platform_prefix_however_many_the_message_had() -> None:
    exc = PlatformError("youtube", ErrorKind.TRANSIENT, "youtube: youtube: upload failed: HTTP 503")
    assert exc.message == "youtube: upload failed: HTTP 503"
    assert with_platform("youtube", exc.message) == exc.message
    assert with_platform("instagram:stories", "instagram: upload-post: HTTP 400: bad") == (
        "instagram:stories: HTTP 400: bad"
    )
    # a colon inside the reason is not a prefix
    assert PlatformError("tiktok", ErrorKind.PERMANENT, "title: too long").message == (
        "tiktok: title: too long"
    )


def test_no_html_from_google_in_an_error() -> None:
    response = httpx.Response(404, text=GOOGLE_404, headers={"Content-Type": "text/html"})
    text = error_message(response)
    assert text == "Error 404 (Not Found)!!1"
    exc = PlatformError("youtube", ErrorKind.PERMANENT, f"upload failed: HTTP 404: {GOOGLE_404}")
    assert "<" not in exc.message and "That's an error" not in exc.message
    # text that merely mentions a sign is kept
    assert PlatformError("youtube", ErrorKind.PERMANENT, "size < 2 GB").message == "youtube: size < 2 GB"


async def test_an_upload_post_401_says_how_to_check_the_key(
    sandbox_url: str, tmp_path: Path, secret_key: str, vertical_video: Path
) -> None:
    settings = Settings(
        sandbox_url=sandbox_url, database_url=f"sqlite:///{tmp_path / 'mp.db'}", secret_key=secret_key
    )
    async with PublishingManager(settings) as manager:
        manager.add_account("brand", "linkedin", UPLOAD_POST_CREDENTIALS)
        arm(sandbox_url, "linkedin", "expired_token", times=5)
        try:
            result = await manager.publish_to_platform(
                "brand", "linkedin", vertical_video, PublishConfig(title="t", description="d")
            )
        finally:
            httpx.delete(f"{sandbox_url}/_sandbox/faults", timeout=10)  # the 401s left unused
    assert not result.success and result.error_kind is ErrorKind.AUTH
    error = result.error or ""
    assert "API Keys" in error and "multipublish accounts add" in error
    assert error.count("linkedin:") <= 1 and "upload-post: upload-post" not in error


async def test_the_token_endpoints_429_is_a_wait_of_its_retry_after(
    sandbox_url: str,
    yt_add_account: Callable[..., Any],
    yt_store: AccountStore,
    yt_settings: Settings,
) -> None:
    yt_add_account()
    oauth = GoogleOAuth(ACCOUNT, yt_store.load(ACCOUNT, "youtube").credentials, yt_settings, lambda _p: None)
    arm(sandbox_url, "token", "rate_limit", seconds=7, times=2)
    for _ in range(2):  # one token request per refresh: google-auth's own quick retries are off
        with pytest.raises(PlatformError) as caught:
            await oauth.access_token()
        assert caught.value.kind is ErrorKind.RATE_LIMITED
        assert caught.value.retry_after == 7
        assert "429" in caught.value.message and "<" not in caught.value.message
    assert (await oauth.access_token()).startswith("ya29.")  # both armed 429s were used, one each
    oauth.close()


def test_a_failed_youtube_job_reads_one_prefix_and_what_to_do(
    start_api: StartServer, sqlite_url: str, sandbox_url: str
) -> None:
    server = start_api(sqlite_url)
    with server.client() as client:
        add_account(client, "yt", "youtube")
        arm(sandbox_url, "token", "expired_token", times=1)
        job = client.post(
            "/api/publishing/publish/scheduled",
            json={
                "account_id": "yt",
                "platforms": ["youtube"],
                "video_path": str(server.media_root / "video.mp4"),
                "title": "Words",
                "max_retries": 0,
            },
        ).json()
        done = wait_for_job(client, job["id"])
    assert done["status"] == "failed", done
    message = done["error_message"]
    assert message.count("youtube:") == 1, message
    assert "multipublish accounts auth yt --platform youtube" in message
    assert "<" not in message
