"""``multipublish schedule --from``, ``db upgrade`` and the logging redaction, on real databases."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import inspect
from typer.testing import CliRunner

from multipublish.api.tokens import TokenStore
from multipublish.cli import app as cli
from multipublish.db import make_engine
from multipublish.logging import JsonFormatter, RedactFilter, configure_logging
from multipublish.manager import PublishingManager
from multipublish.queue import PublishingQueue
from multipublish.scheduling import PLAN_COLUMNS
from multipublish.settings import Settings


@pytest.fixture
def cli_env(
    db_url: str, secret_key: str, monkeypatch: pytest.MonkeyPatch, sandbox_url: str
) -> Settings:
    monkeypatch.setenv("MULTIPUBLISH_DATABASE_URL", db_url)
    monkeypatch.setenv("MULTIPUBLISH_SECRET_KEY", secret_key)
    monkeypatch.setenv("MULTIPUBLISH_SANDBOX_URL", sandbox_url)
    settings = Settings()
    manager = PublishingManager(settings)
    manager.add_account("acme", "tiktok", {"api_key": "sk_live_abcdefghijklmnop", "user": "acme"})
    manager.add_account("acme", "linkedin", {"api_key": "sk_live_abcdefghijklmnop", "user": "acme"})
    return settings


def _jobs(settings: Settings) -> list[object]:
    engine = make_engine(settings.database_url)
    queue = PublishingQueue(engine, PublishingManager(settings, engine=engine), settings=settings)
    return list(queue.list_jobs(limit=100))


def test_schedule_from_csv_and_json(cli_env: Settings, tmp_path: Path, vertical_video: Path) -> None:
    (tmp_path / "clip.mp4").write_bytes(vertical_video.read_bytes())
    csv_plan = tmp_path / "plan.csv"
    csv_plan.write_text(
        "account_id,platforms,video_path,title,scheduled_time,priority\n"
        "acme,tiktok;linkedin,clip.mp4,Monday,2099-01-05T09:00:00Z,7\n"
        "acme,tiktok,clip.mp4,Tuesday,2099-01-06T09:00:00Z,\n"
    )
    runner = CliRunner()
    result = runner.invoke(cli, ["schedule", "--from", str(csv_plan)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2 and "tiktok,linkedin" in lines[0]
    assert len(_jobs(cli_env)) == 2

    json_plan = tmp_path / "plan.json"
    rows = [
        {"account_id": "acme", "platforms": ["tiktok"], "video_path": str(tmp_path / "clip.mp4"),
         "title": "ok"},
        {"account_id": "acme", "platforms": ["tiktok"], "video_path": "missing.mp4"},
    ]
    json_plan.write_text(json.dumps(rows))
    refused = runner.invoke(cli, ["schedule", "--from", str(json_plan)])
    assert refused.exit_code == 2
    assert "row 2: video_path" in refused.output and "no such file" in refused.output
    assert len(_jobs(cli_env)) == 2  # nothing of the refused plan was added

    json_plan.write_text(json.dumps({"jobs": rows[:1]}))
    dry = runner.invoke(cli, ["schedule", "--from", str(json_plan), "--dry-run"])
    assert dry.exit_code == 0 and "plan OK: 1 job(s)" in dry.stdout
    assert len(_jobs(cli_env)) == 2


def test_schedule_csv_variants(cli_env: Settings, tmp_path: Path, vertical_video: Path) -> None:
    """Excel's byte-order mark, ';' separators (lists then use ','), rows numbered from 1."""
    (tmp_path / "clip.mp4").write_bytes(vertical_video.read_bytes())
    plan = tmp_path / "plan.csv"
    plan.write_bytes(
        "account_id;platforms;video_path;title;priority;scheduled_time\n"
        "acme;tiktok,linkedin;clip.mp4;Café;7;2099-01-05T09:00:00Z\n".encode("utf-8-sig")
    )
    runner = CliRunner()
    result = runner.invoke(cli, ["schedule", "--from", str(plan)])
    assert result.exit_code == 0, result.output
    (job,) = _jobs(cli_env)
    assert job.platforms == ["tiktok", "linkedin"] and job.priority == 7  # type: ignore[attr-defined]
    assert job.title == "Café"  # type: ignore[attr-defined]

    cases = {
        "acme,tiktok,clip.mp4,x,11\n": "row 2: priority: must be at most 10 (got 11)",
        "acme,tiktok,clip.mp4,x,soon\n": "row 2: priority: must be a whole number (got 'soon')",
        ",tiktok,clip.mp4,x,5\n": "row 2: account_id: is required",
    }
    for bad, expected in cases.items():
        plan.write_text(
            "account_id,platforms,video_path,title,priority\nacme,tiktok,clip.mp4,ok,5\n" + bad
        )
        refused = runner.invoke(cli, ["schedule", "--from", str(plan)])
        assert refused.exit_code == 2 and expected in refused.output, (bad, refused.output)
        assert "Input should" not in refused.output
    plan.write_text("account,platforms,video_path\nacme,tiktok,clip.mp4\n")
    refused = runner.invoke(cli, ["schedule", "--from", str(plan)])
    assert refused.exit_code == 2 and "unknown column 'account'" in refused.output
    assert len(_jobs(cli_env)) == 1
    help_text = runner.invoke(cli, ["schedule", "--help"], terminal_width=200).output
    assert all(column in help_text for column in PLAN_COLUMNS), help_text


def test_db_upgrade_and_tokens_hashed(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MULTIPUBLISH_DATABASE_URL", sqlite_url)
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    engine = make_engine(sqlite_url)
    assert {"api_tokens", "idempotency_keys", "jobs"} <= set(inspect(engine).get_table_names())
    token = runner.invoke(cli, ["tokens", "create", "--name", "x"]).stdout.strip()
    with engine.connect() as conn:
        dump = "\n".join(str(tuple(r)) for r in conn.exec_driver_sql("SELECT * FROM api_tokens"))
    assert token not in dump and TokenStore(engine).verify(token) is not None
    assert runner.invoke(cli, ["tokens", "create", "--name", " "]).exit_code == 2
    assert runner.invoke(cli, ["tokens", "revoke", "nobody"]).exit_code == 1


def test_logs_never_carry_secrets(caplog: pytest.LogCaptureFixture) -> None:
    configure_logging(Settings(log_json=True))
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "multipublish")
    try:
        record = logging.LogRecord(
            "multipublish.test", logging.INFO, __file__, 1,
            "calling %s with Authorization: Bearer %s and %s",
            ("https://x", "mpt_abcdefghijklmnopqrstuvwxyz", '{"api_key": "sk_live_123456789"}'),
            None,
        )
        assert RedactFilter().filter(record)
        line = JsonFormatter().format(record)
        data = json.loads(line)
        assert "mpt_abcdefghijklmnop" not in line and "sk_live_123456789" not in line
        assert data["level"] == "INFO" and "[REDACTED]" in data["message"]
        assert "https://x" in data["message"]
    finally:
        logging.getLogger().removeHandler(handler)
