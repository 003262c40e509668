"""Composing each platform's caption from the post's title, description and tags.

upload-post reads a TikTok or Instagram video's caption from ``tiktok_title`` /
``instagram_title`` (falling back to ``title``) and ignores ``description`` for them; Facebook,
LinkedIn (the commentary) and YouTube read ``description``
(docs.upload-post.com/api/upload-video). So the text a user wrote is composed here into the one
field the platform reads (``catalogue.PlatformSpec.caption_field``), tags becoming hashtags
where the platform has no tag field.

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

#: Hashtags as the platforms count them: ``#word`` not preceded by a word character or ``&``.
HASHTAG = re.compile(r"(?<![\w&])#(\w+)")
#: The ``platform_specific`` option that replaces the composed caption.
CAPTION_OPTION = "caption"
_TAG_CHARS = re.compile(r"[^\w]+")


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


def hashtag_of(tag: str) -> str | None:
    """``"summer trip"`` -> ``"#summertrip"``; ``None`` for a tag with no word characters."""
    word = _TAG_CHARS.sub("", str(tag).lstrip("#"))
    return f"#{word}" if word else None


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
    the text are not repeated. Nothing is cut to fit: a caption over the platform's length or
    hashtag count is refused by validation, naming it, rather than published without a hashtag.
    An override is taken as written (hashtags included).
    """
    key = PlatformKey.parse(platform)
    spec = key.spec
    override = override_of(text, key.platform)
    if override is not None:
        source = f"platform_specific.{key.platform}.{override[0]}"
        return Caption(key.platform, spec.caption_field, override[1], source=source)
    parts: list[str] = []
    title = (text.title or "").strip()
    description = (text.description or "").strip()
    if spec.title_field is None and title:
        parts.append(title)
    if description and description != title:
        parts.append(description)
    body = "\n\n".join(parts)
    if key.platform == "youtube":  # tags travel in snippet.tags
        return Caption(key.platform, spec.caption_field, body)
    return _with_hashtags(key.platform, spec.caption_field, body, text.tags)


def _with_hashtags(platform: str, field_name: str, body: str, tags: Sequence[str]) -> Caption:
    present = {h.lower() for h in HASHTAG.findall(body)}
    added: list[str] = []
    for tag in tags:
        tag_text = hashtag_of(tag)
        if tag_text is None or tag_text[1:].lower() in present:
            continue
        added.append(tag_text)
        present.add(tag_text[1:].lower())
    return Caption(platform, field_name, _join(body, added))


def _join(body: str, hashtags: list[str]) -> str:
    if not hashtags:
        return body
    line = " ".join(hashtags)
    return f"{body}\n\n{line}" if body else line
