"""Credentials cannot make the server reach inside (issue 9, item 6).

A listener on loopback counts every connection it is offered: a ``token_uri``, a secrets file's
endpoints or a server path sent with credentials must neither be used nor probed.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from multipublish.accounts import AccountStore
from multipublish.db import ensure_schema, make_engine
from multipublish.platforms.google_oauth import GoogleOAuth
from multipublish.settings import Settings
from tests.api.helpers import YOUTUBE_CREDENTIALS
from tests.fixtures.api import ApiServer, StartServer

ACCOUNTS = "/api/publishing/accounts"


class Listener:
    """A TCP listener on 127.0.0.1 that accepts, counts and closes connections."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()


def _secrets(endpoint: str) -> dict[str, Any]:
    return {
        "installed": {
            "client_id": YOUTUBE_CREDENTIALS["client_id"],
            "client_secret": YOUTUBE_CREDENTIALS["client_secret"],
            "auth_uri": f"{endpoint}/auth",
            "token_uri": f"{endpoint}/token",
            "redirect_uris": ["http://localhost"],
        }
    }


def _add(server: ApiServer, creds: dict[str, Any], account_id: str = "yt") -> Any:
    with server.client() as client:
        return client.post(
            ACCOUNTS, json={"account_id": account_id, "platform": "youtube", "credentials": creds}
        )


@pytest.fixture
def secrets_server(start_api: StartServer, sqlite_url: str, tmp_path: Path) -> ApiServer:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "tokens").mkdir()
    return start_api(
        sqlite_url,
        start_workers=False,
        google_secrets_dir=tmp_path / "secrets",
        google_token_dir=tmp_path / "tokens",
    )


def test_an_internal_token_uri_is_refused_and_never_reached(
    secrets_server: ApiServer, listener: Listener
) -> None:
    resp = _add(secrets_server, {**YOUTUBE_CREDENTIALS, "token_uri": f"{listener.url}/token"})
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == "credentials.token_uri"
    assert "MULTIPUBLISH_GOOGLE_TOKEN_URL" in resp.json()["reason"]
    with secrets_server.client() as client:
        assert client.get(ACCOUNTS).json() == []
    assert listener.connections == 0


def test_endpoints_in_uploaded_secrets_are_not_used(
    secrets_server: ApiServer, listener: Listener
) -> None:
    creds = {"client_secrets": _secrets(listener.url), "refresh_token": YOUTUBE_CREDENTIALS["refresh_token"]}
    resp = _add(secrets_server, creds)
    assert resp.status_code == 201, resp.text
    assert resp.json()["credentials"]["client_secrets"] == "****"  # content never shown
    with secrets_server.client() as client:
        published = client.post(
            "/api/publishing/publish/immediate",
            json={
                "account_id": "yt",
                "platforms": ["youtube"],
                "video_path": str(secrets_server.media_root / "video.mp4"),
                "title": "Reach test",
            },
        )
    assert published.status_code == 200, published.text
    assert published.json()["success"] is True, published.text  # refreshed at the sandbox
    assert listener.connections == 0


async def test_a_stored_token_uri_is_ignored_the_setting_wins(
    sandbox_url: str, tmp_path: Path, secret_key: str, listener: Listener
) -> None:
    # No sandbox override: the token endpoint is MULTIPUBLISH_GOOGLE_TOKEN_URL (here the sandbox's).
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'mp.db'}",
        secret_key=secret_key,
        google_token_url=f"{sandbox_url}/token",
    )
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    store = AccountStore(engine, settings)
    store.add("yt", "youtube", {**YOUTUBE_CREDENTIALS, "token_uri": f"{listener.url}/token"})
    oauth = GoogleOAuth("yt", store.load("yt", "youtube").credentials, settings, lambda _p: None)
    assert oauth.credentials().token_uri == f"{sandbox_url}/token"
    assert (await oauth.access_token()).startswith("ya29.")  # refreshed where the setting says
    oauth.close()
    engine.dispose()
    assert listener.connections == 0


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "/etc/no-such-file.json", "../outside.json", "{root}/../../etc/hostname"],
)
def test_a_secrets_path_outside_the_folder_is_refused_in_the_same_words(
    secrets_server: ApiServer, tmp_path: Path, path: str
) -> None:
    (tmp_path / "outside.json").write_text(json.dumps(_secrets("https://example.invalid")))
    raw = path.format(root=tmp_path / "secrets")
    resp = _add(secrets_server, {"client_secrets_file": raw, "refresh_token": "1//r"})
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["field"] == "credentials.client_secrets_file"
    # The same answer for an existing file, a missing one and one outside: nothing learnt.
    assert body["reason"].startswith("must name a Google client secrets JSON file under")
    assert "exist" not in body["reason"] and "passwd" not in body["reason"]


def test_a_secrets_file_inside_the_folder_is_taken(secrets_server: ApiServer, tmp_path: Path) -> None:
    missing = _add(secrets_server, {"client_secrets_file": "missing.json", "refresh_token": "1//r"})
    (tmp_path / "secrets" / "client.json").write_text(json.dumps(_secrets("https://example.invalid")))
    taken = _add(secrets_server, {"client_secrets_file": "client.json", "refresh_token": "1//r"})
    assert taken.status_code == 201, taken.text
    assert missing.status_code == 422
    assert missing.json()["reason"] == _add(
        secrets_server, {"client_secrets_file": "/etc/passwd", "refresh_token": "1//r"}
    ).json()["reason"]


def test_no_secrets_paths_without_a_folder(start_api: StartServer, sqlite_url: str) -> None:
    server = start_api(sqlite_url, start_workers=False)
    resp = _add(server, {"client_secrets_file": "/etc/passwd", "refresh_token": "1//r"})
    assert resp.status_code == 422
    assert "credentials.client_secrets" in resp.json()["reason"]
    resp = _add(server, {**YOUTUBE_CREDENTIALS, "oauth_storage_dir": "/var/tmp"})
    assert resp.status_code == 422 and resp.json()["field"] == "credentials.oauth_storage_dir"


@pytest.mark.parametrize("storage", ["/etc", "../elsewhere", "/tmp"])
def test_token_storage_outside_the_folder_is_refused(
    secrets_server: ApiServer, tmp_path: Path, storage: str
) -> None:
    resp = _add(secrets_server, {**YOUTUBE_CREDENTIALS, "oauth_storage_dir": storage})
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == "credentials.oauth_storage_dir"
    inside = _add(secrets_server, {**YOUTUBE_CREDENTIALS, "oauth_storage_dir": "brand-a"})
    assert inside.status_code == 201, inside.text
    assert not (tmp_path / "elsewhere").exists()
