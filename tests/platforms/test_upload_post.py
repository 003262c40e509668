"""The upload-post client end to end: real HTTP to the sandbox, real clips, real SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from multipublish.errors import ErrorKind, InputError, NotFoundError, UnknownPlatformError
from multipublish.manager import PublishingManager
from multipublish.media.sample import pad_to_size
from multipublish.platforms.base import PublishConfig, PublishStatus
from tests.platforms.upload_post_support import (
    UPLOAD_POST_PLATFORMS,
    arm,
    credentials,
    posts,
    sandbox_settings,
    sha256,
)

MakeManager = Callable[..., PublishingManager]


@pytest.fixture
async def make_manager(sandbox_url: str, sqlite_url: str, secret_key: str) -> AsyncIterator[MakeManager]:
    """Managers on the sandbox with one account ``acct`` holding all four upload-post platforms."""
    made: list[PublishingManager] = []

    def make(**overrides: Any) -> PublishingManager:
        manager = PublishingManager(sandbox_settings(sandbox_url, sqlite_url, secret_key, **overrides))
        for platform in UPLOAD_POST_PLATFORMS:
            manager.add_account("acct", platform, credentials(platform))
        made.append(manager)
        return manager

    yield make
    for manager in made:
        await manager.aclose()


@pytest.fixture
def big_clip(small_video: Path, tmp_path: Path) -> Path:
    """A real clip padded (sparsely) to more than twice what a loopback connection can hold.

    The sandbox drops an upload once it has read half the file; until the reset reaches us, the
    kernel keeps taking bytes into our send buffer and its receive buffer. Had the rest fitted
    there, every byte would have left us and the client would rightly answer ``unknown`` (a lost
    answer, asked about through the status endpoint), not a transient failure. 24 MB used to be
    "more than socket buffers hold", but receive buffers autotune up to ``tcp_rmem``'s maximum
    (32 MB on some machines): on a loaded machine the server read slowly and the test flaked.
    """
    path = tmp_path / "big.mp4"
    path.write_bytes(small_video.read_bytes())
    return pad_to_size(path, max(24 * 1024 * 1024, 2 * _in_flight_max() + 4 * 1024 * 1024))


def _in_flight_max() -> int:
    """The most one TCP connection buffers: the send plus receive buffer maxima (Linux; else 16 MB)."""
    total = 0
    for name in ("tcp_wmem", "tcp_rmem"):
        try:
            total += int(Path(f"/proc/sys/net/ipv4/{name}").read_text().split()[2])
        except (OSError, ValueError, IndexError):
            total += 8 * 1024 * 1024
    return total


@pytest.mark.parametrize("platform", UPLOAD_POST_PLATFORMS)
async def test_publish_each_platform(
    platform: str, make_manager: MakeManager, sandbox_url: str, vertical_video: Path
) -> None:
    manager = make_manager()
    seen: list[tuple[str, int, int]] = []
    config = PublishConfig(title="Hello", description="Check this out", tags=["viral", "#news"])
    result = await manager.publish_to_platform(
        "acct", platform, str(vertical_video), config, progress=lambda *a: seen.append(a)
    )
    assert result.success, result.error
    assert result.status is PublishStatus.PUBLISHED
    assert result.platform == platform
    assert result.video_id and result.url and result.video_id in result.url
    size = vertical_video.stat().st_size
    assert result.bytes_sent == size
    assert seen[-1] == (platform, size, size)
    assert "usage" in result.details and "X-RateLimit-Remaining" in result.details["rate_limit"]
    [post] = posts(sandbox_url)
    assert post["platform"] == platform
    assert post["user"] == "creator"
    # What the platform shows: TikTok and Instagram have one caption (their ``*_title``), the
    # others a title and a description; the description and every hashtag reach the post.
    if platform in ("tiktok", "instagram"):
        assert post["caption"] == "Hello\n\nCheck this out\n\n#viral #news"
    else:
        assert post["title"] == "Hello"
        assert post["caption"] == "Check this out\n\n#viral #news"
    assert post["size"] == size
    assert post["sha256"] == sha256(vertical_video)
    assert post["request_id"] == result.reference


OPTION_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "tiktok",
        {
            "privacy": "friends_only",
            "allow_comments": False,
            "allow_duet": True,
            "allow_stitch": "false",
            "brand_content": True,
            "brand_organic": False,
            "is_aigc": True,
            "draft": True,
            "cover_timestamp": 1500,
        },
        {
            "privacy_level": "MUTUAL_FOLLOW_FRIENDS",
            "disable_comment": "true",
            "disable_duet": "false",
            "disable_stitch": "true",
            "brand_content_toggle": "true",
            "brand_organic_toggle": "false",
            "is_aigc": "true",
            "post_mode": "MEDIA_UPLOAD",
            "cover_timestamp": "1500",
        },
    ),
    (
        "instagram",
        {
            "post_type": "reels",
            "location": "213385402",
            "tag_users": ["@alice", "bob.b"],
            "share_to_feed": False,
            "collaborators": ["carol"],
            "thumb_offset": 500,
        },
        {
            "media_type": "REELS",
            "share_to_feed": "false",
            "location_id": "213385402",
            "user_tags": "alice,bob.b",
            "collaborators": "carol",
            "thumb_offset": "500",
        },
    ),
    (
        "instagram",
        {"post_type": "feed"},
        {"media_type": "REELS", "share_to_feed": "true"},
    ),
    (
        "facebook",
        {"privacy": "only_me"},
        {
            "facebook_page_id": "1122334455",
            "facebook_media_type": "VIDEO",
            "video_state": "DRAFT",
        },
    ),
    (
        "linkedin",
        {"visibility": "connections", "commentary": "Professional content", "page_id": "987"},
        {
            "visibility": "CONNECTIONS",
            "target_linkedin_page_id": "987",
        },
    ),
]


@pytest.mark.parametrize(("platform", "options", "expected"), OPTION_CASES)
async def test_options_mapped_onto_api_fields(
    platform: str,
    options: dict[str, Any],
    expected: dict[str, Any],
    make_manager: MakeManager,
    sandbox_url: str,
    small_video: Path,
) -> None:
    manager = make_manager()
    config = PublishConfig(title="Options", platform_specific={platform: options})
    result = await manager.publish_to_platform("acct", platform, small_video, config, validate=False)
    assert result.success, result.error
    [post] = posts(sandbox_url)
    received = {
        k: v for k, v in post["options"].items() if k != "request_id" and not k.endswith("_title")
    }
    assert received == expected
    if platform == "linkedin":  # the commentary option is the post's text
        assert post["caption"] == "Professional content"


@pytest.mark.parametrize(
    ("platform", "post_type", "expected"),
    [
        ("instagram:stories", None, {"media_type": "STORIES"}),
        ("facebook:reels", None, {"facebook_media_type": "REELS"}),
        ("facebook:stories", None, {"facebook_media_type": "STORIES"}),
    ],
)
async def test_post_type_from_platform_name(
    platform: str,
    post_type: None,
    expected: dict[str, str],
    make_manager: MakeManager,
    sandbox_url: str,
    small_video: Path,
) -> None:
    manager = make_manager()
    result = await manager.publish_to_platform(
        "acct", platform, small_video, PublishConfig(title="t"), validate=False
    )
    assert result.success and result.platform == platform
    [post] = posts(sandbox_url)
    assert expected.items() <= post["options"].items()


@pytest.mark.parametrize(
    ("platform", "options", "field"),
    [
        ("tiktok", {"privacy": "everyone"}, "platform_specific.tiktok.privacy"),
        ("tiktok", {"allow_comments": "yes"}, "platform_specific.tiktok.allow_comments"),
        ("tiktok", {"alow_duet": True}, "platform_specific.tiktok.alow_duet"),
        ("instagram", {"post_type": "igtv"}, "platform_specific.instagram.post_type"),
        ("instagram", {"tag_users": ["not a handle!"]}, "platform_specific.instagram.tag_users"),
        ("facebook", {"privacy": "friends"}, "platform_specific.facebook.privacy"),
        ("facebook", {"backdated_time": "yesterday"}, "platform_specific.facebook.backdated_time"),
        # upload-post has no field for a backdated Facebook post: refused, not silently dropped.
        (
            "facebook",
            {"backdated_time": "2024-11-06T12:00:00Z"},
            "platform_specific.facebook.backdated_time",
        ),
        # Not a field upload-post documents (its upload-video page): refused, not sent to be lost.
        ("facebook", {"place": "123456789"}, "platform_specific.facebook.place"),
        # Instagram's location_id is a place id, not a place's name.
        ("instagram", {"location": "Paris, France"}, "platform_specific.instagram.location"),
        ("linkedin", {"visibility": "everyone"}, "platform_specific.linkedin.visibility"),
        ("linkedin", {"commentary": ""}, "platform_specific.linkedin.commentary"),
    ],
)
async def test_bad_option_refused_before_upload(
    platform: str,
    options: dict[str, Any],
    field: str,
    make_manager: MakeManager,
    sandbox_url: str,
    small_video: Path,
) -> None:
    manager = make_manager()
    config = PublishConfig(title="x", platform_specific={platform: options})
    with pytest.raises(InputError) as info:
        await manager.publish_multi_platform("acct", ["tiktok", platform], small_video, config)
    assert info.value.field == field
    assert posts(sandbox_url) == []


@pytest.mark.parametrize(
    ("fault", "kind", "retry_after"),
    [
        ("http_500", ErrorKind.TRANSIENT, None),
        ("rate_limit", ErrorKind.RATE_LIMITED, 3.0),
        ("expired_token", ErrorKind.AUTH, None),
        ("quota_exceeded", ErrorKind.QUOTA, None),
    ],
)
async def test_error_status_mapped_to_kind(
    fault: str,
    kind: ErrorKind,
    retry_after: float | None,
    make_manager: MakeManager,
    sandbox_url: str,
    small_video: Path,
) -> None:
    manager = make_manager()
    arm(sandbox_url, "tiktok", fault, seconds=3)
    result = await manager.publish_to_platform(
        "acct", "tiktok", small_video, PublishConfig(title="x"), validate=False
    )
    assert not result.success
    assert result.status is PublishStatus.FAILED
    assert result.error_kind is kind
    assert result.retry_after == retry_after
    # The brief's recipe: `if "authentication" in result.error.lower()` -> re-authenticate.
    assert ("authentication" in (result.error or "").lower()) == (kind is ErrorKind.AUTH)
    assert posts(sandbox_url) == []
    # The fault was used up: the next attempt goes through.
    again = await manager.publish_to_platform(
        "acct", "tiktok", small_video, PublishConfig(title="x"), validate=False
    )
    assert again.success, again.error


async def test_dropped_connection_mid_upload_is_transient(
    make_manager: MakeManager, sandbox_url: str, big_clip: Path
) -> None:
    """A connection dropped while the file is still being sent: a transient failure, nothing posted.

    Deterministic whatever the load: ``big_clip`` is larger than the drop point plus all that the
    connection can buffer, so the drop always comes before the whole body has left us."""
    manager = make_manager()
    arm(sandbox_url, "instagram", "drop_connection")
    result = await manager.publish_to_platform(
        "acct", "instagram", big_clip, PublishConfig(title="x"), validate=False
    )
    assert result.status is PublishStatus.FAILED
    assert result.error_kind is ErrorKind.TRANSIENT
    assert 0 < result.bytes_sent < big_clip.stat().st_size
    assert posts(sandbox_url) == []


async def test_lost_response_resolves_through_status(
    make_manager: MakeManager, sandbox_url: str, small_video: Path
) -> None:
    manager = make_manager()
    arm(sandbox_url, "facebook", "lose_response")
    result = await manager.publish_to_platform(
        "acct", "facebook", small_video, PublishConfig(title="lost"), validate=False
    )
    assert result.success, result.error
    assert result.status is PublishStatus.PUBLISHED
    assert result.details["resolved_by"] == "status"
    assert len(posts(sandbox_url)) == 1


async def test_same_request_id_twice_publishes_once(
    make_manager: MakeManager, sandbox_url: str, small_video: Path
) -> None:
    """Two workers sending one job's platform upload (a lost lease) leave one post, not two."""
    first, second = make_manager(), make_manager()
    config = PublishConfig(title="once")
    a = await first.publish_to_platform(
        "acct", "tiktok", small_video, config, request_id="mp-j1-tiktok", validate=False
    )
    b = await second.publish_to_platform(
        "acct", "tiktok", small_video, config, request_id="mp-j1-tiktok", validate=False
    )
    assert a.success and b.success
    assert a.video_id == b.video_id
    assert len(posts(sandbox_url, "tiktok")) == 1


