"""The brief's example and every Python snippet of the README run as written, against the sandbox."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "publishing_example.py"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MULTIPUBLISH_")}
    return {**env, **extra}


def test_publishing_example_against_the_sandbox(sandbox_url: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), "--dir", str(tmp_path)],
        env=_env(MULTIPUBLISH_SANDBOX_URL=sandbox_url), capture_output=True, text=True, timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all steps succeeded" in proc.stdout
    for step in ("1. Account setup", "2. Validation", "3-4. Publishing now", "cancelled", "retried"):
        assert step in proc.stdout
    posts = httpx.get(f"{sandbox_url}/_sandbox/posts", timeout=10).json()["posts"]
    # 5 published now, 2 scheduled, 3 batch, 1 retried (its first try was refused: no post).
    assert len(posts) == 11, [p["platform"] for p in posts]
    assert "your-oauth-client-secret" not in proc.stdout + proc.stderr


def test_example_needs_a_sandbox(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), "--dir", str(tmp_path)], env=_env(), capture_output=True,
        text=True, timeout=120, check=False,
    )
    assert proc.returncode == 2 and "MULTIPUBLISH_SANDBOX_URL or pass --sandbox" in proc.stderr
    assert "Traceback" not in proc.stderr


def readme_snippets() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_python_snippets_run_as_written(
    sandbox_url: str, tmp_path: Path, vertical_video: Path, secret_key: str
) -> None:
    snippets = readme_snippets()
    assert len(snippets) >= 2
    shutil.copyfile(vertical_video, tmp_path / "video.mp4")
    env = _env(
        MULTIPUBLISH_SANDBOX_URL=sandbox_url,
        MULTIPUBLISH_SECRET_KEY=secret_key,
        MULTIPUBLISH_STATUS_POLL_INTERVAL="0.2",
        MULTIPUBLISH_STATUS_POLL_MAX_INTERVAL="0.5",
    )
    for i, code in enumerate(snippets):
        script = tmp_path / f"snippet_{i}.py"
        script.write_text(code, encoding="utf-8")
        proc = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=300, check=False,
        )
        assert proc.returncode == 0, f"README snippet {i + 1}:\n{code}\n{proc.stdout}{proc.stderr}"
    out = proc.stdout
    assert "'status': 'published'" in out or '"status": "published"' in out, out
    posts = httpx.get(f"{sandbox_url}/_sandbox/posts", timeout=10).json()["posts"]
    assert sorted(p["platform"] for p in posts) == ["tiktok", "tiktok", "youtube", "youtube"]
