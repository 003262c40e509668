"""Everything the sandbox remembers, behind one lock.

The emulators run in one uvicorn process (often in a background thread of a test session), so every
read-modify-write of this state happens while holding ``SandboxState.lock``.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

#: Platforms a fault may name: the four upload-post ones, YouTube, and the OAuth token endpoint.
FAULT_PLATFORMS = ("tiktok", "instagram", "facebook", "linkedin", "youtube", "token")
UPLOAD_POST_PLATFORMS = ("tiktok", "instagram", "facebook", "linkedin", "youtube")
FAULT_KINDS = (
    "http_500",
    "rate_limit",
    "drop_connection",
    "slow",
    "expired_token",
    "quota_exceeded",
    "lose_response",
    "reject",
    "rate_limit_reset",
    "hard_cap",
)
#: Which requests a fault hits (``on``): upload-post ``upload``/``status``; YouTube ``insert``
#: (session start), ``chunk`` (any PUT with bytes), ``final_chunk`` (the one that completes),
#: ``query`` (``bytes */N``), ``thumbnail``, ``playlist``, ``list``, ``channels``; ``token``; ``any``.
#: ``due``: an upload-post scheduled post when its time comes (``reject`` fails it then, as a
#: platform refuses a scheduled post only when it is published).
FAULT_TARGETS = (
    "any",
    "upload",
    "due",
    "status",
    "insert",
    "chunk",
    "final_chunk",
    "query",
    "thumbnail",
    "playlist",
    "list",
    "channels",
    "token",
    "analytics",
)


def default_target(platform: str, fault: str) -> str:
    """The requests a fault hits when the caller does not say (``on``)."""
    if platform == "token":
        return "token"
    if platform == "youtube":
        if fault == "drop_connection":
            return "chunk"
        if fault == "lose_response":
            return "final_chunk"
        if fault == "quota_exceeded":
            return "insert"
        return "any"
    return "upload"


#: The values of a channel's ``status.longUploadsStatus`` (channels resource).
LONG_UPLOADS = ("allowed", "eligible", "disallowed", "longUploadsUnspecified")

@dataclass
class Fault:
    """One armed fault: hits the next ``times`` requests of ``platform`` that match ``on``."""

    platform: str
    fault: str
    times: int = 1
    on: str = "any"
    #: ``slow``: seconds to wait; ``rate_limit``: the Retry-After value; ``rate_limit_reset``:
    #: seconds until the ``X-RateLimit-Reset`` it sends (and no Retry-After).
    seconds: float = 2.0
    #: ``reject``: the ``error_code`` of the platform's failed result (none when empty: upload-post's
    #: documented per-platform failures carry only their words).
    code: str = ""
    id: str = field(default_factory=lambda: secrets.token_hex(6))
    hits: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SandboxConfig:
    """Knobs a test may turn through ``POST /_sandbox/config``; reset with the rest of the state."""

    #: upload-post uploads a user may make per month before 429 quota_exceeded.
    plan_limit: int = 1000
    #: upload-post requests per API key per minute (the X-RateLimit-* headers).
    rate_limit_per_minute: int = 1000
    #: Lifetime (``expires_in``) of access tokens the token endpoint issues.
    token_lifetime: int = 3599
    #: Accept any Bearer token on the YouTube endpoints, not only the ones this sandbox issued.
    accept_any_token: bool = False
    #: Status polls an async upload-post upload answers ``in_progress`` before ``completed``.
    async_pending_polls: int = 0
    #: Seconds after which a synchronous upload-post upload is answered as an async one.
    sync_timeout: float = 59.0
    #: Keep received media files on disk (sha256 and size are recorded either way).
    store_media: bool = True
    #: YouTube daily quota in units for every method but videos.insert and search.list
    #: (thumbnails.set and playlistItems.insert 50, videos.list 1).
    youtube_quota: int = 1_000_000
    #: videos.insert calls a day: that method has its own bucket, 1 per call, 100 a day by default at
    #: Google (developers.google.com/youtube/v3/determine_quota_cost); generous here like the units.
    youtube_insert_calls: int = 1_000_000
    #: Videos a channel may upload before 400 uploadLimitExceeded.
    youtube_upload_limit: int = 1000
    #: The Google Cloud project has not passed YouTube's API audit: every upload is private,
    #: whatever privacy was asked (developers.google.com/youtube/v3/docs/videos/insert).
    youtube_unaudited: bool = False
    #: Show Google's consent page (Allow / Cancel) at ``/o/oauth2/auth`` instead of granting at
    #: once, for tests that drive a browser through the web flow.
    consent_screen: bool = False
    #: Scopes the user grants at consent (space-separated); empty: every scope asked. With only
    #: ``youtube.upload``, thumbnails.set, playlistItems.insert and videos.list answer 403.
    youtube_granted_scopes: str = ""
    #: ``videos.list`` calls that still see a new video ``processing`` before it settles.
    youtube_processing_polls: int = 0
    #: How processing ends: ``succeeded`` (processed), ``failed`` (transcode) or ``rejected``.
    youtube_processing_outcome: str = "succeeded"
    #: ``status.longUploadsStatus`` that ``channels.list`` reports, by channel id (a channel not
    #: named has ``youtube_long_uploads_default``): ``allowed`` (verified: over 15 minutes),
    #: ``eligible`` (may verify), ``disallowed`` or ``longUploadsUnspecified``.
    youtube_long_uploads: dict[str, str] = field(default_factory=dict)
    youtube_long_uploads_default: str = "allowed"
    #: Seconds after an upload during which its status (and history entry) is not found yet:
    #: the service's status lags behind its uploads (docs: wait about 5 s, then poll).
    status_lag: float = 0.0
    #: upload-post profiles: ``{"username": ["tiktok", ...connected platforms]}``. Empty: every
    #: user exists with every platform connected (lenient); set, uploads are checked against it.
    profiles: dict[str, list[str]] = field(default_factory=dict)
    #: The plan ``GET /uploadposts/users`` reports; ``free`` has no TikTok (upload-post's TikTok
    #: guide: "TikTok posting needs a paid plan, it's not available on Free").
    plan: str = "sandbox"
    #: Facebook pages connected to every profile (``GET /uploadposts/facebook/pages``). An upload
    #: without ``facebook_page_id`` goes to the only one, or is refused with ``available_pages``.
    facebook_pages: list[dict[str, str]] = field(
        default_factory=lambda: [{"page_id": "1122334455", "page_name": "Sandbox Page"}]
    )

    def update(self, values: dict[str, Any]) -> None:
        """Set known fields from ``values``, coercing to the field's type; unknown keys raise."""
        known = {f.name: f for f in fields(self)}
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"unknown config field {key!r}")
            current = getattr(self, key)
            if key == "profiles":
                value = _profiles(value)
            elif key == "facebook_pages":
                if not isinstance(value, list) or not all(
                    isinstance(p, dict) and isinstance(p.get("page_id"), str) for p in value
                ):
                    raise ValueError("facebook_pages must be a list of {page_id, page_name}")
            elif key == "youtube_processing_outcome":
                if value not in ("succeeded", "failed", "rejected"):
                    raise ValueError("youtube_processing_outcome must be succeeded, failed or rejected")
            elif key == "youtube_long_uploads":
                if not isinstance(value, dict) or not all(
                    isinstance(k, str) and v in LONG_UPLOADS for k, v in value.items()
                ):
                    raise ValueError(
                        f"youtube_long_uploads maps channel ids to one of {', '.join(LONG_UPLOADS)}"
                    )
            elif key == "youtube_long_uploads_default":
                if value not in LONG_UPLOADS:
                    raise ValueError(
                        f"youtube_long_uploads_default must be one of {', '.join(LONG_UPLOADS)}"
                    )
            elif key == "plan":
                if not isinstance(value, str) or not value:
                    raise ValueError("plan must be a non-empty string")
            elif isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be a boolean")
            elif isinstance(current, float):
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ValueError(f"{key} must be a non-negative number")
                value = float(value)
            elif isinstance(current, int):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"{key} must be a non-negative integer")
            setattr(self, key, value)