async def test_slow_answer_past_timeout_is_resolved_not_reposted(
    make_manager: MakeManager, sandbox_url: str, small_video: Path
) -> None:
    # The status lookup after the timeout runs under the same timeout: 1 s leaves it room on a
    # loaded machine (at 0.3 s it too timed out under a parallel test run).
    manager = make_manager(http_timeout=1.0)
    arm(sandbox_url, "linkedin", "slow", seconds=3)
    result = await manager.publish_to_platform(
        "acct", "linkedin", small_video, PublishConfig(title="slow"), validate=False
    )
    assert result.success, result.error
    assert result.details["resolved_by"] == "status"
    assert len(posts(sandbox_url)) == 1


async def test_unresolved_outcome_is_unknown_then_reconciled(
    make_manager: MakeManager, sandbox_url: str, small_video: Path
) -> None:
    manager = make_manager()
    arm(sandbox_url, "tiktok", "lose_response")
    arm(sandbox_url, "tiktok", "http_500", on="status")
    result = await manager.publish_to_platform(
        "acct", "tiktok", small_video, PublishConfig(title="?"), validate=False
    )
    assert result.status is PublishStatus.UNKNOWN
    assert result.error_kind is ErrorKind.UNKNOWN
    assert not result.success and result.reference
    later = await manager.reconcile("acct", "tiktok", result.reference)
    assert later.success and later.status is PublishStatus.PUBLISHED
    assert later.url and len(posts(sandbox_url)) == 1


