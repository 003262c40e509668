"""``multipublish accounts check ID`` and ``POST /api/publishing/accounts/{id}/check`` against the sandbox.

The sandbox's upload-post answers ``GET /uploadposts/users`` with the profiles it is configured
with (docs.upload-post.com/api/user-profiles); its token endpoint refuses refresh tokens starting
with ``revoked`` the way Google does (``invalid_grant``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from multipublish.cli import app as cli
from multipublish.manager import PublishingManager
from multipublish.settings import Settings
from tests.api.helpers import YOUTUBE_CREDENTIALS
from tests.fixtures.api import ApiServer

KEY = "sk_live_checkcheckcheck1234"


def configure(sandbox_url: str, **config: Any) -> None:
    resp = httpx.post(f"{sandbox_url}/_sandbox/config", json=config, timeout=10)
    assert resp.status_code == 200, resp.text


def add(manager: PublishingManager, account: str, platform: str, **creds: str) -> None:
    youtube = {k: v for k, v in YOUTUBE_CREDENTIALS.items() if k != "channel_id"}
    base = youtube if platform == "youtube" else {"api_key": KEY, "user": "creator"}
    manager.add_account(account, platform, {**base, **creds})


@pytest.fixture
def cli_settings(
    sqlite_url: str, secret_key: str, sandbox_url: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    env = {"DATABASE_URL": sqlite_url, "SECRET_KEY": secret_key, "SANDBOX_URL": sandbox_url}
    for name, value in env.items():
        monkeypatch.setenv(f"MULTIPUBLISH_{name}", value)
    return Settings()


def run_check(account: str) -> tuple[int, dict[str, Any], str]:
    result = CliRunner().invoke(cli, ["accounts", "check", account, "--json"])
    report = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result.exit_code, report, result.output


def verdicts(report: dict[str, Any]) -> dict[str, dict[str, bool]]:
    return {p["platform"]: {c["name"]: c["ok"] for c in p["checks"]} for p in report["platforms"]}


def test_a_good_account_passes_every_check(cli_settings: Settings, sandbox_url: str) -> None:
    configure(sandbox_url, profiles={"creator": ["tiktok", "instagram", "facebook"]}, plan="basic")
    manager = PublishingManager(cli_settings)
    add(manager, "good", "tiktok")
    add(manager, "good", "facebook", page_id="1234567")
    add(manager, "good", "youtube")
    code, report, output = run_check("good")
    assert code == 0, output
    assert report["ok"] is True
    assert verdicts(report) == {
        "facebook": {"api_key": True, "profile": True, "connected": True, "plan": True, "quota": True},
        "tiktok": {"api_key": True, "profile": True, "connected": True, "plan": True, "quota": True},
        "youtube": {"token": True, "channel": True, "quota": True},
    }
    assert KEY not in output and YOUTUBE_CREDENTIALS["client_secret"] not in output
    # The check uploads nothing.
    assert httpx.get(f"{sandbox_url}/_sandbox/posts", timeout=10).json()["count"] == 0

    text = CliRunner().invoke(cli, ["accounts", "check", "good"]).output
    assert "good/tiktok: ok" in text and "ok   connected: tiktok is connected" in text


def test_facebook_without_page_id_passes_with_one_page(cli_settings: Settings, sandbox_url: str) -> None:
    """page_id is optional: the service posts to the profile's only page (the check names it)."""
    configure(sandbox_url, profiles={"creator": ["facebook"]}, plan="basic")
    add(PublishingManager(cli_settings), "one", "facebook")
    code, report, output = run_check("one")
    assert code == 0, output
    [check] = [c for c in report["platforms"][0]["checks"] if c["name"] == "page_id"]
    assert check["ok"] and "1122334455 (Sandbox Page)" in check["detail"]


