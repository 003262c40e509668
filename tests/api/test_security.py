"""Auth (bearer tokens, revocation) and the media-root guard, over real HTTP on both backends."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from multipublish.cli import app as cli
from tests.fixtures.api import ApiServer

PROTECTED = [
    ("GET", "/api/publishing/jobs"),
    ("GET", "/api/publishing/jobs/job_1"),
    ("GET", "/api/publishing/accounts"),
    ("POST", "/api/publishing/publish/scheduled"),
    ("POST", "/api/publishing/publish/immediate"),
    ("POST", "/api/publishing/validate"),
    ("GET", "/api/publishing/queue/stats"),
    ("GET", "/metrics"),
]


def test_every_route_but_health_needs_a_token(api_server: ApiServer) -> None:
    with api_server.client(token=None) as anon:
        for method, path in PROTECTED:
            resp = anon.request(method, path, json={})
            assert resp.status_code == 401, (method, path, resp.text)
            assert resp.headers["www-authenticate"] == "Bearer"
            assert resp.json()["error"] == "unauthorized"
        assert anon.get("/healthz").status_code == 200
        assert anon.get("/readyz").json()["checks"] == {"database": "ok", "workers": "ok"}
    with api_server.client(token="mpt_not-a-real-token-at-all") as wrong:
        assert wrong.get("/api/publishing/jobs").status_code == 401


def test_revoked_token_is_refused(api_server: ApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MULTIPUBLISH_DATABASE_URL", api_server.settings.database_url)
    runner = CliRunner()
    created = runner.invoke(cli, ["tokens", "create", "--name", "ci-bot"])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("mpt_") and "\n" not in token  # the token alone
    with api_server.client(token=token) as client:
        assert client.get("/api/publishing/jobs").status_code == 200
        listed = runner.invoke(cli, ["tokens", "list", "--json"])
        assert "ci-bot" in listed.stdout and token not in listed.stdout
        revoked = runner.invoke(cli, ["tokens", "revoke", "ci-bot"])
        assert revoked.exit_code == 0, revoked.output
        assert client.get("/api/publishing/jobs").status_code == 401
    # the API's own token still works; only the revoked one is refused
    with api_server.client() as client:
        assert client.get("/api/publishing/jobs").status_code == 200


def _validate(client: httpx.Client, path: str) -> httpx.Response:
    return client.post("/api/publishing/validate", json={"video_path": path, "platforms": ["tiktok"]})


def test_paths_outside_the_media_roots_are_refused(
    api: httpx.Client, api_server: ApiServer, tmp_path: Path
) -> None:
    root = api_server.media_root
    outside = tmp_path / "outside.mp4"
    outside.write_bytes((root / "video.mp4").read_bytes())
    (root / "link.mp4").symlink_to(outside)
    (root / "linkdir").symlink_to(tmp_path, target_is_directory=True)
    cases = {
        str(outside): "outside the configured media roots",
        f"{root}/../outside.mp4": "'..'",
        f"{root}/sub/../../outside.mp4": "'..'",
        str(root / "link.mp4"): "outside the configured media roots",
        str(root / "linkdir" / "outside.mp4"): "outside the configured media roots",
        "video.mp4": "absolute path",
        "/etc/passwd": "outside the configured media roots",
        str(root / "missing.mp4"): "no such file",
    }
    for path, reason in cases.items():
        resp = _validate(api, path)
        assert resp.status_code == 422, (path, resp.text)
        body = resp.json()
        assert body["field"] == "video_path", body
        assert reason in body["reason"], (path, body)
    # the same clip inside the root is accepted
    assert _validate(api, str(root / "video.mp4")).status_code == 200
    # a publish naming a path outside the roots is refused before anything happens
    resp = api.post(
        "/api/publishing/publish/scheduled",
        json={"account_id": "a", "platforms": ["tiktok"], "video_path": str(outside)},
    )
    assert resp.status_code == 422 and resp.json()["field"] == "video_path"
    assert api.get("/api/publishing/jobs").json()["count"] == 0


def test_no_secret_in_responses(api: httpx.Client) -> None:
    secret = "sk_live_very_secret_value_0123456789"
    resp = api.post(
        "/api/publishing/accounts",
        json={"account_id": "acme", "platform": "tiktok", "credentials": {"api_key": secret, "user": "acme"}},
    )
    assert resp.status_code == 201
    for r in (resp, api.get("/api/publishing/accounts"), api.get("/api/publishing/accounts/acme/tiktok")):
        assert secret not in r.text
        assert "****" in r.text
