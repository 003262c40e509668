"""The composition root: the one place that wires the service's parts together.

Every entry point (REST API, ``multipublish worker``/``jobs``/``schedule``/``tokens``, the demo, the
MCP server, the benchmarks) gets its parts from :func:`build_service`, so they cannot drift apart
(the demo's queue once had no quota gate). Tests override an adapter (``engine``, ``publisher``,
``clock``) instead of rewiring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from multipublish.api.idempotency import IdempotencyStore
from multipublish.api.tokens import TokenStore
from multipublish.db import ensure_schema, make_engine
from multipublish.db.engine import PgLoopPool
from multipublish.manager import PublishingManager
from multipublish.platforms.base import Publisher
from multipublish.queue import PublishingQueue
from multipublish.settings import Settings, get_settings
from multipublish.usage import QuotaGate, quota_gate_for
from multipublish.usage.port import UsagePort, usage_port_for


@dataclass(slots=True, kw_only=True)
class Service:
    """The parts one process shares; built by :func:`build_service`, closed by :meth:`aclose`."""

    settings: Settings
    engine: Engine
    #: Accounts, validation and immediate publishing.
    manager: PublishingManager
    #: What the queue's workers publish through: the manager unless a test or ``--publisher``
    #: hands in another one.
    publisher: Publisher
    #: Reserves quota and records usage per queued publish (``None`` when quotas are off).
    quota_gate: QuotaGate | None
    #: Where publishes are counted (the manager's direct ones; queued ones without a gate).
    usage: UsagePort
    queue: PublishingQueue
    tokens: TokenStore
    idempotency: IdempotencyStore
    #: PostgreSQL: the API's asyncio connections, for the statements a request awaits on the
    #: event loop instead of a thread (the schedule's account read and enqueue, the status read).
    loop_pool: PgLoopPool
    #: True when :func:`build_service` made the engine (so :meth:`aclose` disposes of it).
    owns_engine: bool = False

    async def aclose(self) -> None:
        """Close the platform clients and, when it was made here, the engine."""
        await self.manager.aclose()
        await self.tokens.aclose()
        await self.loop_pool.close()
        self.queue.close()
        if self.owns_engine:
            self.engine.dispose()


def build_service(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    publisher: Publisher | None = None,
    clock: Callable[[], datetime] | None = None,
    engine_options: dict[str, Any] | None = None,
) -> Service:
    """Wire engine, stores, manager, quota gate, queue and token stores from ``settings``.

    ``engine_options`` go to :func:`multipublish.db.make_engine` (workers want a larger pool).
    """
    settings = settings or get_settings()
    owns = engine is None
    if engine is None:
        engine = make_engine(settings.database_url, **(engine_options or {}))
    ensure_schema(engine)
    usage = usage_port_for(engine, settings)
    manager = PublishingManager(settings, engine=engine, usage=usage)
    pub: Publisher = publisher if publisher is not None else manager
    gate = quota_gate_for(engine, settings)
    queue = PublishingQueue(engine, pub, settings=settings, clock=clock, quota_gate=gate, usage=usage)
    return Service(
        settings=settings,
        engine=engine,
        manager=manager,
        publisher=pub,
        quota_gate=gate,
        usage=usage,
        queue=queue,
        tokens=TokenStore(engine),
        idempotency=IdempotencyStore(engine),
        loop_pool=PgLoopPool(engine),
        owns_engine=owns,
    )
