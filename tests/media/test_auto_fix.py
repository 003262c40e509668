"""``auto_fix`` and ``thumbnail_path="auto"`` end to end: real clips, the sandbox over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from multipublish.errors import ValidationFailed
from multipublish.manager import PublishingManager
from multipublish.media.probe import probe
from multipublish.platforms.base import PublishConfig, PublishStatus
from multipublish.queue import QueuedPublishConfig
from multipublish.scheduling import check_video
from tests.fixtures.videos import VideoFactory
from tests.platforms.upload_post_support import credentials, posts, sandbox_settings

YT_CREDS = {"client_id": "cid.apps", "client_secret": "yt-secret-0123456789", "refresh_token": "1//rt-ok-123"}


@pytest.fixture(scope="module")
def wide(video_factory: VideoFactory) -> Path:
    """16:9, 3.2 s: Instagram Reels refuses it as it is."""
    return video_factory("mp4", width=320, height=180, duration=3.2, fps=30)


async def test_auto_fix_uploads_the_prepared_file(
    sandbox_url: str, sqlite_url: str, secret_key: str, wide: Path, tmp_path: Path
) -> None:
    settings = sandbox_settings(sandbox_url, sqlite_url, secret_key, renditions_dir=tmp_path / "cache")
    manager = PublishingManager(settings)
    manager.add_account("me", "instagram", credentials("instagram"))
    try:
        refused = await manager.publish_to_platform("me", "instagram:reels", wide, PublishConfig(title="t"))
        assert not refused.success and "aspect ratio" in (refused.error or "")
        fixed = await manager.publish_to_platform(
            "me", "instagram:reels", wide, PublishConfig(title="t", auto_fix=True)
        )
        again = await manager.publish_to_platform(
            "me", "instagram:reels", wide, PublishConfig(title="t", auto_fix=True)
        )
    finally:
        await manager.aclose()
    assert fixed.success and fixed.status is PublishStatus.PUBLISHED, fixed.error
    preparation = fixed.details["preparation"]
    assert preparation["actions"] == ["reframe_pad"] and preparation["source"] == str(wide)
    rendition = Path(preparation["path"])
    assert rendition.parent == tmp_path / "cache" and probe(rendition).height > probe(rendition).width
    assert again.details["preparation"]["path"] == str(rendition)  # the cached rendition, reused
    sent = [p["size"] for p in posts(sandbox_url, "instagram")]
    assert sent == [rendition.stat().st_size] * 2  # the refused publish sent nothing


async def test_auto_fix_that_cannot_help_is_refused_with_the_reason(
    sandbox_url: str, sqlite_url: str, secret_key: str, small_video: Path, tmp_path: Path
) -> None:
    settings = sandbox_settings(sandbox_url, sqlite_url, secret_key, renditions_dir=tmp_path / "cache")
    manager = PublishingManager(settings)
    manager.add_account("me", "instagram", credentials("instagram"))
    try:
        result = await manager.publish_to_platform(
            "me", "instagram:reels", small_video, PublishConfig(auto_fix=True)
        )
    finally:
        await manager.aclose()
    assert not result.success and "auto_fix could not fix it" in (result.error or "")
    assert "3 s minimum" in (result.error or "")
    assert posts(sandbox_url, "instagram") == []


async def test_auto_thumbnail_is_made_and_set_on_youtube(
    sandbox_url: str, sqlite_url: str, secret_key: str, vertical_video: Path, tmp_path: Path
) -> None:
    settings = sandbox_settings(sandbox_url, sqlite_url, secret_key, renditions_dir=tmp_path / "cache")
    manager = PublishingManager(settings)
    manager.add_account("me", "youtube", YT_CREDS)
    try:
        result = await manager.publish_to_platform(
            "me", "youtube", vertical_video, PublishConfig(title="Auto thumb", thumbnail_path="auto")
        )
    finally:
        await manager.aclose()
    assert result.success, result.error
    [jpeg] = (tmp_path / "cache").glob("*.thumbnail.jpg")
    [post] = posts(sandbox_url, "youtube")
    assert post["thumbnail"]["size"] == jpeg.stat().st_size


def test_rest_check_accepts_what_auto_fix_can_fix(wide: Path, small_video: Path, tmp_path: Path) -> None:
    from multipublish.settings import Settings

    manager = PublishingManager(Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}"))
    with pytest.raises(ValidationFailed):
        check_video(manager, wide, ["instagram:reels"], PublishConfig())
    check_video(manager, wide, ["instagram:reels"], PublishConfig(auto_fix=True))  # planned, no encode
    assert not (tmp_path / "multipublish-renditions").exists()
    with pytest.raises(ValidationFailed) as caught:
        check_video(manager, small_video, ["instagram:reels"], PublishConfig(auto_fix=True))
    assert "auto_fix:" in str(caught.value) and "3 s minimum" in str(caught.value)


def test_queued_config_carries_auto_fix(wide: Path) -> None:
    job = QueuedPublishConfig(
        account_id="me", platforms=["instagram:reels"], video_path=str(wide), auto_fix=True
    )
    assert job.config.auto_fix and job.auto_fix
    assert PublishConfig.from_dict(job.config.to_dict()).auto_fix


def test_plan_csv_takes_auto_fix_and_auto_thumbnail(tmp_path: Path) -> None:
    from multipublish.errors import InputError
    from multipublish.scheduling import read_plan

    plan = tmp_path / "plan.csv"
    plan.write_text("account_id,platforms,video_path,auto_fix,thumbnail_path\nme,youtube,a.mp4,yes,auto\n")
    [row] = read_plan(plan)
    assert row.auto_fix is True and row.thumbnail_path == "auto"
    plan.write_text("account_id,platforms,video_path,auto_fix\nme,youtube,a.mp4,maybe\n")
    with pytest.raises(InputError) as caught:
        read_plan(plan)
    assert "auto_fix" in str(caught.value)
