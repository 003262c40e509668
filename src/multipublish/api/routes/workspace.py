"""The workspace's API: what the composer, the job page and the calendar read and write.

Platform facts for live checks (limits, preferred shapes, option values), saved drafts, per-account
queue slots with "add to queue" (the next free slot), and a job's attempt timeline. Every route
takes the same token (or dashboard cookie plus CSRF header) as the rest of the API.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from multipublish.api.auth import TokenDep
from multipublish.api.deps import ServiceState, StateDep
from multipublish.api.routes.common import errors, idempotent, job_or_404, to_json
from multipublish.api.schemas import (
    ACCOUNT_ID_PATTERN,
    JOB_ID_PATTERN,
    BatchScheduleCreate,
    BatchSchedulePublic,
)
from multipublish.errors import InputError
from multipublish.platforms.base import PLATFORMS, POST_TYPES
from multipublish.scheduling import schedule_batch

router = APIRouter(prefix="/api/publishing", tags=["workspace"])

AccountId = Annotated[str, Path(pattern=ACCOUNT_ID_PATTERN, max_length=200)]
DraftId = Annotated[str, Path(pattern=r"^draft_[0-9a-f]{16}$")]


# -- answers (typed, so generated clients get fields) -------------------------------------------
class PostTypeFactsPublic(BaseModel):
    model_config = ConfigDict(extra="allow")
    title_max_length: int | None = None
    description_max_length: int | None = None
    max_hashtags: int | None = None
    max_tags: int | None = None
    aspect_ratios: list[str] = Field(default_factory=list)
    preferred_aspect_ratios: list[str] = Field(default_factory=list)


class PlatformFactsPublic(BaseModel):
    post_types: dict[str, PostTypeFactsPublic]
    options: dict[str, list[str]]


class FixPlanEntryPublic(BaseModel):
    fixable: bool
    reason: str | None = None


class DraftPublic(BaseModel):
    id: str
    title: str
    data: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    #: bumped by every save; send it back with a change to refuse a stale one
    version: int


class DraftDeletedPublic(BaseModel):
    id: str
    deleted: bool


class DraftsPublic(BaseModel):
    drafts: list[DraftPublic]


class SlotPublic(BaseModel):
    weekday: int
    day: str
    time: str


class AccountSlotsPublic(BaseModel):
    account_id: str
    timezone: str
    slots: list[SlotPublic]


class AllSlotsPublic(BaseModel):
    accounts: list[AccountSlotsPublic]


class NextSlotPublic(BaseModel):
    account_id: str
    scheduled_time: datetime


class SlotTimePublic(BaseModel):
    account_id: str
    start: datetime
    taken: bool


class SlotTimesPublic(BaseModel):
    slots: list[SlotTimePublic]


class CalendarJobPublic(BaseModel):
    id: str
    title: str
    status: str
    account_id: str
    platforms: list[str]
    scheduled_time: datetime | None


class CalendarPublic(BaseModel):
    jobs: list[CalendarJobPublic]
    #: more jobs follow in the range: ask again with ``offset`` + ``len(jobs)``
    more: bool = False


class CalendarDayPublic(BaseModel):
    date: str = Field(description="the day in ``timezone`` (YYYY-MM-DD)")
    count: int


class CalendarSummaryPublic(BaseModel):
    timezone: str
    total: int
    days: list[CalendarDayPublic]
    #: every job of the range when ``complete``; otherwise those of the days with at most ``few``
    jobs: list[CalendarJobPublic]
    complete: bool


class AttemptPublic(BaseModel):
    model_config = ConfigDict(extra="allow")
    occurred_at: datetime
    platform: str
    attempt: int
    outcome: str
    success: bool
    error_kind: str | None = None
    error: str | None = None
    duration_s: float


class WebhookDeliveryPublic(BaseModel):
    model_config = ConfigDict(extra="allow")
    attempt: int
    status_code: int | None = None
    success: bool
    error: str | None = None
    created_at: datetime


class WebhookMessagePublic(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    event: str
    url: str
    status: str
    deliveries: list[WebhookDeliveryPublic]


class JobAttemptsPublic(BaseModel):
    job_id: str
    attempts: list[AttemptPublic]
    webhooks: list[WebhookMessagePublic]


def _options() -> dict[str, dict[str, list[str]]]:
    """Each platform's enumerated ``platform_specific`` options and their allowed values."""
    from multipublish.platforms import facebook, instagram, linkedin, tiktok, youtube

    return {
        "tiktok": {"privacy": list(tiktok.PRIVACY)},
        "instagram": {"post_type": list(instagram.POST_TYPES)},
        "facebook": {"privacy": list(facebook.PRIVACY)},
        "linkedin": {"visibility": list(linkedin.VISIBILITY)},
        "youtube": {"privacy_status": list(youtube.PRIVACY_STATUSES), "post_type": ["video", "shorts"]},
    }


