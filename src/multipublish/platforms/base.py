"""What every platform client speaks: the publish request, its result and the client protocol.

The manager and the queue depend on these types only; the concrete clients (upload-post, YouTube)
live beside this module and know nothing of jobs, HTTP faces or the sandbox.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from multipublish.catalogue import PLATFORMS, POST_TYPES, PlatformKey, parse_platform
from multipublish.errors import ErrorKind

__all__ = [
    "PLATFORMS",
    "POST_TYPES",
    "PlatformClient",
    "PlatformKey",
    "PublishConfig",
    "PublishResult",
    "PublishStatus",
    "parse_platform",
]


class PublishStatus(StrEnum):
    """Outcome of one publish on one platform."""

    PUBLISHED = "published"  #: live (or accepted as a native scheduled post)
    PROCESSING = "processing"  #: accepted; the platform is still processing it
    FAILED = "failed"  #: confirmed failure
    UNKNOWN = "unknown"  #: outcome not confirmed; must be reconciled before any repost
    #: accepted by the service to be published later (an upload-post job); followed up by its id
    SCHEDULED = "scheduled"


@dataclass(slots=True)
class PublishConfig:
    """What to publish along with the video: text and per-platform options (the brief's shape)."""

    title: str = ""
    description: str = ""
    tags: list[str] = field(default_factory=list)
    #: Options per platform name, e.g. ``{"tiktok": {"privacy": "public"}}``.
    platform_specific: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Image for platforms that take a custom thumbnail (YouTube).
    thumbnail_path: str | None = None
    #: Native scheduling time on platforms that support it (YouTube ``publishAt``, upload-post).
    scheduled_time: datetime | None = None
    #: Title and description per language (BCP 47 tag -> ``{"title", "description"}``); YouTube
    #: gets them as ``localizations`` with ``snippet.defaultLanguage``.
    localizations: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Fix what the platform's rules refuse (reframe, remux, re-encode) before uploading, per
    #: platform, instead of failing validation (``multipublish.media.prepare``). ``thumbnail_path``
    #: ``"auto"`` picks and sets a YouTube thumbnail from the video.
    auto_fix: bool = False
    #: The video by ``http(s)://`` URL instead of a file: upload-post fetches it itself (its
    #: ``video`` field takes a URL). Set by the manager when ``video_path`` is a URL; validation
    #: is then partial (size from ``HEAD`` only) and YouTube refuses it (it takes bytes only).
    video_url: str | None = None

    def options_for(self, platform: str) -> dict[str, Any]:
        """The ``platform_specific`` options of one platform (empty when none)."""
        return dict(self.platform_specific.get(platform, {}))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy detached from this config (nested dicts and lists copied).

        Written out field by field: ``dataclasses.asdict`` walked every value through its generic
        recursion and was 8% of an enqueue (issue 12).
        """
        return {
            "title": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "platform_specific": _copy(self.platform_specific),
            "thumbnail_path": self.thumbnail_path,
            "scheduled_time": self.scheduled_time.isoformat() if self.scheduled_time else None,
            "localizations": _copy(self.localizations),
            "auto_fix": self.auto_fix,
            "video_url": self.video_url,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PublishConfig:
        st = data.get("scheduled_time")
        return cls(
            title=data.get("title") or "",
            description=data.get("description") or "",
            tags=list(data.get("tags") or []),
            platform_specific=dict(data.get("platform_specific") or {}),
            thumbnail_path=data.get("thumbnail_path"),
            scheduled_time=datetime.fromisoformat(st) if isinstance(st, str) else st,
            localizations=dict(data.get("localizations") or {}),
            auto_fix=bool(data.get("auto_fix", False)),
            video_url=data.get("video_url") or None,
        )


def _copy(value: Any) -> Any:
    """Dicts, lists and tuples copied all the way down (what ``asdict`` did to field values)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    return value


@dataclass(slots=True)
class PublishResult:
    """Result of publishing one video to one platform."""

    platform: str
    success: bool
    status: PublishStatus
    video_id: str | None = None
    url: str | None = None
    error: str | None = None
    error_kind: ErrorKind | None = None
    #: Seconds the platform asked us to wait (429 Retry-After, quota reset).
    retry_after: float | None = None
    #: Opaque handle to ask the platform again about this upload (request id, session URI).
    reference: str | None = None
    bytes_sent: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def failed(
        cls,
        platform: str,
        kind: ErrorKind,
        error: str,
        *,
        status: PublishStatus = PublishStatus.FAILED,
        reference: str | None = None,
        retry_after: float | None = None,
        bytes_sent: int = 0,
        details: dict[str, Any] | None = None,
        video_id: str | None = None,
        url: str | None = None,
    ) -> PublishResult:
        """A result that did not publish: a confirmed failure, or (``status``) not confirmed yet.

        ``video_id``/``url``: what the platform already told us about a post whose outcome is still
        to be reconciled (``status=UNKNOWN``), so the reconciliation can ask about it.
        """
        return cls(
            platform=platform,
            success=False,
            status=status,
            video_id=video_id,
            url=url,
            error=error,
            error_kind=kind,
            retry_after=retry_after,
            reference=reference,
            bytes_sent=bytes_sent,
            details=dict(details or {}),
        )

    @classmethod
    def scheduled(
        cls, platform: str, reference: str, *, retry_after: float, details: dict[str, Any] | None = None
    ) -> PublishResult:
        """Accepted by the service for a later time: not published yet, asked about again after
        ``retry_after`` seconds through ``reference``."""
        return cls(
            platform=platform,
            success=True,
            status=PublishStatus.SCHEDULED,
            reference=reference,
            retry_after=retry_after,
            details=dict(details or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = str(self.status)
        data["error_kind"] = str(self.error_kind) if self.error_kind else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PublishResult:
        kind = data.get("error_kind")
        return cls(
            platform=data["platform"],
            success=bool(data["success"]),
            status=PublishStatus(data["status"]),
            video_id=data.get("video_id"),
            url=data.get("url"),
            error=data.get("error"),
            error_kind=ErrorKind(kind) if kind else None,
            retry_after=data.get("retry_after"),
            reference=data.get("reference"),
            bytes_sent=int(data.get("bytes_sent") or 0),
            details=dict(data.get("details") or {}),
        )


#: ``progress(platform, bytes_sent, total_bytes)``, called as the upload advances.
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class ProtocolStep:
    """One step of a platform's protocol that a crash must not forget (session created, bytes
    confirmed, video id known, thumbnail set...). ``reference`` is everything needed to take the
    upload up again from this step (what :meth:`PlatformClient.reconcile` and ``resume`` read)."""

    name: str
    reference: str
    video_id: str | None = None
    url: str | None = None
    bytes_sent: int | None = None


#: ``await checkpoint(step)`` stores ``step`` durably; the client goes on to the next step only
#: once it returns (it raises when the step could not be stored: the client must stop there).
Checkpoint = Callable[[ProtocolStep], Awaitable[None]]


@dataclass(slots=True)
class PreparedUpload:
    """What a publisher's ``prepare_upload`` decided: the file to upload, or why none is."""

    #: The original file, or its rendition when ``auto_fix`` prepared one.
    path: Path
    #: ``{"actions", "path", "source"}`` when the file was fixed, else None.
    preparation: dict[str, Any] | None = None
    #: A failed result (validation, or a file preparation could not fix): nothing to upload.
    refusal: PublishResult | None = None


@runtime_checkable
class PlatformClient(Protocol):
    """One wire protocol for one platform, bound to one account's credentials."""

    platform: str

    async def publish(
        self,
        video_path: Path,
        config: PublishConfig,
        *,
        post_type: str,
        request_id: str,
        progress: ProgressCallback | None = None,
        checkpoint: Checkpoint | None = None,
        resume: str | None = None,
    ) -> PublishResult:
        """Upload and publish; never raises for platform failures (they become the result).

        ``resume``: the reference of an earlier attempt of this same publish that reconcile found
        unfinished; a client that can continue it (YouTube's resumable session) does so.
        """
        ...

    async def reconcile(self, reference: str, *, checkpoint: Checkpoint | None = None) -> PublishResult:
        """Ask the platform what became of an upload whose outcome was ``unknown``; finish the steps
        left when the platform has the post (thumbnail, playlist)."""
        ...

    async def authenticate(self) -> None:
        """Check (and refresh) the credentials; raises ``PlatformError(kind=AUTH)`` when refused."""
        ...

    async def aclose(self) -> None: ...


class Publisher(Protocol):
    """What the queue needs of the manager (tests and benchmarks may supply their own)."""

    async def publish_to_platform(
        self,
        account_id: str,
        platform: str,
        video_path: str,
        config: PublishConfig,
        *,
        request_id: str | None = None,
        progress: ProgressCallback | None = None,
        validate: bool = True,
        record_usage: bool = True,
        checkpoint: Checkpoint | None = None,
        resume: str | None = None,
    ) -> PublishResult: ...

    async def reconcile(
        self, account_id: str, platform: str, reference: str, *, checkpoint: Checkpoint | None = None
    ) -> PublishResult: ...


ReconcileFn = Callable[[str], Awaitable[PublishResult]]
