"""Shared by the upload-post tests: settings pointed at the sandbox, and reading its memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from multipublish.settings import Settings

UPLOAD_POST_PLATFORMS = ("tiktok", "instagram", "facebook", "linkedin")
API_KEY = "test-key-0123456789abcdef"


def sandbox_settings(sandbox_url: str, database_url: str, secret_key: str, **overrides: Any) -> Settings:
    """Settings for one test: the sandbox, a SQLite file, short status polls."""
    values: dict[str, Any] = {
        "sandbox_url": sandbox_url,
        "database_url": database_url,
        "secret_key": secret_key,
        "http_timeout": 10.0,
        "status_poll_interval": 0.05,
        "status_poll_max_interval": 0.1,
        "status_poll_timeout": 5.0,
        **overrides,
    }
    return Settings(**values)


def credentials(platform: str, *, user: str = "creator", api_key: str = API_KEY) -> dict[str, str]:
    creds = {"api_key": api_key, "user": user}
    if platform == "facebook":
        creds["page_id"] = "1122334455"
    return creds


def posts(sandbox_url: str, platform: str | None = None) -> list[dict[str, Any]]:
    """What the sandbox received and published (``GET /_sandbox/posts``)."""
    params = {"platform": platform} if platform else None
    response = httpx.get(f"{sandbox_url}/_sandbox/posts", params=params, timeout=10)
    response.raise_for_status()
    return list(response.json()["posts"])


def arm(sandbox_url: str, platform: str, fault: str, times: int = 1, **extra: Any) -> None:
    """Arm a sandbox fault for the next ``times`` requests of ``platform``."""
    body = {"platform": platform, "fault": fault, "times": times, **extra}
    response = httpx.post(f"{sandbox_url}/_sandbox/faults", json=body, timeout=10)
    response.raise_for_status()


def sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
