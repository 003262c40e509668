"""Webhooks: Standard Webhooks signatures checked by the ``standardwebhooks`` library on a real
local receiver, retries with every attempt recorded, and the address guard."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from multipublish.errors import InputError
from multipublish.platforms.base import PublishConfig
from multipublish.queue import PublishingQueue, QueuedPublishConfig, QueueStatus
from multipublish.settings import Settings
from multipublish.webhooks import check_webhook_url
from tests.queue.conftest import FakeClock
from tests.queue.publishers import RecordingPublisher


class Receiver:
    """A real HTTP server on 127.0.0.1 that records requests and can fail the first N."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail_next = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = 500 if receiver.fail_next > 0 else 204
                receiver.fail_next = max(0, receiver.fail_next - 1)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def make(url: str, secret: str, clock: FakeClock, pub: Any = None, **kw: Any) -> PublishingQueue:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        webhook_secret=secret,
        webhook_allow_hosts=kw.pop("allow", "127.0.0.1"),
        **kw,
    )
    return PublishingQueue(url, pub or RecordingPublisher(), settings=settings, clock=clock)


def job_cfg(url: str, **kw: Any) -> QueuedPublishConfig:
    return QueuedPublishConfig(
        account_id="acc",
        platforms=["tiktok", "instagram"],
        video_path="/v.mp4",
        config=PublishConfig(title="Video Title"),
        webhook_url=url,
        callback_data={"custom": "data"},
        **kw,
    )


async def test_signed_completion_webhook_verifies(db_url: str, receiver: Receiver, secret: str) -> None:
    clock = FakeClock()
    q = make(db_url, secret, clock)
    q.add_job("job_123", job_cfg(receiver.url))
    await q.run_until_empty()
    [(headers, body)] = receiver.requests
    payload = Webhook(secret).verify(body, headers)  # raises on a bad signature
    assert payload["event"] == "job.completed"
    assert payload["job_id"] == "job_123" and payload["success"] is True
    assert payload["status"] == "completed" and payload["title"] == "Video Title"
    assert payload["platforms"] == ["tiktok", "instagram"]
    assert payload["callback_data"] == {"custom": "data"}
    assert payload["results"]["tiktok"]["success"] is True
    assert payload["results"]["tiktok"]["video_id"] == "v-mp-job_123-tiktok"
    assert payload["created_at"].endswith("Z") and payload["completed_at"].endswith("Z")
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + base64.b64encode(b"x" * 24).decode()).verify(body, headers)
    [msg] = q.webhook_log("job_123")
    assert msg["status"] == "delivered" and msg["attempts"][0]["status_code"] == 204
    assert headers["webhook-id"] == msg["id"]


async def test_retry_event_then_failed_delivery_is_retried_and_recorded(
    sqlite_url: str, receiver: Receiver, secret: str
) -> None:
    clock = FakeClock()
    pub = RecordingPublisher(script={"instagram": ["transient"]})
    q = make(sqlite_url, secret, clock, pub)
    q.add_job("j", job_cfg(receiver.url, retry_delay=60.0))
    receiver.fail_next = 1
    job = await q.process_one()
    assert job is not None and job.status == QueueStatus.RETRYING
    assert await q.deliver_webhooks() == 1
    [first] = q.webhook_log("j")
    assert first["status"] == "pending" and first["attempts"][0]["status_code"] == 500
    clock.advance(4)
    assert await q.deliver_webhooks() == 0  # its backoff has not ended
    clock.advance(10)
    assert await q.deliver_webhooks() == 1
    [first] = q.webhook_log("j")
    assert first["status"] == "delivered" and len(first["attempts"]) == 2
    # Both deliveries carried the same webhook-id (receivers deduplicate on it).
    assert receiver.requests[0][0]["webhook-id"] == receiver.requests[1][0]["webhook-id"]
    retry = Webhook(secret).verify(receiver.requests[1][1], receiver.requests[1][0])
    assert retry["event"] == "job.retry_scheduled" and retry["next_attempt_at"]
    assert retry["results"]["instagram"]["error_kind"] == "transient"
    clock.advance(120)
    await q.run_until_empty()
    last = json.loads(receiver.requests[-1][1])
    assert last["event"] == "job.completed"


async def test_final_failure_event(sqlite_url: str, receiver: Receiver, secret: str) -> None:
    clock = FakeClock()
    q = make(sqlite_url, secret, clock, RecordingPublisher(script={"tiktok": ["auth"]}))
    q.add_job("j", job_cfg(receiver.url))
    await q.run_until_empty()
    payload = Webhook(secret).verify(receiver.requests[-1][1], receiver.requests[-1][0])
    assert payload["event"] == "job.failed" and payload["success"] is False
    assert payload["results"]["tiktok"]["error_kind"] == "auth"
    assert payload["results"]["instagram"]["success"] is True


