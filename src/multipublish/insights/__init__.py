"""Insights: how published posts did, collected back from the platforms, and what to learn from it.

* :mod:`~multipublish.insights.store` follows published posts and keeps their metric time series.
* :mod:`~multipublish.insights.collector` samples them on a schedule in the workers (leased rounds).
* :mod:`~multipublish.insights.report` turns the series into per-account insights (1 h, 24 h, 7 d).
* :mod:`~multipublish.insights.besttimes` learns the hours of the week an account's posts do best.
* :mod:`~multipublish.insights.experiments` runs title experiments on YouTube.
"""

from __future__ import annotations

from multipublish.insights import tables as tables  # registers the tables on the shared metadata
from multipublish.insights.collector import MetricsCollector, RoundStats
from multipublish.insights.store import InsightStore, Sample

__all__ = ["InsightStore", "MetricsCollector", "RoundStats", "Sample"]
