"""What each platform accepts, as data: one table, overridable from a rules file.

The product brief's numbers come first. Extra figures come from the platform-requirements notes
(platform documentation, often through third-party copies); each says where it comes from. Figures
marked uncertain there are listed in ``soft``: breaking them gives a warning, not an error.

A user changes any rule without touching code: ``MULTIPUBLISH_RULES_FILE`` names a JSON, TOML or
YAML file mapping a key to the fields to replace, e.g. (TOML)::

    ["instagram:reels"]
    max_duration = 900          # the Graph API now takes 15-minute reels
    max_size = "1GB"

    [tiktok]                    # a bare platform name applies to all of its post types
    min_duration = 3
    soft = []

Sizes take bytes or ``"287MB"``/``"4GB"`` (binary units), bitrates bits/s or ``"25Mbps"``,
resolutions ``"1080x1920"``, aspect ratios ``"9:16"``. Lists replace the built-in list.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from multipublish.catalogue import POST_TYPES, parse_platform
from multipublish.errors import ConfigurationError

#: How text is counted: Python characters (code points), UTF-16 code units, or UTF-8 bytes.
TEXT_UNITS = ("chars", "utf16", "utf8")

_MB = 1024 * 1024
_GB = 1024 * _MB


@dataclass(frozen=True, slots=True)
class PlatformRules:
    """Limits of one platform and post type. ``None`` or an empty tuple means "no limit"."""

    key: str  #: "instagram:reels"
    # -- duration and size
    min_duration: float | None = None  #: seconds
    max_duration: float | None = None  #: seconds
    #: Longer than this still uploads but needs a verified account (a warning).
    unverified_max_duration: float | None = None
    max_size: int | None = None  #: bytes
    # -- container and codecs (names as ``MediaInfo`` reports them)
    containers: tuple[str, ...] = ()
    preferred_containers: tuple[str, ...] = ()
    video_codecs: tuple[str, ...] = ()
    preferred_video_codecs: tuple[str, ...] = ()
    audio_codecs: tuple[str, ...] = ()
    max_audio_sample_rate: int | None = None
    max_audio_channels: int | None = None
    # -- picture
    aspect_ratios: tuple[str, ...] = ()  #: accepted ratios ("9:16"), within ``aspect_tolerance``
    aspect_range: tuple[float, float] | None = None  #: accepted width/height range, inclusive
    aspect_tolerance: float = 0.03  #: relative difference still counted as the same ratio
    preferred_aspect_ratios: tuple[str, ...] = ()
    #: Smallest picture (orientation-free: 540x960 also accepts 960x540).
    min_resolution: tuple[int, int] | None = None
    max_resolution: tuple[int, int] | None = None  #: largest picture, orientation-free
    max_width: int | None = None  #: displayed width limit
    recommended_resolution: tuple[int, int] | None = None  #: orientation-free
    min_fps: float | None = None
    max_fps: float | None = None
    max_bitrate: int | None = None  #: bits per second
    require_moov_first: bool = False  #: MP4/MOV index must precede the media data
    forbid_edit_lists: bool = False
    # -- text
    title_max_length: int | None = None
    title_unit: str = "chars"
    title_forbidden_chars: str = ""
    title_required: bool = False
    description_max_length: int | None = None
    description_unit: str = "chars"
    description_forbidden_chars: str = ""
    max_tags: int | None = None
    tags_max_total_length: int | None = None  #: YouTube counts commas and quotes too
    max_hashtags: int | None = None  #: hashtags in the caption plus the tags
    max_mentions: int | None = None  #: @mentions in the caption
    #: Names of the fields above whose breach is only a warning (uncertain figures).
    soft: tuple[str, ...] = ()

    @property
    def platform(self) -> str:
        return self.key.partition(":")[0]

    @property
    def post_type(self) -> str:
        return self.key.partition(":")[2]

    def to_fields(self) -> dict[str, Any]:
        """Every field, as ``PlatformRules(**fields)`` takes them."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the non-empty fields."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or value == () or value == "":
                continue
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


# -- the built-in table ------------------------------------------------------------------------
# Per platform, the values shared by its post types, then each post type's own values.

