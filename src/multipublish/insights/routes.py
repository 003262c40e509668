"""REST face of the insights: ``GET /api/publishing/insights`` (JSON or CSV) and
``GET /api/publishing/best-times``. Every route needs an API token; figures come from
:mod:`multipublish.insights.report` and :mod:`multipublish.insights.besttimes`, as the CLI's do.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as FPath
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from multipublish.api.auth import TokenDep
from multipublish.api.deps import StateDep
from multipublish.api.routes.common import errors, to_json
from multipublish.api.schemas import ACCOUNT_ID_PATTERN
from multipublish.errors import InputError
from multipublish.insights.besttimes import fit_account, next_slot
from multipublish.insights.report import build_insights, insights_csv
from multipublish.platforms.base import parse_platform
from multipublish.usage.analytics import parse_since
from multipublish.workspace.slots import zone

router = APIRouter(prefix="/api/publishing", tags=["insights"])


class CSVResponse(PlainTextResponse):
    media_type = "text/csv"


class Format(StrEnum):
    json = "json"
    csv = "csv"


class Metric(StrEnum):
    views_1h = "views_1h"
    views_24h = "views_24h"
    views_7d = "views_7d"


def _platform(value: str | None) -> str | None:
    return parse_platform(value)[0] if value else None


@router.get(
    "/insights",
    response_model=None,
    responses={
        200: {
            "content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}},
            "description": "Insights per account and platform (CSV: one row per post)",
        },
        **errors(),
    },
)
def insights(
    state: StateDep,
    _token: TokenDep,
    since: Annotated[
        str, Query(description="Window start: 30d, 12h, 2w or an ISO date", max_length=64)
    ] = "30d",
    account_id: Annotated[
        str | None, Query(description="Only this account", pattern=ACCOUNT_ID_PATTERN, max_length=200)
    ] = None,
    platform: Annotated[str | None, Query(description="Only this platform", max_length=64)] = None,
    format: Annotated[Format, Query(description="json or csv")] = Format.json,
    limit: Annotated[int, Query(ge=0, le=10000, description="Posts listed (newest first)")] = 100,
) -> Any:
    """Views at 1 h, 24 h and 7 d per post, best and worst posts, engagement rate, weekly trend."""
    now = datetime.now(UTC)
    data = build_insights(
        state.engine,
        parse_since(since, now),
        now,
        account_id=account_id,
        platform=_platform(platform),
        posts_limit=limit,
    )
    if format is Format.csv:
        return CSVResponse(insights_csv(data))
    return to_json(data)


@router.get("/best-times", responses=errors())
def best_times(
    state: StateDep,
    _token: TokenDep,
    account_id: Annotated[
        str, Query(description="The account", pattern=ACCOUNT_ID_PATTERN, max_length=200)
    ],
    platform: Annotated[str, Query(description="The platform", max_length=64)],
    metric: Annotated[Metric, Query(description="Which early views the model learns")] = Metric.views_24h,
    top: Annotated[int, Query(ge=1, le=20)] = 5,
    timezone: Annotated[
        str, Query(description="IANA zone the hours of week are in (default UTC)", max_length=64)
    ] = "UTC",
) -> Any:
    """Expected early views by hour of week from the account's own posts (shrunk toward a flat
    prior when it has few), with a 90 % band, the best hours, and the next free best slot."""
    if not account_id.strip():
        raise InputError("account_id", "required")
    base = parse_platform(platform)[0]  # an empty or unknown platform is a 422 naming the field
    model = fit_account(state.engine, account_id, base, metric=str(metric), tz=zone(timezone))
    data = model.to_dict(top=top)
    slot = next_slot(model, datetime.now(UTC), _busy(state, account_id))
    data["next_free_slot"] = slot.isoformat() if slot else None
    return to_json(data)


def _busy(state: Any, account_id: str) -> list[datetime]:
    """Scheduled times of the account's jobs still waiting (the slots already taken)."""
    from sqlalchemy import select

    from multipublish.db.tables import jobs

    query = select(jobs.c.scheduled_time).where(
        jobs.c.account_id == account_id,
        jobs.c.status.in_(("pending", "scheduled", "retrying")),
        jobs.c.scheduled_time.is_not(None),
    )
    with state.engine.connect() as conn:
        return [r[0] for r in conn.execute(query)]


class ExperimentRequest(BaseModel):
    """A title or thumbnail experiment on a followed YouTube post (``post_id`` from ``/insights``).

    Give ``title_b`` for a title experiment (A is the current title), or ``thumbnail_a`` and
    ``thumbnail_b`` (image files under the server's media roots) for a thumbnail experiment.
    """

    post_id: int = Field(ge=1, le=2**63 - 1,
                         description="The followed post (ids are listed by /api/publishing/insights)")
    title_b: str | None = Field(None, max_length=100, pattern=r"^[^\x00<>]*$",
                                description="The title to try against the current one")
    thumbnail_a: str | None = Field(None, max_length=4096,
                                    description="Thumbnail A (JPEG/PNG, <= 2 MB, under a media root)")
    thumbnail_b: str | None = Field(None, max_length=4096, description="Thumbnail B, likewise")
    window_minutes: float = Field(60.0, ge=5, le=7 * 24 * 60, description="How long each variant runs")


@router.post("/experiments", status_code=201, responses=errors(404, 409, 502))
async def start_experiment(state: StateDep, _token: TokenDep, body: ExperimentRequest) -> Any:
    """Variant A now, B after the window (a title through ``videos.update``, a thumbnail through
    ``thumbnails.set``), the winner kept; YouTube only."""
    from datetime import timedelta

    from multipublish.api.paths import resolve_media_path
    from multipublish.errors import PlatformError
    from multipublish.insights.experiments import ExperimentRunner
    from multipublish.insights.sources import MetricsError

    thumbs = (body.thumbnail_a, body.thumbnail_b)
    if body.title_b is not None and any(thumbs):
        raise InputError("title_b", "give title_b or thumbnail_a and thumbnail_b, not both")
    if body.title_b is None and not any(thumbs):
        raise InputError("title_b", "give title_b (a title experiment) or thumbnail_a and thumbnail_b")
    runner = ExperimentRunner(state.engine, state.settings)
    window = timedelta(minutes=body.window_minutes)
    try:
        if body.title_b is not None:
            started = await runner.start(body.post_id, body.title_b, window)
        else:
            roots = state.settings.media_root_paths()
            a = resolve_media_path(body.thumbnail_a or "", roots, field="thumbnail_a")
            b = resolve_media_path(body.thumbnail_b or "", roots, field="thumbnail_b")
            started = await runner.start_thumbnail(body.post_id, str(a), str(b), window)
    except MetricsError as exc:  # YouTube refused a call: say so (502), never a bare 500
        raise PlatformError("youtube", exc.kind, str(exc)) from None
    return to_json(started)


@router.get("/experiments/{experiment_id}", responses=errors(404))
def get_experiment(
    state: StateDep, _token: TokenDep, experiment_id: Annotated[int, FPath(ge=1, le=2**63 - 1)]
) -> Any:
    """An experiment's state, its counts, the test's p-value and the winner."""
    from multipublish.insights.experiments import ExperimentRunner

    return to_json(ExperimentRunner(state.engine, state.settings).get(experiment_id))
