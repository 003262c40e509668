"""Helpers for the sandbox tests: files with random tails, tiny PNGs, sandbox reads."""

from __future__ import annotations

import atexit
import hashlib
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import httpx

#: One pooled client for every test: a new client per call costs a TLS context load.
HTTP = httpx.Client(timeout=10)
atexit.register(HTTP.close)

API_KEY = {"Authorization": "Apikey sandbox-key"}
KIB256 = 256 * 1024


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def with_random_tail(src: Path, dst: Path, size: int) -> Path:
    """Copy a real clip and grow it to ``size`` bytes with a ``free`` box of random bytes.

    Random (not zero) padding makes a byte misplaced by a resume show up in the hash.
    """
    head = src.read_bytes()
    extra = size - len(head)
    assert extra >= 8
    dst.write_bytes(head + struct.pack(">I", extra) + b"free" + os.urandom(extra - 8))
    return dst


def tiny_png() -> bytes:
    """A valid 2x2 RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF
        )

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def posts(base: str, platform: str | None = None) -> list[dict[str, Any]]:
    """What the sandbox says was published."""
    params = {"platform": platform} if platform else {}
    response = HTTP.get(f"{base}/_sandbox/posts", params=params)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["posts"]
    return result


def arm(base: str, platform: str, fault: str, **extra: Any) -> dict[str, Any]:
    """Arm a fault through the control endpoint."""
    response = HTTP.post(
        f"{base}/_sandbox/faults", json={"platform": platform, "fault": fault, **extra}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def configure(base: str, **values: Any) -> None:
    response = HTTP.post(f"{base}/_sandbox/config", json=values)
    assert response.status_code == 200, response.text


def access_token(base: str, refresh_token: str = "rt-alice") -> str:
    """An access token from the sandbox's token endpoint."""
    response = HTTP.post(
        f"{base}/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "cid",
            "client_secret": "csecret",
            "refresh_token": refresh_token,
        },
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token
