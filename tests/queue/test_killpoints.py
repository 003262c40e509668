"""The kill harness as a test: a real worker process SIGKILLed at every named step of every
platform's protocol, on SQLite and PostgreSQL, then a fresh worker takes the job up. Lost,
duplicate, stuck, wrongly failed and incomplete (YouTube without thumbnail or playlist) must all
be 0, and every step must have been reached."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.db import PG_ADMIN_URL

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_worker_killed_at_every_protocol_step_loses_nothing_and_posts_once(
    db: str, request: pytest.FixtureRequest
) -> None:
    if db == "postgresql":
        request.getfixturevalue("pg_template")  # skips, with the reason, when no server answers
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "killpoints.py"), "--db", db, "--pg", PG_ADMIN_URL, "--json"],
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])[db]
    platforms = report["platforms"]
    assert set(platforms) == {"tiktok", "instagram", "facebook", "linkedin", "youtube"}
    assert platforms["youtube"]["cases"] >= 10
    total = report["total"]
    for count in ("lost", "duplicate", "stuck", "wrongly_failed", "incomplete", "not_reached"):
        assert total.get(count, 0) == 0, (count, proc.stdout[-4000:])
