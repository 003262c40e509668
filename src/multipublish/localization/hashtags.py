"""Hashtags normalised per platform: the characters each accepts, deduplicated, within its limits.

Limits, from each platform's own help pages (the figures our users hit most; they change):

* Instagram: at most 30 hashtags per post (more and the post fails).
* TikTok: the caption carries them; no documented count limit, the caption's 2,200 characters bind.
* YouTube: over 60 hashtags and YouTube ignores all hashtags of the video; the first three show
  above the title.
* LinkedIn and Facebook: no documented hard count; LinkedIn advises 3 to 5.

A hashtag is ``#`` followed by letters, digits and underscores (Unicode letters allowed);
anything else ends it, so ``#summer-sale`` would link only ``#summer``: we remove such characters
and say so. Duplicates (case-insensitive) are dropped, keeping the first spelling.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from multipublish.catalogue import base_platform

#: platform -> (maximum count kept, count above which the platform drops them all, max length)
LIMITS: dict[str, tuple[int | None, int | None, int]] = {
    "instagram": (30, 30, 100),
    "tiktok": (None, None, 100),
    "youtube": (60, 60, 100),
    "linkedin": (None, None, 100),
    "facebook": (None, None, 100),
}
_BAD = re.compile(r"[^\w]", re.UNICODE)


@dataclass
class HashtagReport:
    """The hashtags to send to one platform, and what was changed on the way."""

    platform: str
    hashtags: list[str]
    warnings: list[str] = field(default_factory=list)

    def text(self) -> str:
        return " ".join(self.hashtags)


def normalise_hashtags(tags: Iterable[str], platform: str) -> HashtagReport:
    """``tags`` (with or without ``#``) as ``#tag`` for ``platform``, with a warning per change."""
    base = base_platform(platform)
    keep_max, drop_all_above, max_len = LIMITS.get(base, (None, None, 100))
    out: list[str] = []
    seen: set[str] = set()
    warnings: list[str] = []
    for raw in tags:
        word = unicodedata.normalize("NFC", str(raw)).strip().lstrip("#")
        cleaned = _BAD.sub("", word)
        if not cleaned:
            if word:
                warnings.append(f"{raw!r} has no letters or digits and was dropped")
            continue
        if cleaned != word:
            warnings.append(f"#{word} becomes #{cleaned} ({base} links only letters, digits and _)")
        if cleaned.isdigit():
            warnings.append(f"#{cleaned} is only digits; {base} does not link it, dropped")
            continue
        if len(cleaned) > max_len:
            warnings.append(f"#{cleaned[:20]}... is longer than {max_len} characters, dropped")
            continue
        key = cleaned.casefold()
        if key in seen:
            warnings.append(f"#{cleaned} repeats a hashtag already given, dropped")
            continue
        seen.add(key)
        out.append(f"#{cleaned}")
    if keep_max is not None and len(out) > keep_max:
        dropped = out[keep_max:]
        out = out[:keep_max]
        why = (
            f"{base} ignores every hashtag of a post with more than {drop_all_above}"
            if drop_all_above is not None
            else f"{base} keeps at most {keep_max}"
        )
        warnings.append(f"{len(dropped)} hashtags beyond the first {keep_max} were dropped ({why}): "
                        + " ".join(dropped[:5]) + (" ..." if len(dropped) > 5 else ""))
    return HashtagReport(platform=base, hashtags=out, warnings=warnings)
