"""Queue statistics and success rate by platform."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from multipublish.api.auth import TokenDep
from multipublish.api.deps import StateDep
from multipublish.api.routes.common import errors, to_json
from multipublish.api.schemas import QueueStatsPublic, SuccessRatePublic

router = APIRouter(prefix="/api/publishing", tags=["stats"])


@router.get("/queue/stats", response_model=QueueStatsPublic, responses=errors())
def queue_stats(state: StateDep, _token: TokenDep) -> Any:
    """Jobs by status (``pending``, ``processing``, ``completed``, ``failed``, ...)."""
    return to_json(state.queue.get_queue_stats())


def success_rates(stats: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{platform: {success, total, rate}}`` from the queue stats, whatever shape they use."""
    out: dict[str, dict[str, Any]] = {}
    for platform, value in (stats.get("success_rate") or {}).items():
        if isinstance(value, dict):
            success = int(value.get("success", 0))
            total = int(value.get("total", 0))
            rate = value.get("rate")
            if rate is None and total:
                rate = 100.0 * success / total
        else:
            success, total = 0, 0
            rate = float(value) if value is not None else None
            if rate is not None and rate <= 1.0:
                rate *= 100.0
        out[str(platform)] = {
            "success": success, "total": total,
            "rate": None if rate is None else round(float(rate), 2),
        }
    return out


@router.get("/stats/success-rate", response_model=SuccessRatePublic, responses=errors())
def success_rate(state: StateDep, _token: TokenDep) -> Any:
    """Share of finished publishes that succeeded, per platform."""
    return {"platforms": success_rates(state.queue.get_queue_stats())}
