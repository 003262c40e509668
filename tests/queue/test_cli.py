"""``multipublish jobs list|show|cancel|retry`` against a real SQLite database."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from multipublish.cli import app
from multipublish.queue import PublishingQueue, QueuedPublishConfig
from tests.queue.conftest import queue_settings
from tests.queue.publishers import RecordingPublisher


@pytest.fixture
def queue(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> PublishingQueue:
    monkeypatch.setenv("MULTIPUBLISH_DATABASE_URL", sqlite_url)
    q = PublishingQueue(sqlite_url, RecordingPublisher(), settings=queue_settings())
    q.add_job("first", QueuedPublishConfig("acc", ["tiktok", "youtube"], "/v.mp4"))
    q.add_job("second", QueuedPublishConfig("other", ["instagram:stories"], "/v.mp4", priority=9))
    return q


def test_list_show_cancel_retry(queue: PublishingQueue) -> None:
    runner = CliRunner()
    out = runner.invoke(app, ["jobs", "list", "--json"])
    assert out.exit_code == 0, out.output
    assert [j["id"] for j in json.loads(out.output)] == ["second", "first"]
    out = runner.invoke(app, ["jobs", "list", "--status", "pending", "--platform", "youtube"])
    assert out.exit_code == 0 and "first" in out.output and "second" not in out.output
    out = runner.invoke(app, ["jobs", "show", "second", "--json"])
    data = json.loads(out.output)
    assert data["priority"] == 9 and list(data["results"]) == ["instagram:stories"]
    out = runner.invoke(app, ["jobs", "cancel", "first"])
    assert out.exit_code == 0 and "cancelled" in out.output
    assert runner.invoke(app, ["jobs", "cancel", "first"]).exit_code == 1
    assert runner.invoke(app, ["jobs", "retry", "second"]).exit_code == 1
    out = runner.invoke(app, ["jobs", "show", "missing"])
    assert out.exit_code == 1 and "not found" in out.output
    out = runner.invoke(app, ["jobs", "list", "--status", "bogus"])
    assert out.exit_code == 2 and "status" in out.output


def test_worker_refuses_bad_publisher(queue: PublishingQueue) -> None:
    out = CliRunner().invoke(app, ["worker", "--publisher", "no_such_module:thing"])
    assert out.exit_code == 2 and "publisher" in out.output
