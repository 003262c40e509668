"""Scheduling, idempotent retries, batch, cancel/retry and the 404/409/422 mapping."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.api.helpers import add_account, wait_for_job
from tests.fixtures.api import ApiServer, StartServer

FUTURE = "2099-01-01T10:00:00Z"


def _job(api_server: ApiServer, **extra: Any) -> dict[str, Any]:
    body = {
        "account_id": "acme",
        "platforms": ["tiktok"],
        "video_path": str(api_server.media_root / "video.mp4"),
        "title": "Hello",
    }
    body.update(extra)
    return body


@pytest.fixture
def idle_server(start_api: StartServer, db_url: str) -> ApiServer:
    """The service without workers: jobs stay where the test puts them."""
    return start_api(db_url, start_workers=False)


@pytest.fixture
def idle(idle_server: ApiServer) -> httpx.Client:
    client = idle_server.client()
    add_account(client, "acme", "tiktok")
    return client


def test_idempotency_key_returns_the_first_response(idle: httpx.Client, idle_server: ApiServer) -> None:
    headers = {"Idempotency-Key": "order-42"}
    body = _job(idle_server, scheduled_time=FUTURE)
    first = idle.post("/api/publishing/publish/scheduled", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = idle.post("/api/publishing/publish/scheduled", json=body, headers=headers)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert idle.get("/api/publishing/jobs").json()["count"] == 1

    changed = idle.post("/api/publishing/publish/scheduled", json={**body, "title": "Other"}, headers=headers)
    assert changed.status_code == 422
    assert changed.json()["field"] == "Idempotency-Key"

    # keys belong to a token: another client's same key is another request
    with idle_server.client(token=idle_server.new_token()) as other:
        third = other.post("/api/publishing/publish/scheduled", json=body, headers=headers)
    assert third.status_code == 201 and third.json()["id"] != first.json()["id"]
    assert idle.get("/api/publishing/jobs").json()["count"] == 2


def test_concurrent_retries_create_one_job(idle: httpx.Client, idle_server: ApiServer) -> None:
    body = _job(idle_server, scheduled_time=FUTURE)
    headers = {"Idempotency-Key": "burst-1"}

    def post(_: int) -> int:
        with idle_server.client() as c:
            return c.post("/api/publishing/publish/scheduled", json=body, headers=headers).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(post, range(8)))
    assert set(codes) <= {201, 409} and 201 in codes, codes
    assert idle.get("/api/publishing/jobs").json()["count"] == 1


def test_failed_first_attempt_can_be_retried_with_its_key(idle: httpx.Client, idle_server: ApiServer) -> None:
    headers = {"Idempotency-Key": "k-unknown-account"}
    body = _job(idle_server, account_id="nobody")
    refused = idle.post("/api/publishing/publish/scheduled", json=body, headers=headers)
    assert refused.status_code == 404, refused.text
    add_account(idle, "nobody", "tiktok")
    ok = idle.post("/api/publishing/publish/scheduled", json=body, headers=headers)
    assert ok.status_code == 201, ok.text


def test_immediate_publish_retry_posts_once(
    api: httpx.Client, api_server: ApiServer, sandbox_url: str
) -> None:
    add_account(api, "acme", "tiktok")
    body = _job(api_server)
    headers = {"Idempotency-Key": "now-1"}
    first = api.post("/api/publishing/publish/immediate", json=body, headers=headers)
    assert first.status_code == 200 and first.json()["success"], first.text
    again = api.post("/api/publishing/publish/immediate", json=body, headers=headers)
    assert again.json() == first.json()
    posts = httpx.get(f"{sandbox_url}/_sandbox/posts", timeout=10).json()["posts"]
    assert [p["title"] for p in posts].count("Hello") == 1


def test_errors_map_to_404_409_422(idle: httpx.Client, idle_server: ApiServer) -> None:
    assert idle.get("/api/publishing/jobs/nope").status_code == 404
    assert idle.post("/api/publishing/jobs/nope/cancel").status_code == 404
    assert idle.get("/api/publishing/accounts/ghost/tiktok").status_code == 404
    assert idle.delete("/api/publishing/accounts/ghost").status_code == 404

    job = idle.post(
        "/api/publishing/publish/scheduled", json=_job(idle_server, job_id="j-1", scheduled_time=FUTURE)
    )
    assert job.status_code == 201, job.text
    dup = idle.post("/api/publishing/publish/scheduled", json=_job(idle_server, job_id="j-1"))
    assert dup.status_code == 409
    assert idle.post("/api/publishing/jobs/j-1/retry").status_code == 409  # not failed
    cancelled = idle.post("/api/publishing/jobs/j-1/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert idle.post("/api/publishing/jobs/j-1/cancel").status_code == 409

    bad = {
        "platforms": (["myspace"], "platforms"),
        "priority": (11, "priority"),
        "scheduled_time": ("tomorrow", "scheduled_time"),
        "title": ("x\u0000y", "title"),
        "surprise": (1, "surprise"),
    }
    for key, (value, field) in bad.items():
        resp = idle.post("/api/publishing/publish/scheduled", json={**_job(idle_server), key: value})
        assert resp.status_code == 422, (key, resp.text)
        assert resp.json()["field"].startswith(field) or field in resp.json()["reason"], resp.json()
    resp = idle.post("/api/publishing/publish/scheduled", content=b"{not json")
    assert resp.status_code == 422
    assert idle.get("/api/publishing/jobs?status=lost").status_code == 422
    assert idle.get("/api/publishing/jobs?limit=0").status_code == 422
    assert idle.get("/api/publishing/jobs").json()["count"] == 1


def test_batch_is_all_or_nothing(idle: httpx.Client, idle_server: ApiServer) -> None:
    good = _job(idle_server, scheduled_time=FUTURE)
    resp = idle.post(
        "/api/publishing/publish/batch",
        json={"jobs": [good, {**good, "video_path": "/etc/passwd"}]},
    )
    assert resp.status_code == 422
    assert resp.json()["field"] == "jobs[1].video_path"
    assert idle.get("/api/publishing/jobs").json()["count"] == 0
    resp = idle.post(
        "/api/publishing/publish/batch",
        json={"jobs": [good, {**good, "scheduled_time": "2099-01-02T10:00:00Z", "priority": 9}]},
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["count"] == 2
    jobs = idle.get("/api/publishing/jobs").json()["jobs"]
    assert sorted(j["priority"] for j in jobs) == [5, 9]
    moved = idle.patch(f"/api/publishing/jobs/{jobs[0]['id']}", json={"priority": 2})
    assert moved.status_code == 200 and moved.json()["priority"] == 2


def test_stats_and_success_rate_after_a_job(api: httpx.Client, api_server: ApiServer) -> None:
    add_account(api, "acme", "tiktok")
    add_account(api, "acme", "linkedin")
    job = api.post(
        "/api/publishing/publish/scheduled",
        json=_job(api_server, platforms=["tiktok", "linkedin"]),
    ).json()
    assert wait_for_job(api, job["id"])["status"] == "completed"
    stats = api.get("/api/publishing/queue/stats").json()
    assert stats["completed"] == 1 and stats["pending"] == 0
    rates = api.get("/api/publishing/stats/success-rate").json()["platforms"]
    assert rates["tiktok"] == {"success": 1, "total": 1, "rate": 100.0}
    metrics = api.get("/metrics")
    assert metrics.status_code == 200
    assert 'multipublish_jobs{status="completed"} 1.0' in metrics.text
    assert "multipublish_http_requests_total" in metrics.text


def test_upload_streams_into_the_media_root(api: httpx.Client, api_server: ApiServer) -> None:
    data = (api_server.media_root / "video.mp4").read_bytes()
    resp = api.post("/api/publishing/uploads", files={"file": ("../../My Clip!.mp4", data, "video/mp4")})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["size"] == len(data)
    path = body["video_path"]
    assert path.startswith(str(api_server.media_root / "uploads") + "/")
    assert path.endswith("My_Clip_.mp4")
    valid = api.post("/api/publishing/validate", json={"video_path": path, "platforms": ["tiktok"]})
    assert valid.status_code == 200 and valid.json()["tiktok"]["valid"] is True
    assert api.post("/api/publishing/uploads", json={"file": "x"}).status_code == 422
    no_file = api.post("/api/publishing/uploads", files={"other": ("a.mp4", b"123")})
    assert no_file.status_code == 422 and no_file.json()["field"] == "file"
    leftovers = [p.name for p in (api_server.media_root / "uploads").iterdir()]
    assert len(leftovers) == 1, leftovers


def test_status_and_listing_answer_the_job_as_scheduled(idle: httpx.Client, idle_server: ApiServer) -> None:
    """The hot reads are written by pydantic straight from the model: same fields and values as
    the scheduling answer (which goes through ``jsonable_encoder``), non-ASCII text included."""
    made = idle.post(
        "/api/publishing/publish/scheduled",
        json=_job(idle_server, title="Café crème 🎬", scheduled_time=FUTURE),
    )
    assert made.status_code == 201, made.text
    job = made.json()
    status = idle.get(f"/api/publishing/jobs/{job['id']}")
    assert status.status_code == 200
    assert status.headers["content-type"] == "application/json"
    assert status.json() == job and status.json()["title"] == "Café crème 🎬"
    listing = idle.get("/api/publishing/jobs", params={"status": "scheduled"})
    assert listing.status_code == 200
    assert listing.json() == {"jobs": [job], "count": 1, "limit": 50, "offset": 0}
