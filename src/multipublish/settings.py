"""One settings object for every entrypoint.

Read from the environment (prefix ``MULTIPUBLISH_``) and an optional ``.env`` file. Built once by the
entrypoint and passed down, so tests can hand their own ``Settings`` to any component.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Units of each YouTube Data API call multipublish makes, as Google documents them in the quota
#: table of developers.google.com/youtube/v3/determine_quota_cost (thumbnails.set: "approximately
#: 50 units", developers.google.com/youtube/v3/docs/thumbnails/set). ``videos.insert``'s 1,600 units
#: count only when its own bucket (``youtube_daily_uploads``) is turned off.
YOUTUBE_UNIT_COSTS: dict[str, int] = {
    "videos.insert": 1600,
    "thumbnails.set": 50,
    "playlistItems.insert": 50,
    "playlistItems.list": 1,
    "videos.list": 1,
    "videos.update": 50,
    "channels.list": 1,
}


class Settings(BaseSettings):
    """Every knob of multipublish; each field maps to ``MULTIPUBLISH_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="MULTIPUBLISH_", env_file=".env", extra="ignore", frozen=False
    )

    #: SQLAlchemy URL of the project database (accounts, jobs, results, tokens, usage).
    database_url: str = "sqlite:///multipublish.db"
    #: Fernet key that encrypts stored credentials (``multipublish keygen`` prints a new one).
    secret_key: SecretStr | None = None

    #: Point every platform client at one sandbox (``multipublish sandbox``) at once.
    sandbox_url: str | None = None
    #: upload-post.com API base (TikTok, Instagram, Facebook, LinkedIn).
    upload_post_url: str = "https://api.upload-post.com/api"
    #: Root of the YouTube Data API (``{root}youtube/v3/...``).
    youtube_api_url: str = "https://www.googleapis.com/"
    #: Root of the YouTube upload host (``{root}upload/youtube/v3/...``).
    youtube_upload_url: str = "https://www.googleapis.com/"
    #: Root of the YouTube Analytics API (``{root}v2/reports``).
    youtube_analytics_url: str = "https://youtubeanalytics.googleapis.com/"
    #: Google OAuth2 token endpoint. The only one used: a ``token_uri`` sent with credentials is
    #: ignored (it could point inside the network).
    google_token_url: str = "https://oauth2.googleapis.com/token"
    #: Google's consent page (``multipublish accounts auth``), whatever the client secrets say.
    google_auth_url: str = "https://accounts.google.com/o/oauth2/auth"
    #: Folder whose files ``client_secrets_file`` may name (relative names are taken from it).
    #: Unset: the REST API takes no secrets paths (send ``client_secrets`` content instead).
    google_secrets_dir: Path | None = None
    #: Folder under which an account's ``oauth_storage_dir`` must lie (relative ones are taken from
    #: it). Unset: the REST API takes no ``oauth_storage_dir``.
    google_token_dir: Path | None = None

    #: YAML/JSON/TOML file that overrides or extends the platform rules table.
    rules_file: Path | None = None

    #: Seconds of every HTTP call before it counts as a timeout (uploads: per chunk / read).
    http_timeout: float = 60.0
    #: YouTube resumable chunk size in bytes (a multiple of 256 KiB).
    youtube_chunk_size: int = 8 * 1024 * 1024
    #: How long to follow YouTube's processing of an uploaded video (``videos.list``
    #: ``processingDetails``) before reporting it; 0: not followed. Rejected or failed
    #: processing is a failed publish.
    youtube_processing_timeout: float = 120.0
    #: Seconds a channel's ``longUploadsStatus`` (may it upload over 15 minutes?) is kept on the
    #: account before ``channels.list`` is asked again; asked only for videos over 15 minutes.
    youtube_channel_status_ttl: float = Field(default=6 * 3600.0, ge=0)
    #: How long to follow an asynchronous upload-post upload through its status endpoint.
    status_poll_timeout: float = 600.0
    #: First wait between status polls (then grows to ``status_poll_max_interval``).
    status_poll_interval: float = 5.0
    status_poll_max_interval: float = 15.0
    #: After an upload whose answer was lost, how long a 404 from the status endpoint is read as
    #: the service lagging, not as "never accepted" (docs.upload-post.com/api/upload-status:
    #: wait about 5 s, then poll every 5-15 s). Polled with backoff; then the outcome is unknown.
    status_not_found_window: float = 120.0
    #: Ask upload-post's profiles listing (``/uploadposts/users``) before an upload whether the
    #: profile exists and the platform is connected, so a wrong profile costs no upload.
    upload_post_check_profile: bool = True
    #: Send upload-post uploads with ``async_upload=true`` (answered at once, then followed
    #: through the status endpoint) instead of waiting on the upload request itself.
    upload_post_async: bool = False

    #: Length of a worker's lease on a claimed job.
    lease_seconds: int = 60
    #: Base of the exponential retry backoff, seconds (the brief's 5 minutes).
    retry_base_delay: float = 300.0
    #: Concurrent uploads per platform, across all workers.
    platform_concurrency: dict[str, int] = Field(
        default_factory=lambda: {
            "tiktok": 4,
            "instagram": 4,
            "facebook": 4,
            "linkedin": 4,
            "youtube": 2,
        }
    )
    #: Concurrent uploads per account, across all workers.
    account_concurrency: int = 4
    #: Async workers per process (``multipublish worker`` / ``PublishingQueue.start``).
    worker_concurrency: int = 4
    #: Longest sleep of an idle worker between checks (wake-ups and timers make most sleeps short).
    queue_poll_interval: float = 5.0
    #: Finished jobs older than this (seconds) move to ``jobs_archive`` (the hot table stays small).
    job_retention_seconds: float = 7 * 86400.0
    #: Seconds a graceful stop waits for uploads in flight before handing them back.
    shutdown_grace_seconds: float = 30.0
    #: Delivery attempts of one webhook message before it is marked failed.
    webhook_max_attempts: int = 8
    #: Seconds of one webhook POST.
    webhook_timeout: float = 10.0

    #: Global Standard Webhooks secret (``whsec_...``); accounts may carry their own.
    webhook_secret: SecretStr | None = None
    #: Secrets per account id (JSON: ``{"my_account": "whsec_..."}``); they win over the global one,
    #: so each client of an agency verifies its webhooks with a secret of its own.
    webhook_secrets: dict[str, SecretStr] = Field(default_factory=dict)
    #: Hosts or CIDR ranges webhooks may reach although private/loopback (comma separated).
    webhook_allow_hosts: str = ""

    #: Directories that ``video_path`` may name, separated by ``os.pathsep``.
    media_roots: str = ""

    # -- media preparation (multipublish.media.prepare) ----------------------------------------
    #: Folder of prepared renditions; default: ``multipublish-renditions`` beside an SQLite
    #: database, else ``$XDG_CACHE_HOME/multipublish/renditions``.
    renditions_dir: Path | None = None
    #: Renditions not used for this many days are removed (``None``: kept).
    renditions_max_age_days: float | None = 30.0
    #: The oldest renditions are removed while the folder holds more than this (``None``: no cap).
    renditions_max_bytes: int | None = 20 * 1024**3

    #: Who may read ``/docs``, ``/redoc`` and ``/openapi.json``: ``token`` (an API token or a
    #: dashboard session), ``open`` (anyone who reaches the server) or ``off``.
    api_docs: Literal["open", "token", "off"] = "token"

    #: Largest JSON (or form) request body the API reads, bytes; larger ones get a 413 unread.
    max_json_body_bytes: int = 4 * 1024 * 1024
    #: Largest upload (``POST /api/publishing/uploads``), bytes; unset: the largest file any
    #: platform in the rules takes (YouTube's 256 GB). An upload must also fit on the disk.
    max_upload_bytes: int | None = None

    #: Emit logs as JSON lines.
    log_json: bool = False
    log_level: str = "INFO"

    # -- usage, quotas and costs (multipublish.usage) ------------------------------------------
    #: Check and reserve platform quota before each publish; off: only record usage.
    quota_enforce: bool = True
    #: Record publishes made through the manager directly (not via the queue) in the usage tables.
    record_usage: bool = True
    #: Uploads per month of the upload-post plan (free tier: 10); the service's ``usage`` block wins.
    upload_post_monthly_limit: int = 10
    #: YouTube Data API units per day per Google Cloud project, shared by its channels: "10,000
    #: units per day combined for all other endpoints" (determine_quota_cost).
    youtube_daily_units: int = Field(default=10_000, ge=0)
    #: Units charged per YouTube call; a method left out keeps its documented cost
    #: (``YOUTUBE_UNIT_COSTS``), so ``{"thumbnails.set": 60}`` changes only that one.
    youtube_unit_costs: dict[str, int] = Field(default_factory=lambda: dict(YOUTUBE_UNIT_COSTS))
    #: ``videos.insert`` calls per day per project, its own bucket: "The search.list and
    #: videos.insert methods have their own quota buckets. Each of these methods has a default daily
    #: limit of 100 per day. The quota cost is 1 per call" (determine_quota_cost, today). ``None``
    #: or 0: the older rule, each insert costs ``youtube_unit_costs["videos.insert"]`` units of
    #: ``youtube_daily_units``.
    youtube_daily_uploads: int | None = Field(default=100, ge=0)
    #: Time zone of the YouTube quota day (resets at its midnight).
    youtube_quota_timezone: str = "America/Los_Angeles"
    #: Per-account limit overrides: ``{"account_id": {"youtube": 3200, "upload-post": 120}}``.
    account_quota_limits: dict[str, dict[str, int]] = Field(default_factory=dict)
    #: Price per counted upload, by platform (currency ``usage_currency``).
    price_per_upload: dict[str, float] = Field(default_factory=dict)
    #: Price per quota unit, by platform (e.g. YouTube units bought above the free quota).
    price_per_quota_unit: dict[str, float] = Field(default_factory=dict)
    #: Monthly upload-post plan fee, charged per account in each month it used upload-post.
    upload_post_plan_price: float = 0.0
    usage_currency: str = "USD"
    #: Time zone whose calendar months and days reports use (a publish belongs to its local month).
    usage_timezone: str = "UTC"

    # -- insights: metrics collected back from the platforms (multipublish.insights) ----------
    #: Collect views/likes/comments/shares of published posts in the workers.
    insights_enabled: bool = True
    #: Ages (seconds after publishing) at which a post's metrics are sampled: dense in the first
    #: 48 hours, sparse after; the post is done after the last one.
    insights_schedule: list[float] = Field(
        default_factory=lambda: [
            h * 3600.0
            for h in (0.25, 0.5, 1, 2, 3, 4, 6, 8, 10, 12, 15, 18, 21, 24, 30, 36, 42, 48,
                      72, 96, 120, 168, 240, 336, 504, 720)
        ]
    )
    #: Posts claimed per collection round (YouTube asks for up to 50 videos per videos.list call).
    insights_batch: int = 200
    #: Lease of a claimed collection task, seconds.
    insights_lease_seconds: float = 120.0
    #: Longest sleep of the collector between rounds when nothing is due.
    insights_poll_interval: float = 30.0
    #: Failed attempts in a row before a post's collection is given up (state ``failed``).
    insights_max_attempts: int = 8

    def upload_post_base(self) -> str:
        """The upload-post base URL in effect (the sandbox wins when set)."""
        if self.sandbox_url:
            return self.sandbox_url.rstrip("/") + "/api"
        return self.upload_post_url.rstrip("/")

    @field_validator("youtube_unit_costs")
    @classmethod
    def _known_costs(cls, value: dict[str, int]) -> dict[str, int]:
        """A misspelt method would otherwise cost nothing, silently."""
        for method, units in value.items():
            if method not in YOUTUBE_UNIT_COSTS:
                known = ", ".join(sorted(YOUTUBE_UNIT_COSTS))
                raise ValueError(f"youtube_unit_costs.{method}: not a method multipublish calls ({known})")
            if isinstance(units, bool) or not isinstance(units, int) or units < 0:
                raise ValueError(f"youtube_unit_costs.{method}: must be a whole number of units, 0 or more")
        return value

    def youtube_unit_cost(self, method: str) -> int:
        """Units one ``method`` call costs: the setting, else Google's documented figure."""
        return int(self.youtube_unit_costs.get(method, YOUTUBE_UNIT_COSTS[method]))

    def youtube_api_root(self) -> str:
        """Root (ending in ``/``) for ``youtube/v3`` calls."""
        return _root(self.sandbox_url or self.youtube_api_url)

    def youtube_analytics_root(self) -> str:
        """Root (ending in ``/``) for the YouTube Analytics API's ``v2/reports``."""
        return _root(self.sandbox_url or self.youtube_analytics_url)

    def youtube_upload_root(self) -> str:
        """Root (ending in ``/``) for ``upload/youtube/v3`` calls."""
        return _root(self.sandbox_url or self.youtube_upload_url)

    def token_url(self) -> str | None:
        """Token endpoint override: the sandbox's when set, else ``None`` (use the token's own)."""
        if self.sandbox_url:
            return self.sandbox_url.rstrip("/") + "/token"
        return None

    def upload_limit(self) -> int:
        """The upload cap in effect: the setting, else the largest ``max_size`` of the rules."""
        if self.max_upload_bytes is not None:
            return self.max_upload_bytes
        from multipublish.errors import MultipublishError
        from multipublish.media.rules import builtin_rules, load_rules

        try:
            rules = load_rules(self.rules_file)
        except MultipublishError:  # a broken rules file is reported where the rules are used
            rules = builtin_rules()
        return max(rule.max_size or 0 for rule in rules.values()) or 256 * 1024**3

    def media_root_paths(self) -> list[Path]:
        """Configured media roots, resolved."""
        return [Path(p).expanduser().resolve() for p in self.media_roots.split(os.pathsep) if p]


def _root(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def get_settings() -> Settings:
    """A fresh ``Settings`` read from the environment (entrypoints call this once)."""
    return Settings()