async def test_reconcile_of_unknown_request_is_confirmed_failure(make_manager: MakeManager) -> None:
    manager = make_manager()
    result = await manager.reconcile("acct", "tiktok", "never-sent-0000")
    assert result.status is PublishStatus.FAILED
    assert result.error_kind is ErrorKind.TRANSIENT


async def test_async_upload_followed_through_status(
    make_manager: MakeManager, sandbox_url: str, small_video: Path
) -> None:
    manager = make_manager(upload_post_async=True)
    result = await manager.publish_to_platform(
        "acct", "tiktok", small_video, PublishConfig(title="async"), validate=False
    )
    assert result.success, result.error
    assert result.details["async"] is True and result.details["resolved_by"] == "status"
    assert posts(sandbox_url)[0]["options"]["async_upload"] == "true"


async def test_multi_platform_one_failure_never_stops_the_others(
    make_manager: MakeManager, sandbox_url: str, small_video: Path
) -> None:
    manager = make_manager()
    arm(sandbox_url, "linkedin", "http_500")
    results = await manager.publish_multi_platform(
        "acct", list(UPLOAD_POST_PLATFORMS), small_video, PublishConfig(title="multi"), validate=False
    )
    assert list(results) == list(UPLOAD_POST_PLATFORMS)
    assert results["linkedin"].error_kind is ErrorKind.TRANSIENT
    assert all(results[p].success for p in ("tiktok", "instagram", "facebook"))
    assert sorted(p["platform"] for p in posts(sandbox_url)) == ["facebook", "instagram", "tiktok"]


