"""YouTube as Google runs it: unaudited projects lock uploads private, processing can fail,
thumbnail problems never refuse the publish. Real HTTP to the sandbox in those modes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from multipublish.errors import ErrorKind
from multipublish.platforms.base import PublishConfig, PublishStatus
from tests.fixtures.youtube import ClientFactory, no_wait, set_config, youtube_posts, youtube_state


def _config(**overrides: Any) -> PublishConfig:
    return PublishConfig(**{"title": "Sandbox upload", "description": "d", **overrides})


async def test_unaudited_project_public_upload_is_reported_private(
    sandbox_url: str, yt_add_account: Callable[..., Any], yt_client: ClientFactory, yt_clip: Path
) -> None:
    set_config(sandbox_url, youtube_unaudited=True)
    yt_add_account()
    config = _config(platform_specific={"youtube": {"privacy_status": "public"}})
    result = await yt_client().publish(yt_clip, config, post_type="video", request_id="r1")
    assert result.success, result.error
    assert result.details["privacyStatus"] == "private"
    assert result.details["privacy_locked"] is True and result.details["privacy_requested"] == "public"
    assert any("private although public was asked" in w for w in result.details["warnings"])
    [post] = youtube_posts(sandbox_url)
    assert post["options"]["requestedPrivacyStatus"] == "public"
    assert post["options"]["privacyStatus"] == "private"


async def test_audited_project_keeps_the_privacy_asked(
    sandbox_url: str, yt_add_account: Callable[..., Any], yt_client: ClientFactory, yt_clip: Path
) -> None:
    yt_add_account()
    result = await yt_client().publish(yt_clip, _config(), post_type="video", request_id="r1")
    assert result.success, result.error
    assert result.details["privacyStatus"] == "public"
    assert result.details["uploadStatus"] == "processed"
    assert "privacy_locked" not in result.details and "warnings" not in result.details


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [("failed", "could not process the video (conversion)"), ("rejected", "rejected the video (duplicate)")],
)
async def test_failed_processing_fails_the_publish_with_googles_reason(
    outcome: str,
    reason: str,
    sandbox_url: str,
    yt_add_account: Callable[..., Any],
    yt_client: ClientFactory,
    yt_clip: Path,
) -> None:
    set_config(sandbox_url, youtube_processing_outcome=outcome, youtube_processing_polls=2)
    yt_add_account()
    result = await yt_client(sleep=no_wait).publish(yt_clip, _config(), post_type="video", request_id="r1")
    assert not result.success and result.status is PublishStatus.FAILED
    assert result.error_kind is ErrorKind.PERMANENT  # never re-uploaded
    assert reason in (result.error or "")
    assert result.video_id and result.details["uploadStatus"] == outcome
    [post] = youtube_posts(sandbox_url)
    assert post["status"] == outcome


async def test_processing_still_running_after_the_window_is_published_with_a_warning(
    sandbox_url: str,
    yt_add_account: Callable[..., Any],
    yt_client: ClientFactory,
    yt_clip: Path,
    yt_settings: Any,
) -> None:
    set_config(sandbox_url, youtube_processing_polls=1000)
    yt_add_account()
    settings = yt_settings.model_copy(update={"youtube_processing_timeout": 0.05})
    result = await yt_client(settings=settings).publish(yt_clip, _config(), post_type="video", request_id="r")
    assert result.success, result.error
    assert result.details["processingStatus"] == "processing"
    assert any("still processing" in w for w in result.details["warnings"])


async def test_shorts_take_no_custom_thumbnail(
    sandbox_url: str,
    yt_add_account: Callable[..., Any],
    yt_client: ClientFactory,
    yt_clip: Path,
    yt_thumbnail: Path,
) -> None:
    yt_add_account()
    config = _config(thumbnail_path=str(yt_thumbnail))
    result = await yt_client().publish(yt_clip, config, post_type="shorts", request_id="r")
    assert result.success, result.error
    assert any("Shorts take none" in w for w in result.details["warnings"])
    assert youtube_state(sandbox_url)["thumbnails"] == {}


async def test_thumbnail_over_the_size_limit_is_a_warning(
    sandbox_url: str,
    yt_add_account: Callable[..., Any],
    yt_client: ClientFactory,
    yt_clip: Path,
    yt_thumbnail: Path,
    tmp_path: Path,
) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(yt_thumbnail.read_bytes() + b"\0" * (2 * 1024 * 1024))
    yt_add_account()
    result = await yt_client().publish(
        yt_clip, _config(thumbnail_path=str(big)), post_type="video", request_id="r"
    )
    assert result.success, result.error
    assert any("2 MB" in w for w in result.details["warnings"])
    assert youtube_state(sandbox_url)["thumbnails"] == {}
