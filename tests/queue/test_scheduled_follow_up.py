"""Scheduled means scheduled: an upload upload-post accepted for later (202 with ``job_id``) is
``scheduled`` in the queue, followed up by job id when due, and a later failure fails the job.

Real manager, real HTTP to a sandbox whose clock the test moves, real database (both backends).
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from standardwebhooks import Webhook

from multipublish.manager import PublishingManager
from multipublish.platforms.base import PublishConfig
from multipublish.queue import PublishingQueue, QueuedPublishConfig, QueueStatus
from multipublish.sandbox import SandboxServer
from tests.platforms.upload_post_support import arm, credentials, posts, sandbox_settings
from tests.queue.conftest import FakeClock
from tests.test_webhooks import Receiver

SECRET = "whsec_" + base64.b64encode(b"scheduled-follow-up-secret-0123").decode()


class HandClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def service_clock() -> HandClock:
    return HandClock()


@pytest.fixture
def service(service_clock: HandClock) -> Iterator[SandboxServer]:
    with SandboxServer(clock=service_clock) as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
async def manager(
    service: SandboxServer, engine: Engine, db_url: str, secret_key: str
) -> AsyncIterator[PublishingManager]:
    settings = sandbox_settings(
        service.url, db_url, secret_key, webhook_secret=SECRET, webhook_allow_hosts="127.0.0.1"
    )
    mgr = PublishingManager(settings, engine=engine)
    mgr.add_account("acc", "tiktok", credentials("tiktok"))
    yield mgr
    await mgr.aclose()


def _job(video: Path, hook: str) -> QueuedPublishConfig:
    later = datetime.now(UTC) + timedelta(hours=2)
    return QueuedPublishConfig(
        account_id="acc",
        platforms=["tiktok"],
        video_path=str(video),
        config=PublishConfig(title="later", scheduled_time=later),
        webhook_url=hook,
    )


def _events(receiver: Receiver) -> list[dict[str, Any]]:
    return [Webhook(SECRET).verify(body, headers) for headers, body in receiver.requests]


@pytest.mark.parametrize(
    "fails",
    ["no", "at-upload", "armed-later"],
    ids=["published-when-due", "refused-when-due", "fault-on-due"],
)
async def test_scheduled_upload_is_followed_up_by_job_id(
    fails: str,
    manager: PublishingManager,
    engine: Engine,
    service: SandboxServer,
    service_clock: HandClock,
    receiver: Receiver,
    vertical_video: Path,
) -> None:
    clock = FakeClock()
    q = PublishingQueue(engine, manager, settings=manager.settings, clock=clock)
    if fails == "at-upload":  # a platform refuses a scheduled post only at its time
        arm(service.url, "tiktok", "reject", code="tiktok_privacy_unavailable")
    q.add_job("s1", _job(vertical_video, receiver.url))
    job = await q.process_one()
    assert job is not None
    assert job.status == QueueStatus.SCHEDULED, job.error_message
    assert job.results["tiktok"]["status"] == "scheduled"
    assert job.results["tiktok"]["reference"].startswith("job:")
    assert job.attempts == 0  # accepted for later is not a failed attempt
    # The service holds the post for later, whether or not it will refuse it then.
    assert [p["status"] for p in posts(service.url)] == ["scheduled"]
    # The webhook is told: scheduled on the platform, with the service's job id and time.
    assert await q.deliver_webhooks() == 1
    [scheduled] = _events(receiver)
    assert scheduled["event"] == "job.scheduled" and scheduled["status"] == "scheduled"
    entry = scheduled["results"]["tiktok"]
    assert entry["status"] == "scheduled" and entry["reference"] == job.results["tiktok"]["reference"]
    assert entry["scheduled_date"]
    if fails == "armed-later":
        arm(service.url, "tiktok", "reject", on="due", code="tiktok_privacy_unavailable")
    # Not due yet at our side: nothing runs, nothing more is told.
    clock.advance(600)
    assert await q.process_one() is None
    # Past the scheduled time at the service and ours: followed up through the job id.
    service_clock.now += 2 * 3600 + 120
    clock.advance(2 * 3600)
    job = await q.process_one()
    assert job is not None
    assert await q.deliver_webhooks() == 1
    final = _events(receiver)[-1]
    stats = q.get_queue_stats()
    if fails != "no":
        assert job.status == QueueStatus.FAILED, job.error_message
        assert job.results["tiktok"]["status"] == "failed"
        assert job.results["tiktok"]["error_kind"] == "permanent"  # by its error_code
        assert final["event"] == "job.failed" and final["success"] is False
        assert final["results"]["tiktok"]["error_kind"] == "permanent"
        assert stats["failed"] == 1 and stats["success_rate"]["tiktok"]["success"] == 0
        assert [p["status"] for p in posts(service.url)] == ["failed"]
    else:
        assert job.status == QueueStatus.COMPLETED, job.error_message
        assert job.results["tiktok"]["status"] == "published"
        assert final["event"] == "job.completed"
        assert stats["completed"] == 1 and stats["success_rate"]["tiktok"]["success"] == 1
        assert [p["status"] for p in posts(service.url)] == ["published"]
    assert len(service.state.requests) == 1  # never uploaded again
    assert len(receiver.requests) == 2


async def test_a_platform_scheduled_while_another_retries_is_told_once(
    manager: PublishingManager,
    engine: Engine,
    service: SandboxServer,
    service_clock: HandClock,
    receiver: Receiver,
    vertical_video: Path,
) -> None:
    """TikTok is accepted for later while Instagram's upload fails and retries: the webhook hears
    ``job.scheduled`` for TikTok's transition then, not only the job's final event, and once."""
    manager.add_account("acc", "instagram", credentials("instagram"))
    clock = FakeClock()
    q = PublishingQueue(engine, manager, settings=manager.settings, clock=clock)
    arm(service.url, "instagram", "http_500", times=10)  # this attempt's Instagram upload fails
    later = datetime.now(UTC) + timedelta(hours=2)
    q.add_job(
        "s2",
        QueuedPublishConfig(
            account_id="acc",
            platforms=["tiktok", "instagram"],
            video_path=str(vertical_video),
            config=PublishConfig(title="later", scheduled_time=later),
            webhook_url=receiver.url,
        ),
    )
    job = await q.process_one()
    assert job is not None and job.status == QueueStatus.RETRYING, job.error_message
    assert job.results["tiktok"]["status"] == "scheduled"
    assert job.results["instagram"]["status"] == "failed"
    assert await q.deliver_webhooks() == 2
    told = {e["event"]: e for e in _events(receiver)}  # sent together, delivered in either order
    assert sorted(told) == ["job.retry_scheduled", "job.scheduled"]
    assert told["job.scheduled"]["results"]["tiktok"]["status"] == "scheduled"
    # The retry: Instagram is accepted for later too (its own transition, told once); TikTok,
    # still waiting at the service, is not told again.
    httpx.delete(f"{service.url}/_sandbox/faults", timeout=10)
    clock.advance(3600)
    await q.process_one()
    job = q.get_job("s2")
    assert job is not None and job.status == QueueStatus.SCHEDULED, job.error_message
    assert [job.results[k]["status"] for k in ("tiktok", "instagram")] == ["scheduled", "scheduled"]
    assert await q.deliver_webhooks() == 1
    assert _events(receiver)[-1]["event"] == "job.scheduled"
    # Due: both published; the job's final event, and no third job.scheduled.
    service_clock.now += 2 * 3600 + 120
    clock.now = job.run_at  # the follow-up time the job was given
    await q.process_one()
    job = q.get_job("s2")
    assert job is not None and job.status == QueueStatus.COMPLETED, job.error_message
    assert await q.deliver_webhooks() == 1
    names = [e["event"] for e in _events(receiver)]
    assert sorted(names[:2]) == ["job.retry_scheduled", "job.scheduled"]
    assert names[2:] == ["job.scheduled", "job.completed"]
    assert sorted(p["platform"] for p in posts(service.url)) == ["instagram", "tiktok"]  # once each