_TIKTOK: dict[str, Any] = {
    "max_duration": 600,  # brief; the API reports the creator's own limit (creator_info)
    "max_size": 287 * _MB,  # brief; TikTok API docs say 4 GB (one copy says 1 GB)
    "containers": ("mp4", "mov", "webm"),  # brief
    "preferred_containers": ("mp4",),  # spec (TikTok Content Posting API: MP4 preferred)
    "video_codecs": ("h264", "hevc", "vp8", "vp9"),  # spec (TikTok media transfer guide)
    "preferred_video_codecs": ("h264",),  # spec
    "aspect_ratios": ("9:16", "16:9", "1:1"),  # brief
    "preferred_aspect_ratios": ("9:16",),  # brief
    "recommended_resolution": (1080, 1920),  # brief
    "min_resolution": (360, 360),  # spec: 360-4096 px each side (TikTok media transfer guide)
    "max_resolution": (4096, 4096),  # spec
    "min_fps": 23,  # spec: 23-60 (TikTok media transfer guide)
    "max_fps": 60,
    "min_duration": 3,  # spec "3 s ?" (third parties): uncertain, hence soft
    "description_max_length": 2200,  # spec: caption 2,200 UTF-16 code units (TikTok API docs)
    "description_unit": "utf16",
    "soft": ("min_duration",),
}

_INSTAGRAM: dict[str, Any] = {
    "max_size": 100 * _MB,  # brief; newer copies say reels 300 MB or 1 GB (?)
    "containers": ("mp4", "mov"),  # brief
    "video_codecs": ("h264", "hevc"),  # spec (Instagram Graph API, reels/video specs)
    "audio_codecs": ("aac",),  # spec: AAC, <= 48 kHz, 1-2 channels (Instagram Graph API)
    "max_audio_sample_rate": 48000,
    "max_audio_channels": 2,
    "min_duration": 3,  # spec (Instagram Graph API: 3 s minimum)
    "min_fps": 23,  # spec: 23-60 (Instagram Graph API)
    "max_fps": 60,
    "max_width": 1920,  # spec: at most 1920 columns (Instagram Graph API)
    "max_bitrate": 25_000_000,  # spec: 25 Mbps VBR (Instagram Graph API)
    "require_moov_first": True,  # spec: moov atom first, no edit lists (Instagram Graph API)
    "forbid_edit_lists": True,
    "description_max_length": 2200,  # spec: caption 2,200 characters (Instagram Graph API)
    "max_hashtags": 30,  # spec (newer sources say 5 ?)
    "max_mentions": 20,  # spec
}

_FACEBOOK: dict[str, Any] = {
    "max_duration": 7200,  # brief; page videos up to 4 h (?)
    "max_size": 4 * _GB,  # brief; 10 GB (?)
    "containers": ("mp4", "mov"),  # brief
    "preferred_containers": ("mp4",),  # spec
    "video_codecs": ("h264", "hevc", "vp9", "av1"),  # spec (Meta video specs list VP9, AV1)
    "preferred_video_codecs": ("h264",),
    "audio_codecs": ("aac",),  # spec: AAC-LC, 48 kHz, stereo (?): uncertain, hence soft
    "aspect_ratios": ("16:9", "9:16", "1:1", "4:5"),  # brief
    "recommended_resolution": (1080, 1920),  # brief
    "require_moov_first": True,  # spec: Meta refuses moov after mdat and edit lists
    "forbid_edit_lists": True,
    "soft": ("audio_codecs",),
}
# Facebook reels and stories: Meta's reels specs (spec: reels 3-90 s, 24-60 fps, min 540x960).
_FACEBOOK_VERTICAL: dict[str, Any] = {
    "min_duration": 3,
    "max_duration": 90,
    "aspect_ratios": ("9:16",),
    "preferred_aspect_ratios": ("9:16",),
    "min_resolution": (540, 960),
    "recommended_resolution": (1080, 1920),
    "min_fps": 24,
    "max_fps": 60,
}

