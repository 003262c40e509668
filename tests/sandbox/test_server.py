"""The server wrapper and the CLI: both uvicorn HTTP implementations drop connections cleanly."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from multipublish.sandbox import SandboxServer, free_port
from tests.sandbox.helpers import API_KEY, HTTP, arm, posts


@pytest.mark.parametrize("http", ["h11", "httptools"])
def test_drop_and_lose_response_on_each_http_implementation(http: str, small_video: Path) -> None:
    with SandboxServer(http=http) as server:
        data = {"user": "u", "platform[]": ["tiktok"]}
        arm(server.url, "tiktok", "lose_response")
        with small_video.open("rb") as fh, pytest.raises(
            (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
        ):
            HTTP.post(f"{server.url}/api/upload", data=data, files={"video": fh},
                       headers=API_KEY)
        assert len(posts(server.url)) == 1
        # The server is still healthy afterwards.
        with small_video.open("rb") as fh:
            ok = HTTP.post(f"{server.url}/api/upload", data=data, files={"video": fh},
                            headers=API_KEY)
        assert ok.status_code == 200
        received_dir = server.state.data_dir
        assert any(received_dir.iterdir())
    assert not received_dir.exists()  # stop() removes what it received


def test_cli_serves_all_emulators(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "multipublish", "sandbox", "--port", str(port),
         "--log-level", "warning", "--data-dir", str(tmp_path / "media")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                response = HTTP.get(f"{url}/_sandbox/posts", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
        else:
            pytest.fail("sandbox did not start")
        assert response.status_code == 200
        assert response.json() == {"posts": [], "count": 0}
        me = HTTP.get(f"{url}/api/uploadposts/me", headers=API_KEY)
        assert me.status_code == 200
        token = HTTP.post(f"{url}/token", data={"grant_type": "refresh_token",
                                                 "client_id": "c", "refresh_token": "r"})
        assert token.json()["token_type"] == "Bearer"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
