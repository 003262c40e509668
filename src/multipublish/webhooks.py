"""Webhooks: the payload, Standard Webhooks signing, the address guard, and one delivery.

Messages are written to an outbox (``webhook_messages``) in the same transaction as the job's
outcome, then delivered by the workers with retries; every attempt is recorded
(``webhook_attempts``). See ``multipublish.queue.worker`` for the delivery loop.

The guard refuses URLs whose host resolves to a private, loopback, link-local, multicast or reserved
address unless ``settings.webhook_allow_hosts`` names the host or a CIDR range holding the address.
It runs when the job is added and again right before each delivery (a DNS answer may change
between the two: rebinding). A rebinding between our check and httpx's own lookup within the same
delivery remains possible; pinning the address would need a custom transport.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from standardwebhooks import Webhook

from multipublish.errors import InputError

if TYPE_CHECKING:
    from multipublish.queue.models import Job
    from multipublish.settings import Settings

#: Events a job emits. ``job.scheduled``: a platform's service accepted the post for later
#: (upload-post's 202 with ``job_id``); the job then waits, and ``job.completed`` or
#: ``job.failed`` follows once the service has published (or refused) it at its time.
EVENTS = ("job.completed", "job.failed", "job.retry_scheduled", "job.scheduled")

Resolver = Callable[[str, int], Iterable[str]]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def build_payload(job: Job, event: str, *, next_attempt_at: datetime | None = None) -> dict[str, Any]:
    """The brief's payload plus ``event`` (and when the next attempt runs, for retries)."""
    from multipublish.queue.models import iso

    results: dict[str, dict[str, Any]] = {}
    for key, res in job.results.items():
        entry: dict[str, Any] = {
            "success": bool(res.get("success")),
            "status": res.get("status"),
            "video_id": res.get("video_id"),
            "url": res.get("url"),
        }
        if res.get("error"):
            entry["error"] = res.get("error")
            entry["error_kind"] = res.get("error_kind")
        if res.get("status") == "scheduled":  # held by the service: its id and its time
            entry["reference"] = res.get("reference")
            entry["scheduled_date"] = res.get("scheduled_date")
        if res.get("preparation"):  # auto_fix: the actions applied to the file for this platform
            entry["preparation"] = res["preparation"]
        results[key] = entry
    payload: dict[str, Any] = {
        "event": event,
        "job_id": job.id,
        "account_id": job.account_id,
        "platforms": list(job.platforms),
        "title": job.title,
        "success": job.status == "completed",
        "status": str(job.status),
        "attempts": job.attempts,
        "created_at": iso(job.created_at),
        "completed_at": iso(job.completed_at),
        "results": results,
        "callback_data": job.callback_data,
    }
    if job.error_message:
        payload["error_message"] = job.error_message
    if next_attempt_at is not None:
        payload["next_attempt_at"] = iso(next_attempt_at)
    return payload