_LINKEDIN: dict[str, Any] = {
    "max_duration": 600,  # brief; LinkedIn Videos API: 30 min
    "min_duration": 3,  # spec (LinkedIn Videos API: 3 s to 30 min)
    "max_size": 5 * _GB,  # brief; the API page says 500 MB (?)
    "containers": ("mp4",),  # brief
    "preferred_video_codecs": ("h264",),  # spec: H.264 preferred
    "audio_codecs": ("aac", "mp3", "vorbis"),  # spec "?": uncertain, hence soft
    "aspect_ratios": ("16:9", "9:16", "1:1"),  # brief; the API takes 1:2.4 to 2.4:1
    "recommended_resolution": (1920, 1080),  # brief
    "min_resolution": (256, 144),  # spec "256x144 - 4096x2304 ?": soft
    "max_resolution": (4096, 2304),
    "min_fps": 10,  # spec "10-60 ?": soft
    "max_fps": 60,
    "description_max_length": 3000,  # spec: commentary 3,000 characters (LinkedIn Posts API)
    "soft": ("audio_codecs", "min_resolution", "max_resolution", "min_fps", "max_fps"),
}

_YOUTUBE: dict[str, Any] = {
    "max_duration": 12 * 3600,  # brief: 12 hours (verified accounts)
    "unverified_max_duration": 15 * 60,  # spec: 15 min without verification (YouTube Help)
    "max_size": 256 * _GB,  # brief
    # brief: MP4, MOV, AVI, FLV, WMV; spec: WebM accepted too; 3GPP per YouTube Help file formats
    "containers": ("mp4", "mov", "avi", "flv", "wmv", "webm", "3gp"),
    "preferred_containers": ("mp4",),  # spec
    "preferred_video_codecs": ("h264",),  # spec: H.264 High preferred
    # brief; YouTube accepts any ratio (spec), so other ratios only warn
    "aspect_ratios": ("16:9", "9:16", "1:1", "4:3", "21:9"),
    "recommended_resolution": (1920, 1080),  # brief
    "title_max_length": 100,  # spec: 100 characters, no < or > (YouTube Data API)
    "title_forbidden_chars": "<>",
    "title_required": True,  # the Data API refuses an empty title
    "description_max_length": 5000,  # spec: 5,000 bytes UTF-8, no < or > (YouTube Data API)
    "description_unit": "utf8",
    "description_forbidden_chars": "<>",
    "tags_max_total_length": 500,  # spec: 500 characters in all (YouTube Data API)
    "soft": ("aspect_ratios",),
}

BUILTIN_RULES: dict[str, dict[str, Any]] = {
    "tiktok:video": _TIKTOK,
    "instagram:reels": {
        **_INSTAGRAM,
        "max_duration": 90,  # brief; the Graph API now takes reels up to 15 min
        "aspect_ratios": ("9:16",),  # brief; the Graph API accepts 0.01:1 to 10:1
        "preferred_aspect_ratios": ("9:16",),
        "recommended_resolution": (1080, 1920),  # brief
    },
    "instagram:stories": {
        **_INSTAGRAM,
        "max_duration": 60,  # brief
        "aspect_ratios": ("9:16",),  # brief; spec: stories 4:5 to 16:9 accepted by the API
        "preferred_aspect_ratios": ("9:16",),
        "recommended_resolution": (1080, 1920),  # Meta stories guidance
    },
    "instagram:feed": {
        **_INSTAGRAM,
        "max_duration": 3600,  # brief: 60 min (spec: doubtful)
        "aspect_ratios": ("4:5", "1:1"),  # brief; spec: the API accepts 4:5 to 16:9
    },
    "facebook:video": _FACEBOOK,
    "facebook:reels": {**_FACEBOOK, **_FACEBOOK_VERTICAL},
    "facebook:stories": {
        **_FACEBOOK,
        **_FACEBOOK_VERTICAL,
        "max_duration": 60,  # Meta page stories (not in the spec; as Instagram stories, brief)
    },
    "linkedin:video": _LINKEDIN,
    "youtube:video": _YOUTUBE,
    "youtube:shorts": {
        **_YOUTUBE,
        "max_duration": 180,  # YouTube Help (Oct 2024: Shorts up to 3 min); not in the spec
        "aspect_range": (0.0, 1.0),  # Shorts are vertical or square (spec)
        "aspect_ratios": (),
        "preferred_aspect_ratios": ("9:16",),
        "recommended_resolution": (1080, 1920),
        "soft": (),
    },
}


