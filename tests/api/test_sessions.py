"""Dashboard sessions, login CSRF, file modes and the docs setting (issue 9, item 7)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import httpx
import pytest

from tests.api.helpers import dashboard_login
from tests.fixtures.api import ApiServer, StartServer


@pytest.fixture
def server(start_api: StartServer, sqlite_url: str) -> ApiServer:
    return start_api(sqlite_url, start_workers=False)


def _browser(server: ApiServer) -> httpx.Client:
    return server.client(token=None, follow_redirects=False)


def test_the_session_cookie_is_not_the_token_and_dies_with_it(server: ApiServer) -> None:
    other = server.new_token("dashboard-user")
    with _browser(server) as browser:
        cookie = dashboard_login(browser, other)
        value = cookie.split("=", 1)[1]
        assert other not in value and other[4:] not in value  # never the token, nor its secret part
        assert browser.get("/", headers={"Cookie": cookie}).status_code == 200
        # a second login is another random session, both valid
        assert dashboard_login(browser, other) != cookie
        # a tampered session is refused
        forged = cookie[:-4] + ("0000" if not cookie.endswith("0000") else "1111")
        assert browser.get("/api/publishing/jobs", headers={"Cookie": forged}).status_code == 401
        with server.client() as admin:
            assert admin.get("/api/publishing/jobs").status_code == 200
        from multipublish.api.tokens import TokenStore

        TokenStore(server.app.state.service.engine).revoke("dashboard-user")
        assert browser.get("/api/publishing/jobs", headers={"Cookie": cookie}).status_code == 401
        assert browser.get("/", headers={"Cookie": cookie}).status_code == 303


def test_a_cross_site_login_is_refused(server: ApiServer) -> None:
    with _browser(server) as browser:
        # another site's form: no login cookie (SameSite=Strict), no matching field
        forged = browser.post("/login", data={"token": server.token, "csrf": "guess"})
        assert forged.status_code == 403
        assert "multipublish_session" not in forged.headers.get("set-cookie", "")
        # the right field and cookie but a foreign Origin
        form = browser.get("/login")
        nonce = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        login_cookie = form.headers["set-cookie"].split(";", 1)[0]
        foreign = browser.post(
            "/login",
            data={"token": server.token, "csrf": nonce},
            headers={"Cookie": login_cookie, "Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
        assert "multipublish_session" not in foreign.headers.get("set-cookie", "")
        # the server's own form works
        assert dashboard_login(browser, server.token).startswith("multipublish_session=")


def test_a_cookie_session_needs_its_csrf_header_to_change_anything(server: ApiServer) -> None:
    with _browser(server) as browser:
        cookie = dashboard_login(browser, server.token)
        page = browser.get("/", headers={"Cookie": cookie}).text
        csrf = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        no_header = browser.post("/api/publishing/jobs/nope/cancel", headers={"Cookie": cookie})
        assert no_header.status_code == 403
        with_header = browser.post(
            "/api/publishing/jobs/nope/cancel", headers={"Cookie": cookie, "X-CSRF-Token": csrf}
        )
        assert with_header.status_code == 404  # past auth and CSRF: the job is unknown


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_wal_and_token_files_are_private(
    server: ApiServer, tmp_path: Path, yt_client_secrets: Path
) -> None:
    db = Path(server.settings.database_url.removeprefix("sqlite:///"))
    with server.client() as client:  # a write, so the WAL and shared-memory files exist
        client.post(
            "/api/publishing/accounts",
            json={"account_id": "a", "platform": "tiktok", "credentials": {"api_key": "k" * 20, "user": "u"}},
        )
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        assert path.exists(), path
        assert _mode(path) == 0o600, (path, oct(_mode(path)))
    from multipublish.platforms.google_oauth import write_token_file

    token_file = tmp_path / "tokens" / "youtube-a.json"
    old = os.umask(0o022)
    try:
        write_token_file(token_file, {"token": "ya29.x", "refresh_token": "1//r"})
    finally:
        os.umask(old)
    assert _mode(token_file) == 0o600


@pytest.mark.parametrize(
    ("mode", "anonymous", "with_token"),
    [("token", 401, 200), ("open", 200, 200), ("off", 404, 404)],
)
def test_the_docs_are_open_behind_the_token_or_off_by_a_setting(
    start_api: StartServer, sqlite_url: str, mode: str, anonymous: int, with_token: int
) -> None:
    server = start_api(sqlite_url, start_workers=False, api_docs=mode)
    for path in ("/docs", "/redoc", "/openapi.json"):
        with server.client(token=None) as anon:
            assert anon.get(path).status_code == anonymous, (mode, path)
        with server.client() as client:
            assert client.get(path).status_code == with_token, (mode, path)
    if mode == "token":  # a dashboard session opens them too (the browser sends no bearer token)
        with _browser(server) as browser:
            cookie = dashboard_login(browser, server.token)
            assert browser.get("/docs", headers={"Cookie": cookie}).status_code == 200
