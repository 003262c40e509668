"""Videos over 15 minutes need a channel YouTube allows long uploads (channels.list
``status.longUploadsStatus``); otherwise the publish is refused before a byte is sent."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from multipublish.accounts import AccountStore
from multipublish.errors import ErrorKind
from multipublish.media.probe import probe
from multipublish.media.sample import make_video
from multipublish.platforms.base import PublishConfig, PublishStatus
from tests.fixtures.youtube import (
    ACCOUNT,
    NOW,
    ClientFactory,
    arm,
    no_wait,
    set_config,
    youtube_posts,
    youtube_state,
)


@pytest.fixture(scope="session")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 16-minute MP4, cheap to make: 64x36 pixels, one frame a second, no sound."""
    path = make_video(
        tmp_path_factory.mktemp("long") / "long.mp4", width=64, height=36, duration=961.0, fps=1, audio=False
    )
    assert probe(path).duration > 15 * 60
    return path


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _stored(store: AccountStore) -> dict[str, Any]:
    return store.load(ACCOUNT, "youtube").credentials


async def test_long_video_on_an_unverified_channel_is_refused_before_upload(
    sandbox_url: str,
    yt_add_account: Any,
    yt_client: ClientFactory,
    yt_store: AccountStore,
    long_clip: Path,
) -> None:
    yt_add_account()
    set_config(sandbox_url, youtube_long_uploads_default="eligible")  # a new, unverified channel
    clock = Clock(NOW)
    result = await yt_client(clock=clock).publish(
        long_clip, PublishConfig(title="A long talk"), post_type="video", request_id="r1"
    )
    assert not result.success and result.status is PublishStatus.FAILED
    assert result.error_kind is ErrorKind.PERMANENT
    assert result.error is not None
    assert "duration 16:01" in result.error and "eligible" in result.error
    assert "https://www.youtube.com/verify" in result.error
    assert result.details["validation"]["field"] == "duration"
    assert result.bytes_sent == 0
    assert youtube_posts(sandbox_url) == [] and youtube_state(sandbox_url)["sessions"] == []
    # The channel's status is kept on the account.
    assert _stored(yt_store)["long_uploads_status"] == "eligible"

    # The channel gets verified. Within the cache time the account still says "eligible"...
    set_config(sandbox_url, youtube_long_uploads_default="allowed")
    clock.now = NOW + timedelta(hours=1)
    again = await yt_client(clock=clock).publish(
        long_clip, PublishConfig(title="A long talk"), post_type="video", request_id="r2"
    )
    assert not again.success and "eligible" in (again.error or "")
    # ... and once it is older than youtube_channel_status_ttl, channels.list is asked again.
    clock.now = NOW + timedelta(hours=7)
    done = await yt_client(clock=clock).publish(
        long_clip, PublishConfig(title="A long talk"), post_type="video", request_id="r3"
    )
    assert done.success, done.error
    assert _stored(yt_store)["long_uploads_status"] == "allowed"
    [post] = youtube_posts(sandbox_url)
    assert post["title"] == "A long talk" and post["size"] == long_clip.stat().st_size


async def test_a_channel_youtube_disallows_is_told_so_and_short_videos_never_ask(
    sandbox_url: str,
    yt_add_account: Any,
    yt_client: ClientFactory,
    yt_store: AccountStore,
    long_clip: Path,
    yt_clip: Path,
) -> None:
    yt_add_account()
    set_config(sandbox_url, youtube_long_uploads_default="disallowed")
    client = yt_client()
    short = await client.publish(yt_clip, PublishConfig(title="Short one"), post_type="video", request_id="s")
    assert short.success, short.error
    assert "long_uploads_status" not in _stored(yt_store)  # a video under 15 minutes never asks
    long = await client.publish(long_clip, PublishConfig(title="Long one"), post_type="video", request_id="l")
    assert not long.success and long.error_kind is ErrorKind.PERMANENT
    error = long.error or ""
    assert "disallowed" in error and "does not allow this channel long uploads" in error
    assert [p["title"] for p in youtube_posts(sandbox_url)] == ["Short one"]


async def test_a_long_video_that_skipped_our_check_is_rejected_by_youtube_for_its_length(
    sandbox_url: str,
    yt_add_account: Any,
    yt_client: ClientFactory,
    long_clip: Path,
    yt_clip: Path,
) -> None:
    """The channel status cannot be read (channels.list fails), so the client lets YouTube decide:
    Google takes the bytes and rejects the video in processing with ``rejectionReason: length``."""
    yt_add_account()
    set_config(sandbox_url, youtube_long_uploads_default="eligible")
    arm(sandbox_url, "http_500", on="channels", times=1)
    result = await yt_client(sleep=no_wait).publish(
        long_clip, PublishConfig(title="Too long"), post_type="video", request_id="r1"
    )
    assert not result.success and result.status is PublishStatus.FAILED
    assert result.error_kind is ErrorKind.PERMANENT  # never re-uploaded
    assert "YouTube rejected the video (length)" in (result.error or "")
    assert result.details["uploadStatus"] == "rejected"
    assert result.details["rejectionReason"] == "length"
    assert result.bytes_sent == long_clip.stat().st_size  # the bytes went out before the refusal
    assert "validation" not in result.details  # not our own check: Google's
    [post] = youtube_posts(sandbox_url)
    assert post["status"] == "rejected"
    # A short video on the same channel is processed as usual.
    short = await yt_client(sleep=no_wait).publish(
        yt_clip, PublishConfig(title="Short"), post_type="video", request_id="r2"
    )
    assert short.success, short.error
