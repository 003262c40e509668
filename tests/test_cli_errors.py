"""No tracebacks for users: each case runs the real ``multipublish`` command in a subprocess.

A user sees one line naming the problem and the fix; the exit status follows the README (1 an
operation failed, 2 a usage or configuration error).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from multipublish import __version__

EXE = [sys.executable, "-m", "multipublish"]


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "MULTIPUBLISH_TRACEBACK": "0", **(env or {})}
    return subprocess.run(
        [*EXE, *args], capture_output=True, text=True, env=full, timeout=timeout, check=False
    )


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The output holds no traceback and exactly one ``error:`` line; returns it."""
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out and 'File "' not in out, out
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out
    return errors[0]


@pytest.mark.parametrize("command", [["jobs", "list"], ["tokens", "create", "--name", "a"],
                                     ["serve", "--port", "0"], ["db", "upgrade"], ["worker"]])
def test_database_down(command: list[str]) -> None:
    proc = run(*command, env={"MULTIPUBLISH_DATABASE_URL": "postgresql://u:hunter2@127.0.0.1:1/mp"})
    line = one_error_line(proc)
    assert proc.returncode == 1
    assert "cannot open the database" in line and "Connection refused" in line
    assert "MULTIPUBLISH_DATABASE_URL" in line and "hunter2" not in proc.stderr


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mysql://127.0.0.1/mp", "'mysql' databases are not supported"),
        ("postgress://127.0.0.1/mp", "did you mean 'postgresql'?"),
        ("multipublish.db", "is not a database URL"),
    ],
)
def test_database_url_of_unsupported_kind(url: str, words: str) -> None:
    proc = run("jobs", "list", env={"MULTIPUBLISH_DATABASE_URL": url})
    line = one_error_line(proc)
    assert proc.returncode == 2 and words in line and "sqlite:///" in line


def test_port_already_taken(sqlite_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run("serve", "--port", str(port), env={"MULTIPUBLISH_DATABASE_URL": sqlite_url})
    line = one_error_line(proc)
    assert proc.returncode == 2
    assert f"127.0.0.1:{port} is already in use" in line and "--port" in line
    assert "multipublish: http" not in proc.stderr  # never claims to listen


def test_tokens_create_says_which_database(sqlite_url: str) -> None:
    proc = run("tokens", "create", "--name", "ci", env={"MULTIPUBLISH_DATABASE_URL": sqlite_url})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith("mpt_") and len(proc.stdout.strip().splitlines()) == 1
    assert f"token stored in database {sqlite_url}" in proc.stderr


def test_missing_thumbnail(sqlite_url: str, tmp_path: Path, vertical_video: Path) -> None:
    (tmp_path / "clip.mp4").write_bytes(vertical_video.read_bytes())
    plan = tmp_path / "plan.csv"
    plan.write_text("account_id,platforms,video_path,thumbnail_path\nacme,youtube,clip.mp4,cover.png\n")
    proc = run("schedule", "--from", str(plan), env={"MULTIPUBLISH_DATABASE_URL": sqlite_url})
    line = one_error_line(proc)
    assert proc.returncode == 2
    assert f"row 1: thumbnail_path: no such file: {tmp_path / 'cover.png'}" in line


def test_version() -> None:
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"multipublish {__version__}"


def test_worker_logs_through_the_project_logging(sqlite_url: str) -> None:
    """JSON lines when asked (Alembic's narration included at DEBUG), then a graceful stop."""
    env = {**os.environ, "MULTIPUBLISH_DATABASE_URL": sqlite_url, "MULTIPUBLISH_LOG_JSON": "1"}
    proc = subprocess.Popen(
        [*EXE, "worker", "-c", "1", "--log-level", "debug"],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert proc.stderr is not None
        lines: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if "running" in line or not line:
                break
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)[1], None
        lines += (rest or "").splitlines()
    finally:
        if proc.poll() is None:
            proc.kill()
    logged = [json.loads(ln) for ln in lines if ln.strip().startswith("{")]
    assert logged, lines
    assert all({"ts", "level", "logger", "message"} <= set(r) for r in logged)
    assert any(r["logger"].startswith("alembic") for r in logged)  # routed, at DEBUG
    assert not [ln for ln in lines if " INFO " in ln]  # nothing in basicConfig's format
    assert proc.returncode == 0

    quiet = run("worker", "--log-level", "loud", env={"MULTIPUBLISH_DATABASE_URL": sqlite_url})
    assert quiet.returncode == 2 and "--log-level" in one_error_line(quiet)
