"""The HTTP face under abuse (issue 9): account writes under load, strict types, size caps, 500s."""

from __future__ import annotations

import functools
import json
import shutil
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from multipublish.db import make_engine
from multipublish.queue.models import QueuedPublishConfig
from multipublish.queue.store import JobStore
from tests.api.helpers import UPLOAD_POST_CREDENTIALS
from tests.fixtures.api import ApiServer, StartServer


def _load(database_url: str, settings: object, stop: threading.Event, errors: list[str]) -> None:
    """What workers do to the database all day: enqueue and claim, in short write transactions."""
    engine = make_engine(database_url)
    store = JobStore(engine, settings=settings)  # type: ignore[arg-type]
    try:
        while not stop.is_set():
            try:
                store.add(None, QueuedPublishConfig("load", ["tiktok"], "/videos/v.mp4"))
                store.claim(f"w{threading.get_ident()}", 2)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        engine.dispose()


def test_post_accounts_under_worker_load_is_never_refused(
    start_api: StartServer, sqlite_url: str
) -> None:
    server = start_api(sqlite_url)  # the service's own workers run too
    stop = threading.Event()
    load_errors: list[str] = []
    loaders = [
        threading.Thread(target=_load, args=(sqlite_url, server.settings, stop, load_errors))
        for _ in range(3)
    ]
    statuses: list[int] = []
    lock = threading.Lock()

    def post(n: int) -> None:
        with server.client() as client:
            for i in range(30):
                body = {
                    "account_id": f"acct{i % 4}",
                    "platform": "tiktok",
                    "credentials": {**UPLOAD_POST_CREDENTIALS, "user": f"u{n}-{i}"},
                }
                resp = client.post("/api/publishing/accounts", json=body)
                with lock:
                    statuses.append(resp.status_code)

    posters = [threading.Thread(target=post, args=(n,)) for n in range(4)]
    for t in loaders + posters:
        t.start()
    for t in posters:
        t.join()
    stop.set()
    for t in loaders:
        t.join()
    assert statuses.count(201) == 120, sorted(set(statuses))
    assert load_errors == []
    with server.client() as client:
        assert len(client.get("/api/publishing/accounts").json()) == 4


QuietServer = Callable[..., ApiServer]


@pytest.fixture
def quiet_api(start_api: StartServer, sqlite_url: str) -> QuietServer:
    """``quiet_api(**settings)``: the service on SQLite without its workers (nothing runs behind)."""
    return functools.partial(start_api, sqlite_url, start_workers=False)


def test_priority_true_is_refused_naming_the_field(quiet_api: QuietServer) -> None:
    server = quiet_api()
    with server.client() as client:
        for field, value in (("priority", True), ("priority", "8"), ("max_retries", True)):
            body = {
                "account_id": "a",
                "platforms": ["tiktok"],
                "video_path": str(server.media_root / "video.mp4"),
                field: value,
            }
            resp = client.post(SCHEDULE, json=body)
            assert resp.status_code == 422, resp.text
            assert resp.json()["field"] == field
        resp = client.patch("/api/publishing/jobs/nope", json={"priority": True})
        assert resp.status_code == 422 and resp.json()["field"] == "priority"
        # Nothing half-written: no job was created by the refused requests.
        assert client.get("/api/publishing/jobs").json()["count"] == 0


# -- the HTTP face: 500s, size caps, bodies that stop halfway -----------------------------------
def _raw(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=20)


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length body (what this service sends)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed after {len(data)} bytes")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed mid-body")
        rest += chunk
    return status, headers, rest[:length]


