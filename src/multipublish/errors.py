"""The one error hierarchy of multipublish.

::

    MultipublishError
    ├── ConfigurationError          a setting is missing or wrong (e.g. the secret key)
    ├── InputError                  a caller sent something we refuse; names ``field`` and ``reason``
    │   ├── UnknownPlatformError
    │   ├── MediaError              a file cannot be read as a video (names the path)
    │   └── ValidationFailed        the video/text breaks platform rules (carries the report)
    ├── NotFoundError               an account, job or token id that does not exist
    ├── ConflictError               the request clashes with the current state (cancel a completed job)
    ├── CredentialsError            stored credentials cannot be decrypted or are malformed
    └── PlatformError               a remote service answered badly; ``kind`` says how to retry

Messages never contain secrets: credentials are masked before they reach any error.
"""

from __future__ import annotations

import html
import re
from enum import StrEnum
from typing import Any

#: Names an error message may already start with (``"youtube: ..."``, ``"upload-post: ..."``).
SERVICE_NAMES = frozenset({"tiktok", "instagram", "facebook", "linkedin", "youtube", "upload-post"})
UPLOAD_POST_SERVICE = frozenset({"tiktok", "instagram", "facebook", "linkedin", "upload-post"})

#: What to do when upload-post refuses the key (docs.upload-post.com/guides/authentication,
#: "Troubleshooting" of a 401: key correct, not expired, right header, account active).
UPLOAD_POST_KEY_HINT = (
    "check the account's upload-post API key: it must be one listed under API Keys in the "
    "upload-post dashboard, not expired, and of an active upload-post account; store the right one "
    "with `multipublish accounts add ACCOUNT --platform PLATFORM -c api_key=... -c user=...`"
)

_TAG = re.compile(r"<[^>]{0,2000}>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_HTML_HINT = re.compile(r"<\s*(!doctype|html|head|body|title|p|div|br|a|b|ins|code)\b", re.IGNORECASE)


def plain_text(text: str, *, limit: int = 300) -> str:
    """``text`` without HTML: an HTML error page (Google's) reduced to its title or its words."""
    if not _HTML_HINT.search(text):
        return text
    title = _TITLE.search(text)
    words = title.group(1) if title else _TAG.sub(" ", text)
    words = " ".join(html.unescape(_TAG.sub(" ", words)).split())
    if len(words) > limit:
        words = words[: limit - 3].rstrip() + "..."
    return words or "an HTML error page"


def strip_prefixes(text: str, platform: str = "") -> str:
    """``text`` without leading service names (``"youtube: youtube: x"`` -> ``"x"``)."""
    names = SERVICE_NAMES | {platform.lower(), platform.lower().partition(":")[0]}
    while True:
        head, sep, rest = text.partition(": ")
        if not sep or head.strip().lower().partition(":")[0] not in names - {""}:
            return text
        text = rest


def with_platform(platform: str, text: str) -> str:
    """One platform prefix, however many the message already had: ``"youtube: x"``."""
    return f"{platform}: {strip_prefixes(text, platform)}"


class ErrorKind(StrEnum):
    """How a platform failure should be handled by the caller (the queue retries on these)."""

    AUTH = "auth"  #: credentials refused or expired beyond refresh; do not retry
    RATE_LIMITED = "rate_limited"  #: wait at least ``retry_after`` then retry
    TRANSIENT = "transient"  #: 5xx, timeout, dropped connection; retry with backoff
    PERMANENT = "permanent"  #: a 4xx the user must fix; do not retry
    QUOTA = "quota"  #: the account's quota is used up; wait for its reset
    UNKNOWN = "unknown"  #: the outcome could not be confirmed; reconcile, never repost blindly


class MultipublishError(Exception):
    """Something went wrong in multipublish."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigurationError(MultipublishError):
    """A setting is missing or invalid."""


class DatabaseUnavailable(MultipublishError):
    """The project database cannot be reached (down, wrong host, wrong credentials)."""


class InputError(MultipublishError):
    """The input was refused."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "reason": self.reason}


class UnknownPlatformError(InputError):
    """The platform (or post type) is not one multipublish knows."""


class MediaError(InputError):
    """A file could not be read as a video."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        super().__init__(path, reason)


class ValidationFailed(InputError):
    """The video or the text breaks the rules of one or more platforms."""

    def __init__(self, report: dict[str, dict[str, Any]]) -> None:
        self.report = report
        parts = [
            f"{platform}: {'; '.join(entry.get('errors', []))}"
            for platform, entry in report.items()
            if not entry.get("valid", True)
        ]
        super().__init__("video_path", "; ".join(parts) or "validation failed")


class NotFoundError(MultipublishError):
    """The requested object does not exist."""

    def __init__(self, what: str, ident: str) -> None:
        self.what = what
        self.ident = ident
        super().__init__(f"{what} {ident!r} not found")


class ConflictError(MultipublishError):
    """The request conflicts with the current state."""


class CredentialsError(MultipublishError):
    """Stored credentials could not be read (wrong key, or malformed)."""


class PlatformError(MultipublishError):
    """A remote platform call failed; ``kind`` tells whether and when to retry."""

    def __init__(
        self,
        platform: str,
        kind: ErrorKind,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.platform = platform
        self.kind = kind
        self.status_code = status_code
        self.retry_after = retry_after
        # Errors in words, formatted here for every client: one prefix, no HTML, what to do.
        text = strip_prefixes(plain_text(message), platform)
        if (
            kind is ErrorKind.AUTH
            and status_code == 401
            and platform in UPLOAD_POST_SERVICE
            and "multipublish accounts add" not in text
        ):
            text = f"{text}; {UPLOAD_POST_KEY_HINT}"
        super().__init__(f"{platform}: {text}")
