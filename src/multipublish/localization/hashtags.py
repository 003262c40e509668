"""Hashtags normalised per platform: the characters each links, deduplicated, within its limits.

Limits, from each platform's own pages (they change; sources disagree, so the figures are the
documented hard ones, and ``media/rules.py`` keeps the count that validation enforces):

* Instagram: "Captions are limited to 2,200 characters, 30 hashtags, and 20 @ tags" (Instagram
  Graph API, IG User Media reference); more and the container is refused. Newer third-party
  pages say 5 since late 2025; Meta's reference still says 30.
* YouTube: "If you add more than 60 hashtags, YouTube will ignore all hashtags on that video"
  (YouTube Help, hashtag policy); the first three show above the title. YouTube's *tags* travel in
  ``snippet.tags`` (500 characters in all, checked by validation), never as caption hashtags.
* TikTok: no documented count; the caption's 2,200 UTF-16 units bind (Content Posting API).
* LinkedIn, Facebook: no documented count (upload-post's character-limits page gives only
  lengths: LinkedIn 3,000, Facebook 63,206).

A hashtag is ``#`` followed by letters, digits and underscores (Unicode letters allowed); anything
else ends the link, so ``#summer-sale`` would link only ``#summer``: such characters are removed and
the change reported. A hashtag of digits only is not linked by any of the five and is dropped.
Duplicates (case-insensitive, against the hashtags already in the text too) are dropped, keeping the
first spelling. No platform documents a length limit; ``MAX_LENGTH`` is a guard against pasted text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from multipublish.catalogue import base_platform

#: platform -> (at most this many hashtags in a caption, what the platform does above it)
LIMITS: dict[str, tuple[int | None, str]] = {
    "instagram": (30, "refuses a post with more than 30 hashtags"),
    "youtube": (60, "ignores every hashtag of a video with more than 60"),
    "tiktok": (None, ""),
    "linkedin": (None, ""),
    "facebook": (None, ""),
}
#: Longest hashtag kept (no platform documents one; a guard against a pasted sentence).
MAX_LENGTH = 100
_BAD = re.compile(r"[^\w]", re.UNICODE)


@dataclass
class HashtagReport:
    """The hashtags to send to one platform, and what was changed on the way."""

    platform: str
    hashtags: list[str]
    warnings: list[str] = field(default_factory=list)
    #: The given tags left out (over the count, duplicates, nothing linkable), as given.
    dropped: list[str] = field(default_factory=list)

    def text(self) -> str:
        return " ".join(self.hashtags)


def max_hashtags(platform: str) -> int | None:
    """The documented hashtag count ``platform`` allows in a caption (``None``: none documented)."""
    return LIMITS.get(base_platform(platform), (None, ""))[0]


def normalise_hashtags(
    tags: Iterable[str], platform: str, present: Iterable[str] = ()
) -> HashtagReport:
    """``tags`` (with or without ``#``) as ``#tag`` for ``platform``, with a warning per change.

    ``present`` are the hashtags the text already carries (without ``#``): a tag repeating one is
    dropped silently (the text has it), and they count toward the platform's limit, so the tags
    beyond it are the ones dropped, never what the user wrote in the text.
    """
    base = base_platform(platform)
    limit, consequence = LIMITS.get(base, (None, ""))
    written = {unicodedata.normalize("NFC", p).casefold() for p in present}
    seen = set(written)
    room = None if limit is None else max(limit - len(seen), 0)
    report = HashtagReport(platform=base, hashtags=[])
    over: list[str] = []
    for raw in tags:
        word = unicodedata.normalize("NFC", str(raw)).strip().lstrip("#")
        cleaned = _BAD.sub("", word)
        if not cleaned:
            if word:
                report.warnings.append(f"tag {raw!r} has no letters or digits; left out")
                report.dropped.append(str(raw))
            continue
        if cleaned.isdigit():
            report.warnings.append(f"tag #{cleaned} is only digits, which {base} does not link; left out")
            report.dropped.append(str(raw))
            continue
        if len(cleaned) > MAX_LENGTH:
            report.warnings.append(f"tag #{cleaned[:20]}... is longer than {MAX_LENGTH} characters; left out")
            report.dropped.append(str(raw))
            continue
        key = cleaned.casefold()
        if key in seen:
            if key not in written:
                report.warnings.append(f"tag #{cleaned} repeats another tag (case aside); sent once")
            report.dropped.append(str(raw))
            continue
        seen.add(key)
        if room is not None and len(report.hashtags) >= room:
            over.append(f"#{cleaned}")
            report.dropped.append(str(raw))
            continue
        if cleaned != word:
            why = f"{base} links only letters, digits and _"
            report.warnings.append(f"tag #{word} becomes #{cleaned} ({why})")
        report.hashtags.append(f"#{cleaned}")
    if over:
        shown = " ".join(over[:5]) + (" ..." if len(over) > 5 else "")
        report.warnings.append(
            f"{len(over)} tag(s) left out of the {base} caption, which would exceed {limit} hashtags "
            f"({base} {consequence}): {shown}"
        )
    return report
