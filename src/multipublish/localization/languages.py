"""Language tags (BCP 47, RFC 5646) and ``PublishConfig.localizations``.

``localizations`` maps a language tag to ``{"title": ..., "description": ...}``. Tags are checked
against the RFC 5646 ``langtag`` grammar (language, optional extlang, script, region, variants,
extensions, private use) and the regular grandfathered tags, except that the primary language must
be a 2- or 3-letter ISO 639 code: the 4-letter subtags are reserved and no 5-8 letter one was ever
registered, so ``english`` is a mistake, not a language. The case of each subtag is normalised
the way the RFC recommends (``pt-br`` -> ``pt-BR``, ``zh-hant`` -> ``zh-Hant``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from multipublish.errors import InputError

_LANGTAG = re.compile(
    r"""^
    (?P<language>[a-z]{2,3}(?:-[a-z]{3}){0,3})
    (?:-(?P<script>[a-z]{4}))?
    (?:-(?P<region>[a-z]{2}|[0-9]{3}))?
    (?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*
    (?:-[0-9a-wy-z](?:-[a-z0-9]{2,8})+)*
    (?:-x(?:-[a-z0-9]{1,8})+)?
    $""",
    re.VERBOSE | re.IGNORECASE,
)
_PRIVATE = re.compile(r"^x(?:-[a-z0-9]{1,8})+$", re.IGNORECASE)
#: RFC 5646 section 2.2.8, regular grandfathered tags.
_GRANDFATHERED = {
    "art-lojban", "cel-gaulish", "no-bok", "no-nyn", "zh-guoyu", "zh-hakka", "zh-min", "zh-min-nan",
    "zh-xiang", "en-gb-oed", "i-ami", "i-bnn", "i-default", "i-enochian", "i-hak", "i-klingon", "i-lux",
    "i-mingo", "i-navajo", "i-pwn", "i-tao", "i-tay", "i-tsu", "sgn-be-fr", "sgn-be-nl", "sgn-ch-de",
}
#: YouTube's limits for a localized title and description (the same as the default snippet's).
MAX_TITLE_CHARS = 100
MAX_DESCRIPTION_BYTES = 5000


def check_language_tag(tag: Any, field: str = "language") -> str:
    """The tag with its subtags in canonical case; ``InputError(field)`` when it is not BCP 47."""
    if not isinstance(tag, str) or not tag.strip():
        raise InputError(field, "must be a BCP 47 language tag such as en, pt-BR or zh-Hant")
    raw = tag.strip().replace("_", "-")
    if raw.lower() in _GRANDFATHERED or _PRIVATE.match(raw):
        return raw.lower()
    match = _LANGTAG.match(raw)
    if match is None:
        raise InputError(field, f"{tag!r} is not a BCP 47 language tag (e.g. en, pt-BR, zh-Hant, es-419)")
    parts = raw.split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha() and out[-1] != "x" and len(out[-1]) != 1:
            out.append(part.title())  # script
        elif len(part) == 2 and part.isalpha() and len(out[-1]) != 1:
            out.append(part.upper())  # region
        else:
            out.append(part.lower())
    return "-".join(out)


def check_localizations(value: Any, field: str = "localizations") -> dict[str, dict[str, str]]:
    """Validated localizations: canonical tags, a title and/or description each, within limits."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(field, "must map language tags to {title, description}")
    out: dict[str, dict[str, str]] = {}
    for tag, entry in value.items():
        lang = check_language_tag(tag, f"{field}.{tag}")
        where = f"{field}.{lang}"
        if lang in out:
            raise InputError(where, "given twice (tags differ only in case)")
        if not isinstance(entry, Mapping):
            raise InputError(where, "must be an object with title and/or description")
        unknown = set(entry) - {"title", "description"}
        if unknown:
            raise InputError(f"{where}.{sorted(unknown)[0]}", "unknown field (allowed: title, description)")
        title = entry.get("title") or ""
        description = entry.get("description") or ""
        if not isinstance(title, str) or not isinstance(description, str):
            raise InputError(where, "title and description must be strings")
        if not title.strip() and not description.strip():
            raise InputError(where, "needs a title or a description")
        out[lang] = {"title": title.strip(), "description": description}
    return out
