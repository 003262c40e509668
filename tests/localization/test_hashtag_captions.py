"""Hashtags per platform through the composed caption the emulator stores.

Real HTTP to the sandbox: the tags of a post become each platform's hashtags (characters it links,
case-insensitive duplicates dropped, its documented count), the result and validation warn about
what was left out, and the emulator refuses or ignores what the network itself would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from multipublish.captions import HASHTAG, compose_caption
from multipublish.manager import PublishingManager
from multipublish.platforms.base import PublishConfig
from tests.fixtures.youtube import ClientFactory, youtube_posts
from tests.platforms.upload_post_support import credentials, posts, sandbox_settings

UPLOAD_POST = ("tiktok", "instagram", "facebook", "linkedin")
#: 40 distinct tags, then the same again in other cases and spellings the networks would not link.
TAGS = [f"tag{i}" for i in range(40)] + ["TAG3", "Tag7", "summer-sale", "2024", "!!", "café au lait"]


@pytest.fixture
async def manager(sandbox_url: str, sqlite_url: str, secret_key: str) -> AsyncIterator[PublishingManager]:
    mgr = PublishingManager(sandbox_settings(sandbox_url, sqlite_url, secret_key))
    for platform in UPLOAD_POST:
        mgr.add_account("acct", platform, credentials(platform))
    yield mgr
    await mgr.aclose()


def _stored(sandbox_url: str, platform: str) -> dict[str, Any]:
    [post] = [p for p in posts(sandbox_url) if p["platform"] == platform]
    return post


def _hashtags(caption: str) -> list[str]:
    return [h.lower() for h in HASHTAG.findall(caption)]


@pytest.mark.parametrize("platform", ["tiktok", "facebook", "linkedin"])
async def test_platforms_without_a_count_get_every_distinct_linkable_tag(
    platform: str, manager: PublishingManager, sandbox_url: str, vertical_video: Path
) -> None:
    config = PublishConfig(title="Trip", description="Look #Tag1", tags=TAGS)
    result = await manager.publish_to_platform("acct", platform, vertical_video, config)
    assert result.success, result.error
    caption = _stored(sandbox_url, platform)["caption"]
    tags = _hashtags(caption)
    assert len(tags) == len(set(tags)), "a hashtag repeated (case aside)"
    # tag1 is in the text already; 39 other tagN, summersale and caféaulait; 2024 and !! are not linkable.
    assert set(tags) == {f"tag{i}" for i in range(40)} | {"summersale", "caféaulait"}
    assert "#Tag1" in caption and "#tag1 " not in caption  # the user's spelling, once
    assert _stored(sandbox_url, platform)["hashtags"] == list(dict.fromkeys(tags))
    warnings = result.details["warnings"]
    assert any("#2024 is only digits" in w for w in warnings)
    assert any("#summer-sale becomes #summersale" in w for w in warnings)
    assert any("#TAG3 repeats" in w for w in warnings)
    assert not any("left out of the" in w for w in warnings)


async def test_instagram_keeps_30_hashtags_with_a_warning_naming_the_rest(
    manager: PublishingManager, sandbox_url: str, vertical_video: Path
) -> None:
    config = PublishConfig(title="Trip", description="Look #one #two", tags=TAGS)
    report = manager.validate_config_for_platforms(config, ["instagram"])["instagram"]
    assert report["valid"], report
    assert any("left out of the instagram caption" in w and "#tag28" in w for w in report["warnings"])
    result = await manager.publish_to_platform("acct", "instagram", vertical_video, config)
    assert result.success, result.error
    caption = _stored(sandbox_url, "instagram")["caption"]
    tags = _hashtags(caption)
    assert len(tags) == 30 and tags[:2] == ["one", "two"]  # the text's own first, then 28 tags
    assert tags[2:] == [f"tag{i}" for i in range(28)]
    [left_out] = [w for w in result.details["warnings"] if "left out of" in w]
    assert left_out.startswith("14 tag(s)")  # tag28..tag39, summersale, caféaulait
    assert "refuses a post with more than 30 hashtags" in left_out


async def test_instagram_text_over_30_hashtags_is_refused_and_the_emulator_refuses_it_too(
    manager: PublishingManager, sandbox_url: str, vertical_video: Path
) -> None:
    text = " ".join(f"#w{i}" for i in range(31))
    config = PublishConfig(title="Many", description=text)
    refused = await manager.publish_to_platform("acct", "instagram", vertical_video, config)
    assert not refused.success and "31 hashtags, over the limit of 30" in (refused.error or "")
    assert posts(sandbox_url) == []
    # Unvalidated, the network itself refuses it (as Instagram's Graph API does).
    sent = await manager.publish_to_platform("acct", "instagram", vertical_video, config, validate=False)
    assert not sent.success and "31 hashtags" in (sent.error or "")
    assert posts(sandbox_url) == []


async def test_youtube_tags_stay_tags_and_over_60_description_hashtags_is_a_warning(
    sandbox_url: str, yt_add_account: Callable[..., Any], yt_client: ClientFactory, yt_clip: Path
) -> None:
    yt_add_account()
    description = "Watch " + " ".join(f"#h{i}" for i in range(61))
    config = PublishConfig(title="Sixty-one", description=description, tags=["tag one", "Tag one"])
    result = await yt_client().publish(yt_clip, config, post_type="video", request_id="r-hashtags")
    assert result.success, result.error
    assert any("61 hashtags; YouTube ignores every hashtag" in w for w in result.details["warnings"])
    [video] = youtube_posts(sandbox_url)
    assert video["description"] == description  # the user's text is never cut
    fewer = PublishConfig(title="Sixty", description=" ".join(f"#h{i}" for i in range(60)))
    assert compose_caption(fewer, "youtube").warnings == ()