def _profiles(value: Any) -> dict[str, list[str]]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(p, str) for p in v)
        for k, v in value.items()
    ):
        raise ValueError("profiles must map a username to a list of platform names")
    return {k: list(v) for k, v in value.items()}


class HashingSink:
    """Receives bytes as they stream in: hashes them, counts them, optionally writes them to disk."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.sha = hashlib.sha256()
        self.size = 0
        self._fh = path.open("wb") if path is not None else None

    def write(self, data: bytes | memoryview) -> None:
        self.sha.update(data)
        self.size += len(data)
        if self._fh is not None:
            self._fh.write(data)

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def hexdigest(self) -> str:
        return self.sha.hexdigest()


@dataclass
class YouTubeSession:
    """One resumable upload session: what was asked for and how many bytes were persisted."""

    id: str
    channel: str
    metadata: dict[str, Any]
    parts: list[str]
    total: int | None
    content_type: str
    sink: HashingSink
    created: float
    video_id: str | None = None


class SandboxState:
    """Posts, faults, sessions, tokens, usage and config of one sandbox app."""

    def __init__(
        self, data_dir: Path | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self._own_dir = data_dir is None
        self.data_dir = Path(tempfile.mkdtemp(prefix="mp-sandbox-")) if data_dir is None else data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._init()

    def _init(self) -> None:
        self.config = SandboxConfig()
        self.posts: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        #: upload-post requests by request id (also the target of ``status?request_id=``).
        self.requests: dict[str, dict[str, Any]] = {}
        #: upload-post scheduled jobs by job id.
        self.jobs: dict[str, dict[str, Any]] = {}
        #: upload-post usage per user: [count, last_reset (epoch seconds)].
        self.usage: dict[str, list[float]] = {}
        #: upload-post answers by (api key, Idempotency-Key header).
        self.idempotency: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        #: upload-post rate windows per api key: [window_start, count].
        self.rate_windows: dict[str, list[float]] = {}
        #: Issued access tokens -> expiry (epoch seconds).
        self.access_tokens: dict[str, float] = {}
        #: Issued access tokens -> the channel id of the account they were issued for.
        self.token_channels: dict[str, str] = {}
        #: Refresh tokens issued through the authorization_code grant (others are accepted too).
        self.refresh_tokens: set[str] = set()
        #: Authorization codes -> (PKCE code_challenge, redirect_uri) given at consent: the token
        #: exchange must send the matching code_verifier and the same redirect_uri.
        self.auth_codes: dict[str, tuple[str, str]] = {}
        #: Authorization codes -> the scopes granted at their consent (space-separated), and the
        #: refresh tokens they were exchanged for -> the same: the token answers carry them.
        self.code_scopes: dict[str, str] = {}
        self.refresh_scopes: dict[str, str] = {}
        self.sessions: dict[str, YouTubeSession] = {}
        self.videos: dict[str, dict[str, Any]] = {}
        self.playlist_items: list[dict[str, Any]] = []
        self.thumbnails: dict[str, dict[str, Any]] = {}
        #: Resumable thumbnails.set sessions by upload id (channel, video_id, data, answer).
        self.thumbnail_sessions: dict[str, dict[str, Any]] = {}
        self.youtube_quota_used = 0
        #: videos.insert calls charged to their own bucket.
        self.youtube_inserts_used = 0
        #: Issued access tokens -> the scopes granted with them (space-separated).
        self.token_scopes: dict[str, str] = {}
        #: Video id -> ``videos.list`` calls left before its processing settles.
        self.youtube_processing: dict[str, int] = {}
        #: Video id -> the ``rejectionReason`` its processing ends with whatever the configured
        #: outcome (``length``: over 15 minutes on a channel without long uploads).
        self.youtube_rejections: dict[str, str] = {}
        #: Hidden audiences (multipublish.sandbox.audience) by account key, and each video's titles
        #: over time (the experiment's switch changes how fast views come in).
        self.audiences: dict[str, Any] = {}
        self.title_history: dict[str, list[tuple[float, str]]] = {}
        #: Video id -> (time set, sha256 of the image) of each ``thumbnails.set``.
        self.thumbnail_history: dict[str, list[tuple[float, str]]] = {}

    def reset(self) -> None:
        """Forget everything (``DELETE /_sandbox/posts``), including received media files."""
        with self.lock:
            for session in self.sessions.values():
                session.sink.close()
            for child in self.data_dir.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
            self._init()

    def close(self) -> None:
        """Release files; remove the data directory when the state created it."""
        self.reset()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def media_path(self, name: str) -> Path | None:
        """Where to keep a received file, or ``None`` when media is not stored."""
        return self.data_dir / name if self.config.store_media else None

    # -- faults ---------------------------------------------------------------------------------

    def arm(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def take_fault(
        self, platforms: list[str] | tuple[str, ...], target: str, kinds: tuple[str, ...] = ()
    ) -> Fault | None:
        """Consume one use of the first armed fault for one of ``platforms`` that hits ``target``."""
        with self.lock:
            for armed in self.faults:
                if armed.platform not in platforms:
                    continue
                if kinds and armed.fault not in kinds:
                    continue
                if not _target_matches(armed.on, target):
                    continue
                armed.times -= 1
                armed.hits += 1
                if armed.times <= 0:
                    self.faults.remove(armed)
                return armed
        return None

    def add_post(self, post: dict[str, Any]) -> None:
        with self.lock:
            self.posts.append(post)


def _target_matches(on: str, target: str) -> bool:
    if on == "any" or on == target:
        return True
    # A final chunk is also a chunk.
    return on == "chunk" and target == "final_chunk"


def new_id(prefix: str = "", nbytes: int = 8) -> str:
    """A random id, URL-safe."""
    return prefix + secrets.token_hex(nbytes)