_TEXT_RULES = (
    "title_max_length", "title_unit", "title_required", "description_max_length",
    "description_unit", "max_tags", "tags_max_total_length", "max_hashtags", "max_mentions",
    "aspect_ratios", "preferred_aspect_ratios", "aspect_range", "max_duration", "min_duration",
    "max_size", "recommended_resolution",
)


@router.get("/platforms", response_model=dict[str, PlatformFactsPublic], responses=errors())
def platforms(state: StateDep, _token: TokenDep) -> Any:
    """Per platform and post type: text limits, picture shapes and option values (live checks)."""
    rules = state.manager.rules
    options = _options()
    out: dict[str, Any] = {}
    for name in PLATFORMS:
        types: dict[str, Any] = {}
        for post_type in POST_TYPES[name]:
            r = rules.for_platform(f"{name}:{post_type}").to_fields()
            types[post_type] = {
                k: (list(r[k]) if isinstance(r[k], tuple) else r[k]) for k in _TEXT_RULES
            }
        out[name] = {"post_types": types, "options": options.get(name, {})}
    return out


class FixPlanBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    video_path: str = Field(min_length=1, max_length=4096)
    platforms: list[str] = Field(min_length=1, max_length=10)


@router.post(
    "/fix-plan", response_model=dict[str, FixPlanEntryPublic], responses=errors(), tags=["validation"]
)
def fix_plan(body: FixPlanBody, state: StateDep, _token: TokenDep) -> Any:
    """Per platform whether media preparation (``auto_fix``) can make the file acceptable."""
    from multipublish.api.paths import resolve_media_path
    from multipublish.api.schemas import _platform_names

    try:
        names = _platform_names(body.platforms)
    except ValueError as exc:
        raise InputError("platforms", str(exc)) from None
    video = resolve_media_path(body.video_path, state.settings.media_root_paths())
    reasons = state.manager.plan_fixes(video, names)
    return {name: {"fixable": reasons.get(name) is None, "reason": reasons.get(name)} for name in names}


# -- accounts: an upload-post key and profile checked before anything is saved -----------------
class ProfileCheckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_key: str = Field(min_length=8, max_length=500, pattern=r"^[!-~]+$",
                         description="printable ASCII, as upload-post issues them")
    user: str = Field(min_length=1, max_length=200, description="the upload-post profile (username)")


class ProfileCheckPublic(BaseModel):
    ok: bool
    message: str
    plan: str | None = None
    profiles: list[str] = Field(default_factory=list)
    #: platform -> the name it is connected as ("" when the service gives none)
    connected: dict[str, str] = Field(default_factory=dict)


@router.post("/upload-post/profile-check", response_model=ProfileCheckPublic, responses=errors(),
             tags=["accounts"])
