"""The YouTube client against the sandbox over real HTTP: metadata, chunks, resume, faults, outcomes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from multipublish.errors import ErrorKind, InputError
from multipublish.platforms.base import PlatformClient, PublishConfig, PublishStatus
from multipublish.platforms.youtube import YouTubeClient, parse_reference
from multipublish.settings import Settings
from tests.fixtures.youtube import (
    CHUNK,
    NOW,
    ClientFactory,
    CuttableProxy,
    arm,
    file_sha256,
    youtube_posts,
    youtube_state,
)


def _config(**overrides: Any) -> PublishConfig:
    values: dict[str, Any] = {
        "title": "Sandbox upload",
        "description": "Uploaded by the test suite",
        "tags": ["multipublish", "test clip"],
    }
    values.update(overrides)
    return PublishConfig(**values)


def _with_extras(thumbnail: Path, playlist_id: str) -> PublishConfig:
    """A publish that also sets a thumbnail and adds the video to a playlist."""
    return _config(
        thumbnail_path=str(thumbnail), platform_specific={"youtube": {"playlist_id": playlist_id}}
    )


async def test_upload_sends_every_field_in_chunks_and_the_bytes_arrive_intact(
    sandbox_url: str, yt_add_account: Callable[..., Any], yt_client: ClientFactory, yt_clip: Path
) -> None:
    yt_add_account()
    client = yt_client()
    assert isinstance(client, PlatformClient)
    seen: list[tuple[str, int, int]] = []
    config = _config(
        platform_specific={"youtube": {"category": "27", "privacy_status": "unlisted", "made_for_kids": True}}
    )

    result = await client.publish(
        yt_clip,
        config,
        post_type="video",
        request_id="req-1",
        progress=lambda p, sent, total: seen.append((p, sent, total)),
    )

    assert result.success, result.error
    assert result.status is PublishStatus.PUBLISHED
    assert result.url == f"https://www.youtube.com/watch?v={result.video_id}"
    [post] = youtube_posts(sandbox_url)
    assert post["video_id"] == result.video_id
    assert post["title"] == "Sandbox upload"
    assert post["description"] == "Uploaded by the test suite"
    assert post["options"]["categoryId"] == "27"
    assert post["options"]["tags"] == ["multipublish", "test clip"]
    assert post["options"]["privacyStatus"] == "unlisted"
    assert post["options"]["selfDeclaredMadeForKids"] is True
    assert post["options"]["publishAt"] is None
    assert post["content_type"] == "video/mp4"
    size = yt_clip.stat().st_size
    assert post["size"] == size
    assert post["sha256"] == file_sha256(yt_clip)
    # Progress: bytes confirmed by the session, one report per 256 KiB chunk, ending at the total.
    sent = [s for _, s, _ in seen]
    assert {p for p, _, _ in seen} == {"youtube"} and {t for _, _, t in seen} == {size}
    assert sent == sorted(sent) and sent[-1] == size
    assert [s for s in sent if 0 < s < size] == list(range(CHUNK, size, CHUNK))


async def test_native_scheduling_sends_publish_at_and_private(
    sandbox_url: str, yt_add_account: Callable[..., Any], yt_client: ClientFactory, yt_clip: Path
) -> None:
    yt_add_account()
    when = NOW + timedelta(days=2, hours=3)
    result = await yt_client().publish(
        yt_clip, _config(scheduled_time=when), post_type="video", request_id="req-2"
    )
    assert result.success, result.error
    [post] = youtube_posts(sandbox_url)
    assert post["options"]["publishAt"] == "2030-03-12T15:00:00Z"
    assert post["options"]["privacyStatus"] == "private"
    assert post["status"] == "scheduled"
    assert result.details["publishAt"] == "2030-03-12T15:00:00Z"


async def test_publish_at_option_wins_and_conflicting_privacy_is_refused(
    sandbox_url: str, yt_add_account: Callable[..., Any], yt_client: ClientFactory, yt_clip: Path
) -> None:
    yt_add_account()
    client = yt_client()
    with pytest.raises(InputError) as refused:
        await client.publish(
            yt_clip,
            _config(
                platform_specific={
                    "youtube": {"publish_at": "2030-04-01T10:00:00Z", "privacy_status": "public"}
                }
            ),
            post_type="video",
            request_id="req-3",
        )
    assert refused.value.field == "platform_specific.youtube.privacy_status"
    result = await client.publish(
        yt_clip,
        _config(platform_specific={"youtube": {"publish_at": "2030-04-01T12:00:00+02:00"}}),
        post_type="video",
        request_id="req-4",
    )
    assert result.success, result.error
    [post] = youtube_posts(sandbox_url)
    assert post["options"]["publishAt"] == "2030-04-01T10:00:00Z"


async def test_scheduled_time_already_reached_publishes_now(
    sandbox_url: str, yt_add_account: Callable[..., Any], yt_client: ClientFactory, yt_clip: Path
) -> None:
    """A queued job runs when due: its scheduled_time is past and must not become publishAt."""
    yt_add_account()
    result = await yt_client().publish(
        yt_clip, _config(scheduled_time=NOW - timedelta(seconds=5)), post_type="video", request_id="r"
    )
    assert result.success, result.error
    [post] = youtube_posts(sandbox_url)
    assert post["options"]["publishAt"] is None
    assert post["options"]["privacyStatus"] == "public"


async def test_thumbnail_and_playlist_follow_the_upload(
    sandbox_url: str,
    yt_add_account: Callable[..., Any],
    yt_client: ClientFactory,
    yt_clip: Path,
    yt_thumbnail: Path,
) -> None:
    yt_add_account()
    result = await yt_client().publish(
        yt_clip, _with_extras(yt_thumbnail, "PLsandbox123"), post_type="video", request_id="req-5"
    )
    assert result.success, result.error
    assert "warnings" not in result.details
    [post] = youtube_posts(sandbox_url)
    assert post["thumbnail"]["sha256"] == file_sha256(yt_thumbnail)
    assert post["thumbnail"]["content_type"] == "image/png"
    assert post["playlists"] == ["PLsandbox123"]
    [item] = youtube_state(sandbox_url)["playlist_items"]
    assert item["snippet"]["resourceId"] == {"kind": "youtube#video", "videoId": result.video_id}


async def test_thumbnail_and_playlist_survive_server_errors_and_drops(
    sandbox_url: str,
    yt_add_account: Callable[..., Any],
    yt_client: ClientFactory,
    yt_clip: Path,
    yt_thumbnail: Path,
) -> None:
    """The video is live when these steps run: a 5xx or a dropped connection is retried (the
    playlist insert only after asking whether it landed), so the video is not left without them."""
    yt_add_account()
    arm(sandbox_url, "http_500", on="thumbnail", times=2)
    arm(sandbox_url, "drop_connection", on="playlist", times=1)
    arm(sandbox_url, "http_500", on="playlist", times=1)
    result = await yt_client().publish(
        yt_clip, _with_extras(yt_thumbnail, "PLretried"), post_type="video", request_id="req-5b"
    )
    assert result.success, result.error
    assert "warnings" not in result.details, result.details
    [post] = youtube_posts(sandbox_url)
    assert post["thumbnail"]["sha256"] == file_sha256(yt_thumbnail)
    assert post["playlists"] == ["PLretried"]
    assert len(youtube_state(sandbox_url)["playlist_items"]) == 1
    assert httpx.get(f"{sandbox_url}/_sandbox/faults", timeout=10).json()["faults"] == []


async def test_a_thumbnail_refused_for_a_reason_is_not_retried(
    sandbox_url: str,
    yt_add_account: Callable[..., Any],
    yt_client: ClientFactory,
    yt_clip: Path,
    yt_thumbnail: Path,
) -> None:
    """A 403 does not change on a retry: one try, then a warning in words."""
    yt_add_account()
    arm(sandbox_url, "reject", on="thumbnail", times=2)
    result = await yt_client().publish(
        yt_clip, _config(thumbnail_path=str(yt_thumbnail)), post_type="video", request_id="req-5c"
    )
    assert result.success and result.video_id
    assert any("thumbnail" in w for w in result.details["warnings"]), result.details
    [left] = httpx.get(f"{sandbox_url}/_sandbox/faults", timeout=10).json()["faults"]
    assert left["times"] == 1


async def test_playlist_failure_after_upload_is_a_warning_not_a_failure(
    sandbox_url: str, yt_add_account: Callable[..., Any], yt_client: ClientFactory, yt_clip: Path
) -> None:
    """The video is live: reporting failure would make the queue post it again."""
    yt_add_account()
    result = await yt_client().publish(
        yt_clip,
        _config(platform_specific={"youtube": {"playlist_id": "PLmissing-list"}}),
        post_type="video",
        request_id="req-6",
    )
    assert result.success and result.video_id
    assert any("playlistNotFound" in w for w in result.details["warnings"])
    assert len(youtube_posts(sandbox_url)) == 1


async def test_shorts_get_the_shorts_url_and_tag(
    sandbox_url: str, yt_add_account: Callable[..., Any], yt_client: ClientFactory, yt_clip: Path
) -> None:
    yt_add_account()
    result = await yt_client().publish(yt_clip, _config(), post_type="shorts", request_id="req-7")
    assert result.success, result.error
    assert result.url == f"https://www.youtube.com/shorts/{result.video_id}"
    [post] = youtube_posts(sandbox_url)
    assert post["description"].endswith("#Shorts")


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"privacy": "public"}, "platform_specific.youtube.privacy"),
        ({"privacy_status": "friends"}, "platform_specific.youtube.privacy_status"),
        ({"category": "People"}, "platform_specific.youtube.category"),
        ({"made_for_kids": "no"}, "platform_specific.youtube.made_for_kids"),
        ({"playlist_id": ""}, "platform_specific.youtube.playlist_id"),
        ({"publish_at": "tomorrow"}, "platform_specific.youtube.publish_at"),
        ({"publish_at": "2020-01-01T00:00:00Z"}, "platform_specific.youtube.publish_at"),
    ],
)
async def test_bad_options_are_refused_before_any_upload(
    sandbox_url: str,
    yt_add_account: Callable[..., Any],
    yt_client: ClientFactory,
    yt_clip: Path,
    options: dict[str, Any],
    field: str,
) -> None:
    yt_add_account()
    with pytest.raises(InputError) as refused:
        await yt_client().publish(
            yt_clip, _config(platform_specific={"youtube": options}), post_type="video", request_id="r"
        )
    assert refused.value.field == field
    assert youtube_state(sandbox_url)["sessions"] == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": "x" * 101}, "title"),
        ({"tags": [f"tag number {i:03d}" for i in range(40)]}, "tags"),
        ({"description": "<b>bold</b>"}, "description"),
    ],
)
async def test_text_youtube_refuses_is_refused_up_front(
    sandbox_url: str,
    yt_add_account: Callable[..., Any],
    yt_client: ClientFactory,
    yt_clip: Path,
    overrides: dict[str, Any],
    field: str,
) -> None:
    yt_add_account()
    with pytest.raises(InputError) as refused:
        await yt_client().publish(yt_clip, _config(**overrides), post_type="video", request_id="r")
    assert refused.value.field == field
    assert youtube_state(sandbox_url)["sessions"] == []


async def test_bad_thumbnail_never_refuses_the_publish(
    sandbox_url: str,
    yt_add_account: Callable[..., Any],
    yt_client: ClientFactory,
    yt_clip: Path,
    tmp_path: Path,
) -> None:
    """The video goes out; the result says why it has no thumbnail (thumbnails.set: JPEG/PNG)."""
    yt_add_account()
    not_an_image = tmp_path / "thumb.jpg"
    not_an_image.write_bytes(b"GIF89a not accepted")
    result = await yt_client().publish(
        yt_clip, _config(thumbnail_path=str(not_an_image)), post_type="video", request_id="r"
    )
    assert result.success, result.error
    assert any("no thumbnail set" in w and "JPEG or PNG" in w for w in result.details["warnings"])
    [post] = youtube_posts(sandbox_url)
    assert post["thumbnail"] is None


async def test_upload_interrupted_mid_file_resumes_from_the_confirmed_byte(
    sandbox_url: str, yt_add_account: Callable[..., Any], yt_client: ClientFactory, yt_clip: Path
) -> None:
    yt_add_account()
    # The sandbox keeps half of each of the next two chunks, then drops the connection.
    arm(sandbox_url, "drop_connection", on="chunk", times=2)
    seen: list[int] = []
    result = await yt_client().publish(
        yt_clip,
        _config(),
        post_type="video",
        request_id="req-8",
        progress=lambda _p, sent, _t: seen.append(sent),
    )
    assert result.success, result.error
    [post] = youtube_posts(sandbox_url)
    assert post["size"] == yt_clip.stat().st_size
    assert post["sha256"] == file_sha256(yt_clip)
    # Both drops happened, in one session, and progress (bytes the session confirmed) never went back.
    assert httpx.get(f"{sandbox_url}/_sandbox/faults", timeout=10).json()["faults"] == []
    [session] = youtube_state(sandbox_url)["sessions"]
    assert session["received"] == post["size"]
    assert seen == sorted(seen) and seen[-1] == post["size"]


async def test_lost_final_response_resolves_into_success_through_the_session(
    sandbox_url: str, yt_add_account: Callable[..., Any], yt_client: ClientFactory, yt_clip: Path
) -> None:
    yt_add_account()
    arm(sandbox_url, "lose_response")  # the final chunk is taken, its answer never arrives
    result = await yt_client().publish(yt_clip, _config(), post_type="video", request_id="req-9")
    assert result.success, result.error
    assert result.status is PublishStatus.PUBLISHED
    [post] = youtube_posts(sandbox_url)
    assert post["video_id"] == result.video_id
    assert post["sha256"] == file_sha256(yt_clip)


async def test_unresolved_outcome_is_unknown_and_reconcile_finds_the_video(
    sandbox_url: str,
    yt_add_account: Callable[..., Any],
    yt_client: ClientFactory,
    yt_clip: Path,
    yt_settings: Settings,
    yt_thumbnail: Path,
) -> None:
    """The final chunk's answer is lost and the network goes down: unknown, never failed.

    The video reconcile finds still gets the thumbnail and playlist the lost answer held back.
    """
    yt_add_account()
    arm(sandbox_url, "lose_response")  # the sandbox takes the final chunk and drops the answer
    size = yt_clip.stat().st_size
    last_chunk_start = size - (size % CHUNK or CHUNK)
    with CuttableProxy(sandbox_url) as proxy:
        client = yt_client(settings=yt_settings.model_copy(update={"sandbox_url": proxy.url}))

        def cut_before_final_chunk(_p: str, sent: int, _t: int) -> None:
            if sent == last_chunk_start:
                proxy.cut()  # the open connection carries the final chunk; new ones are refused

        config = _with_extras(yt_thumbnail, "PLlater")
        result = await client.publish(
            yt_clip, config, post_type="video", request_id="r", progress=cut_before_final_chunk
        )
        assert not result.success
        assert result.status is PublishStatus.UNKNOWN
        assert result.error_kind is ErrorKind.UNKNOWN
        assert result.reference is not None
        session_uri, total = parse_reference(result.reference)
        assert session_uri.startswith(f"{proxy.url}/upload/youtube/v3/videos?")
        assert total == size
        [post] = youtube_posts(sandbox_url)  # it was published: only the answer was lost

        proxy.restore()
        reconciled = await client.reconcile(result.reference)
    assert reconciled.success and reconciled.status is PublishStatus.PUBLISHED
    assert reconciled.video_id == post["video_id"]
    assert "warnings" not in reconciled.details
    [post] = youtube_posts(sandbox_url)
    assert post["thumbnail"]["sha256"] == file_sha256(yt_thumbnail)
    assert post["playlists"] == ["PLlater"]


async def test_reconcile_of_an_unfinished_session_is_a_confirmed_failure(
    sandbox_url: str, yt_add_account: Callable[..., Any], yt_client: ClientFactory, yt_clip: Path
) -> None:
    yt_add_account()
    arm(sandbox_url, "drop_connection", on="chunk", times=1)
    arm(sandbox_url, "http_500", on="query", times=5)
    client = yt_client(max_attempts=2)
    result = await client.publish(yt_clip, _config(), post_type="video", request_id="req-11")
    assert result.status is PublishStatus.FAILED  # the file was not all sent: cannot be live
    assert result.error_kind is ErrorKind.TRANSIENT
    assert result.reference
    httpx.delete(f"{sandbox_url}/_sandbox/faults", timeout=10).raise_for_status()
    later = await client.reconcile(result.reference)
    assert later.status is PublishStatus.FAILED and later.error_kind is ErrorKind.TRANSIENT
    assert "nothing was published" in (later.error or "")
    assert youtube_posts(sandbox_url) == []


async def test_quota_exceeded_is_quota_until_midnight_pacific(
    sandbox_url: str, yt_add_account: Callable[..., Any], yt_client: ClientFactory, yt_clip: Path
) -> None:
    yt_add_account()
    arm(sandbox_url, "quota_exceeded")
    result = await yt_client().publish(yt_clip, _config(), post_type="video", request_id="req-12")
    assert result.status is PublishStatus.FAILED
    assert result.error_kind is ErrorKind.QUOTA
    assert "quotaExceeded" in (result.error or "")
    # NOW is 2030-03-10 12:00 UTC = 05:00 PDT (DST began that morning): 19 hours to midnight.
    assert result.retry_after == 19 * 3600
    assert youtube_posts(sandbox_url) == []


@pytest.mark.parametrize(
    ("fault", "on", "kind", "retry_after"),
    [
        ("http_500", "insert", ErrorKind.TRANSIENT, None),
        ("rate_limit", "insert", ErrorKind.RATE_LIMITED, 1.0),
        ("reject", "insert", ErrorKind.PERMANENT, None),
        ("drop_connection", "insert", ErrorKind.TRANSIENT, None),
    ],
)
async def test_fault_kinds_map_to_error_kinds(
    sandbox_url: str,
    yt_add_account: Callable[..., Any],
    yt_client: ClientFactory,
    yt_clip: Path,
    fault: str,
    on: str,
    kind: ErrorKind,
    retry_after: float | None,
) -> None:
    yt_add_account()
    arm(sandbox_url, fault, on=on)
    result = await yt_client().publish(yt_clip, _config(), post_type="video", request_id="r")
    assert result.status is PublishStatus.FAILED
    assert result.error_kind is kind
    assert result.retry_after == retry_after
    assert youtube_posts(sandbox_url) == []


async def test_server_errors_mid_upload_are_resumed_within_bounds(
    sandbox_url: str, yt_add_account: Callable[..., Any], yt_client: ClientFactory, yt_clip: Path
) -> None:
    yt_add_account()
    arm(sandbox_url, "http_500", on="chunk", times=3)
    result = await yt_client().publish(yt_clip, _config(), post_type="video", request_id="r")
    assert result.success, result.error
    assert youtube_posts(sandbox_url)[0]["sha256"] == file_sha256(yt_clip)


async def test_client_repr_holds_no_secret(
    yt_add_account: Callable[..., Any], yt_client: ClientFactory
) -> None:
    yt_add_account()
    client: YouTubeClient = yt_client()
    assert "refresh" not in repr(client) and "secret" not in repr(client).lower()


async def test_check_refuses_before_any_platform_uploads_and_accepts_form_strings(
    sandbox_url: str, yt_add_account: Callable[..., Any], yt_client: ClientFactory, yt_clip: Path
) -> None:
    """The manager calls ``check`` for every platform first, so one bad option uploads nothing."""
    yt_add_account()
    client = yt_client()
    with pytest.raises(InputError) as refused:
        client.check(_config(platform_specific={"youtube": {"privacy_status": "secret"}}), "video")
    assert refused.value.field == "platform_specific.youtube.privacy_status"
    with pytest.raises(InputError):
        client.check(_config(), "reels")
    form_like = _config(platform_specific={"youtube": {"made_for_kids": "true", "category": "10"}})
    client.check(form_like, "shorts")
    result = await client.publish(yt_clip, form_like, post_type="video", request_id="r")
    assert result.success, result.error
    [post] = youtube_posts(sandbox_url)
    assert post["options"]["selfDeclaredMadeForKids"] is True
    assert post["options"]["categoryId"] == "10"