def encode_payload(payload: dict[str, Any]) -> str:
    """The exact body that is signed and sent."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str)


def sign_headers(secret: str, msg_id: str, body: str, *, timestamp: float | None = None) -> dict[str, str]:
    """Standard Webhooks headers for ``body`` (timestamp: wall-clock seconds, now by default)."""
    ts = int(time.time() if timestamp is None else timestamp)
    when = datetime.fromtimestamp(ts, tz=UTC)
    signature = Webhook(secret).sign(msg_id, when, body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": "multipublish-webhooks/1",
    }


def _allow_list(settings: Settings) -> tuple[set[str], list[IPNetwork]]:
    hosts: set[str] = set()
    nets: list[IPNetwork] = []
    for item in (settings.webhook_allow_hosts or "").split(","):
        item = item.strip().lower()
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item.strip("[]"), strict=False))
        except ValueError:
            hosts.add(item)
    return hosts, nets


def _blocked(addr: IPAddress) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return _blocked(addr.ipv4_mapped)
    return bool(
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
    )


def _split(url: str) -> tuple[str, int]:
    if not isinstance(url, str) or not url.strip():
        raise InputError("webhook_url", "must be an http(s) URL")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise InputError("webhook_url", "must use http or https")
    if not parts.hostname:
        raise InputError("webhook_url", "has no host")
    if parts.username or parts.password:
        raise InputError("webhook_url", "must not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise InputError("webhook_url", "has an invalid port") from None
    return parts.hostname.lower(), port


def _judge(host: str, addresses: Iterable[str], settings: Settings) -> None:
    hosts, nets = _allow_list(settings)
    if host in hosts:
        return
    found = False
    for raw in addresses:
        found = True
        addr = ipaddress.ip_address(raw.split("%", 1)[0])
        if not _blocked(addr):
            continue
        if any(addr in net for net in nets) or str(addr) in hosts:
            continue
        raise InputError(
            "webhook_url",
            f"host {host!r} resolves to a non-public address ({addr}); "
            "allow it with MULTIPUBLISH_WEBHOOK_ALLOW_HOSTS",
        )
    if not found:
        raise InputError("webhook_url", f"host {host!r} does not resolve")


def _literal(host: str) -> list[str] | None:
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        return None


def check_webhook_url(url: str, settings: Settings) -> None:
    """Refuse URLs we must not call (raises ``InputError`` on ``webhook_url``)."""
    host, port = _split(url)
    addresses = _literal(host)
    if addresses is None:
        hosts, _ = _allow_list(settings)
        if host in hosts:
            return
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise InputError("webhook_url", f"host {host!r} does not resolve: {exc}") from None
        addresses = [str(info[4][0]) for info in infos]
    _judge(host, addresses, settings)


async def acheck_webhook_url(url: str, settings: Settings) -> None:
    """``check_webhook_url`` without blocking the event loop (used right before each delivery)."""
    host, port = _split(url)
    addresses = _literal(host)
    if addresses is None:
        hosts, _ = _allow_list(settings)
        if host in hosts:
            return
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise InputError("webhook_url", f"host {host!r} does not resolve: {exc}") from None
        addresses = [str(info[4][0]) for info in infos]
    _judge(host, addresses, settings)


def webhook_secret(settings: Settings, account_id: str | None = None) -> str | None:
    """The signing secret in effect for ``account_id``: its own if configured, else the global one."""
    own = settings.webhook_secrets.get(account_id) if account_id else None
    if own is not None:
        return own.get_secret_value()
    return settings.webhook_secret.get_secret_value() if settings.webhook_secret else None


@dataclass(slots=True)
class DeliveryOutcome:
    """What one POST of one message did."""

    success: bool
    status_code: int | None
    error: str | None
    duration_ms: float


async def deliver_once(
    client: httpx.AsyncClient,
    url: str,
    msg_id: str,
    payload: dict[str, Any],
    settings: Settings,
) -> DeliveryOutcome:
    """POST one signed message once; 2xx is success, anything else (or no answer) is a failure."""
    start = time.perf_counter()
    account = payload.get("account_id")
    secret = webhook_secret(settings, account if isinstance(account, str) else None)
    try:
        if secret is None:
            raise InputError("webhook_secret", "no webhook secret configured")
        await acheck_webhook_url(url, settings)
        body = encode_payload(payload)
        headers = sign_headers(secret, msg_id, body)
        resp = await client.post(url, content=body.encode(), headers=headers)
    except InputError as exc:
        return DeliveryOutcome(False, None, exc.message, (time.perf_counter() - start) * 1000)
    except httpx.HTTPError as exc:
        return DeliveryOutcome(
            False, None, f"{type(exc).__name__}: {exc}", (time.perf_counter() - start) * 1000
        )
    elapsed = (time.perf_counter() - start) * 1000
    ok = 200 <= resp.status_code < 300
    return DeliveryOutcome(ok, resp.status_code, None if ok else f"HTTP {resp.status_code}", elapsed)
