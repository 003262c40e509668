"""PublishingManager: the brief's entry point for accounts, validation and publishing.

It validates input, resolves the account, and fans a publish out to the platform clients. It knows
no HTTP face and no terminal: the REST API, the CLI, the dashboard and the queue all call it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine

from multipublish.accounts import AccountStore
from multipublish.db import ensure_schema, make_engine
from multipublish.errors import (
    ErrorKind,
    InputError,
    MultipublishError,
    PlatformError,
    strip_prefixes,
)
from multipublish.media.remote import check_video_url, video_url_of
from multipublish.platforms.base import (
    Checkpoint,
    PlatformClient,
    PreparedUpload,
    ProgressCallback,
    PublishConfig,
    PublishResult,
    parse_platform,
)
from multipublish.platforms.http import new_request_id
from multipublish.platforms.registry import build_client
from multipublish.settings import Settings, get_settings
from multipublish.usage.port import UsagePort, usage_port_for

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Target:
    """One platform of one publish, resolved and checked before any upload starts."""

    name: str  #: as asked, normalised (``instagram:stories``)
    base: str
    post_type: str
    client: PlatformClient
    account_id: str = ""


class PublishingManager:
    """Accounts, validation and publishing across platforms.

    Validation before upload refuses with a failed ``PublishResult`` (``error_kind=permanent``,
    the validation errors in ``error`` and the report in ``details["validation"]``) rather than
    raising, so one platform's refusal never stops the others of a multi-platform publish.
    Raised instead, before any upload: ``UnknownPlatformError`` (bad platform), ``NotFoundError``
    (no such account/platform), ``InputError`` (bad option, bad schedule, missing file).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        engine: Engine | None = None,
        database_url: str | None = None,
        usage: UsagePort | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self._usage = usage
        self._engine = engine
        self._database_url = database_url
        self._owns_engine = engine is None
        self._clients: dict[tuple[str, str], PlatformClient] = {}
        self._stale: list[PlatformClient] = []
        self._client_loops: dict[tuple[str, str], asyncio.AbstractEventLoop | None] = {}

    def __repr__(self) -> str:
        return f"PublishingManager(clients={len(self._clients)})"

    @cached_property
    def engine(self) -> Engine:
        """The project database, migrated on first use (validation alone never opens it)."""
        engine = self._engine or make_engine(self._database_url or self.settings.database_url)
        ensure_schema(engine)
        return engine

    @cached_property
    def usage(self) -> UsagePort:
        """Where publish attempts are counted: the port the service handed in, else the usage
        store in this manager's database (opened on the first publish, not on validation)."""
        return self._usage if self._usage is not None else usage_port_for(self.engine, self.settings)

    @cached_property
    def rules(self) -> Any:
        """The platform rules in effect (built-in table plus the user's rules file)."""
        from multipublish.media.rules import load_rules

        return load_rules(self.settings.rules_file)

    # -- validation -----------------------------------------------------------------------------
    def validate_video_for_platforms(
        self,
        video_path: str | Path,
        platforms: list[str],
        config: PublishConfig | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Per platform ``{"valid", "errors", "warnings", "media"}``; with ``config`` its text too.

        A video by URL (``video_path`` or ``config.video_url``) is validated partially: its size
        from a ``HEAD`` request, its text; the report says what was not checked.
        """
        from multipublish.media.validate import validate_url_for_platforms, validate_video_for_platforms

        url = video_url_of(video_path) or (config.video_url if config is not None else None)
        if url is not None:
            from multipublish.media.remote import head_video
            from multipublish.webhooks import check_webhook_url

            settings = self.settings
            remote = head_video(check_video_url(url), lambda u: check_webhook_url(u, settings))
            return validate_url_for_platforms(remote, platforms, self.rules, config=config)
        return validate_video_for_platforms(video_path, platforms, self.rules, config=config)

    def validate_config_for_platforms(
        self, config: PublishConfig, platforms: list[str]
    ) -> dict[str, dict[str, Any]]:
        """Per platform ``{"valid", "errors", "warnings"}`` for the text fields of ``config``."""
        from multipublish.media.validate import validate_config_for_platforms

        return validate_config_for_platforms(config, platforms, self.rules)

    # -- preparation (issue 13) ------------------------------------------------------------------
    @property
    def renditions_dir(self) -> Path:
        """The renditions cache folder in effect (settings, else beside the database)."""
        from multipublish.media.prepare import default_dir

        return self.settings.renditions_dir or default_dir(self.settings.database_url)

    def prepare_video_for_platforms(
        self,
        video_path: str | Path,
        platforms: list[str],
        out_dir: str | Path | None = None,
        trim: bool = False,
        fit: str = "pad",
        progress: Callable[[str, float], None] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Per platform ``{"path", "actions", "valid"}`` (and ``"error"``): a file each will take.

        Blocks while encoding in worker processes; from async code call it through
        ``asyncio.to_thread``. Without ``out_dir`` renditions go to the cache folder, pruned by the
        ``renditions_max_*`` settings.
        """
        from multipublish.media.prepare import PruneLimits, prepare_video_for_platforms

        limits = None
        if out_dir is None:
            age = self.settings.renditions_max_age_days
            limits = PruneLimits(
                max_age=age * 86400.0 if age is not None else None,
                max_bytes=self.settings.renditions_max_bytes,
            )
        return prepare_video_for_platforms(
            video_path,
            platforms,
            self.rules,
            Path(out_dir) if out_dir is not None else self.renditions_dir,
            trim=trim,
            fit=fit,
            progress=progress,
            prune_limits=limits,
        )

    # -- accounts -------------------------------------------------------------------------------
    @cached_property
    def accounts(self) -> AccountStore:
        """The account store (credentials encrypted with ``settings.secret_key``)."""
        return AccountStore(self.engine, self.settings)

    def add_account(self, account_id: str, platform: str, credentials: Mapping[str, Any]) -> dict[str, Any]:
        """Store (or replace) one platform's credentials under ``account_id``; returns them masked."""
        view = self.accounts.add(account_id, platform, credentials)
        self._evict(view["account_id"], view["platform"])
        return view

    def list_accounts(self, account_id: str | None = None) -> list[dict[str, Any]]:
        """Every stored (account, platform), credentials masked."""
        return self.accounts.list_accounts(account_id)

    def get_account(self, account_id: str, platform: str) -> dict[str, Any]:
        """One (account, platform), credentials masked; ``NotFoundError`` when absent."""
        return self.accounts.get(account_id, platform)

    def remove_account(self, account_id: str, platform: str | None = None) -> int:
        """Remove one platform of ``account_id`` (or all of them); returns how many were removed."""
        count = self.accounts.remove(account_id, platform)
        for key in [k for k in self._clients if k[0] == account_id]:
            if platform is None or key[1] == parse_platform(platform)[0]:
                self._evict(*key)
        return count

    def _evict(self, account_id: str, base: str) -> None:
        client = self._clients.pop((account_id, base), None)
        if client is not None:
            self._stale.append(client)

    def _client(self, account_id: str, base: str) -> PlatformClient:
        key = (account_id, base)
        loop = _running_loop()
        if key in self._clients and self._client_loops.get(key) is not loop:
            # httpx clients are bound to the event loop they first ran on; a script that calls
            # asyncio.run() twice gets fresh clients instead of "Event loop is closed".
            del self._clients[key]
        if key not in self._clients:
            self._client_loops[key] = loop
            record = self.accounts.load(account_id, base)

            def save(partial: dict[str, Any]) -> None:
                self.accounts.update_credentials(account_id, base, partial)

            self._clients[key] = build_client(base, account_id, record.credentials, self.settings, save)
        return self._clients[key]

    async def authenticate_account(self, account_id: str, platform: str) -> bool:
        """Check (and refresh) an account's credentials with the platform.

        ``False`` when the platform refuses them; transport failures raise ``PlatformError``.
        """
        base, _ = parse_platform(platform)
        client = self._client(account_id, base)
        try:
            await client.authenticate()
        except PlatformError as exc:
            if exc.kind is ErrorKind.AUTH:
                log.warning("account %s: %s refused the credentials", account_id, base)
                return False
            raise
        return True

    # -- publishing -----------------------------------------------------------------------------
    def _target(self, account_id: str, platform: str, config: PublishConfig) -> _Target:
        """Resolve and check one platform; raises before any upload when something is wrong."""
        base, post_type = parse_platform(platform)
        name = f"{base}:{post_type}" if ":" in platform else base
        client = self._client(account_id, base)
        check = getattr(client, "check", None)
        if callable(check):
            check(config, post_type)
        return _Target(name, base, post_type, client, account_id)

    @staticmethod
    def _source(
        video_path: str | Path, config: PublishConfig, targets: list[_Target]
    ) -> tuple[Path, PublishConfig]:
        """The file to upload, or (a video by URL) its name and the config carrying the URL.

        A URL is checked here, before any upload: YouTube cannot take one, and ``thumbnail_path``
        ``"auto"`` needs the file's frames.
        """
        url = video_url_of(video_path) or config.video_url
        if url is None:
            path = Path(video_path)
            if not path.is_file():
                raise InputError("video_path", f"no such file: {path.name}")
            return path, config
        url = check_video_url(url)
        for target in targets:
            if target.base == "youtube":
                raise InputError(
                    "video_path",
                    "YouTube takes the video's bytes (videos.insert), not a URL: give a local file "
                    "for youtube, or publish the URL to the upload-post platforms only",
                )
        if config.thumbnail_path == "auto":
            raise InputError("thumbnail_path", "'auto' picks a frame of a local file; a video URL has none")
        # Only the name travels to the client (for its logs); the bytes stay at the URL.
        name = Path(urlsplit(url).path).name or "video"
        return Path(name), replace(config, video_url=url)

    async def _validation_refusal(
        self, target: _Target, path: Path, config: PublishConfig
    ) -> PublishResult | None:
        source = config.video_url or path
        report = await asyncio.to_thread(self.validate_video_for_platforms, source, [target.name], config)
        entry = report.get(target.name) or report.get(target.base)
        if entry is None and len(report) == 1:
            entry = next(iter(report.values()))
        if entry is None or entry.get("valid", True):
            return None
        errors = list(entry.get("errors") or [])
        return PublishResult.failed(
            target.name,
            ErrorKind.PERMANENT,
            "validation failed: " + "; ".join(errors or ["refused"]),
            details={"validation": entry},
        )

    async def _run(
        self,
        target: _Target,
        path: Path,
        config: PublishConfig,
        *,
        request_id: str | None,
        progress: ProgressCallback | None,
        validate: bool,
        record_usage: bool = True,
        checkpoint: Checkpoint | None = None,
        resume: str | None = None,
    ) -> PublishResult:
        preparation: dict[str, Any] | None = None
        if validate:
            prepared = await self._prepare(target, path, config, None)
            if prepared.refusal is not None:
                return prepared.refusal
            path, preparation = prepared.path, prepared.preparation
        if config.thumbnail_path == "auto":
            config = await asyncio.to_thread(self._auto_thumbnail, target, path, config)
        rid = request_id or new_request_id()
        report: ProgressCallback | None = None
        if progress is not None:
            callback = progress

            def report(_platform: str, sent: int, total: int) -> None:
                callback(target.name, sent, total)  # named as the caller named it

        started = time.monotonic()
        try:
            result = await target.client.publish(
                path,
                config,
                post_type=target.post_type,
                request_id=rid,
                progress=report,
                checkpoint=checkpoint,
                resume=resume,
            )
        except PlatformError as exc:
            result = PublishResult.failed(
                target.name, exc.kind, exc.message, retry_after=exc.retry_after, reference=rid
            )
        result.platform = target.name
        if preparation is not None:
            result.details = {**(result.details or {}), "preparation": preparation}
        if result.error_kind is ErrorKind.AUTH and "authentication" not in (result.error or "").lower():
            # The brief's recipe checks `"authentication" in result.error.lower()` to re-authenticate.
            reason = strip_prefixes(result.error or "", target.name)  # one platform prefix, not two
            result.error = f"authentication failed: {reason or 'credentials refused'}"
        log.info(
            "publish %s -> %s: %s%s",
            rid,
            target.name,
            result.status,
            f" ({result.error_kind}: {result.error})" if result.error else "",
        )
        if record_usage:  # the port never raises: counting cannot fail a publish
            await asyncio.to_thread(
                self.usage.record,
                target.account_id,
                result,
                duration_s=time.monotonic() - started,
                post_type=target.post_type,
                config=config,
                request_id=rid,
            )
        return result

    async def prepare_upload(
        self,
        account_id: str,
        platform: str,
        video_path: str | Path,
        config: PublishConfig,
        *,
        progress: Callable[[float], None] | None = None,
    ) -> PreparedUpload:
        """Validate the file and text for one platform and, with ``config.auto_fix``, prepare the
        file (``progress(fraction)`` from a helper thread while it encodes).

        The queue runs this as its own step before the upload (``publish_to_platform`` with the
        prepared path and ``validate=False`` afterwards), so the job can show the preparation's
        progress and store what was done before anything is sent.
        """
        target = self._target(account_id, platform, config)
        path, config = self._source(video_path, config, [target])
        return await self._prepare(target, path, config, progress)

    async def _prepare(
        self,
        target: _Target,
        path: Path,
        config: PublishConfig,
        progress: Callable[[float], None] | None,
    ) -> PreparedUpload:
        refusal = await self._validation_refusal(target, path, config)
        if refusal is None:
            return PreparedUpload(path)
        if not config.auto_fix or config.video_url:  # preparation needs the file itself
            return PreparedUpload(path, refusal=refusal)
        return await self._auto_fix(target, path, config, refusal, progress)

    async def _auto_fix(
        self,
        target: _Target,
        path: Path,
        config: PublishConfig,
        refusal: PublishResult,
        progress: Callable[[float], None] | None,
    ) -> PreparedUpload:
        """Prepare the file for this platform; the path to upload and what was done, or a refusal.

        Encoding runs in worker processes (through a thread: the event loop is never blocked). A
        retried publish finds the finished rendition in the cache and reuses it.
        """
        hook = None if progress is None else (lambda _name, fraction: progress(fraction))
        fixed = await asyncio.to_thread(self.prepare_video_for_platforms, path, [target.name], progress=hook)
        entry = fixed[target.name]
        details = dict(refusal.details or {})
        if not entry["valid"]:
            refusal.error = f"{refusal.error}; auto_fix could not fix it: {entry.get('error')}"
            refusal.details = {**details, "preparation": entry}
            return PreparedUpload(path, refusal=refusal)
        prepared = Path(entry["path"])
        again = await self._validation_refusal(target, prepared, config)  # the text may still fail
        if again is not None:
            again.details = {**(again.details or {}), "preparation": entry}
            return PreparedUpload(path, refusal=again)
        log.info("auto_fix %s for %s: %s", path.name, target.name, ", ".join(entry["actions"]))
        done = {"actions": entry["actions"], "path": entry["path"], "source": str(path)}
        return PreparedUpload(prepared, preparation=done)

    def _auto_thumbnail(self, target: _Target, path: Path, config: PublishConfig) -> PublishConfig:
        """``thumbnail_path="auto"``: a picked frame for YouTube (cached), nothing elsewhere."""
        from dataclasses import replace

        if target.base != "youtube":
            return replace(config, thumbnail_path=None)
        from multipublish.media.prepare.renditions import content_hash
        from multipublish.media.thumbnail import make_thumbnail

        folder = self.renditions_dir
        try:
            folder.mkdir(parents=True, exist_ok=True)
            out = folder / f"{path.stem[:60]}.{content_hash(path)[:16]}.thumbnail.jpg"
            if not out.exists():
                make_thumbnail(path, out, platform="youtube")
        except (MultipublishError, OSError) as exc:  # a publish without a thumbnail beats none
            log.warning("no automatic thumbnail for %s: %s", path.name, exc)
            return replace(config, thumbnail_path=None)
        return replace(config, thumbnail_path=str(out))

    def plan_fixes(self, video_path: str | Path, platforms: list[str]) -> dict[str, str | None]:
        """Per platform why preparation could not fix the file, or None (no encoding done)."""
        from multipublish.media.prepare import plan_errors

        return plan_errors(video_path, platforms, self.rules)

    async def publish_to_platform(
        self,
        account_id: str,
        platform: str,
        video_path: str | Path,
        config: PublishConfig,
        *,
        request_id: str | None = None,
        progress: ProgressCallback | None = None,
        validate: bool = True,
        record_usage: bool = True,
        checkpoint: Checkpoint | None = None,
        resume: str | None = None,
    ) -> PublishResult:
        """Publish one video to one platform (``instagram:stories`` etc.) of one account.

        ``request_id`` identifies this upload at the service (the queue passes a stable one so an
        unknown outcome can be reconciled); one is generated when omitted. ``record_usage=False``:
        the caller counts the attempt itself (the queue does, after the result is stored).
        ``checkpoint`` receives each protocol step before the next starts (the queue stores them);
        ``resume`` is the reference of an unfinished earlier attempt to continue.
        """
        target = self._target(account_id, platform, config)
        path, config = self._source(video_path, config, [target])
        return await self._run(
            target,
            path,
            config,
            request_id=request_id,
            progress=progress,
            validate=validate,
            record_usage=record_usage,
            checkpoint=checkpoint,
            resume=resume,
        )

    async def publish_multi_platform(
        self,
        account_id: str,
        platforms: list[str],
        video_path: str | Path,
        config: PublishConfig,
        *,
        progress: ProgressCallback | None = None,
        validate: bool = True,
    ) -> dict[str, PublishResult]:
        """Publish to several platforms concurrently; one platform's failure never stops the others.

        Every platform, account and option is checked before the first upload starts.
        """
        if not platforms:
            raise InputError("platforms", "name at least one platform")
        targets: dict[str, _Target] = {}
        for platform in platforms:
            target = self._target(account_id, platform, config)
            targets.setdefault(target.name, target)
        path, config = self._source(video_path, config, list(targets.values()))
        outcomes = await asyncio.gather(
            *(
                self._run(t, path, config, request_id=None, progress=progress, validate=validate)
                for t in targets.values()
            ),
            return_exceptions=True,
        )
        results: dict[str, PublishResult] = {}
        for name, outcome in zip(targets, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):
                    raise outcome
                results[name] = _crashed(name, outcome)
            else:
                results[name] = outcome
        return results

    async def publish_batch(
        self, specs: list[dict[str, Any]], concurrency: int = 4
    ) -> list[dict[str, PublishResult]]:
        """Publish several videos, at most ``concurrency`` at a time; results in the order given.

        Each spec: ``{"account_id", "platforms" (or "platform"), "video_path", "config",
        "validate"=True}`` where ``config`` is a ``PublishConfig`` or its dict (or the config's
        fields ``title``, ``description``, ``tags``, ``platform_specific`` inline).
        A malformed spec is refused before anything starts; a spec that fails later (missing
        account, bad option) gets failed results.
        """
        if concurrency < 1:
            raise InputError("concurrency", "must be at least 1")
        jobs = [_batch_spec(i, spec) for i, spec in enumerate(specs)]
        gate = asyncio.Semaphore(concurrency)

        async def one(job: _BatchJob) -> dict[str, PublishResult]:
            account_id, platforms, video_path, config, validate = job
            async with gate:
                try:
                    return await self.publish_multi_platform(
                        account_id, platforms, video_path, config, validate=validate
                    )
                except MultipublishError as exc:
                    return {p: _crashed(p, exc) for p in platforms}

        return list(await asyncio.gather(*(one(job) for job in jobs)))

    async def reconcile(
        self, account_id: str, platform: str, reference: str, *, checkpoint: Checkpoint | None = None
    ) -> PublishResult:
        """Ask the platform what became of an upload reported ``unknown`` (never re-uploads); the
        steps left after a confirmed post (thumbnail, playlist) are finished and checkpointed."""
        base, _ = parse_platform(platform)
        result = await self._client(account_id, base).reconcile(reference, checkpoint=checkpoint)
        result.platform = platform.strip().lower()
        return result

    async def aclose(self) -> None:
        """Close every platform client (and the engine this manager created)."""
        loop = _running_loop()
        clients = [c for k, c in self._clients.items() if self._client_loops.get(k) is loop]
        clients += self._stale
        self._clients.clear()
        self._client_loops.clear()
        self._stale.clear()
        for client in clients:
            # A client from an event loop that has ended holds no usable connection; closing it
            # from here would touch the dead loop.
            await client.aclose()
        if self._owns_engine and "engine" in self.__dict__:
            self.engine.dispose()

    async def __aenter__(self) -> PublishingManager:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _crashed(platform: str, exc: Exception) -> PublishResult:
    """A failed result for an error raised where a result was expected (no secrets: our errors)."""
    if isinstance(exc, PlatformError):
        kind = exc.kind
    elif isinstance(exc, MultipublishError):
        kind = ErrorKind.PERMANENT
    else:
        kind = ErrorKind.TRANSIENT
    message = exc.message if isinstance(exc, MultipublishError) else type(exc).__name__
    return PublishResult.failed(platform, kind, message)


_BatchJob = tuple[str, list[str], str, PublishConfig, bool]


def _batch_spec(index: int, spec: Any) -> _BatchJob:
    where = f"specs[{index}]"
    if not isinstance(spec, Mapping):
        raise InputError(where, "must be an object")
    account_id = spec.get("account_id")
    if not isinstance(account_id, str) or not account_id:
        raise InputError(f"{where}.account_id", "required")
    platforms = spec.get("platforms") or ([spec["platform"]] if spec.get("platform") else None)
    if isinstance(platforms, str):
        platforms = [p for p in platforms.split(",") if p.strip()]
    if not isinstance(platforms, list) or not platforms:
        raise InputError(f"{where}.platforms", "name at least one platform")
    for p in platforms:
        parse_platform(p)
    video_path = spec.get("video_path")
    if not isinstance(video_path, str | Path) or not str(video_path):
        raise InputError(f"{where}.video_path", "required")
    config = spec.get("config")
    if config is None:
        config = PublishConfig(
            title=str(spec.get("title") or ""),
            description=str(spec.get("description") or ""),
            tags=list(spec.get("tags") or []),
            platform_specific=dict(spec.get("platform_specific") or {}),
        )
    elif isinstance(config, Mapping):
        config = PublishConfig.from_dict(dict(config))
    if not isinstance(config, PublishConfig):
        raise InputError(f"{where}.config", "must be a PublishConfig or an object")
    validate = spec.get("validate", True)
    if not isinstance(validate, bool):
        raise InputError(f"{where}.validate", "must be true or false")
    return account_id, [p.strip() for p in platforms], str(video_path), config, validate