async def profile_check(body: ProfileCheckBody, state: StateDep, _token: TokenDep) -> Any:
    """Ask upload-post whether the key works and which networks the profile has, storing nothing."""
    from multipublish.errors import ErrorKind, PlatformError
    from multipublish.platforms.upload_post import UploadPostClient

    client = UploadPostClient(body.api_key, base_url=state.settings.upload_post_base(), timeout=20)
    try:
        listing = await client.list_users()
    except (httpx.HTTPError, ValueError) as exc:  # unreachable, or an answer that is not JSON
        return {"ok": False, "message": f"upload-post could not be asked ({type(exc).__name__})"}
    except PlatformError as exc:
        why = ("upload-post refused the API key" if exc.kind is ErrorKind.AUTH
               else f"upload-post could not be asked: {exc.message}")
        return {"ok": False, "message": why}
    finally:
        await client.aclose()
    profiles = [p for p in listing.get("profiles") or [] if isinstance(p, dict)]
    names = [str(p.get("username")) for p in profiles]
    profile = next((p for p in profiles if p.get("username") == body.user), None)
    plan = str(listing.get("plan") or "") or None
    if profile is None:
        return {"ok": False, "plan": plan, "profiles": names,
                "message": f"profile {body.user!r} does not exist for this key "
                           f"(profiles: {', '.join(names) or 'none yet'})"}
    connected: dict[str, str] = {}
    for platform, info in (profile.get("social_accounts") or {}).items():
        if platform in PLATFORMS and info:
            name = (info.get("display_name") or info.get("username") or "") if isinstance(info, dict) else ""
            connected[platform] = str(name)
    if not connected:
        return {"ok": False, "plan": plan, "profiles": names, "connected": {},
                "message": f"profile {body.user!r} has no network connected: connect one in upload-post"}
    return {"ok": True, "plan": plan, "profiles": names, "connected": connected,
            "message": f"profile {body.user!r} is connected to {', '.join(sorted(connected))}"}


# -- drafts -----------------------------------------------------------------------------------
class DraftBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    data: dict[str, Any] = Field(description="the composer's form, as the page saves it")
    version: int | None = Field(
        default=None, ge=1, le=2**31 - 1,  # the column is a 32-bit integer
        description="the version this change started from: a 409 when the draft was saved since "
                    "(another tab); leave it out to overwrite whatever is there",
    )


def _drafts(state: ServiceState) -> Any:
    from multipublish.workspace.drafts import DraftStore

    return DraftStore(state.engine)


@router.get("/drafts", response_model=DraftsPublic, responses=errors())
def list_drafts(state: StateDep, _token: TokenDep) -> Any:
    """Saved drafts, newest first."""
    return {"drafts": to_json(_drafts(state).list())}


@router.post("/drafts", status_code=201, response_model=DraftPublic, responses=errors())
def create_draft(body: DraftBody, state: StateDep, _token: TokenDep) -> Any:
    if body.version is not None:
        raise InputError("version", "a new draft has no version yet: leave it out")
    return to_json(_drafts(state).save(body.data))


@router.get("/drafts/{draft_id}", response_model=DraftPublic, responses=errors(404))
def get_draft(draft_id: DraftId, state: StateDep, _token: TokenDep) -> Any:
    return to_json(_drafts(state).get(draft_id))


@router.put("/drafts/{draft_id}", response_model=DraftPublic, responses=errors(404, 409))
def update_draft(draft_id: DraftId, body: DraftBody, state: StateDep, _token: TokenDep) -> Any:
    """Replace the draft; with ``version``, only if nobody saved it since (409 otherwise)."""
    return to_json(_drafts(state).save(body.data, draft_id, body.version))


@router.delete("/drafts/{draft_id}", response_model=DraftDeletedPublic, responses=errors(404))
def delete_draft(draft_id: DraftId, state: StateDep, _token: TokenDep) -> Any:
    _drafts(state).delete(draft_id)
    return {"id": draft_id, "deleted": True}


# -- queue slots ------------------------------------------------------------------------------
class SlotBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weekday: int = Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday")
    time: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", examples=["09:30"])


class SlotsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timezone: str = Field(min_length=1, max_length=64, examples=["Europe/Paris"])
    slots: list[SlotBody] = Field(max_length=200)


def _slots(state: ServiceState) -> Any:
    from multipublish.workspace.slots import SlotStore

    return SlotStore(state.engine)


