"""What routes depend on: the service state built once by ``create_app`` and typed aliases."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine

from multipublish.api.idempotency import IdempotencyStore
from multipublish.api.metrics import Metrics
from multipublish.api.tokens import TokenStore
from multipublish.settings import Settings


@dataclass(slots=True, kw_only=True)
class ServiceState:
    """Everything one app instance shares; tests build apps with their own settings."""

    settings: Settings
    engine: Engine
    #: ``PublishingManager`` (accounts, validation, immediate publishing).
    manager: Any
    #: ``PublishingQueue`` (jobs, stats, workers).
    queue: Any
    tokens: TokenStore
    idempotency: IdempotencyStore
    metrics: Metrics
    start_workers: bool = True
    workers: int = 4
    workers_running: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


async def _state(request: Request) -> ServiceState:
    """``get_state`` as a dependency: async, so FastAPI spends no worker thread on an attribute read."""
    return get_state(request)


StateDep = Annotated[ServiceState, Depends(_state)]
