"""A success is stored before anything that only counts can fail (issue: never a second post).

The faults are real: a database trigger makes every insert into ``usage_records`` fail, the way a
database blip during the usage settle does; the platforms are the sandbox over real HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from multipublish.manager import PublishingManager
from multipublish.platforms.base import PublishConfig
from multipublish.queue import PublishingQueue, QueuedPublishConfig, QueueStatus
from multipublish.settings import Settings
from multipublish.usage import QuotaGate, UsageStore
from multipublish.usage.tables import usage_records
from tests.platforms.upload_post_support import credentials, posts

REFRESH_TOKEN = "1//refresh-token-of-the-test-account"


def break_usage_inserts(engine: Engine) -> None:
    """Every ``INSERT INTO usage_records`` fails from now on (a real database error)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "CREATE FUNCTION mp_fail_usage() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'injected: usage store unavailable'; END; $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER mp_fail_usage BEFORE INSERT ON usage_records "
                    "FOR EACH ROW EXECUTE FUNCTION mp_fail_usage()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER mp_fail_usage BEFORE INSERT ON usage_records "
                    "BEGIN SELECT RAISE(ABORT, 'injected: usage store unavailable'); END"
                )
            )


@pytest.fixture
async def world(
    engine: Engine, sandbox_url: str, secret_key: str, yt_client_secrets: Path
) -> AsyncIterator[Callable[..., PublishingQueue]]:
    """``world(gate=True)``: the real manager (TikTok and YouTube accounts) and a queue."""
    managers: list[PublishingManager] = []

    def make(*, gate: bool) -> PublishingQueue:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            sandbox_url=sandbox_url,
            secret_key=secret_key,
            http_timeout=10.0,
            youtube_chunk_size=256 * 1024,
            status_poll_interval=0.05,
            status_poll_max_interval=0.1,
            quota_enforce=gate,
        )
        manager = PublishingManager(settings, engine=engine)
        managers.append(manager)
        manager.add_account("brand", "tiktok", credentials("tiktok"))
        manager.add_account("brand", "instagram", credentials("instagram"))
        manager.add_account(
            "brand",
            "youtube",
            {"client_secrets_file": str(yt_client_secrets), "refresh_token": REFRESH_TOKEN},
        )
        quota_gate = QuotaGate(UsageStore(engine, settings)) if gate else None
        return PublishingQueue(engine, manager, settings=settings, quota_gate=quota_gate)

    yield make
    for m in managers:
        await m.aclose()


def job(video: Path, platforms: list[str], **config: Any) -> QueuedPublishConfig:
    return QueuedPublishConfig(
        account_id="brand",
        platforms=platforms,
        video_path=str(video),
        config=PublishConfig(title="Success first", description="d", **config),
        retry_delay=0.0,
    )


@pytest.mark.parametrize("gate", [True, False], ids=["quota-gate", "usage-port"])
async def test_failing_usage_settle_after_success_gives_one_post_and_a_completed_job(
    world: Callable[..., PublishingQueue],
    engine: Engine,
    sandbox_url: str,
    vertical_video: Path,
    gate: bool,
) -> None:
    queue = world(gate=gate)
    break_usage_inserts(engine)
    queue.add_job("one", job(vertical_video, ["tiktok"]))
    queue.add_job("two", job(vertical_video, ["tiktok", "instagram"]))
    done = await queue.run_until_empty()
    assert [j.status for j in done] == [QueueStatus.COMPLETED, QueueStatus.COMPLETED], done
    assert await queue.process_one() is None  # nothing left to retry
    assert sorted(p["platform"] for p in posts(sandbox_url)) == ["instagram", "tiktok", "tiktok"]
    for job_id, key in (("one", "tiktok"), ("two", "tiktok"), ("two", "instagram")):
        res = queue.get_job(job_id).results[key]
        assert res["status"] == "published" and res["attempts"] == 1 and res["video_id"]
    with engine.connect() as conn:
        assert conn.execute(select(usage_records.c.id)).all() == []  # the fault was real


async def test_youtube_reference_over_200_characters_is_recorded_and_the_job_completes(
    world: Callable[..., PublishingQueue],
    engine: Engine,
    sandbox_url: str,
    vertical_video: Path,
    yt_thumbnail: Path,
    tmp_path: Path,
) -> None:
    """On PostgreSQL this was a ``varchar(200)`` refusal after the upload, then a re-upload."""
    deep = tmp_path / ("t" * 120)
    deep.mkdir()
    thumb = deep / "thumbnail-with-a-long-name.png"
    thumb.write_bytes(yt_thumbnail.read_bytes())
    queue = world(gate=True)
    queue.add_job(
        "yt-long",
        job(
            vertical_video,
            ["youtube"],
            thumbnail_path=str(thumb),
            platform_specific={"youtube": {"playlist_id": "PL" + "p" * 60}},
        ),
    )
    done = await queue.process_one()
    assert done is not None and done.status == QueueStatus.COMPLETED, done.error_message
    result = done.results["youtube"]
    assert len(result["reference"]) > 200
    assert len(posts(sandbox_url, "youtube")) == 1
    with engine.connect() as conn:
        rows = conn.execute(
            select(usage_records.c.request_id, usage_records.c.success, usage_records.c.quota_units)
        ).all()
    # thumbnail + playlist item (50 + 50) + one processing read (videos.list, 1); the insert is a
    # call of its own daily bucket
    assert rows == [(result["request_id"], True, 101)]