@router.get("/slots", response_model=AllSlotsPublic, responses=errors())
def all_slots(state: StateDep, _token: TokenDep) -> Any:
    """Every account's weekly posting times."""
    return {"accounts": _slots(state).all()}


@router.get("/slots/{account_id}", response_model=AccountSlotsPublic, responses=errors())
def account_slots(account_id: AccountId, state: StateDep, _token: TokenDep) -> Any:
    return _slots(state).get(account_id)


@router.put("/slots/{account_id}", response_model=AccountSlotsPublic, responses=errors(404))
def set_slots(account_id: AccountId, body: SlotsBody, state: StateDep, _token: TokenDep) -> Any:
    """Replace an account's weekly posting times (wall-clock times in ``timezone``)."""
    from multipublish.workspace.slots import parse_slots

    if not state.manager.accounts.platforms_of(account_id):
        from multipublish.errors import NotFoundError

        raise NotFoundError("account", account_id)
    slots = parse_slots([s.model_dump() for s in body.slots])
    return _slots(state).replace(account_id, body.timezone, slots)


@router.get("/slots/{account_id}/next", response_model=NextSlotPublic, responses=errors(409))
def next_slot(account_id: AccountId, state: StateDep, _token: TokenDep) -> Any:
    """The next free posting time of the account (what "add to queue" would take)."""
    return {"account_id": account_id, "scheduled_time": _slots(state).next_free(account_id)}


def _window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC (a zone-less time is UTC), at most 62 days (a month view and more)."""
    from multipublish.api.schemas import _as_utc

    try:
        begin, finish = _as_utc(start), _as_utc(end)
    except ValueError as exc:
        raise InputError("start", str(exc)) from None
    assert begin is not None and finish is not None
    if finish - begin > timedelta(days=62) or finish <= begin:
        raise InputError("end", "must be after start and at most 62 days later")
    return begin, finish


@router.get("/slot-times", response_model=SlotTimesPublic, responses=errors())
def slot_times(
    state: StateDep,
    _token: TokenDep,
    start: datetime,
    end: datetime,
    account_id: Annotated[str | None, Query(pattern=ACCOUNT_ID_PATTERN, max_length=200)] = None,
) -> Any:
    """Every slot occurrence in ``[start, end)`` with whether a job holds it (the calendar)."""
    begin, finish = _window(start, end)
    store = _slots(state)
    accounts = [account_id] if account_id else [a["account_id"] for a in store.all()]
    return {
        "slots": [
            {"account_id": a, "start": at, "taken": taken}
            for a in accounts
            for at, taken in store.occurrences(a, begin, finish)
        ]
    }


@router.post(
    "/publish/queue", status_code=201, response_model=BatchSchedulePublic,
    responses=errors(404, 409), tags=["publishing"],
)
async def add_to_queue(
    body: BatchScheduleCreate, request: Request, state: StateDep, token: TokenDep
) -> Any:
    """Schedule the jobs (one account, no ``scheduled_time``) into that account's next free slot.

    The slot is claimed in the database first, so concurrent requests (other tabs, other API
    processes) each get a different one.
    """
    accounts = {j.account_id for j in body.jobs}
    if len(accounts) != 1:
        raise InputError("jobs", "add to queue takes jobs of one account")
    account = accounts.pop()
    for i, job in enumerate(body.jobs):
        if job.scheduled_time is not None:
            raise InputError(f"jobs[{i}].scheduled_time", "the queue chooses the time: leave it out")

    def add() -> tuple[int, Any]:
        store = _slots(state)
        at, claim = store.claim_next(account)
        try:
            items = [j.model_copy(update={"scheduled_time": at}) for j in body.jobs]
            jobs = schedule_batch(
                items, roots=state.settings.media_root_paths(), manager=state.manager,
                queue=state.queue, field_prefix="jobs",
            )
        except BaseException:
            store.release(account, at, claim)
            raise
        store.confirm(account, at, claim)
        return 201, {"jobs": [to_json(j) for j in jobs], "count": len(jobs)}

    async def produce() -> tuple[int, Any]:
        return await run_in_threadpool(add)

    return await idempotent(
        state, request, token, request.headers.get("Idempotency-Key"),
        body.model_dump(mode="json"), produce,
    )


# -- the job page -----------------------------------------------------------------------------
@router.get(
    "/jobs/{job_id}/attempts", response_model=JobAttemptsPublic, responses=errors(404), tags=["jobs"]
)
def job_attempts(
    job_id: Annotated[str, Path(pattern=JOB_ID_PATTERN)], state: StateDep, _token: TokenDep
) -> Any:
    """Every publish attempt of the job, per platform, oldest first (time, outcome, error)."""
    from multipublish.usage.tables import usage_records as u

    job_or_404(state.queue.get_job(job_id), job_id)
    with state.engine.connect() as conn:
        rows = conn.execute(
            select(u.c.occurred_at, u.c.platform, u.c.post_type, u.c.attempt, u.c.outcome,
                   u.c.success, u.c.error_kind, u.c.error, u.c.duration_s, u.c.bytes_sent)
            .where(u.c.job_id == job_id).order_by(u.c.occurred_at, u.c.id)
        ).all()
        hooks = _webhooks(conn, job_id)
    return {
        "job_id": job_id,
        "attempts": [to_json(dict(r._mapping)) for r in rows],
        "webhooks": hooks,
    }


def _webhooks(conn: Any, job_id: str) -> list[dict[str, Any]]:
    """The job's webhook messages, each with its delivery attempts (status code, error)."""
    from multipublish.queue.schema import webhook_attempts as a
    from multipublish.queue.schema import webhook_messages as m

    messages = conn.execute(
        select(m.c.id, m.c.event, m.c.url, m.c.status, m.c.attempts, m.c.next_attempt_at,
               m.c.last_error, m.c.created_at)
        .where(m.c.job_id == job_id).order_by(m.c.created_at)
    ).all()
    out: list[dict[str, Any]] = []
    for msg in messages:
        tries = conn.execute(
            select(a.c.attempt, a.c.status_code, a.c.success, a.c.error, a.c.duration_ms,
                   a.c.created_at)
            .where(a.c.message_id == msg.id).order_by(a.c.attempt)
        ).all()
        entry = to_json(dict(msg._mapping))
        entry["deliveries"] = [to_json(dict(t._mapping)) for t in tries]
        out.append(entry)
    return out