async def test_guard_rechecked_at_delivery(sqlite_url: str, receiver: Receiver, secret: str) -> None:
    clock = FakeClock()
    q = make(sqlite_url, secret, clock)
    q.add_job("j", job_cfg(receiver.url))
    strict = make(sqlite_url, secret, clock, allow="")  # the allow-list changed meanwhile
    await strict.run_until_empty()
    assert receiver.requests == []
    [msg] = strict.webhook_log("j")
    assert "non-public address" in (msg["attempts"][0]["error"] or "")
    assert msg["attempts"][0]["status_code"] is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "ftp://example.com/hook",
        "http://user:pw@example.com/hook",
        "not a url",
    ],
)
def test_guard_refuses(url: str) -> None:
    with pytest.raises(InputError) as err:
        check_webhook_url(url, Settings(_env_file=None))  # type: ignore[call-arg]
    assert err.value.field == "webhook_url"


def test_guard_allow_list_and_public_addresses() -> None:
    allow = Settings(_env_file=None, webhook_allow_hosts="127.0.0.0/8, localhost")  # type: ignore[call-arg]
    check_webhook_url("http://127.0.0.2:9000/x", allow)
    check_webhook_url("http://localhost/x", allow)
    check_webhook_url("https://93.184.216.34/hook", Settings(_env_file=None))  # type: ignore[call-arg]
    with pytest.raises(InputError):
        check_webhook_url("http://10.0.0.1/x", allow)


def test_webhook_needs_a_secret(sqlite_url: str) -> None:
    settings = Settings(_env_file=None, webhook_allow_hosts="127.0.0.1")  # type: ignore[call-arg]
    q = PublishingQueue(sqlite_url, RecordingPublisher(), settings=settings)
    with pytest.raises(InputError) as err:
        q.add_job("j", job_cfg("http://127.0.0.1:1/hook"))
    assert "MULTIPUBLISH_WEBHOOK_SECRET" in err.value.reason
    assert q.list_jobs() == []


async def test_account_secret_wins_over_the_global_one(
    sqlite_url: str, receiver: Receiver, secret: str
) -> None:
    """An agency gives each client account its own secret; other accounts keep the global one."""
    own = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    q = make(sqlite_url, secret, FakeClock(), webhook_secrets={"acc": own})
    q.add_job("mine", job_cfg(receiver.url))
    q.add_job(
        "theirs",
        QueuedPublishConfig(
            account_id="other",
            platforms=["tiktok"],
            video_path="/v.mp4",
            config=PublishConfig(title="t"),
            webhook_url=receiver.url,
        ),
    )
    await q.run_until_empty()
    by_job = {}
    for headers, body in receiver.requests:
        by_job[json.loads(body)["job_id"]] = (headers, body)
    headers, body = by_job["mine"]
    assert Webhook(own).verify(body, headers)["account_id"] == "acc"
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(body, headers)
    headers, body = by_job["theirs"]
    assert Webhook(secret).verify(body, headers)["account_id"] == "other"


def test_account_secret_alone_is_enough(sqlite_url: str) -> None:
    own = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, webhook_allow_hosts="127.0.0.1", webhook_secrets={"acc": own}
    )
    q = PublishingQueue(sqlite_url, RecordingPublisher(), settings=settings)
    assert q.add_job("j", job_cfg("http://127.0.0.1:1/hook")).webhook_url
    with pytest.raises(InputError):
        q.add_job(
            "k",
            QueuedPublishConfig(
                account_id="other",
                platforms=["tiktok"],
                video_path="/v.mp4",
                config=PublishConfig(title="t"),
                webhook_url="http://127.0.0.1:1/hook",
            ),
        )


async def test_webhooks_go_through_an_injected_transport(sqlite_url: str, secret: str) -> None:
    """The sender takes an ``httpx.AsyncBaseTransport``: nothing listens at the URL, the transport answers."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        webhook_secret=secret,
        webhook_allow_hosts="127.0.0.1",
    )
    q = PublishingQueue(
        sqlite_url,
        RecordingPublisher(),
        settings=settings,
        clock=FakeClock(),
        webhook_transport=httpx.MockTransport(answer),
    )
    q.add_job("job_t", job_cfg("http://127.0.0.1:9/hook"))
    await q.run_until_empty()
    [request] = seen
    assert str(request.url) == "http://127.0.0.1:9/hook"
    payload = Webhook(secret).verify(request.content, dict(request.headers))
    assert payload["job_id"] == "job_t" and payload["event"] == "job.completed"
    [msg] = q.webhook_log("job_t")
    assert msg["status"] == "delivered" and msg["attempts"][0]["status_code"] == 204