def test_each_failure_is_named_with_its_fix(cli_settings: Settings, sandbox_url: str) -> None:
    pages = [{"page_id": "111", "page_name": "Shop"}, {"page_id": "222", "page_name": "Blog"}]
    configure(sandbox_url, profiles={"creator": ["tiktok"]}, plan="free", facebook_pages=pages)
    manager = PublishingManager(cli_settings)
    add(manager, "bad", "tiktok")  # free plan: no TikTok
    add(manager, "bad", "linkedin")  # not connected to the profile
    add(manager, "bad", "facebook")  # no page_id, and two pages to choose from
    add(manager, "ghost", "instagram", user="nobody")  # no such profile
    add(manager, "badkey", "tiktok", api_key="invalid-key-0000")
    add(manager, "stale", "youtube", refresh_token="revoked-1//abc")
    code, report, _ = run_check("bad")
    assert code == 1 and report["ok"] is False
    checks = {(p["platform"], c["name"]): c for p in report["platforms"] for c in p["checks"]}
    plan = checks[("tiktok", "plan")]
    assert not plan["ok"] and "paid upload-post plan" in plan["detail"]
    assert not checks[("linkedin", "connected")]["ok"]
    assert "Manage Users" in checks[("linkedin", "connected")]["detail"]
    assert not checks[("facebook", "page_id")]["ok"]
    assert "111 (Shop), 222 (Blog)" in checks[("facebook", "page_id")]["detail"]

    code, report, _ = run_check("ghost")
    assert code == 1
    profile = next(c for c in report["platforms"][0]["checks"] if c["name"] == "profile")
    assert not profile["ok"] and "'nobody' does not exist" in profile["detail"]
    assert "creator" in profile["detail"]  # the profiles the key does have

    code, report, output = run_check("badkey")
    assert code == 1 and verdicts(report)["tiktok"]["api_key"] is False
    assert "invalid-key-0000" not in output

    code, report, output = run_check("stale")
    token = report["platforms"][0]["checks"][0]
    assert code == 1 and token["name"] == "token" and not token["ok"]
    assert "multipublish accounts auth stale" in token["detail"] and "Testing mode" in token["detail"]
    assert token["detail"].count("accounts auth") == 1
    assert "revoked-1//abc" not in output

    missing = CliRunner().invoke(cli, ["accounts", "check", "nobody-at-all"])
    assert missing.exit_code == 1 and "nobody-at-all" in missing.output and "Traceback" not in missing.output


def test_rest_route(api_server: ApiServer, sandbox_url: str) -> None:
    configure(sandbox_url, profiles={"creator": ["instagram"]})
    manager = PublishingManager(api_server.settings)
    add(manager, "acme", "instagram")
    with api_server.client() as client:
        resp = client.post("/api/publishing/accounts/acme/check")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["ok"] is True and body["platforms"][0]["platform"] == "instagram"
        assert KEY not in resp.text
        assert client.post("/api/publishing/accounts/nobody/check").status_code == 404
    with api_server.client(token=None) as anonymous:
        assert anonymous.post("/api/publishing/accounts/acme/check").status_code == 401


@pytest.mark.parametrize("kind", ["installed", "web"])
def test_googles_secrets_file_is_taken_as_it_is(
    cli_settings: Settings, tmp_path: Path, kind: str
) -> None:
    """The file Google's console downloads (desktop client: ``installed``; web client: ``web``)."""
    secrets = {kind: {
        "client_id": "123-abc.apps.googleusercontent.com", "project_id": "my-project",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token", "client_secret": "GOCSPX-topsecret",
        "redirect_uris": ["http://localhost"],
    }}
    path = tmp_path / "client_secret_123-abc.apps.googleusercontent.com.json"
    path.write_text(json.dumps(secrets))
    added = CliRunner().invoke(
        cli, ["accounts", "add", "tube", "-p", "youtube", "--credentials-file", str(path), "--json"]
    )
    assert added.exit_code == 0, added.output
    assert "GOCSPX-topsecret" not in added.output
    stored = PublishingManager(cli_settings).accounts.load("tube", "youtube").credentials
    assert stored["client_secrets"] == secrets


def test_a_relative_secrets_path_is_stored_absolute(
    cli_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker started from another folder must find the same file."""
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "client.json").write_text(json.dumps({"installed": {"client_id": "x"}}))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    added = runner.invoke(
        cli, ["accounts", "add", "rel", "-p", "youtube", "-c", "client_secrets_file=secrets/client.json"]
    )
    assert added.exit_code == 0, added.output
    stored = PublishingManager(cli_settings).accounts.load("rel", "youtube").credentials
    assert stored["client_secrets_file"] == str(tmp_path / "secrets" / "client.json")

    # Inside a credentials file, a relative path is relative to that file.
    (tmp_path / "secrets" / "creds.json").write_text(json.dumps({"client_secrets_file": "client.json"}))
    runner.invoke(
        cli, ["accounts", "add", "rel2", "-p", "youtube", "--credentials-file", "secrets/creds.json"]
    )
    stored = PublishingManager(cli_settings).accounts.load("rel2", "youtube").credentials
    assert stored["client_secrets_file"] == str(tmp_path / "secrets" / "client.json")

    missing = runner.invoke(
        cli, ["accounts", "add", "rel3", "-p", "youtube", "-c", "client_secrets_file=nothere.json"]
    )
    assert missing.exit_code == 2
    # The 80-column terminal wraps the line, and folds a path longer than a line (pytest-xdist's
    # per-worker temporary folders make it so) mid-word: compare without any whitespace.
    said = "".join(missing.output.split())
    assert f"credentials.client_secrets_file:nosuchfile:{tmp_path / 'nothere.json'}" in said