async def test_batch_results_in_order(
    make_manager: MakeManager,
    sandbox_url: str,
    vertical_video: Path,
) -> None:
    manager = make_manager()
    specs: list[dict[str, Any]] = [
        {
            "account_id": "acct",
            "platforms": ["tiktok"],
            "video_path": str(vertical_video),
            "config": PublishConfig(title="one"),
        },
        {
            "account_id": "acct",
            "platforms": ["linkedin", "facebook"],
            "video_path": str(vertical_video),
            "config": {"title": "two"},
        },
        {
            "account_id": "nobody",
            "platforms": ["tiktok"],
            "video_path": str(vertical_video),
            "config": {"title": "three"},
            "validate": False,
        },
        {"account_id": "acct", "platform": "instagram", "video_path": str(vertical_video), "title": "four"},
    ]
    results = await manager.publish_batch(specs, concurrency=2)
    assert [sorted(r) for r in results] == [["tiktok"], ["facebook", "linkedin"], ["tiktok"], ["instagram"]]
    assert results[0]["tiktok"].success and results[3]["instagram"].success
    assert results[1]["linkedin"].success and results[1]["facebook"].success
    assert results[2]["tiktok"].error_kind is ErrorKind.PERMANENT
    assert "nobody" in (results[2]["tiktok"].error or "")
    titles = sorted(p["title"] for p in posts(sandbox_url))
    assert titles == ["four", "one", "two", "two"]


