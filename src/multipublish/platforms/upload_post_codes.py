"""upload-post's ``error_code`` values and rate-limit headers: what each means for retrying.

Errors are classified by code, never by the words of the message: a permanent code (the
platform refuses this post whatever we do) is never retried, since every retry spends one of the
plan's monthly uploads. The words of a message are only looked at when no code came with it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import MappingProxyType

from multipublish.errors import ErrorKind

#: The ``error_code`` values upload-post documents, each with where, and its kind. Nothing else is
#: listed: an unknown code is permanent (see ``_kind_of_platform_error``), so a code we guessed at
#: could only make us retry what should not be, or give up on what should be retried.
ERROR_CODES: Mapping[str, ErrorKind] = MappingProxyType(
    {
        # The creator's TikTok account does not offer the privacy level asked for (a private
        # account has no PUBLIC_TO_EVERYONE); the answer lists the allowed ones. The official SDK
        # (upload-post 2.13, api_client.py, upload_video and get_tiktok_publishing_settings).
        "tiktok_privacy_unavailable": ErrorKind.PERMANENT,
        # docs.upload-post.com/api/user-profiles: 403 when the plan's profiles are all used.
        "profile_limit_reached": ErrorKind.PERMANENT,
        # The plan's monthly uploads are used up: 429 with ``usage`` (count, limit, last_reset;
        # docs.upload-post.com/guides/error-handling shows ``usage``). The code itself was not
        # found again on docs.upload-post.com in the December 2026 review; a 429 whose words
        # speak of the plan's limit is read as QUOTA anyway (``looks_like_quota``).
        "quota_exceeded": ErrorKind.QUOTA,
        # docs.upload-post.com/guides/reached-active-user-cap-error: {"code":
        # "reached_active_user_cap"}, TikTok's daily cap of active users of upload-post's app;
        # "the best solution is to wait and retry", reset every 24 hours. Not this post's fault.
        "reached_active_user_cap": ErrorKind.RATE_LIMITED,
    }
)

#: docs.upload-post.com/guides/limit-of-uploads: a network's hard cap per connected account in a
#: rolling 24-hour window answers 429 ``{"message": "Post verification failed", "violations":
#: [{"platform", "type": "hard_cap", "used_last_24h", "cap"}]}``; scheduled posts are checked
#: again at their time. A quota of the account on that network, not a short rate limit.
HARD_CAP = "hard_cap"
#: How long to wait after a hard cap: the window rolls, its oldest post's age is not given.
HARD_CAP_WAIT = 3600.0


def kind_of_code(code: object) -> ErrorKind | None:
    """The kind of a documented ``error_code`` (case-insensitive), or ``None`` when unknown."""
    if not isinstance(code, str) or not code.strip():
        return None
    return ERROR_CODES.get(code.strip().lower())


def code_of(data: Mapping[str, object]) -> str | None:
    """The documented code an error carries: ``error_code``, else ``code`` (the TikTok cap's
    page shows ``{"code": "reached_active_user_cap"}``), else one named in the message text
    (that page shows the code as the error's text)."""
    for key in ("error_code", "code"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    text = " ".join(str(data.get(k) or "") for k in ("error", "message")).lower()
    return next((code for code in ERROR_CODES if code in text), None)


def hard_cap(data: Mapping[str, object]) -> list[dict[str, object]]:
    """The ``hard_cap`` violations of a 429 "Post verification failed" answer."""
    found = data.get("violations")
    if not isinstance(found, list):
        return []
    return [v for v in found if isinstance(v, dict) and v.get("type") == HARD_CAP]


def kind_of_words(text: str) -> ErrorKind:
    """Only for a per-platform failure that came without any ``error_code``."""
    lowered = text.lower()
    if "quota" in lowered:
        return ErrorKind.QUOTA
    if "rate limit" in lowered:
        return ErrorKind.RATE_LIMITED
    if any(w in lowered for w in ("token", "unauthori", "reconnect", "auth", "not connected")):
        return ErrorKind.AUTH
    if any(w in lowered for w in ("timeout", "timed out", "temporar", "unavailable", "try again")):
        return ErrorKind.TRANSIENT
    return ErrorKind.PERMANENT


def rate_limit_wait(
    headers: Mapping[str, str], *, retry_after: float | None, now: float | None = None
) -> float | None:
    """Seconds to wait after a 429: ``Retry-After`` when sent, else until ``X-RateLimit-Reset``.

    upload-post's rate-limit headers carry the reset as a Unix time, and on a 429 the guide says
    to "wait until the X-RateLimit-Reset timestamp before retrying"
    (docs.upload-post.com/guides/rate-limits); a 429 may come with only that header.
    """
    if retry_after is not None:
        return retry_after
    raw = headers.get("X-RateLimit-Reset") or headers.get("x-ratelimit-reset")
    if raw is None:
        return None
    try:
        reset = float(raw.strip())
    except ValueError:
        return None
    current = time.time() if now is None else now
    # A small number is a delta (some gateways send seconds-until-reset), a large one a Unix time.
    wait = reset if reset < 10**9 else reset - current
    return max(0.0, wait)
