"""Prometheus metrics: request counts and latencies by route, and the queue's state at scrape time.

Each app has its own registry (several apps may live in one test process). ``GET /metrics`` needs an
API token like every other non-health route: Prometheus sends one with
``authorization: {credentials_file: ...}`` in its scrape config.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("multipublish.api")


class QueueCollector(Collector):
    """Reads ``get_queue_stats()`` at scrape time, so the figures are the database's, not ours."""

    def __init__(self, stats: Callable[[], dict[str, Any]]) -> None:
        self._stats = stats

    def collect(self) -> Iterable[Metric]:
        try:
            stats = self._stats()
        except Exception as exc:  # a scrape must not fail because the database blinked
            log.warning("queue stats unavailable for metrics: %s", type(exc).__name__)
            return
        jobs = GaugeMetricFamily(
            "multipublish_jobs", "Jobs in the queue by status", labels=["status"]
        )
        for key, value in stats.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                jobs.add_metric([key], float(value))
        yield jobs
        rates = stats.get("success_rate")
        if isinstance(rates, dict):
            fam = GaugeMetricFamily(
                "multipublish_platform_success_ratio",
                "Share of finished publishes that succeeded, by platform",
                labels=["platform"],
            )
            for platform, value in rates.items():
                ratio = _ratio(value)
                if ratio is not None:
                    fam.add_metric([platform], ratio)
            yield fam


def _ratio(value: Any) -> float | None:
    if isinstance(value, dict):
        total, ok = value.get("total"), value.get("success")
        if isinstance(total, int) and total > 0 and isinstance(ok, int):
            return ok / total
        rate = value.get("rate")
        return float(rate) / 100 if isinstance(rate, int | float) else None
    if isinstance(value, int | float):
        return float(value) / 100 if value > 1 else float(value)
    return None


class Metrics:
    """The app's registry and its HTTP instruments."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "multipublish_http_requests_total",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "multipublish_http_request_duration_seconds",
            "HTTP request latency by method and route template",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )

    def watch_queue(self, stats: Callable[[], dict[str, Any]]) -> None:
        self.registry.register(QueueCollector(stats))


class MetricsMiddleware:
    """Pure ASGI middleware (no body buffering): counts and times every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = str(scope.get("method", "GET"))
            self.metrics.requests.labels(method, template, str(status[0])).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - start)