async def test_batch_refuses_malformed_spec_before_anything(
    make_manager: MakeManager, sandbox_url: str, small_video: Path
) -> None:
    manager = make_manager()
    good = {"account_id": "acct", "platforms": ["tiktok"], "video_path": str(small_video)}
    with pytest.raises(InputError) as info:
        await manager.publish_batch([good, {"account_id": "acct", "video_path": "x"}])
    assert info.value.field == "specs[1].platforms"
    assert posts(sandbox_url) == []


async def test_scheduled_natively_on_tiktok_and_linkedin(
    make_manager: MakeManager, sandbox_url: str, small_video: Path
) -> None:
    manager = make_manager()
    when = datetime.now(UTC) + timedelta(hours=2)
    config = PublishConfig(title="later", scheduled_time=when)
    results = await manager.publish_multi_platform(
        "acct", ["tiktok", "linkedin"], small_video, config, validate=False
    )
    tiktok = results["tiktok"]
    assert tiktok.success and tiktok.status is PublishStatus.SCHEDULED
    assert tiktok.reference == "job:" + tiktok.details["job_id"]
    assert tiktok.details["scheduled_date"]
    # LinkedIn is scheduled through upload-post's scheduled_date like the others.
    linkedin = results["linkedin"]
    assert linkedin.success and linkedin.status is PublishStatus.SCHEDULED
    assert linkedin.reference == "job:" + linkedin.details["job_id"]
    scheduled = posts(sandbox_url)
    assert sorted(p["platform"] for p in scheduled) == ["linkedin", "tiktok"]
    assert {p["status"] for p in scheduled} == {"scheduled"}
    # The queue calls again when the time has come: it then publishes at once.
    due = PublishConfig(title="due", scheduled_time=datetime.now(UTC))
    now = await manager.publish_to_platform("acct", "linkedin", small_video, due, validate=False)
    assert now.success, now.error


async def test_validation_refuses_with_failed_result(
    make_manager: MakeManager, sandbox_url: str, video_factory: Any
) -> None:
    manager = make_manager()
    long_clip = video_factory("mp4", width=144, height=256, duration=70, fps=1, audio=False)
    result = await manager.publish_to_platform(
        "acct", "instagram:stories", long_clip, PublishConfig(title="too long")
    )
    assert result.status is PublishStatus.FAILED
    assert result.error_kind is ErrorKind.PERMANENT
    assert result.error and result.error.startswith("validation failed")
    assert result.details["validation"]["valid"] is False
    assert posts(sandbox_url) == []


async def test_unknown_platform_account_and_file(make_manager: MakeManager, small_video: Path) -> None:
    manager = make_manager()
    with pytest.raises(UnknownPlatformError):
        await manager.publish_to_platform("acct", "myspace", small_video, PublishConfig())
    with pytest.raises(UnknownPlatformError):
        await manager.publish_to_platform("acct", "tiktok:stories", small_video, PublishConfig())
    with pytest.raises(NotFoundError):
        await manager.publish_to_platform("ghost", "tiktok", small_video, PublishConfig())
    with pytest.raises(InputError) as info:
        await manager.publish_to_platform("acct", "tiktok", "/nonexistent/v.mp4", PublishConfig())
    assert info.value.field == "video_path"


async def test_authenticate_account(make_manager: MakeManager) -> None:
    manager = make_manager()
    assert await manager.authenticate_account("acct", "tiktok") is True
    manager.add_account("acct", "tiktok", credentials("tiktok", api_key="invalid-key-000000"))
    assert await manager.authenticate_account("acct", "tiktok") is False
