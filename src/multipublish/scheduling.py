"""Turning requests into publishes and queued jobs; shared by the API routes, the CLI and MCP.

Every item of a batch is checked (paths under the media roots, platforms, the video against each
platform's rules, job ids free) before the first job is added, so a refused batch adds nothing.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from multipublish.api.paths import resolve_media_path, resolve_video
from multipublish.api.schemas import PublishFields, ScheduledPublishCreate
from multipublish.catalogue import base_platform
from multipublish.errors import (
    ConflictError,
    InputError,
    MultipublishError,
    NotFoundError,
    ValidationFailed,
)
from multipublish.platforms.base import PublishConfig

if TYPE_CHECKING:
    from multipublish.manager import PublishingManager
    from multipublish.queue import Job, PublishingQueue, QueuedPublishConfig


def publish_config(body: PublishFields, roots: list[Path] | None) -> tuple[Path | str, PublishConfig]:
    """The guarded video path (or checked video URL) and the ``PublishConfig`` of a request body."""
    video = resolve_video(body.video_path, roots)
    thumb = (
        str(resolve_media_path(body.thumbnail_path, roots, field="thumbnail_path"))
        if body.thumbnail_path and body.thumbnail_path != "auto"
        else body.thumbnail_path or None
    )
    config = PublishConfig(
        title=body.title,
        description=body.description,
        tags=list(body.tags),
        platform_specific={k: dict(v) for k, v in body.platform_specific.items()},
        thumbnail_path=thumb,
        auto_fix=body.auto_fix,
    )
    return video, config


def check_video(
    manager: PublishingManager, video: Path | str, platforms: list[str], config: PublishConfig
) -> None:
    """Refuse (422 with the per-platform report) a video or text a platform would reject.

    A video by URL is validated partially (its size and text; the report says what not), and
    ``auto_fix`` cannot prepare a file that is not here.
    """
    report = manager.validate_video_for_platforms(video, platforms, config)
    fixable = isinstance(video, Path)
    if fixable and config.auto_fix and not all(entry.get("valid", False) for entry in report.values()):
        # Accepted when preparation can fix the file (planned now, encoded at publish time) and
        # the text is valid; refused with the planner's reason otherwise.
        text = manager.validate_config_for_platforms(config, platforms)
        reasons = manager.plan_fixes(video, platforms)
        for name, entry in report.items():
            if entry.get("valid", False):
                continue
            if reasons.get(name) is None and text.get(name, {}).get("valid", False):
                report[name] = {**entry, "valid": True, "auto_fix": "planned"}
            elif reasons.get(name):
                report[name] = {**entry, "errors": [*entry.get("errors", []), f"auto_fix: {reasons[name]}"]}
    if not all(entry.get("valid", False) for entry in report.values()):
        raise ValidationFailed(report)


def check_accounts(manager: PublishingManager, account_id: str, platforms: list[str]) -> None:
    """``NotFoundError`` (404) unless ``account_id`` has every platform (no decryption)."""
    stored = set(manager.accounts.platforms_of(account_id.strip()))
    for platform in platforms:
        base = base_platform(platform)
        if base not in stored:
            raise NotFoundError("account", f"{account_id}/{base}")


def queued_config(
    body: ScheduledPublishCreate, video: Path | str, config: PublishConfig
) -> QueuedPublishConfig:
    from multipublish.queue import QueuedPublishConfig

    return QueuedPublishConfig(
        account_id=body.account_id,
        platforms=list(body.platforms),
        video_path=str(video),
        config=config,
        scheduled_time=body.scheduled_time,
        priority=body.priority,
        webhook_url=body.webhook_url,
        callback_data=body.callback_data,
        max_retries=body.max_retries,
        retry_delay=body.retry_delay,
    )


def prepare(
    body: ScheduledPublishCreate,
    roots: list[Path] | None,
    manager: PublishingManager,
    *,
    validate: bool = True,
) -> QueuedPublishConfig:
    """A ``QueuedPublishConfig`` for one scheduled request, after every check."""
    video, config = publish_config(body, roots)
    check_accounts(manager, body.account_id, list(body.platforms))
    if validate:
        check_video(manager, video, list(body.platforms), config)
    return queued_config(body, video, config)


def prepare_on_loop(
    body: ScheduledPublishCreate, roots: list[Path] | None, manager: PublishingManager
) -> QueuedPublishConfig | None:
    """``prepare`` for a coroutine when none of its checks can wait: ``None`` (nothing checked
    yet) for a video by URL (a ``HEAD`` request), a file whose probe is not cached (opening it
    takes tens of milliseconds), ``auto_fix`` (planning may probe further) or a webhook (its host
    is resolved); the caller then runs ``prepare`` on a thread. What is left is ``stat`` calls
    and one indexed read, which a SQLite reader in WAL mode answers without waiting for writers
    (PostgreSQL: ``prepare_on_loop_pg``). The same errors as ``prepare`` otherwise."""
    ready = _ready_on_loop(body, roots)
    if ready is None:
        return None
    check_accounts(manager, body.account_id, list(body.platforms))
    return _checked(manager, body, *ready)


def prepare_on_loop_pg(
    body: ScheduledPublishCreate, roots: list[Path] | None, manager: PublishingManager
) -> tuple[QueuedPublishConfig, tuple[str, list[str]]] | None:
    """``prepare_on_loop`` for PostgreSQL, without the account's read: the job and the
    ``(account_id, platforms)`` its enqueue must find (``PublishingQueue.add_job_on_loop``
    checks them in the insert itself, one round trip instead of two). ``None`` when a check
    cannot run here, or fails: ``prepare``'s errors come in its own order (the account before
    the video), so a refusal is left to the thread path, which says it as before."""
    ready = _ready_on_loop(body, roots)
    if ready is None:
        return None
    try:
        queued = _checked(manager, body, *ready)
    except MultipublishError:
        return None
    return queued, _account_need(body)


def _account_need(body: ScheduledPublishCreate) -> tuple[str, list[str]]:
    """The account and platforms ``check_accounts`` requires of ``body`` (the store's checked
    enqueue counts them once each)."""
    return body.account_id.strip(), [base_platform(p) for p in body.platforms]


def _ready_on_loop(
    body: ScheduledPublishCreate, roots: list[Path] | None
) -> tuple[Path, PublishConfig] | None:
    from multipublish.media.probe import is_cached
    from multipublish.media.remote import video_url_of

    if body.auto_fix or body.webhook_url is not None or video_url_of(body.video_path) is not None:
        return None
    video, config = publish_config(body, roots)
    if not isinstance(video, Path) or config.video_url is not None or not is_cached(video):
        return None
    return video, config


def _checked(
    manager: PublishingManager, body: ScheduledPublishCreate, video: Path, config: PublishConfig
) -> QueuedPublishConfig:
    check_video(manager, video, list(body.platforms), config)
    return queued_config(body, video, config)


def schedule_batch(
    items: list[ScheduledPublishCreate],
    *,
    roots: list[Path] | None,
    manager: PublishingManager,
    queue: PublishingQueue,
    field_prefix: str | None = "jobs",
    validate: bool = True,
) -> list[Job]:
    """Check every item, then add them all; returns the jobs in request order."""
    prepared: list[tuple[str | None, QueuedPublishConfig]] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        if field_prefix == "row":  # plan files: rows numbered from 1, like every other message
            where = f"row {i + 1}: "
        else:
            where = f"{field_prefix}[{i}]." if field_prefix else ""
        try:
            prepared.append((item.job_id, prepare(item, roots, manager, validate=validate)))
        except ValidationFailed as exc:
            if not where:
                raise
            raise InputError(f"{where}video_path", exc.reason) from None
        except InputError as exc:
            if not where:
                raise
            raise InputError(f"{where}{exc.field}", exc.reason) from None
        if item.job_id:
            if item.job_id in seen:
                raise InputError(f"{where}job_id", "appears twice in this batch")
            seen.add(item.job_id)
            if _job_exists(queue, item.job_id):
                raise ConflictError(f"job {item.job_id!r} already exists")
    jobs: list[Job] = []
    try:
        for job_id, qc in prepared:
            jobs.append(queue.add_job(job_id, qc))
    except BaseException:
        for job in jobs:  # best effort: leave nothing runnable behind
            try:
                queue.cancel_job(job.id)
            except Exception:
                pass
        raise
    return jobs


def _job_exists(queue: PublishingQueue, job_id: str) -> bool:
    try:
        return queue.get_job(job_id) is not None
    except NotFoundError:
        return False


# -- plan files (``multipublish schedule --from``) ---------------------------------------------
#: The columns of a plan (``multipublish schedule --help`` and the README describe them).
PLAN_COLUMNS: tuple[str, ...] = tuple(ScheduledPublishCreate.model_fields)


def read_plan(path: Path) -> list[ScheduledPublishCreate]:
    """Rows of a ``.csv`` or ``.json`` plan as validated requests (errors name row and field).

    Rows are numbered from 1 (the first job; a CSV's header row is not counted). A CSV may start
    with a UTF-8 byte-order mark (Excel writes one) and may be separated by ``;`` instead of ``,``.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("plan", "the plan is not UTF-8 text (save it as UTF-8 CSV)") from None
    rows: list[dict[str, Any]]
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError("plan", f"not valid JSON: {exc}") from None
        if isinstance(data, dict) and isinstance(data.get("jobs"), list):
            data = data["jobs"]
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise InputError("plan", "a JSON plan is a list of objects (or {\"jobs\": [...]})")
        rows = data
    elif path.suffix.lower() == ".csv":
        header = text.split("\n", 1)[0]
        delimiter = ";" if header.count(";") > header.count(",") else ","
        reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
        unknown = [c for c in (reader.fieldnames or []) if c and c.strip() not in PLAN_COLUMNS]
        if unknown:
            raise InputError(
                "plan", f"unknown column {unknown[0].strip()!r} (columns: {', '.join(PLAN_COLUMNS)})"
            )
        rows = [_csv_row(r, delimiter) for r in reader]
    else:
        raise InputError("plan", "the plan must be a .csv or .json file")
    if not rows:
        raise InputError("plan", "the plan has no rows")
    out: list[ScheduledPublishCreate] = []
    for i, row in enumerate(rows):
        try:
            out.append(ScheduledPublishCreate.model_validate(row))
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "row"
            raise InputError(f"row {i + 1}: {field}", _worded(err)) from None
    return out


def _worded(err: Any) -> str:
    """Our own wording of a pydantic error (its messages speak of Python types)."""
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    got = err.get("input")
    shown = f" (got {got!r})" if isinstance(got, str | int | float) and str(got) else ""
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind.startswith("int_"):
        return f"must be a whole number{shown}"
    if kind.startswith("float_"):
        return f"must be a number{shown}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}{shown}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}{shown}"
    if kind.startswith("datetime_"):
        return f"must be an ISO-8601 time such as 2026-11-07T10:00:00Z{shown}"
    if kind == "string_too_long":
        return f"is longer than {ctx.get('max_length')} characters"
    if kind in ("string_too_short", "too_short"):
        return "must not be empty"
    if kind == "string_pattern_mismatch":
        return f"has characters that are not allowed{shown}"
    if kind in ("dict_type", "model_type"):
        return "must be a JSON object"
    msg = str(err.get("msg", "is not valid"))
    return msg.removeprefix("Value error, ")


_LIST_COLUMNS = ("platforms", "tags")
_JSON_COLUMNS = ("platform_specific", "callback_data")
_INT_COLUMNS = ("priority", "max_retries")
_FLOAT_COLUMNS = ("retry_delay",)
_BOOL_COLUMNS = ("auto_fix",)
_BOOL_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _csv_row(row: dict[str | None, Any], delimiter: str = ",") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key is None or value is None or value == "":
            continue
        key = key.strip()
        if key in _LIST_COLUMNS:
            sep = "," if delimiter == ";" else (";" if ";" in value else ",")
            out[key] = [v.strip() for v in value.split(sep) if v.strip()]
        elif key in _JSON_COLUMNS:
            try:
                out[key] = json.loads(value)
            except json.JSONDecodeError:
                out[key] = value  # model validation names the field
        elif key in _INT_COLUMNS:
            out[key] = _number(value, int)
        elif key in _FLOAT_COLUMNS:
            out[key] = _number(value, float)
        elif key in _BOOL_COLUMNS:
            out[key] = _BOOL_WORDS.get(value.strip().lower(), value)  # else refused, field named
        else:
            out[key] = value.strip()
    return out


def _number(value: str, kind: type[int] | type[float]) -> Any:
    """CSV cells are text: a number in text becomes one; anything else is left for the model
    to refuse with the field named."""
    try:
        return kind(value.strip())
    except ValueError:
        return value.strip()
