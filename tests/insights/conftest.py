"""Fixtures of the insight tests: a sandbox on a clock the test moves, accounts in the real store."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from multipublish.accounts import AccountStore
from multipublish.db import ensure_schema, make_engine
from multipublish.sandbox import SandboxServer
from multipublish.settings import Settings

YT_ACCOUNT = "creator"
UP_ACCOUNT = "brand"
REFRESH_TOKEN = "1//refresh-token-of-the-insights-account"
#: A Monday, 00:00 UTC: hour of week 0.
START = datetime(2030, 3, 4, 0, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    """Epoch seconds shared by the sandbox and the collector; tests move it forward."""

    now: float

    def __call__(self) -> float:
        return self.now

    def dt(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def _clock_server() -> Iterator[tuple[SandboxServer, FakeClock]]:
    clock = FakeClock(START.timestamp())
    with SandboxServer(clock=clock) as server:
        yield server, clock


@pytest.fixture
def clock(_clock_server: tuple[SandboxServer, FakeClock]) -> FakeClock:
    server, clk = _clock_server
    server.reset()
    clk.now = START.timestamp()
    return clk


@pytest.fixture
def sb(_clock_server: tuple[SandboxServer, FakeClock], clock: FakeClock) -> str:
    """The sandbox's base URL (state reset, clock at ``START``)."""
    return _clock_server[0].url


@pytest.fixture
def settings(sb: str, tmp_path: Path, secret_key: str) -> Settings:
    return Settings(
        sandbox_url=sb,
        database_url=f"sqlite:///{tmp_path / 'mp.db'}",
        secret_key=secret_key,
        http_timeout=10.0,
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database_url)
    ensure_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def accounts(db: Engine, settings: Settings, tmp_path: Path) -> AccountStore:
    """A YouTube account (``creator``) and an upload-post account (``brand``, tiktok + instagram)."""
    store = AccountStore(db, settings)
    secrets = tmp_path / "client_secrets.json"
    secrets.write_text(
        json.dumps(
            {
                "installed": {
                    "client_id": "1234-test.apps.googleusercontent.com",
                    "client_secret": "GOCSPX-test-secret",
                    "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                    "token_uri": "https://oauth2.googleapis.com/token",
                    "redirect_uris": ["http://localhost"],
                }
            }
        )
    )
    store.add(YT_ACCOUNT, "youtube", {"client_secrets_file": str(secrets), "refresh_token": REFRESH_TOKEN})
    for platform in ("tiktok", "instagram"):
        store.add(UP_ACCOUNT, platform, {"api_key": "up-key-test", "user": "brandprofile"})
    return store


def seed(sb: str, platform: str, published: list[datetime], **who: Any) -> list[dict[str, Any]]:
    """Posts already published on the emulated platform at ``published``."""
    body = {"platform": platform, "published": [p.isoformat() for p in published], **who}
    response = httpx.post(f"{sb}/_sandbox/audience/seed", json=body, timeout=10)
    response.raise_for_status()
    return list(response.json()["posts"])


def set_audience(sb: str, key: str, **values: Any) -> dict[str, Any]:
    response = httpx.post(f"{sb}/_sandbox/audience/{key}", json=values, timeout=10)
    response.raise_for_status()
    return dict(response.json())


def arm(sb: str, platform: str, fault: str, on: str, times: int = 1) -> None:
    response = httpx.post(
        f"{sb}/_sandbox/faults", json={"platform": platform, "fault": fault, "on": on, "times": times},
        timeout=10,
    )
    response.raise_for_status()


@pytest.fixture
def yt_channel(sb: str) -> str:
    """The channel id the sandbox gives the YouTube account (learned through channels.list)."""
    from multipublish.sandbox.youtube import _channel_for

    return _channel_for(REFRESH_TOKEN)


Now = Callable[[], datetime]
