"""``first_comment`` where upload-post offers it, refused with the reason where it does not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from multipublish.errors import InputError
from multipublish.manager import PublishingManager
from multipublish.platforms.base import PublishConfig
from tests.platforms.upload_post_support import credentials, posts, sandbox_settings


@pytest.fixture
async def manager(sandbox_url: str, sqlite_url: str, secret_key: str) -> AsyncIterator[PublishingManager]:
    mgr = PublishingManager(sandbox_settings(sandbox_url, sqlite_url, secret_key))
    for platform in ("instagram", "facebook", "linkedin", "tiktok"):
        mgr.add_account("acct", platform, credentials(platform))
    yield mgr
    await mgr.aclose()


@pytest.mark.parametrize("platform", ["instagram", "facebook", "linkedin"])
async def test_first_comment_reaches_upload_post(
    platform: str, manager: PublishingManager, sandbox_url: str, small_video: Path
) -> None:
    config = PublishConfig(title="With a comment",
                           platform_specific={platform: {"first_comment": "  Link in bio!  "}})
    result = await manager.publish_to_platform("acct", platform, small_video, config, validate=False)
    assert result.success, result.error
    [post] = posts(sandbox_url)
    assert post["options"][f"{platform}_first_comment"] == "Link in bio!"


async def test_tiktok_first_comment_is_refused_before_upload(
    manager: PublishingManager, sandbox_url: str, small_video: Path
) -> None:
    config = PublishConfig(title="x", platform_specific={"tiktok": {"first_comment": "hi"}})
    with pytest.raises(InputError) as err:
        await manager.publish_to_platform("acct", "tiktok", small_video, config, validate=False)
    assert err.value.field == "platform_specific.tiktok.first_comment"
    assert "cannot post a first comment on TikTok" in err.value.reason
    assert posts(sandbox_url) == []
