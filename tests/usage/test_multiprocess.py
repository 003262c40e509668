"""Quota counted per account and platform across several real worker processes, on SQLite and
PostgreSQL: demand is far above the limits, and exactly the limit is granted, never one more."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from multipublish.usage.tables import quota_state, usage_records

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 4
TRIES = 10


@pytest.mark.slow
def test_reservations_across_processes_never_exceed_the_limit(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    now = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")])}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.usage._reserve_worker",
                db_url,
                now.isoformat(),
                str(go),
                str(TRIES),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for _ in range(PROCESSES)
    ]
    go.touch()
    granted: Counter[str] = Counter()
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        granted.update(json.loads(out))
    # youtube: 16,000 units / 1,600 per insert = 10 per account; upload-post: 12 per account,
    # shared by tiktok and instagram
    for account in ("acme", "blue"):
        assert granted[f"{account}/youtube"] == 16_000 // 1600
        assert granted[f"{account}/tiktok"] + granted[f"{account}/instagram"] == 12
    with engine.connect() as conn:
        states = {
            (r.account_id, r.platform): (r.used, r.remaining)
            for r in conn.execute(
                select(
                    quota_state.c.account_id,
                    quota_state.c.platform,
                    quota_state.c.used,
                    quota_state.c.remaining,
                )
            )
        }
        records = dict(
            conn.execute(
                select(usage_records.c.account_id + "/" + usage_records.c.platform, func.count()).group_by(
                    usage_records.c.account_id, usage_records.c.platform
                )
            ).all()
        )
    for account in ("acme", "blue"):
        assert states[(account, "youtube")] == (16_000, 0)
        assert states[(account, "upload-post")] == (12, 0)
    assert records == {k: v for k, v in granted.items() if v}