def _request(path: str, token: str, *, method: str = "GET", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {token}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


SCHEDULE, UPLOADS = "/api/publishing/publish/scheduled", "/api/publishing/uploads"
JSON, MULTIPART = "application/json", "multipart/form-data; boundary=b0undary"


def _post_head(server: ApiServer, path: str, content_type: str, length: int | None = None) -> bytes:
    """The head of a POST announcing ``length`` bytes (chunked when ``None``); the body is the test's."""
    size = {"Content-Length": str(length)} if length is not None else {"Transfer-Encoding": "chunked"}
    return _request(path, server.token, method="POST", headers={"Content-Type": content_type, **size})


def test_a_keep_alive_client_gets_its_next_answer_after_a_500(quiet_api: QuietServer) -> None:
    server = quiet_api()
    engine = make_engine(server.settings.database_url)
    with engine.begin() as conn:  # a real fault: the table the route reads is gone
        conn.execute(text("DROP TABLE accounts"))
    engine.dispose()
    with _raw(server.url) as sock:
        for _ in range(3):
            sock.sendall(_request("/api/publishing/accounts", server.token))
            status, headers, body = _read_response(sock)
            assert status == 500
            answer = json.loads(body)
            assert answer["error"] == "internal" and answer["details"]["error_id"] in answer["message"]
            assert "accounts" not in answer["message"]  # no SQL, no traceback
            if headers.get("connection") == "close":
                break  # allowed: the server said so
            # same connection, next request: it must be answered
            sock.sendall(_request("/healthz", server.token))
            status, _, _ = _read_response(sock)
            assert status == 200


def test_a_200_mb_json_body_is_refused_before_it_is_read(quiet_api: QuietServer) -> None:
    server = quiet_api()
    with _raw(server.url) as sock:
        # Headers only: the answer must come without the server waiting for 200 MB.
        sock.sendall(_post_head(server, SCHEDULE, JSON, 200 * 1024**2))
        status, headers, body = _read_response(sock)
    assert status == 413
    assert headers["connection"] == "close"
    answer = json.loads(body)
    assert answer["error"] == "payload_too_large" and "MULTIPUBLISH_MAX_JSON_BODY_BYTES" in answer["message"]


def test_a_chunked_json_body_is_counted_and_refused_past_the_cap(quiet_api: QuietServer) -> None:
    server = quiet_api(max_json_body_bytes=64 * 1024)
    chunk = b'{"pad": "' + b"x" * 16384
    sent = 0
    with _raw(server.url) as sock:
        sock.sendall(_post_head(server, SCHEDULE, JSON))
        try:
            while sent < 4 * 1024**2:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
        except OSError:
            pass  # the server answered and closed: stop sending
        status, _headers, body = _read_response(sock)
    assert status == 413, body
    assert json.loads(body)["error"] == "payload_too_large"
    assert sent < 4 * 1024**2  # refused long before the client was done
    with server.client() as client:
        assert client.get("/api/publishing/jobs").json()["count"] == 0


def _multipart_head(boundary: str, filename: str = "clip.mp4") -> bytes:
    return (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()


def _leftovers(server: ApiServer) -> list[str]:
    directory = server.media_root / "uploads"
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_a_10_gb_upload_is_refused_before_it_is_read(quiet_api: QuietServer) -> None:
    server = quiet_api(max_upload_bytes=1024**3)
    with _raw(server.url) as sock:
        sock.sendall(_post_head(server, UPLOADS, MULTIPART, 10 * 1024**3) + _multipart_head("b0undary"))
        status, headers, body = _read_response(sock)
    assert status == 413 and headers["connection"] == "close"
    assert "MULTIPUBLISH_MAX_UPLOAD_BYTES" in json.loads(body)["message"]
    assert _leftovers(server) == []


def test_an_upload_larger_than_the_free_disk_is_refused(quiet_api: QuietServer) -> None:
    server = quiet_api(max_upload_bytes=2**60)
    free = shutil.disk_usage(server.media_root).free
    with _raw(server.url) as sock:
        sock.sendall(_post_head(server, UPLOADS, MULTIPART, free + 1024**3))
        status, _, body = _read_response(sock)
    assert status == 413 and "free on the server's disk" in json.loads(body)["message"]


def test_a_chunked_upload_past_the_cap_is_refused_and_removed(quiet_api: QuietServer) -> None:
    server = quiet_api(max_upload_bytes=1024**2)
    with _raw(server.url) as sock:
        sock.sendall(_post_head(server, UPLOADS, MULTIPART))
        head = _multipart_head("b0undary")
        try:
            sock.sendall(f"{len(head):x}\r\n".encode() + head + b"\r\n")
            block = b"\0" * 65536
            for _ in range(64):
                sock.sendall(f"{len(block):x}\r\n".encode() + block + b"\r\n")
        except OSError:
            pass
        status, _, body = _read_response(sock)
    assert status == 413, body
    assert _wait_empty(server) == []


def _wait_empty(server: ApiServer) -> list[str]:
    deadline = time.monotonic() + 10
    while _leftovers(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _leftovers(server)


def test_an_upload_that_stops_halfway_leaves_nothing(quiet_api: QuietServer) -> None:
    server = quiet_api()
    with _raw(server.url) as sock:
        head = _post_head(server, UPLOADS, MULTIPART, 8 * 1024**2) + _multipart_head("b0undary")
        sock.sendall(head + b"\0" * (2 * 1024**2))
        time.sleep(0.2)  # the server has started writing the part
    # the client is gone halfway through
    assert _wait_empty(server) == []
    with server.client() as client:  # and the service still answers
        assert client.get("/api/publishing/jobs").status_code == 200


def test_an_upload_that_is_not_a_video_is_refused_and_removed(quiet_api: QuietServer) -> None:
    server = quiet_api()
    with server.client() as client:
        resp = client.post(
            "/api/publishing/uploads", files={"file": ("movie.mp4", b"\0" * 300_000, "video/mp4")}
        )
        assert resp.status_code == 422, resp.text
        assert resp.json()["field"] == "file" and "not a readable video" in resp.json()["reason"]
        assert _leftovers(server) == []
        real = (server.media_root / "video.mp4").read_bytes()
        ok = client.post("/api/publishing/uploads", files={"file": ("v.mp4", real, "video/mp4")})
        assert ok.status_code == 201, ok.text
        assert len(_leftovers(server)) == 1


async def test_a_database_busy_beyond_its_retries_is_a_503_with_retry_after() -> None:
    from sqlalchemy.exc import OperationalError

    from multipublish.api.guard import RequestGuard

    async def locked(scope: Any, receive: Any, send: Any) -> None:
        raise OperationalError("UPDATE jobs", {}, Exception("database is locked"))

    guard = RequestGuard(locked, json_limit=1024, upload_limit=1024)
    transport = httpx.ASGITransport(app=guard)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        resp = await client.get("/api/publishing/jobs")
    assert resp.status_code == 503 and resp.headers["retry-after"] == "1"
    assert resp.json()["error"] == "busy" and "UPDATE" not in resp.text
