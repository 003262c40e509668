"""PublishingManager across both databases and both client families (upload-post and YouTube)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from multipublish.manager import PublishingManager
from multipublish.platforms.base import PlatformClient, PublishConfig, PublishStatus
from multipublish.platforms.registry import build_client
from multipublish.settings import Settings
from tests.platforms.upload_post_support import credentials, posts, sandbox_settings

YT_CREDS = {"client_id": "cid.apps", "client_secret": "yt-secret-0123456789", "refresh_token": "1//rt-ok-123"}


def test_accounts_on_each_backend(db_url: str, secret_key: str) -> None:
    manager = PublishingManager(Settings(secret_key=secret_key), database_url=db_url)
    manager.add_account("brand", "tiktok", credentials("tiktok"))
    manager.add_account("brand", "youtube", YT_CREDS)
    manager.add_account("brand", "tiktok", credentials("tiktok", user="renamed"))  # replaces
    accounts = manager.list_accounts("brand")
    assert [(a["platform"], a["credentials"].get("user")) for a in accounts] == [
        ("tiktok", "renamed"),
        ("youtube", None),
    ]
    assert manager.get_account("brand", "youtube")["credentials"]["client_id"] == "cid.apps"
    assert manager.remove_account("brand") == 2
    assert manager.list_accounts() == []


@pytest.mark.parametrize("platform", ["tiktok", "instagram", "facebook", "linkedin", "youtube"])
async def test_registry_builds_a_client_per_platform(platform: str, secret_key: str) -> None:
    creds = YT_CREDS if platform == "youtube" else credentials(platform)
    client = build_client(platform, "acct", creds, Settings(secret_key=secret_key), lambda _c: None)
    assert isinstance(client, PlatformClient)
    assert client.platform == platform
    await client.aclose()


async def test_multi_platform_with_youtube_and_upload_post(
    sandbox_url: str, sqlite_url: str, secret_key: str, vertical_video: Path
) -> None:
    manager = PublishingManager(sandbox_settings(sandbox_url, sqlite_url, secret_key))
    manager.add_account("me", "youtube", YT_CREDS)
    manager.add_account("me", "instagram", credentials("instagram"))
    seen: dict[str, int] = {}
    config = PublishConfig(
        title="Everywhere",
        description="d",
        tags=["one"],
        platform_specific={"youtube": {"privacy_status": "unlisted"}, "instagram": {"share_to_feed": True}},
    )
    try:
        results = await manager.publish_multi_platform(
            "me",
            ["youtube", "instagram:reels"],
            vertical_video,
            config,
            progress=lambda p, sent, _total: seen.__setitem__(p, sent),
        )
        assert await manager.authenticate_account("me", "youtube")
    finally:
        await manager.aclose()
    assert set(results) == {"youtube", "instagram:reels"}
    for result in results.values():
        assert result.success, result.error
        assert result.status is PublishStatus.PUBLISHED
    size = vertical_video.stat().st_size
    assert seen == {"youtube": size, "instagram:reels": size}
    received = {p["platform"]: p for p in posts(sandbox_url)}
    assert sorted(received) == ["instagram", "youtube"]
    assert all(p["size"] == size for p in received.values())
    videos = httpx.get(f"{sandbox_url}/_sandbox/youtube", timeout=10).json()["videos"]
    assert len(videos) == 1
    # The refreshed access token was merged into the store; the refresh token kept.
    stored = manager.accounts.load("me", "youtube").credentials
    assert stored["refresh_token"] == YT_CREDS["refresh_token"]


def test_one_manager_serves_two_event_loops(
    sandbox_url: str, sqlite_url: str, secret_key: str, vertical_video: Path
) -> None:
    """Scripts call asyncio.run() more than once; the second run must not hit a closed loop."""
    import asyncio

    manager = PublishingManager(sandbox_settings(sandbox_url, sqlite_url, secret_key))
    manager.add_account("me", "tiktok", credentials("tiktok"))
    config = PublishConfig(title="Twice", description="d")
    first = asyncio.run(manager.publish_to_platform("me", "tiktok", str(vertical_video), config))
    second = asyncio.run(manager.publish_to_platform("me", "tiktok", str(vertical_video), config))
    asyncio.run(manager.aclose())
    assert first.success, first.error
    assert second.success, second.error
    assert len(posts(sandbox_url, "tiktok")) == 2