# -- the calendar -----------------------------------------------------------------------------
def _calendar_select(account_id: str | None) -> Any:
    """The calendar's columns of the jobs that are drawn (cancelled ones are not)."""
    from multipublish.db import jobs as j

    query = select(
        j.c.id, j.c.title, j.c.status, j.c.account_id, j.c.platforms, j.c.scheduled_time
    ).where(j.c.status != "cancelled")
    return query.where(j.c.account_id == account_id) if account_id else query


def _calendar_rows(conn: Any, query: Any) -> list[dict[str, Any]]:
    # plain dicts of plain values: a week view holds hundreds of posts on a busy calendar
    return [
        {"id": r.id, "title": r.title, "status": r.status, "account_id": r.account_id,
         "platforms": list(r.platforms), "scheduled_time": r.scheduled_time}
        for r in conn.execute(query).all()
    ]


@router.get("/calendar", response_model=CalendarPublic, responses=errors(), tags=["jobs"])
def calendar_jobs(
    state: StateDep,
    _token: TokenDep,
    start: datetime,
    end: datetime,
    account_id: Annotated[str | None, Query(pattern=ACCOUNT_ID_PATTERN, max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Any:
    """Jobs with a time in ``[start, end)`` (at most 62 days), a page at a time: one indexed read."""
    from multipublish.db import jobs as j

    begin, finish = _window(start, end)
    query = (
        _calendar_select(account_id)
        .where(j.c.scheduled_time >= begin, j.c.scheduled_time < finish)
        .order_by(j.c.scheduled_time, j.c.id)
        .offset(offset)
        .limit(limit + 1)
    )
    with state.engine.connect() as conn:
        rows = _calendar_rows(conn, query)
    return {"jobs": rows[:limit], "more": len(rows) > limit}


#: Jobs are counted in quarter-hour buckets (every UTC offset in use is a multiple of 15 minutes),
#: then the buckets are folded into the user's days: exact in any zone, across DST changes.
_BUCKET_S = 900


def _bucket(dialect: str) -> Any:
    from sqlalchemy import BigInteger, Integer, cast, func

    from multipublish.db import jobs as j

    if dialect == "sqlite":  # timestamps are stored as UTC text there
        return cast(func.strftime("%s", j.c.scheduled_time), Integer) // _BUCKET_S
    return cast(func.floor(func.extract("epoch", j.c.scheduled_time) / _BUCKET_S), BigInteger)


@router.get("/calendar/summary", response_model=CalendarSummaryPublic, responses=errors(),
            tags=["jobs"])
def calendar_summary(
    state: StateDep,
    _token: TokenDep,
    start: datetime,
    end: datetime,
    timezone: Annotated[str, Query(min_length=1, max_length=64)] = "UTC",
    account_id: Annotated[str | None, Query(pattern=ACCOUNT_ID_PATTERN, max_length=200)] = None,
    limit: Annotated[int, Query(ge=0, le=1000)] = 200,
    few: Annotated[int, Query(ge=0, le=100)] = 3,
) -> Any:
    """Jobs per day of ``timezone`` in ``[start, end)``, and the jobs themselves where they are few.

    One grouped, index-backed count; then every job when there are at most ``limit``, else only
    the jobs of the days holding at most ``few`` (the calendar draws "N posts" for the others).
    A busy month is then a few dozen numbers instead of thousands of posts.
    """
    from sqlalchemy import and_, func, or_

    from multipublish.db import jobs as j
    from multipublish.workspace.slots import zone

    begin, finish = _window(start, end)
    tz = zone(timezone)
    bucket = _bucket(state.engine.dialect.name).label("bucket")
    counting = (
        select(bucket, func.count().label("n"))
        .where(j.c.scheduled_time >= begin, j.c.scheduled_time < finish, j.c.status != "cancelled")
        .group_by(bucket)
    )
    if account_id:
        counting = counting.where(j.c.account_id == account_id)
    days: dict[str, int] = {}
    with state.engine.connect() as conn:
        for b, n in conn.execute(counting).all():
            local = datetime.fromtimestamp(int(b) * _BUCKET_S, tz).date().isoformat()
            days[local] = days.get(local, 0) + int(n)
        total = sum(days.values())
        complete = total <= limit
        ranges = [] if complete else [_local_day(d, tz) for d, n in sorted(days.items()) if n <= few]
        rows: list[dict[str, Any]] = []
        if complete or ranges:
            query = _calendar_select(account_id).where(
                j.c.scheduled_time >= begin, j.c.scheduled_time < finish
            )
            if ranges:
                query = query.where(or_(*(
                    and_(j.c.scheduled_time >= a, j.c.scheduled_time < b) for a, b in ranges
                )))
            rows = _calendar_rows(conn, query.order_by(j.c.scheduled_time, j.c.id).limit(max(limit, 1)))
    return {
        "timezone": timezone, "total": total, "complete": complete, "jobs": rows,
        "days": [{"date": d, "count": n} for d, n in sorted(days.items())],
    }


def _local_day(day: str, tz: Any) -> tuple[datetime, datetime]:
    """The UTC instants where ``day`` (YYYY-MM-DD) begins and ends in ``tz``."""
    from datetime import UTC, date

    first = date.fromisoformat(day)
    after = first + timedelta(days=1)
    return (
        datetime(first.year, first.month, first.day, tzinfo=tz).astimezone(UTC),
        datetime(after.year, after.month, after.day, tzinfo=tz).astimezone(UTC),
    )
