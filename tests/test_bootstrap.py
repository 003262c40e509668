"""The composition root: the API, the worker and the demo are wired from the same parts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from multipublish import bootstrap
from multipublish.api import create_app
from multipublish.bootstrap import Service, build_service
from multipublish.cli import app as cli
from multipublish.cli.jobs import _queue
from multipublish.manager import PublishingManager
from multipublish.queue import PublishingQueue
from multipublish.settings import Settings
from multipublish.usage import QuotaGate


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[Service]:
    """Every service the code under test builds (the real ``build_service`` runs)."""
    services: list[Service] = []
    real = bootstrap.build_service

    def spy(*args: Any, **kwargs: Any) -> Service:
        service = real(*args, **kwargs)
        services.append(service)
        return service

    monkeypatch.setattr(bootstrap, "build_service", spy)
    return services


def parts(service: Service) -> dict[str, Any]:
    """What a service is made of, and how its parts are connected."""
    return {
        "manager": type(service.manager),
        "publisher": type(service.publisher),
        "quota_gate": type(service.quota_gate),
        "queue": type(service.queue),
        "tokens": type(service.tokens),
        "idempotency": type(service.idempotency),
        "queue_gate_is_service_gate": service.queue.quota_gate is service.quota_gate,
        "queue_publishes_through_manager": service.queue.manager is service.manager,
        "one_engine": service.queue.engine is service.engine is service.manager.engine,
    }


def test_api_worker_and_demo_share_their_parts(
    built: list[Service], tmp_path: Path, secret_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'mp.db'}", secret_key=secret_key)
    app = create_app(settings, start_workers=False)
    api = app.state.service.service
    assert built == [api]
    worker_queue = _queue(settings)
    worker = built[-1]
    assert worker.queue is worker_queue

    monkeypatch.delenv("MULTIPUBLISH_SECRET_KEY", raising=False)
    result = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    demo = built[-1]
    assert demo not in (api, worker)

    expected = {
        "manager": PublishingManager,
        "publisher": PublishingManager,
        "quota_gate": QuotaGate,
        "queue": PublishingQueue,
        "tokens": type(api.tokens),
        "idempotency": type(api.idempotency),
        "queue_gate_is_service_gate": True,
        "queue_publishes_through_manager": True,
        "one_engine": True,
    }
    assert parts(api) == parts(worker) == parts(demo) == expected
    assert "demo" in str(demo.engine.url)


def test_quotas_off_means_no_gate_anywhere(tmp_path: Path, secret_key: str) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'mp.db'}", secret_key=secret_key, quota_enforce=False
    )
    service = build_service(settings)
    assert service.quota_gate is None and service.queue.quota_gate is None


def test_overrides_replace_one_adapter(tmp_path: Path, secret_key: str) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'mp.db'}", secret_key=secret_key)
    first = build_service(settings)
    publisher = first.manager
    second = build_service(settings, engine=first.engine, publisher=publisher)
    assert second.engine is first.engine
    assert second.queue.manager is publisher and second.manager is not publisher
    assert not second.owns_engine and first.owns_engine
