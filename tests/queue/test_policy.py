"""The retry policy on its own (no database, no clock): one table row per rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from multipublish.queue import PublishingQueue, QueuedPublishConfig
from multipublish.queue.models import QueueStatus
from multipublish.queue.policy import QUOTA_DEFAULT_WAIT, decide
from multipublish.settings import Settings
from tests.queue.publishers import RecordingPublisher

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def res(status: str, kind: str | None = None, retry_after: float | None = None) -> dict[str, Any]:
    return {"status": status, "error_kind": kind, "retry_after": retry_after, "error": f"{status}/{kind}"}


PUB = res("published")
CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    # (id, results, decide() overrides, expected)
    ("all-published", {"a": PUB, "b": PUB}, {}, {"status": "completed", "event": "job.completed"}),
    (
        "final-failure-only",
        {"a": PUB, "b": res("failed", "permanent")},
        {},
        {"status": "failed", "event": "job.failed", "message": "b: failed/permanent"},
    ),
    (
        "auth-is-final",
        {"a": res("failed", "auth")},
        {},
        {"status": "failed", "event": "job.failed"},
    ),
    (
        "transient-backs-off-from-retry-delay",
        {"a": res("failed", "transient")},
        {"attempt": 2, "retry_delay": 10.0},
        {"status": "retrying", "after": 20.0, "attempts": None, "reason": "attempt 2 of 4 failed"},
    ),
    (
        "quota-waits-for-reset-without-using-an-attempt",
        {"a": PUB, "b": res("deferred", "quota", 7200.0)},
        {"attempt": 3},
        {"status": "scheduled", "after": 7200.0, "attempts": 2, "reason": "quota of b used up"},
    ),
    (
        "quota-without-reset-waits-the-default",
        {"a": res("deferred", "quota")},
        {},
        {"status": "scheduled", "after": QUOTA_DEFAULT_WAIT, "attempts": 0},
    ),
    (
        "rate-limit-waits-retry-after-not-a-quota-park",
        {"a": res("failed", "rate_limited", 3.0)},
        {"attempt": 2, "retry_delay": 300.0},
        {"status": "retrying", "after": 3.0, "attempts": 1, "reason": "Retry-After 3 s"},
    ),
    (
        "rate-limit-with-another-failure-floors-the-backoff",
        {"a": res("failed", "rate_limited", 50.0), "b": res("failed", "transient")},
        {"attempt": 1, "retry_delay": 10.0},
        {"status": "retrying", "after": 50.0, "attempts": None},
    ),
    (
        "rate-limit-without-retry-after-backs-off",
        {"a": res("failed", "rate_limited")},
        {"attempt": 1, "retry_delay": 10.0},
        {"status": "retrying", "after": 10.0, "attempts": None},
    ),
    (
        "attempts-spent",
        {"a": res("failed", "transient")},
        {"attempt": 4, "max_retries": 3},
        {"status": "failed", "message": "gave up after 4 attempts", "no": "jobs retry"},
    ),
    (
        "unknown-is-never-called-failed",
        {"a": res("unknown", "unknown")},
        {"attempt": 1, "max_retries": 0},
        {"status": "failed", "message": "`multipublish jobs retry job1`"},
    ),
    (
        "lost-lease-is-due-again-at-once",
        {"a": res("unknown", "unknown")},
        {"lost_lease": True},
        {"status": "retrying", "after": 0.0, "event": None},
    ),
    (
        "lost-lease-beats-a-quota-wait",
        {"a": res("deferred", "quota", 9999.0)},
        {"lost_lease": True},
        {"status": "retrying", "after": 0.0},
    ),
    ("cancelled", {"a": res("failed", "transient")}, {"cancelled": True}, {"status": "cancelled"}),
    (
        "scheduled-at-the-service-waits-for-its-time",
        {"a": PUB, "b": res("scheduled", None, 600.0)},
        {"attempt": 2},
        {"status": "scheduled", "after": 600.0, "attempts": 1, "event": None, "reason": "at the service"},
    ),
    (
        "newly-scheduled-at-the-service-tells-the-webhook",
        {"a": PUB, "b": res("scheduled", None, 600.0)},
        {"newly_scheduled": True},
        {"status": "scheduled", "after": 600.0, "event": "job.scheduled", "events": ("job.scheduled",)},
    ),
    (
        "newly-scheduled-while-another-retries-tells-both",
        {"a": res("failed", "transient"), "b": res("scheduled", None, 600.0)},
        {"newly_scheduled": True},
        {"status": "retrying", "events": ("job.scheduled", "job.retry_scheduled")},
    ),
    (
        "newly-scheduled-while-another-failed-for-good-is-the-job-scheduled",
        {"a": res("failed", "permanent"), "b": res("scheduled", None, 600.0)},
        {"newly_scheduled": True},
        {"status": "scheduled", "events": ("job.scheduled",)},
    ),
    (
        "still-scheduled-while-another-retries-tells-only-the-retry",
        {"a": res("failed", "transient"), "b": res("scheduled", None, 600.0)},
        {},
        {"status": "retrying", "events": ("job.retry_scheduled",)},
    ),
]


@pytest.mark.parametrize(
    ("results", "overrides", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_decide(results: dict[str, Any], overrides: dict[str, Any], expected: dict[str, Any]) -> None:
    args: dict[str, Any] = {
        "job_id": "job1",
        "attempt": 1,
        "max_retries": 3,
        "retry_delay": 60.0,
        "results": results,
        "now": NOW,
        "rand": lambda: 0.0,  # no jitter: the table states exact delays
        **overrides,
    }
    d = decide(**args)
    assert d.status == QueueStatus(expected["status"])
    if "after" in expected:
        assert d.run_at == NOW + timedelta(seconds=expected["after"])
    if "attempts" in expected:
        assert d.attempts == expected["attempts"]
    if "event" in expected:
        assert d.event == expected["event"]
    if "events" in expected:
        assert d.events == expected["events"]
    if "message" in expected:
        assert expected["message"] in (d.error_message or "")
    if "no" in expected:
        assert expected["no"] not in (d.error_message or "")
    if "reason" in expected:
        assert expected["reason"] in (d.wait_reason or "")
    assert d.finished == (d.status in ("completed", "failed", "cancelled"))


def test_jitter_only_lengthens_the_backoff() -> None:
    base = {"job_id": "j", "attempt": 1, "max_retries": 3, "retry_delay": 100.0, "now": NOW}
    results = {"a": res("failed", "transient")}
    low = decide(results=results, rand=lambda: 0.0, **base)  # type: ignore[arg-type]
    high = decide(results=results, rand=lambda: 1.0, **base)  # type: ignore[arg-type]
    assert low.run_at == NOW + timedelta(seconds=100)
    assert high.run_at == NOW + timedelta(seconds=125)


def test_retry_base_delay_setting_is_the_default_of_a_job_that_names_none(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MULTIPUBLISH_RETRY_BASE_DELAY", "42.5")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    queue = PublishingQueue(engine, RecordingPublisher(), settings=settings)
    unnamed = queue.add_job("unnamed", QueuedPublishConfig("acct", ["tiktok"], "/v.mp4"))
    named = queue.add_job("named", QueuedPublishConfig("acct", ["tiktok"], "/v.mp4", retry_delay=7.0))
    assert unnamed.retry_delay == 42.5
    assert queue.get_job("unnamed").retry_delay == 42.5
    assert named.retry_delay == 7.0
