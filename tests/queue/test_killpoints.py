"""The kill harness as a test: a real worker process SIGKILLed at named steps of every platform's
protocol, on SQLite and PostgreSQL, then a fresh worker takes the job up. Lost, duplicate, stuck,
wrongly failed and incomplete (YouTube without thumbnail or playlist) must all be 0, and every step
asked for must have been reached.

What CI runs: every kill point of the harness on at least one database, and on both the points
whose recovery reads what the killed worker stored (YouTube's session, the bytes the platform
holds, a finished upload whose answer was lost; an upload-post post whose answer was lost). The
four upload-post platforms share one protocol and one client, so each database takes two of them.
Every case on either database goes through the parts that differ between the two (the claim, the
lease that runs out, the fenced writes of the next worker). ``MULTIPUBLISH_KILLPOINTS=all`` runs
the whole matrix (every point of every platform on both databases, as ``bench/killpoints.py``
does by default)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.fixtures.db import PG_ADMIN_URL

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "killpoints.py"

#: Run on both databases: recovery depends on a stored step (see the module docstring).
BOTH = ("upload_accepted", "session_created", "mid_file", "final_chunk_accepted")
#: Per database in CI: (platforms, kill points). Together they hold every point of the harness.
CI_SPLIT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sqlite": (
        ("tiktok", "instagram", "youtube"),
        (*BOTH, "upload_unanswered", "token_refresh", "session_request_unanswered", "first_chunk",
         "mid_chunk"),
    ),
    "postgresql": (
        ("facebook", "linkedin", "youtube"),
        (*BOTH, "upload_unanswered", "thumbnail_being_set", "thumbnail_session", "thumbnail_set",
         "playlist_item_added"),
    ),
}


def _bench() -> ModuleType:
    """``bench/killpoints.py`` as a module (its kill points are the ones the harness runs)."""
    name = "bench_killpoints"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def test_the_ci_split_covers_every_kill_point_of_every_platform() -> None:
    """A point added to the harness is not silently left out of CI."""
    bench = _bench()
    points = {p.name for p in (*bench.YOUTUBE_POINTS, *bench.UPLOAD_POST_POINTS)}
    covered = {(platform, point) for platforms, names in CI_SPLIT.values()
               for platform in platforms for point in names}
    for platform in bench.PLATFORMS:
        mine = {p.name for p in (bench.YOUTUBE_POINTS if platform == "youtube" else bench.UPLOAD_POST_POINTS)}
        assert {(platform, name) for name in mine} <= covered, platform
    assert {name for _, names in CI_SPLIT.values() for name in names} == points
    assert set(bench.PLATFORMS) == {p for platforms, _ in CI_SPLIT.values() for p in platforms}


@pytest.mark.slow
@pytest.mark.timeout(1200)  # the harness's own limit (below), not the suite's 300 s per test
@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_worker_killed_at_protocol_steps_loses_nothing_and_posts_once(
    db: str, request: pytest.FixtureRequest
) -> None:
    if db == "postgresql":
        request.getfixturevalue("pg_template")  # skips, with the reason, when no server answers
    command = [sys.executable, str(BENCH), "--db", db, "--pg", PG_ADMIN_URL, "--json"]
    full = os.environ.get("MULTIPUBLISH_KILLPOINTS") == "all"
    if not full:
        platforms, points = CI_SPLIT[db]
        command += ["--platforms", ",".join(platforms), "--points", ",".join(points)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=1200, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])[db]
    counts = {name: entry["cases"] for name, entry in report["platforms"].items()}
    if full:
        assert set(counts) == {"tiktok", "instagram", "facebook", "linkedin", "youtube"}
        assert counts["youtube"] >= 10
    else:
        bench = _bench()
        for platform in platforms:
            own = bench.YOUTUBE_POINTS if platform == "youtube" else bench.UPLOAD_POST_POINTS
            assert counts[platform] == sum(p.name in points for p in own), (platform, counts)
    total = report["total"]
    for count in ("lost", "duplicate", "stuck", "wrongly_failed", "incomplete", "not_reached"):
        assert total.get(count, 0) == 0, (count, proc.stdout[-4000:])
