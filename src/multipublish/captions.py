"""Composing each platform's caption from the post's title, description and tags.

upload-post reads a TikTok or Instagram video's caption from ``tiktok_title`` /
``instagram_title`` (falling back to ``title``) and ignores ``description`` for them; Facebook,
LinkedIn (the commentary) and YouTube read ``description``
(docs.upload-post.com/api/upload-video). So the text a user wrote is composed here into the one
field the platform reads (``catalogue.PlatformSpec.caption_field``), tags becoming hashtags
where the platform has no tag field.

Tags become hashtags the way each platform links them (``localization.normalise_hashtags``):
characters it would not link removed, case-insensitive duplicates dropped, and tags beyond the
platform's documented count left out with a warning (``Caption.warnings``), which validation
reports and the client puts in the result's ``details["warnings"]``.

The validator checks exactly this composed text, and the client sends exactly it, so what is
validated is what is published. ``platform_specific[<platform>]["caption"]`` replaces the
composed caption of one platform (for LinkedIn also ``commentary``, the older name).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from multipublish.catalogue import PlatformKey
from multipublish.localization.hashtags import max_hashtags, normalise_hashtags

#: Hashtags as the platforms count them: ``#word`` not preceded by a word character or ``&``.
HASHTAG = re.compile(r"(?<![\w&])#(\w+)")
#: The ``platform_specific`` option that replaces the composed caption.
CAPTION_OPTION = "caption"


class PostText(Protocol):
    """The text of a post, as ``PublishConfig`` carries it (media and captions need no more)."""

    title: str
    description: str
    tags: list[str]
    platform_specific: dict[str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Caption:
    """The caption of one platform: the text, the field it goes in, and what was left out."""

    platform: str
    field: str
    text: str
    #: Where the text came from: ``composed`` or the option that overrode it.
    source: str = "composed"
    #: What the composition changed or left out of the tags, and what the platform would ignore.
    warnings: tuple[str, ...] = ()

    @property
    def hashtags(self) -> set[str]:
        return {h.lower() for h in HASHTAG.findall(self.text)}


def text_length(text: str, unit: str) -> int:
    """Length of ``text`` in ``unit``: chars (code points), utf16 (code units) or utf8 (bytes)."""
    if unit == "utf16":
        return len(text.encode("utf-16-le")) // 2
    if unit == "utf8":
        return len(text.encode("utf-8"))
    return len(text)


def override_of(text: PostText, platform: str) -> tuple[str, str] | None:
    """``(option, text)`` of a caption override in ``platform_specific``, or ``None``."""
    options = text.platform_specific.get(platform)
    if not isinstance(options, Mapping):
        return None
    names = (CAPTION_OPTION, "commentary") if platform == "linkedin" else (CAPTION_OPTION,)
    for name in names:
        value = options.get(name)
        if isinstance(value, str) and value.strip():
            return name, value
    return None


def compose_caption(text: PostText, platform: str) -> Caption:
    """The caption ``platform`` shows for ``text``, composed into its caption field.

    TikTok and Instagram have one caption: title, then description, then the tags as hashtags.
    Facebook, LinkedIn and YouTube show the title apart: their caption is the description, with
    the tags as hashtags (YouTube keeps its tags in ``snippet.tags`` instead). Tags already in
    the text (any case) are not repeated. The text the user wrote is never cut: tags beyond the
    platform's hashtag count are left out, with a warning naming them; a text that is over the
    length, or whose own hashtags exceed the count, is refused by validation, naming it.
    An override is taken as written (hashtags included), with the same warning when over the count.
    """
    key = PlatformKey.parse(platform)
    spec = key.spec
    override = override_of(text, key.platform)
    if override is not None:
        source = f"platform_specific.{key.platform}.{override[0]}"
        warnings = _count_warning(key.platform, override[1])
        return Caption(key.platform, spec.caption_field, override[1], source=source, warnings=warnings)
    parts: list[str] = []
    title = (text.title or "").strip()
    description = (text.description or "").strip()
    if spec.title_field is None and title:
        parts.append(title)
    if description and description != title:
        parts.append(description)
    body = "\n\n".join(parts)
    if key.platform == "youtube":  # tags travel in snippet.tags
        return Caption(key.platform, spec.caption_field, body, warnings=_count_warning("youtube", body))
    return _with_hashtags(key.platform, spec.caption_field, body, text.tags)


def _with_hashtags(platform: str, field_name: str, body: str, tags: Sequence[str]) -> Caption:
    report = normalise_hashtags(tags, platform, present=HASHTAG.findall(body))
    warnings = (*report.warnings, *_count_warning(platform, body))
    return Caption(platform, field_name, _join(body, report.hashtags), warnings=warnings)


def _count_warning(platform: str, text: str) -> tuple[str, ...]:
    """A warning when ``text`` itself has more hashtags than YouTube reads (it then reads none).

    Instagram's count is a refusal, reported by validation as an error (``max_hashtags``); YouTube
    publishes the video and ignores every hashtag, so that one is a warning here.
    """
    limit = max_hashtags(platform)
    if platform != "youtube" or limit is None:
        return ()
    count = len({h.casefold() for h in HASHTAG.findall(text)})
    if count <= limit:
        return ()
    why = f"YouTube ignores every hashtag of a video with more than {limit}"
    return (f"description: {count} hashtags; {why}",)


def _join(body: str, hashtags: list[str]) -> str:
    if not hashtags:
        return body
    line = " ".join(hashtags)
    return f"{body}\n\n{line}" if body else line