class RuleSet(Mapping[str, PlatformRules]):
    """The rules in effect, keyed by ``"platform:post_type"``."""

    def __init__(self, rules: Mapping[str, PlatformRules], source: str | None = None) -> None:
        self._rules = dict(rules)
        #: The rules file merged over the built-in table, if any.
        self.source = source

    def __getitem__(self, key: str) -> PlatformRules:
        return self._rules[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rules)

    def __len__(self) -> int:
        return len(self._rules)

    def for_platform(self, name: str) -> PlatformRules:
        """Rules for ``"instagram"`` (its default post type) or ``"instagram:stories"``.

        Raises ``UnknownPlatformError`` for an unknown platform or post type.
        """
        platform, post_type = parse_platform(name)
        return self._rules[f"{platform}:{post_type}"]

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {key: rule.to_dict() for key, rule in self._rules.items()}


# -- building and overriding -------------------------------------------------------------------

_SIZE_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": _MB, "GB": _GB, "TB": 1024 * _GB}
_RATE_UNITS = {"": 1, "BPS": 1, "KBPS": 1000, "MBPS": 1_000_000, "GBPS": 1_000_000_000}
_NUMBER_WITH_UNIT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z/]*)\s*$")


def ratio_value(text: str) -> float:
    """``"9:16"`` -> 0.5625 (also ``"1:2.4"``, ``"1.91"``)."""
    w, sep, h = str(text).partition(":")
    value = float(w) / float(h) if sep else float(w)
    if value <= 0:
        raise ValueError("must be positive")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    if value < 0:
        raise ValueError(f"must not be negative, got {value!r}")
    return float(value)


def _with_unit(units: dict[str, int], hint: str) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, str):
            m = _NUMBER_WITH_UNIT.match(value)
            unit = m.group(2).upper() if m else None
            if m is None or unit not in units:
                raise ValueError(f"expected a number or a string like {hint!r}, got {value!r}")
            return int(float(m.group(1)) * units[unit])
        return int(_number(value))

    return parse


def _optional(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else parse(value)


def _int(value: Any) -> int:
    number = _number(value)
    if number != int(number):
        raise ValueError(f"expected a whole number, got {value!r}")
    return int(number)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _str_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError(f"expected a list of strings, got {value!r}")
    if not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of strings, got {value!r}")
    return tuple(v.strip().lower() for v in value)


def _ratio_list(value: Any) -> tuple[str, ...]:
    items = _str_list(value)
    for item in items:
        try:
            ratio_value(item)
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"{item!r} is not an aspect ratio like '9:16'") from None
    return items


def _resolution(value: Any) -> tuple[int, int]:
    if isinstance(value, str):
        w, sep, h = value.lower().partition("x")
        if sep and w.strip().isdigit() and h.strip().isdigit():
            return int(w), int(h)
    elif isinstance(value, list | tuple) and len(value) == 2:
        return _int(value[0]), _int(value[1])
    raise ValueError(f"expected a resolution like '1080x1920', got {value!r}")


def _range(value: Any) -> tuple[float, float]:
    if isinstance(value, list | tuple) and len(value) == 2:
        try:
            lo, hi = (v if isinstance(v, int | float) else ratio_value(v) for v in value)
        except (ValueError, ZeroDivisionError):
            lo = hi = -1.0
        if 0 <= lo <= hi:
            return float(lo), float(hi)
    raise ValueError(f"expected [low, high] like ['1:2.4', '2.4:1'], got {value!r}")


def _unit(value: Any) -> str:
    if value not in TEXT_UNITS:
        raise ValueError(f"expected one of {', '.join(TEXT_UNITS)}, got {value!r}")
    return str(value)


