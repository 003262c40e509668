"""Retry timing: exponential backoff with jitter, floored by what the platform asked for."""

from __future__ import annotations

import random
from collections.abc import Callable

#: Upper bound on any single backoff (six hours), so a long retry chain still ends in the day.
MAX_DELAY = 6 * 3600.0
#: Jitter adds up to this fraction of the exponential delay (spreads retries of a burst).
JITTER = 0.25


def backoff_delay(
    attempt: int,
    base: float,
    *,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
    max_delay: float = MAX_DELAY,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    ``base * 2**(attempt-1)`` plus up to 25% jitter, capped at ``max_delay``; never less than
    ``retry_after`` (a platform's Retry-After is a floor, not a suggestion).
    """
    exp = float(base) * 2.0 ** max(0, attempt - 1)
    delay = min(max_delay, exp * (1.0 + JITTER * rand()))
    if retry_after is not None and retry_after > delay:
        delay = float(retry_after)
    return max(0.0, delay)


def webhook_delay(attempt: int, *, rand: Callable[[], float] = random.random) -> float:
    """Backoff between webhook deliveries: 5 s, 10 s, 20 s ... capped at an hour, with jitter."""
    return backoff_delay(attempt, 5.0, rand=rand, max_delay=3600.0)
