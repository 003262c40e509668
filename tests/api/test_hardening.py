"""The HTTP face under abuse (issue 9): account writes under load, strict types, size caps, 500s."""

from __future__ import annotations

import threading

from multipublish.db import make_engine
from multipublish.queue.models import QueuedPublishConfig
from multipublish.queue.store import JobStore
from tests.api.helpers import UPLOAD_POST_CREDENTIALS
from tests.fixtures.api import StartServer


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


def test_priority_true_is_refused_naming_the_field(start_api: StartServer, sqlite_url: str) -> None:
    server = start_api(sqlite_url, start_workers=False)
    with server.client() as client:
        for field, value in (("priority", True), ("priority", "8"), ("max_retries", True)):
            body = {
                "account_id": "a",
                "platforms": ["tiktok"],
                "video_path": str(server.media_root / "video.mp4"),
                field: value,
            }
            resp = client.post("/api/publishing/publish/scheduled", json=body)
            assert resp.status_code == 422, resp.text
            assert resp.json()["field"] == field
        resp = client.patch("/api/publishing/jobs/nope", json={"priority": True})
        assert resp.status_code == 422 and resp.json()["field"] == "priority"
        # Nothing half-written: no job was created by the refused requests.
        assert client.get("/api/publishing/jobs").json()["count"] == 0
