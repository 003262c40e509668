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

#: Documented (or seen in the official clients) ``error_code`` values and their kinds.
#: ``tiktok_privacy_unavailable``: the creator's account does not offer the privacy level asked
#: for (a private account has no ``PUBLIC_TO_EVERYONE``); the answer lists the allowed ones.
#: ``PROFILE_LIMIT_REACHED``: docs.upload-post.com/api/user-profiles (403).
#: ``quota_exceeded``: the plan's monthly uploads are used up (429 with ``usage``).
#: The others are the TikTok/Meta/LinkedIn codes upload-post passes on in a platform's result
#: [unverified: from the platforms' own error references, not upload-post's pages].
ERROR_CODES: Mapping[str, ErrorKind] = MappingProxyType(
    {
        "quota_exceeded": ErrorKind.QUOTA,
        "monthly_limit_reached": ErrorKind.QUOTA,
        "rate_limit_exceeded": ErrorKind.RATE_LIMITED,
        "rate_limited": ErrorKind.RATE_LIMITED,
        "too_many_requests": ErrorKind.RATE_LIMITED,
        "spam_risk_too_many_posts": ErrorKind.RATE_LIMITED,
        "tiktok_privacy_unavailable": ErrorKind.PERMANENT,
        "tiktok_too_long": ErrorKind.PERMANENT,
        "invalid_parameter": ErrorKind.PERMANENT,
        "validation_error": ErrorKind.PERMANENT,
        "unsupported_media": ErrorKind.PERMANENT,
        "media_too_large": ErrorKind.PERMANENT,
        "profile_not_found": ErrorKind.PERMANENT,
        "user_not_found": ErrorKind.PERMANENT,
        "profile_limit_reached": ErrorKind.PERMANENT,
        "plan_upgrade_required": ErrorKind.PERMANENT,
        "platform_not_in_plan": ErrorKind.PERMANENT,
        "spam_risk_text": ErrorKind.PERMANENT,
        "spam_risk_user_banned_from_posting": ErrorKind.PERMANENT,
        "platform_not_connected": ErrorKind.AUTH,
        "account_not_connected": ErrorKind.AUTH,
        "token_expired": ErrorKind.AUTH,
        "reconnect_required": ErrorKind.AUTH,
        "access_token_invalid": ErrorKind.AUTH,
        "scope_not_authorized": ErrorKind.AUTH,
        "platform_unavailable": ErrorKind.TRANSIENT,
        "upstream_timeout": ErrorKind.TRANSIENT,
        "internal_error": ErrorKind.TRANSIENT,
    }
)


def kind_of_code(code: object) -> ErrorKind | None:
    """The kind of a documented ``error_code`` (case-insensitive), or ``None`` when unknown."""
    if not isinstance(code, str) or not code.strip():
        return None
    return ERROR_CODES.get(code.strip().lower())


def kind_of_words(text: str) -> ErrorKind:
    """Only for a per-platform failure that came without any ``error_code``."""
    lowered = text.lower()
    if "quota" in lowered:
        return ErrorKind.QUOTA
    if "rate limit" in lowered:
        return ErrorKind.RATE_LIMITED
    if any(w in lowered for w in ("token", "unauthori", "reconnect", "auth")):
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
