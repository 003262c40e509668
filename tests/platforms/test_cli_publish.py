"""``multipublish accounts`` and ``multipublish publish`` end to end, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.platforms.upload_post_support import API_KEY, arm, posts


@pytest.fixture
def run(sandbox_url: str, sqlite_url: str, secret_key: str, tmp_path: Path) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MULTIPUBLISH_")}
    env.update(
        MULTIPUBLISH_SANDBOX_URL=sandbox_url,
        MULTIPUBLISH_DATABASE_URL=sqlite_url,
        MULTIPUBLISH_SECRET_KEY=secret_key,
        MULTIPUBLISH_STATUS_POLL_INTERVAL="0.05",
        MULTIPUBLISH_STATUS_POLL_MAX_INTERVAL="0.1",
        MULTIPUBLISH_LOG_LEVEL="DEBUG",
    )

    def run_cli(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "multipublish", *args],
            env={**env, **(env_extra or {})},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run_cli


def test_accounts_add_list_remove(run: Any, tmp_path: Path) -> None:
    added = run(
        "accounts", "add", "brand", "--platform", "tiktok", "-c", f"api_key={API_KEY}", "-c", "user=bt"
    )
    assert added.returncode == 0, added.stderr
    creds = tmp_path / "fb.json"
    creds.write_text(json.dumps({"api_key": API_KEY, "user": "bf", "page_id": "77"}))
    added = run("accounts", "add", "brand", "--platform", "facebook", "--credentials-file", str(creds))
    assert added.returncode == 0, added.stderr
    listed = run("accounts", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["account_id"], r["platform"]) for r in rows] == [("brand", "facebook"), ("brand", "tiktok")]
    assert rows[0]["credentials"]["page_id"] == "77"
    table = run("accounts", "list")
    assert "brand" in table.stdout and "tiktok" in table.stdout
    for out in (listed, table, added):
        assert API_KEY not in out.stdout + out.stderr
    removed = run("accounts", "remove", "brand", "--platform", "tiktok")
    assert removed.returncode == 0 and "removed 1" in removed.stdout
    assert [r["platform"] for r in json.loads(run("accounts", "list", "--json").stdout)] == ["facebook"]
    missing = run("accounts", "remove", "brand", "--platform", "tiktok")
    assert missing.returncode == 1 and "not found" in missing.stderr and "Traceback" not in missing.stderr


def test_accounts_add_refuses_bad_input_clearly(run: Any) -> None:
    bad = run(
        "accounts",
        "add",
        "a",
        "--platform",
        "facebook",
        "-c",
        f"api_key={API_KEY}",
        "-c",
        "user=u",
        "-c",
        "pageid=7",
    )
    assert bad.returncode == 2
    assert "credentials.pageid" in bad.stderr and "Traceback" not in bad.stderr
    assert API_KEY not in bad.stderr
    nokey = run(
        "accounts",
        "add",
        "a",
        "--platform",
        "tiktok",
        "-c",
        "api_key=k",
        "-c",
        "user=u",
        env_extra={"MULTIPUBLISH_SECRET_KEY": ""},
    )
    assert nokey.returncode == 2 and "MULTIPUBLISH_SECRET_KEY" in nokey.stderr


def test_keygen_prints_a_fernet_key(run: Any) -> None:
    from cryptography.fernet import Fernet

    out = run("keygen")
    assert out.returncode == 0
    Fernet(out.stdout.strip().encode())  # a valid key


def test_publish_end_to_end(run: Any, sandbox_url: str, vertical_video: Path) -> None:
    for platform in ("tiktok", "instagram", "linkedin"):
        assert (
            run(
                "accounts", "add", "me", "-p", platform, "-c", f"api_key={API_KEY}", "-c", "user=me"
            ).returncode
            == 0
        )
    arm(sandbox_url, "linkedin", "http_500")
    out = run(
        "publish",
        str(vertical_video),
        "--account",
        "me",
        "--platforms",
        "tiktok,instagram:stories,linkedin",
        "--title",
        "From the CLI",
        "--tags",
        "a,b",
        "--option",
        "tiktok.privacy=private",
        "--option",
        "tiktok.allow_duet=false",
        "--option",
        'instagram.tag_users=["@x", "y"]',
        "--json",
    )
    assert out.returncode == 1, out.stderr  # linkedin failed
    results = json.loads(out.stdout)
    assert results["tiktok"]["success"] and results["instagram:stories"]["success"]
    assert results["linkedin"]["error_kind"] == "transient"
    by_platform = {p["platform"]: p for p in posts(sandbox_url)}
    assert set(by_platform) == {"tiktok", "instagram"}
    assert by_platform["tiktok"]["options"]["privacy_level"] == "SELF_ONLY"
    assert by_platform["tiktok"]["options"]["disable_duet"] == "true"
    assert by_platform["instagram"]["options"]["media_type"] == "STORIES"
    assert by_platform["instagram"]["options"]["user_tags"] == "x,y"
    assert API_KEY not in out.stdout + out.stderr
    table = run("publish", str(vertical_video), "-a", "me", "-p", "tiktok", "--title", "again")
    assert table.returncode == 0, table.stderr
    assert "tiktok" in table.stdout and "published" in table.stdout


def test_publish_usage_errors(run: Any, vertical_video: Path) -> None:
    out = run("publish", str(vertical_video), "-a", "me", "-p", "tiktok")
    assert out.returncode == 1 and "not found" in out.stderr and "Traceback" not in out.stderr
    run("accounts", "add", "me", "-p", "tiktok", "-c", f"api_key={API_KEY}", "-c", "user=me")
    out = run("publish", str(vertical_video), "-a", "me", "-p", "tiktok,myspace", "-o", "tiktok.privacy=loud")
    assert out.returncode == 2 and "myspace" in out.stderr
    out = run("publish", str(vertical_video), "-a", "me", "-p", "tiktok", "-o", "tiktok.privacy=loud")
    assert out.returncode == 2 and "platform_specific.tiktok.privacy" in out.stderr
