"""REST face of the analytics: platform statistics, monthly costs, quotas, and their CSV exports.

Included by the API app factory (``app.include_router(usage_router)``); every route needs an API
token. Figures come from :mod:`multipublish.usage.analytics`, so the CLI and the API never disagree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from multipublish.api.auth import TokenDep
from multipublish.api.deps import StateDep
from multipublish.api.routes.common import errors, to_json
from multipublish.usage import analytics
from multipublish.usage.export import costs_csv, report_csv
from multipublish.usage.resets import month_of, zone
from multipublish.usage.store import UsageStore

router = APIRouter(prefix="/api/publishing", tags=["stats"])


# -- answers (so a generated client has typed fields) ---------------------------------------------
class QuotaStatePublic(BaseModel):
    """One quota counter (``platform`` is the bucket: ``youtube`` units, ``upload-post`` uploads)."""

    model_config = ConfigDict(extra="allow")
    account_id: str
    platform: str
    limit: int
    used: int
    remaining: int
    reset_at: datetime
    exhausted_until: datetime | None = None
    limit_source: str = Field(description="config, or service when the platform reported it")


class QuotasPublic(BaseModel):
    quotas: list[QuotaStatePublic]


class CostsPublic(BaseModel):
    """A month's costs: ``rows`` per account and platform, plan fees, totals."""

    model_config = ConfigDict(extra="allow")
    month: str
    timezone: str
    currency: str
    rows: list[dict[str, Any]]
    plan_fees: list[dict[str, Any]]
    by_account: dict[str, float]
    total: float


class PlatformStatsPublic(BaseModel):
    """Success rates, failure reasons, retries and timings in a window, by platform and account."""

    model_config = ConfigDict(extra="allow")
    since: str
    until: str
    timezone: str
    totals: dict[str, Any]
    by_platform: list[dict[str, Any]] | dict[str, Any]
    by_account: list[dict[str, Any]] | dict[str, Any]


class SuccessChartPublic(BaseModel):
    """Success rate per platform per day: ``days`` labels and one ``series`` per platform."""

    model_config = ConfigDict(extra="allow")
    days: list[str]
    series: list[dict[str, Any]] | dict[str, Any]


class CSVResponse(PlainTextResponse):
    """CSV text, documented as ``text/csv`` in the OpenAPI document."""

    media_type = "text/csv"


#: OpenAPI answers of the CSV routes: CSV on success, the usual JSON errors otherwise.
CSV_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV with a header row"},
    **errors(),
}


SinceQ = Annotated[str, Query(description="Window start: 7d, 12h, 30m, 2w or an ISO date/datetime")]
AccountQ = Annotated[str | None, Query(description="Only this account")]
PlatformQ = Annotated[str | None, Query(description="Only this platform")]
MonthQ = Annotated[str | None, Query(description="YYYY-MM in the reporting time zone (default: this month)")]


def _report(state: Any, since: str, account_id: str | None, platform: str | None) -> dict[str, Any]:
    now = datetime.now(UTC)
    return analytics.build_report(
        state.engine,
        state.settings,
        analytics.parse_since(since, now),
        now,
        account_id=account_id,
        platform=platform,
    )


def _month(state: Any, month: str | None) -> str:
    tz = zone(state.settings.usage_timezone, "usage_timezone").key
    return month or month_of(datetime.now(UTC), tz)


@router.get("/stats/platforms", response_model=PlatformStatsPublic, responses=errors())
def platform_stats(
    state: StateDep,
    _token: TokenDep,
    since: SinceQ = "7d",
    account_id: AccountQ = None,
    platform: PlatformQ = None,
) -> Any:
    """Success rate, failure reasons, retries, median and p95 publish time per platform and account."""
    return to_json(_report(state, since, account_id, platform))


@router.get("/stats/platforms.csv", response_model=None, responses=CSV_RESPONSES)
def platform_stats_csv(
    state: StateDep,
    _token: TokenDep,
    since: SinceQ = "7d",
    account_id: AccountQ = None,
    platform: PlatformQ = None,
) -> CSVResponse:
    """The platform and account statistics as CSV."""
    body = report_csv(_report(state, since, account_id, platform))
    return CSVResponse(body)


@router.get("/stats/chart", response_model=SuccessChartPublic, responses=errors())
def success_chart(
    state: StateDep, _token: TokenDep, since: SinceQ = "30d", account_id: AccountQ = None
) -> Any:
    """Success rate per platform per day (the dashboard's chart)."""
    now = datetime.now(UTC)
    start = analytics.parse_since(since, now)
    return analytics.success_rate_chart(state.engine, state.settings, start, now, account_id=account_id)


@router.get("/costs", response_model=CostsPublic, responses=errors())
def costs(
    state: StateDep,
    _token: TokenDep,
    month: MonthQ = None,
    account_id: AccountQ = None,
    platform: PlatformQ = None,
) -> Any:
    """Money spent in a month per account and platform, plus upload-post plan fees."""
    return analytics.monthly_costs(
        state.engine, state.settings, _month(state, month), account_id=account_id, platform=platform
    )


@router.get("/costs.csv", response_model=None, responses=CSV_RESPONSES)
def costs_export(
    state: StateDep,
    _token: TokenDep,
    month: MonthQ = None,
    account_id: AccountQ = None,
    platform: PlatformQ = None,
) -> CSVResponse:
    """The month's costs as CSV."""
    data = analytics.monthly_costs(
        state.engine, state.settings, _month(state, month), account_id=account_id, platform=platform
    )
    return CSVResponse(costs_csv([data]))


@router.get("/quotas", response_model=QuotasPublic, responses=errors())
def quotas(state: StateDep, _token: TokenDep, account_id: AccountQ = None) -> Any:
    """Quota counters per account and bucket: limit, used, remaining, reset time."""
    return to_json({"quotas": UsageStore(state.engine, state.settings).quota_states(account_id)})