def _chars(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string of characters, got {value!r}")
    return value


def _soft(value: Any) -> tuple[str, ...]:
    items = _str_list(value)
    unknown = [item for item in items if item not in _PARSERS]
    if unknown:
        raise ValueError(f"unknown rule name(s) {', '.join(unknown)}")
    return items


_SIZE = _optional(_with_unit(_SIZE_UNITS, "287MB"))
_PARSERS: dict[str, Callable[[Any], Any]] = {
    "min_duration": _optional(_number),
    "max_duration": _optional(_number),
    "unverified_max_duration": _optional(_number),
    "max_size": _SIZE,
    "containers": _str_list,
    "preferred_containers": _str_list,
    "video_codecs": _str_list,
    "preferred_video_codecs": _str_list,
    "audio_codecs": _str_list,
    "max_audio_sample_rate": _optional(_int),
    "max_audio_channels": _optional(_int),
    "aspect_ratios": _ratio_list,
    "aspect_range": _optional(_range),
    "aspect_tolerance": _number,
    "preferred_aspect_ratios": _ratio_list,
    "min_resolution": _optional(_resolution),
    "max_resolution": _optional(_resolution),
    "max_width": _optional(_int),
    "recommended_resolution": _optional(_resolution),
    "min_fps": _optional(_number),
    "max_fps": _optional(_number),
    "max_bitrate": _optional(_with_unit(_RATE_UNITS, "25Mbps")),
    "require_moov_first": _bool,
    "forbid_edit_lists": _bool,
    "title_max_length": _optional(_int),
    "title_unit": _unit,
    "title_forbidden_chars": _chars,
    "title_required": _bool,
    "description_max_length": _optional(_int),
    "description_unit": _unit,
    "description_forbidden_chars": _chars,
    "max_tags": _optional(_int),
    "tags_max_total_length": _optional(_int),
    "max_hashtags": _optional(_int),
    "max_mentions": _optional(_int),
    "soft": _soft,
}


def _parse(key: str, values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Check and convert the fields of one entry; errors name the file, key and field."""
    parsed: dict[str, Any] = {}
    for name, value in values.items():
        parser = _PARSERS.get(name)
        if parser is None:
            raise ConfigurationError(f"{where}: {key}.{name}: unknown rule (known: {', '.join(_PARSERS)})")
        try:
            parsed[name] = parser(value)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"{where}: {key}.{name}: {exc}") from None
    return parsed


def builtin_rules() -> RuleSet:
    """The built-in table, without any rules file."""
    return RuleSet(
        {
            key: PlatformRules(key=key, **_parse(key, values, "built-in rules"))
            for key, values in BUILTIN_RULES.items()
        }
    )


def load_rules(path: str | Path | None = None) -> RuleSet:
    """The built-in table with the rules file at ``path`` (if any) merged over it.

    A key is ``"platform:post_type"`` or a bare platform name (all of its post types); the bare
    name is applied first. Raises ``ConfigurationError`` naming the file and the key at fault.
    """
    if path is None:
        return builtin_rules()
    where = f"rules file {path}"
    overrides = _read_rules_file(Path(path), where)
    merged = {key: dict(rule.to_fields()) for key, rule in builtin_rules().items()}
    # Bare platform names first, so "instagram:reels" wins over "instagram" for reels.
    for key in sorted(overrides, key=lambda k: ":" in k):
        values = overrides[key]
        if not isinstance(values, dict):
            raise ConfigurationError(f"{where}: {key}: expected a table of rules, got {values!r}")
        targets = _targets(key, where)
        parsed = _parse(key, values, where)
        for target in targets:
            merged[target].update(parsed)
    return RuleSet({key: PlatformRules(**values) for key, values in merged.items()}, str(path))


def _targets(key: str, where: str) -> list[str]:
    platform, sep, post_type = key.strip().lower().partition(":")
    if platform not in POST_TYPES:
        raise ConfigurationError(f"{where}: {key}: unknown platform (known: {', '.join(POST_TYPES)})")
    if not sep:
        return [f"{platform}:{t}" for t in POST_TYPES[platform]]
    if post_type not in POST_TYPES[platform]:
        raise ConfigurationError(
            f"{where}: {key}: unknown post type for {platform} (known: {', '.join(POST_TYPES[platform])})"
        )
    return [f"{platform}:{post_type}"]


def _read_rules_file(path: Path, where: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"{where}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{where}: cannot read it ({exc})") from None
    suffix = path.suffix.lower()
    if suffix not in (".json", ".toml", ".yaml", ".yml"):
        raise ConfigurationError(f"{where}: unknown format (use .json, .toml, .yaml or .yml)")
    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix == ".toml":
            data = tomllib.loads(text)
        else:
            data = _load_yaml(text)
    except ValueError as exc:  # JSONDecodeError, TOMLDecodeError and YAML errors (see below)
        raise ConfigurationError(f"{where}: not valid {suffix.lstrip('.')}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigurationError(f"{where}: expected a table of platform keys at the top level")
    return data


def _load_yaml(text: str) -> Any:
    """YAML through PyYAML, its errors turned into ``ValueError`` like the other formats'."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None
