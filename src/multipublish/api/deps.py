"""What routes depend on: the service state built once by ``create_app`` and typed aliases."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Engine

from multipublish.api.idempotency import IdempotencyStore
from multipublish.api.metrics import Metrics
from multipublish.api.tokens import TokenStore
from multipublish.settings import Settings

if TYPE_CHECKING:
    from multipublish.bootstrap import Service
    from multipublish.manager import PublishingManager
    from multipublish.queue import PublishingQueue


@dataclass(slots=True, kw_only=True)
class ServiceState:
    """Everything one app instance shares: the service's parts plus the HTTP face's own."""

    #: The wired parts (``multipublish.bootstrap.build_service``); the fields below are its parts.
    service: Service
    settings: Settings
    engine: Engine
    #: Accounts, validation, immediate publishing.
    manager: PublishingManager
    #: Jobs, stats, workers.
    queue: PublishingQueue
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
