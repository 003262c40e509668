"""A video published by URL: upload-post fetches it (its ``video`` field takes a URL).

Real HTTP everywhere: a local file server answers the ``HEAD`` our partial validation sends, the
sandbox receives the upload, the queue and the REST API run on both databases where they appear.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from multipublish.errors import ErrorKind, InputError
from multipublish.manager import PublishingManager
from multipublish.platforms.base import PublishConfig
from multipublish.queue import PublishingQueue, QueuedPublishConfig, QueueStatus
from tests.api.helpers import add_account, wait_for_job
from tests.fixtures.api import StartServer
from tests.platforms.upload_post_support import UPLOAD_POST_PLATFORMS, credentials, posts, sandbox_settings
from tests.queue.conftest import FakeClock

GB = 1024**3


class FileHost:
    """Answers ``HEAD``/``GET`` for a few video URLs; records the methods it was asked."""

    def __init__(self, video: Path) -> None:
        self.asked: list[tuple[str, str]] = []
        host = self
        data = video.read_bytes()

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, with_body: bool) -> None:
                host.asked.append((self.command, self.path))
                if self.path == "/missing.mp4":
                    self.send_response(404)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("content-type", "video/mp4")
                if self.path == "/huge.mp4":
                    self.send_header("content-length", str(5 * GB))
                elif self.path != "/nolength.mp4":
                    self.send_header("content-length", str(len(data)))
                self.end_headers()
                if with_body:
                    self.wfile.write(data)

            def do_HEAD(self) -> None:
                self._answer(False)

            def do_GET(self) -> None:
                self._answer(True)

            def log_message(self, *args: Any) -> None:
                pass

        self.size = len(data)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def files(vertical_video: Path) -> Iterator[FileHost]:
    host = FileHost(vertical_video)
    yield host
    host.close()


MakeManager = Callable[..., PublishingManager]


@pytest.fixture
async def make_manager(sandbox_url: str, sqlite_url: str, secret_key: str) -> AsyncIterator[MakeManager]:
    made: list[PublishingManager] = []

    def make(**overrides: Any) -> PublishingManager:
        overrides.setdefault("webhook_allow_hosts", "127.0.0.1")  # the address guard lets the HEAD in
        manager = PublishingManager(sandbox_settings(sandbox_url, sqlite_url, secret_key, **overrides))
        for platform in UPLOAD_POST_PLATFORMS:
            manager.add_account("acct", platform, credentials(platform))
        made.append(manager)
        return manager

    yield make
    for manager in made:
        await manager.aclose()


async def test_publish_by_url_sends_the_url_not_bytes(
    make_manager: MakeManager, files: FileHost, sandbox_url: str
) -> None:
    url = f"{files.base}/clip.mp4?sig=abc"
    results = await make_manager().publish_multi_platform(
        "acct", ["tiktok", "linkedin"], url, PublishConfig(title="By URL", description="d")
    )
    assert all(r.success for r in results.values()), results
    assert all(r.bytes_sent == 0 for r in results.values())
    by_platform = {p["platform"]: p for p in posts(sandbox_url)}
    assert by_platform["tiktok"]["video_url"] == url and by_platform["tiktok"]["size"] is None
    assert by_platform["linkedin"]["caption"] == "d"
    # Validation asked for the size with HEAD, and never fetched the video itself.
    assert ("HEAD", "/clip.mp4?sig=abc") in files.asked
    assert all(method == "HEAD" for method, _ in files.asked)


async def test_validation_of_a_url_is_partial_and_says_so(make_manager: MakeManager, files: FileHost) -> None:
    report = make_manager().validate_video_for_platforms(f"{files.base}/clip.mp4", ["tiktok", "instagram"])
    for entry in report.values():
        assert entry["valid"] is True, entry
        assert entry["media"]["size"] == files.size and entry["media"]["validation"] == "partial"
        assert "duration" in entry["media"]["not_checked"]
        assert any("validated partially" in w for w in entry["warnings"])
    unknown = make_manager().validate_video_for_platforms(f"{files.base}/nolength.mp4", ["tiktok"])
    assert unknown["tiktok"]["valid"] is True
    assert any("no Content-Length" in w for w in unknown["tiktok"]["warnings"])


@pytest.mark.parametrize(
    ("name", "fragment"),
    [("huge.mp4", "file size 5 GB is over"), ("missing.mp4", "answered HTTP 404")],
)
async def test_url_refused_by_its_head_answer_before_any_upload(
    name: str, fragment: str, make_manager: MakeManager, files: FileHost, sandbox_url: str
) -> None:
    result = await make_manager().publish_to_platform(
        "acct", "instagram", f"{files.base}/{name}", PublishConfig(title="x")
    )
    assert not result.success and result.error_kind is ErrorKind.PERMANENT
    assert fragment in (result.error or "")
    assert posts(sandbox_url) == []


async def test_private_address_is_not_probed_without_leave(
    make_manager: MakeManager, files: FileHost, sandbox_url: str
) -> None:
    """The webhook address guard applies to the HEAD: a loopback host is not asked by default."""
    manager = make_manager(webhook_allow_hosts="")
    url = f"{files.base}/clip.mp4"
    result = await manager.publish_to_platform("acct", "tiktok", url, PublishConfig(title="x"))
    assert result.success, result.error
    assert files.asked == []  # nothing was asked of the private address
    [post] = posts(sandbox_url)
    assert post["video_url"] == f"{files.base}/clip.mp4"


@pytest.mark.parametrize(
    ("platforms", "video", "fragment"),
    [
        (["tiktok", "youtube"], "https://cdn.example.com/v.mp4", "YouTube takes the video's bytes"),
        (["tiktok"], "https://user:pw@cdn.example.com/v.mp4", "user name or password"),
        (["tiktok"], "https://cdn.example.com/a b.mp4", "spaces"),
        (["tiktok"], "ftp://cdn.example.com/v.mp4", "no such file"),
    ],
)
async def test_bad_video_urls_are_refused_naming_the_field(
    platforms: list[str],
    video: str,
    fragment: str,
    make_manager: MakeManager,
    sandbox_url: str,
) -> None:
    manager = make_manager()
    manager.add_account("acct", "youtube", {"client_id": "c", "client_secret": "s", "refresh_token": "r"})
    with pytest.raises(InputError) as info:
        await manager.publish_multi_platform("acct", platforms, video, PublishConfig(title="x"))
    assert info.value.field == "video_path" and fragment in info.value.reason
    assert posts(sandbox_url) == []


async def test_thumbnail_auto_needs_a_file(make_manager: MakeManager) -> None:
    with pytest.raises(InputError) as info:
        await make_manager().publish_to_platform(
            "acct", "tiktok", "https://cdn.example.com/v.mp4", PublishConfig(title="x", thumbnail_path="auto")
        )
    assert info.value.field == "thumbnail_path"


async def test_queued_job_by_url_is_published(
    sandbox_url: str, engine: Engine, db_url: str, secret_key: str, files: FileHost
) -> None:
    manager = PublishingManager(
        sandbox_settings(sandbox_url, db_url, secret_key, webhook_allow_hosts="127.0.0.1"), engine=engine
    )
    try:
        manager.add_account("acct", "instagram", credentials("instagram"))
        queue = PublishingQueue(engine, manager, settings=manager.settings, clock=FakeClock())
        url = f"{files.base}/clip.mp4"
        queue.add_job(
            "by-url",
            QueuedPublishConfig(
                account_id="acct", platforms=["instagram"], video_path=url, config=PublishConfig(title="q")
            ),
        )
        job = await queue.process_one()
        assert job is not None and job.status == QueueStatus.COMPLETED, job and job.error_message
        [post] = posts(sandbox_url)
        assert post["video_url"] == url
    finally:
        await manager.aclose()


def test_rest_publish_and_schedule_by_url(
    start_api: StartServer, db_url: str, files: FileHost, sandbox_url: str
) -> None:
    server = start_api(db_url, webhook_allow_hosts="127.0.0.1")
    url = f"{files.base}/clip.mp4"
    with server.client() as api:
        add_account(api, "acc", "tiktok")
        add_account(api, "acc", "youtube")
        now = api.post(
            "/api/publishing/publish/immediate",
            json={"account_id": "acc", "platforms": ["tiktok"], "video_path": url, "title": "REST"},
        )
        assert now.status_code == 200, now.text
        assert now.json()["results"]["tiktok"]["success"] is True
        later = api.post(
            "/api/publishing/publish/scheduled",
            json={"account_id": "acc", "platforms": ["tiktok"], "video_path": url, "title": "Queued"},
        )
        assert later.status_code in (200, 201), later.text
        job = wait_for_job(api, later.json()["id"])
        assert job["status"] == "completed", job
        # YouTube cannot take a URL: refused with the field named, and no job added.
        refused = api.post(
            "/api/publishing/publish/scheduled",
            json={"account_id": "acc", "platforms": ["youtube"], "video_path": url, "title": "No"},
        )
        assert refused.status_code == 422, refused.text
        assert "YouTube takes the video's bytes" in refused.text
        listed = api.get("/api/publishing/jobs").json()
    assert [p["video_url"] for p in posts(sandbox_url)] == [url, url]
    assert len(listed["jobs"] if isinstance(listed, dict) else listed) == 1
