"""upload-post as the service documents it: captions, lagging status, error codes, profiles.

Real HTTP to the sandbox in its strict modes (status lag, profiles, plan), real clips.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from multipublish.errors import ErrorKind
from multipublish.manager import PublishingManager
from multipublish.platforms.base import PublishConfig, PublishStatus
from multipublish.platforms.upload_post_codes import ERROR_CODES, HARD_CAP_WAIT, kind_of_code
from tests.platforms.upload_post_support import (
    UPLOAD_POST_PLATFORMS,
    arm,
    credentials,
    posts,
    sandbox_settings,
)

MakeManager = Callable[..., PublishingManager]


def configure(sandbox_url: str, **values: Any) -> None:
    response = httpx.post(f"{sandbox_url}/_sandbox/config", json=values, timeout=10)
    response.raise_for_status()


@pytest.fixture
async def make_manager(sandbox_url: str, sqlite_url: str, secret_key: str) -> AsyncIterator[MakeManager]:
    made: list[PublishingManager] = []

    def make(user: str = "creator", **overrides: Any) -> PublishingManager:
        manager = PublishingManager(sandbox_settings(sandbox_url, sqlite_url, secret_key, **overrides))
        for platform in UPLOAD_POST_PLATFORMS:
            manager.add_account("acct", platform, credentials(platform, user=user))
        made.append(manager)
        return manager

    yield make
    for manager in made:
        await manager.aclose()


# -- captions -------------------------------------------------------------------------------------


async def test_caption_override_reaches_the_post(
    make_manager: MakeManager, sandbox_url: str, vertical_video: Path
) -> None:
    manager = make_manager()
    config = PublishConfig(
        title="T",
        description="D",
        tags=["x"],
        platform_specific={"instagram": {"caption": "Only for Instagram #ig", "share_to_feed": True}},
    )
    results = await manager.publish_multi_platform("acct", ["instagram", "tiktok"], vertical_video, config)
    assert all(r.success for r in results.values()), results
    by_platform = {p["platform"]: p for p in posts(sandbox_url)}
    assert by_platform["instagram"]["caption"] == "Only for Instagram #ig"
    assert by_platform["tiktok"]["caption"] == "T\n\nD\n\n#x"


async def test_caption_over_limit_after_composition_is_refused_before_upload(
    make_manager: MakeManager, sandbox_url: str, vertical_video: Path
) -> None:
    # Each part fits TikTok's 2,200 UTF-16 units; composed with the title and hashtags they do not.
    manager = make_manager()
    config = PublishConfig(title="t" * 150, description="d" * 2050, tags=["one", "two"])
    result = await manager.publish_to_platform("acct", "tiktok", vertical_video, config)
    assert not result.success and result.error_kind is ErrorKind.PERMANENT
    assert "caption (tiktok_title" in (result.error or "")
    assert "over the limit of 2200" in (result.error or "")
    assert posts(sandbox_url) == []


# -- lost answer, lagging status -------------------------------------------------------------------


async def test_lost_answer_with_lagging_status_is_one_post(
    make_manager: MakeManager, sandbox_url: str, small_video: Path
) -> None:
    configure(sandbox_url, status_lag=0.6)
    manager = make_manager(status_not_found_window=5.0)
    arm(sandbox_url, "tiktok", "lose_response")
    result = await manager.publish_to_platform(
        "acct", "tiktok", small_video, PublishConfig(title="lag"), validate=False
    )
    assert result.success, result.error
    assert result.details["resolved_by"] == "status"
    assert len(posts(sandbox_url)) == 1


async def test_status_lagging_past_the_window_is_unknown_and_resent_under_the_same_key(
    make_manager: MakeManager, sandbox_url: str, small_video: Path
) -> None:
    configure(sandbox_url, status_lag=60)
    manager = make_manager(status_not_found_window=0.3)
    arm(sandbox_url, "tiktok", "lose_response")
    config = PublishConfig(title="lag")
    first = await manager.publish_to_platform(
        "acct", "tiktok", small_video, config, request_id="mp-job1-tiktok", validate=False
    )
    # Never "failed": a failure would make the queue retry under a new request id and key.
    assert first.status is PublishStatus.UNKNOWN and first.error_kind is ErrorKind.UNKNOWN
    assert first.reference == "mp-job1-tiktok"
    assert "lagging" in (first.error or "")
    # The reconcile still sees a 404; the resend under the same key gets the first upload back.
    again = await manager.publish_to_platform(
        "acct", "tiktok", small_video, config, request_id="mp-job1-tiktok", validate=False
    )
    assert again.success, again.error
    assert len(posts(sandbox_url)) == 1


# -- error codes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "kind"), sorted(ERROR_CODES.items()))
async def test_each_error_code_maps_to_its_kind(
    code: str, kind: ErrorKind, make_manager: MakeManager, sandbox_url: str, small_video: Path
) -> None:
    manager = make_manager()
    arm(sandbox_url, "linkedin", "reject", code=code)
    result = await manager.publish_to_platform(
        "acct", "linkedin", small_video, PublishConfig(title="x"), validate=False
    )
    assert not result.success and result.status is PublishStatus.FAILED
    assert result.error_kind is kind
    assert result.details["error_code"] == code


def test_only_documented_codes_are_listed() -> None:
    """Each code the table maps is one upload-post documents (its citation is in the table)."""
    assert set(ERROR_CODES) == {
        "tiktok_privacy_unavailable",
        "profile_limit_reached",
        "quota_exceeded",
        "reached_active_user_cap",
    }
    assert kind_of_code("PROFILE_LIMIT_REACHED") is ErrorKind.PERMANENT  # as the page spells it


async def test_code_named_only_in_the_words_is_read(
    make_manager: MakeManager, sandbox_url: str, small_video: Path
) -> None:
    """The TikTok cap's page shows the code as the error's text: waited out, not given up on."""
    manager = make_manager()
    arm(sandbox_url, "tiktok", "reject", code="reached_active_user_cap")
    result = await manager.publish_to_platform(
        "acct", "tiktok", small_video, PublishConfig(title="x"), validate=False
    )
    assert result.error == '{"code": "reached_active_user_cap"}'  # as the service words it
    assert result.error_kind is ErrorKind.RATE_LIMITED
    assert result.details["error_code"] == "reached_active_user_cap"


async def test_hard_cap_waits_for_the_rolling_window(
    make_manager: MakeManager, sandbox_url: str, small_video: Path
) -> None:
    """docs.upload-post.com/guides/limit-of-uploads: 429 with ``hard_cap`` violations."""
    manager = make_manager()
    arm(sandbox_url, "instagram", "hard_cap")
    result = await manager.publish_to_platform(
        "acct", "instagram", small_video, PublishConfig(title="x"), validate=False
    )
    assert result.error_kind is ErrorKind.QUOTA
    assert result.retry_after == HARD_CAP_WAIT
    assert "Daily cap reached for instagram" in (result.error or "")
    assert posts(sandbox_url) == []


async def test_unknown_error_code_is_permanent_whatever_the_words(
    make_manager: MakeManager, sandbox_url: str, small_video: Path
) -> None:
    manager = make_manager()
    arm(sandbox_url, "tiktok", "reject", code="some_new_code")  # its message says "rejected"
    result = await manager.publish_to_platform(
        "acct", "tiktok", small_video, PublishConfig(title="x"), validate=False
    )
    assert result.error_kind is ErrorKind.PERMANENT


async def test_429_with_only_rate_limit_reset_waits_for_it(
    make_manager: MakeManager, sandbox_url: str, small_video: Path
) -> None:
    manager = make_manager()
    arm(sandbox_url, "tiktok", "rate_limit_reset", seconds=40)
    before = time.time()
    result = await manager.publish_to_platform(
        "acct", "tiktok", small_video, PublishConfig(title="x"), validate=False
    )
    assert result.error_kind is ErrorKind.RATE_LIMITED
    assert result.retry_after is not None
    # The header is a Unix time rounded up to the second: the wait is about 40 s from now.
    assert 38 <= result.retry_after <= 41 + math.ceil(time.time() - before)
    assert "X-RateLimit-Reset" in result.details["rate_limit"]


# -- profiles: learnt before the upload -----------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "profiles", "plan", "platform", "kind", "fragment"),
    [
        ("ghost", {"creator": ["tiktok"]}, "pro", "tiktok", ErrorKind.PERMANENT, "'ghost' does not exist"),
        ("creator", {"creator": ["instagram"]}, "pro", "tiktok", ErrorKind.AUTH, "not connected"),
        ("creator", {"creator": ["tiktok"]}, "free", "tiktok", ErrorKind.PERMANENT, "paid upload-post plan"),
    ],
)
async def test_profile_problems_refused_before_any_upload(
    user: str,
    profiles: dict[str, list[str]],
    plan: str,
    platform: str,
    kind: ErrorKind,
    fragment: str,
    make_manager: MakeManager,
    sandbox_url: str,
    small_video: Path,
) -> None:
    configure(sandbox_url, profiles=profiles, plan=plan)
    manager = make_manager(user=user)
    result = await manager.publish_to_platform(
        "acct", platform, small_video, PublishConfig(title="x"), validate=False
    )
    assert not result.success and result.error_kind is kind
    assert fragment in (result.error or "")
    assert result.bytes_sent == 0
    assert posts(sandbox_url) == []


async def test_connected_profile_publishes(
    make_manager: MakeManager, sandbox_url: str, small_video: Path
) -> None:
    configure(sandbox_url, profiles={"creator": ["tiktok"]}, plan="pro")
    manager = make_manager()
    result = await manager.publish_to_platform(
        "acct", "tiktok", small_video, PublishConfig(title="x"), validate=False
    )
    assert result.success, result.error


async def test_emulator_refuses_unknown_profile_itself(
    make_manager: MakeManager, sandbox_url: str, small_video: Path
) -> None:
    """With the check off, the emulator (like the service) still refuses: 404, words only."""
    configure(sandbox_url, profiles={"creator": ["tiktok"]})
    manager = make_manager(user="ghost", upload_post_check_profile=False)
    result = await manager.publish_to_platform(
        "acct", "tiktok", small_video, PublishConfig(title="x"), validate=False
    )
    assert result.error_kind is ErrorKind.PERMANENT
    assert "not found" in (result.error or "") and "error_code" not in result.details
    assert posts(sandbox_url) == []


# -- Facebook pages -------------------------------------------------------------------------------


async def test_facebook_without_page_id_goes_to_the_only_page(
    make_manager: MakeManager, sandbox_url: str, small_video: Path, sqlite_url: str, secret_key: str
) -> None:
    manager = PublishingManager(sandbox_settings(sandbox_url, sqlite_url, secret_key))
    try:
        manager.add_account("fb", "facebook", {"api_key": "k-0123456789", "user": "creator"})
        result = await manager.publish_to_platform(
            "fb", "facebook", small_video, PublishConfig(title="x"), validate=False
        )
        assert result.success, result.error
        [post] = posts(sandbox_url)
        assert "facebook_page_id" not in post["options"]
        assert "/1122334455/videos/" in post["post_url"]
    finally:
        await manager.aclose()


async def test_facebook_without_page_id_and_several_pages_lists_them(
    sandbox_url: str, small_video: Path, sqlite_url: str, secret_key: str
) -> None:
    pages = [{"page_id": "111", "page_name": "Shop"}, {"page_id": "222", "page_name": "Blog"}]
    configure(sandbox_url, facebook_pages=pages)
    manager = PublishingManager(sandbox_settings(sandbox_url, sqlite_url, secret_key))
    try:
        manager.add_account("fb", "facebook", {"api_key": "k-0123456789", "user": "creator"})
        result = await manager.publish_to_platform(
            "fb", "facebook", small_video, PublishConfig(title="x"), validate=False
        )
        assert not result.success and result.error_kind is ErrorKind.PERMANENT
        assert "platform_specific.facebook.page_id: 111 (Shop), 222 (Blog)" in (result.error or "")
        assert result.details["available_pages"] == pages
        assert posts(sandbox_url) == []
    finally:
        await manager.aclose()
