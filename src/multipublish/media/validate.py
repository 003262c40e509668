"""Check a video (and the text that goes with it) against each platform's rules.

The report is the brief's shape, one entry per platform name as the caller gave it::

    {"tiktok": {"valid": True, "errors": [], "warnings": ["..."], "media": {...}}}

Errors are what would make the platform refuse the upload; warnings are what it accepts but the
user should know. Nothing raises for a bad file or an unknown platform: those become errors of
the entries concerned, so the other platforms are still reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from multipublish.captions import PostText, compose_caption
from multipublish.captions import text_length as text_length
from multipublish.catalogue import parse_platform
from multipublish.errors import InputError, MediaError, UnknownPlatformError
from multipublish.media.probe import MediaInfo, probe
from multipublish.media.remote import NOT_CHECKED, RemoteVideo
from multipublish.media.rules import PlatformRules, RuleSet, load_rules, ratio_value

#: Frame rates that are not "odd" (anything else gets a warning).
COMMON_FRAME_RATES = (23.976, 24, 25, 29.97, 30, 48, 50, 59.94, 60)
_FPS_TOLERANCE = 0.01  # relative: PyAV reads 30 fps back as 30.0079
_MENTION = re.compile(r"(?<![\w@])@([\w.]+)")
_UNIT_NAMES = {"chars": "characters", "utf16": "UTF-16 code units", "utf8": "bytes (UTF-8)"}


class _Findings:
    """Errors and warnings of one platform; a breach of a ``soft`` rule is only a warning."""

    def __init__(self, rule: PlatformRules | None) -> None:
        self.soft = set(rule.soft) if rule else set()
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def breach(self, name: str, message: str) -> None:
        if name in self.soft:
            self.warnings.append(f"{message} (not a firm limit)")
        else:
            self.errors.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def validate_video_for_platforms(
    video_path: str | Path,
    platforms: Iterable[str],
    rules: RuleSet | None = None,
    config: PostText | None = None,
) -> dict[str, dict[str, Any]]:
    """Per platform ``{"valid", "errors", "warnings", "media"}``; with ``config`` its text too.

    ``rules`` defaults to the built-in table. Raises ``InputError`` only when ``platforms`` is
    empty; a file that cannot be probed makes every entry invalid with the reason.
    """
    names = _platform_names(platforms)
    rules = rules if rules is not None else load_rules(None)
    info: MediaInfo | None = None
    media_error: MediaError | None = None
    try:
        info = probe(video_path)
    except MediaError as exc:
        media_error = exc
    report: dict[str, dict[str, Any]] = {}
    media = info.to_dict() if info is not None else {}
    for name in names:
        rule, found = _resolve(name, rules)
        if rule is not None:
            if info is not None:
                _check_media(info, rule, found)
            if config is not None:
                _check_text(config, rule, found)
        if media_error is not None:
            found.errors.append(f"{media_error.path}: {media_error.reason}")
        report[name] = {
            "valid": not found.errors,
            "errors": found.errors,
            "warnings": found.warnings,
            "media": dict(media),  # flat: a copy per platform, as each had its own
        }
    return report


def validate_url_for_platforms(
    remote: RemoteVideo,
    platforms: Iterable[str],
    rules: RuleSet | None = None,
    config: PostText | None = None,
) -> dict[str, dict[str, Any]]:
    """The report of a video named by URL: partial, since its bytes are not here.

    The size (from ``HEAD``) is checked against each platform's limit and the text as for a file;
    every entry says which checks were not made. YouTube cannot take a URL: an error there.
    """
    names = _platform_names(platforms)
    rules = rules if rules is not None else load_rules(None)
    media = remote.to_dict()
    report: dict[str, dict[str, Any]] = {}
    for name in names:
        rule, found = _resolve(name, rules)
        if rule is not None:
            if rule.platform == "youtube":
                found.errors.append(
                    "video_path: YouTube takes the video's bytes (videos.insert), not a URL; "
                    "give a local file"
                )
            if remote.status in (401, 403, 404, 410):
                found.errors.append(
                    f"video_path: the URL answered HTTP {remote.status} to HEAD; the service could "
                    "not fetch it either"
                )
            if remote.size is not None:
                _check_size(remote.size, rule, found)
            if config is not None:
                _check_text(config, rule, found)
        found.warn(
            "validated partially: the video is at a URL, so its "
            + ", ".join(NOT_CHECKED)
            + " were not checked"
        )
        found.warnings.extend(remote.notes)
        report[name] = {
            "valid": not found.errors,
            "errors": found.errors,
            "warnings": found.warnings,
            "media": media,
        }
    return report


def validate_config_for_platforms(
    config: PostText, platforms: Iterable[str], rules: RuleSet | None = None
) -> dict[str, dict[str, Any]]:
    """Per platform ``{"valid", "errors", "warnings"}`` for the text fields of ``config``."""
    names = _platform_names(platforms)
    rules = rules if rules is not None else load_rules(None)
    report: dict[str, dict[str, Any]] = {}
    for name in names:
        rule, found = _resolve(name, rules)
        if rule is not None:
            _check_text(config, rule, found)
        report[name] = {"valid": not found.errors, "errors": found.errors, "warnings": found.warnings}
    return report


def _platform_names(platforms: Iterable[str]) -> list[str]:
    if isinstance(platforms, str):
        platforms = [platforms]
    names = list(dict.fromkeys(p for p in platforms))
    if not names:
        raise InputError("platforms", "no platform given")
    return names


def _resolve(name: str, rules: RuleSet) -> tuple[PlatformRules | None, _Findings]:
    try:
        platform, post_type = parse_platform(str(name))
    except UnknownPlatformError as exc:
        found = _Findings(None)
        found.errors.append(exc.reason)
        return None, found
    key = f"{platform}:{post_type}"
    rule = rules.get(key)
    found = _Findings(rule)
    if rule is None:
        found.errors.append(f"no rules for {key} in the rules in effect")
    return rule, found


# -- media -------------------------------------------------------------------------------------


def _check_media(info: MediaInfo, rule: PlatformRules, found: _Findings) -> None:
    """Add the breaches of ``rule`` by the probed file ``info`` to ``found``."""
    _check_duration(info, rule, found)
    _check_size(info.size, rule, found)
    _check_format(info, rule, found)
    _check_picture(info, rule, found)
    _check_frame_rate(info, rule, found)
    if rule.max_bitrate is not None and info.bitrate > rule.max_bitrate:
        found.breach(
            "max_bitrate",
            f"bitrate {info.bitrate / 1e6:.1f} Mbps is over the {rule.max_bitrate / 1e6:g} Mbps cap",
        )
    if rule.require_moov_first and info.moov_after_mdat:
        found.breach(
            "require_moov_first",
            "the MP4 index (moov) comes after the media data (mdat); re-mux with '-movflags +faststart'",
        )
    if rule.forbid_edit_lists and info.edit_list:
        found.breach("forbid_edit_lists", "the file has an edit list (elst), which is refused")


def _check_duration(info: MediaInfo, rule: PlatformRules, found: _Findings) -> None:
    if rule.max_duration is not None and info.duration > rule.max_duration:
        found.breach(
            "max_duration",
            f"duration {_secs(info.duration)} is over the {_secs(rule.max_duration)} limit",
        )
    elif rule.unverified_max_duration is not None and info.duration > rule.unverified_max_duration:
        found.warn(
            f"duration {_secs(info.duration)} is over {_secs(rule.unverified_max_duration)}: "
            "the channel must be verified"
        )
    if rule.min_duration is not None and info.duration < rule.min_duration:
        found.breach(
            "min_duration",
            f"duration {_secs(info.duration)} is under the {_secs(rule.min_duration)} minimum",
        )


def _check_format(info: MediaInfo, rule: PlatformRules, found: _Findings) -> None:
    if rule.containers and info.container not in rule.containers:
        found.breach(
            "containers",
            f"container {info.container.upper()} is not accepted (accepted: {_upper(rule.containers)})",
        )
    elif rule.preferred_containers and info.container not in rule.preferred_containers:
        found.warn(
            f"container {info.container.upper()} is accepted, but "
            f"{_upper(rule.preferred_containers)} is preferred"
        )
    if rule.video_codecs and info.video_codec not in rule.video_codecs:
        found.breach(
            "video_codecs",
            f"video codec {info.video_codec} is not accepted (accepted: {', '.join(rule.video_codecs)})",
        )
    elif rule.preferred_video_codecs and info.video_codec not in rule.preferred_video_codecs:
        found.warn(
            f"video codec {info.video_codec} is accepted, but "
            f"{', '.join(rule.preferred_video_codecs)} is preferred"
        )
    if info.audio_codec is None:
        return
    if rule.audio_codecs and info.audio_codec not in rule.audio_codecs:
        found.breach(
            "audio_codecs",
            f"audio codec {info.audio_codec} is not accepted (accepted: {', '.join(rule.audio_codecs)})",
        )
    rate = info.audio_sample_rate
    if rule.max_audio_sample_rate is not None and rate and rate > rule.max_audio_sample_rate:
        found.breach(
            "max_audio_sample_rate",
            f"audio sample rate {rate} Hz is over the {rule.max_audio_sample_rate} Hz limit",
        )
    channels = info.audio_channels
    if rule.max_audio_channels is not None and channels and channels > rule.max_audio_channels:
        found.breach(
            "max_audio_channels",
            f"{channels} audio channels; at most {rule.max_audio_channels} are accepted",
        )


def _ratio_matches(value: float, ratio: str, tolerance: float) -> bool:
    return abs(value / ratio_value(ratio) - 1) <= tolerance


def _check_picture(info: MediaInfo, rule: PlatformRules, found: _Findings) -> None:
    ratio = info.aspect_ratio
    shown = f"aspect ratio {_ratio_text(info.width, info.height)} ({info.width}x{info.height})"
    tol = rule.aspect_tolerance
    if rule.aspect_ratios and not any(_ratio_matches(ratio, r, tol) for r in rule.aspect_ratios):
        found.breach(
            "aspect_ratios",
            f"{shown} is not accepted (accepted: {', '.join(rule.aspect_ratios)})",
        )
    elif rule.aspect_range is not None and not (
        rule.aspect_range[0] * (1 - tol) <= ratio <= rule.aspect_range[1] * (1 + tol)
    ):
        lo, hi = rule.aspect_range
        found.breach("aspect_range", f"{shown} is outside the accepted range {lo:.3g} to {hi:.3g} (w/h)")
    elif rule.preferred_aspect_ratios and not any(
        _ratio_matches(ratio, r, tol) for r in rule.preferred_aspect_ratios
    ):
        found.warn(f"{shown} is accepted, but {', '.join(rule.preferred_aspect_ratios)} is preferred")

    short, long = sorted((info.width, info.height))
    if rule.min_resolution is not None:
        need_short, need_long = sorted(rule.min_resolution)
        if short < need_short or long < need_long:
            found.breach(
                "min_resolution",
                f"resolution {info.width}x{info.height} is under the minimum "
                f"{rule.min_resolution[0]}x{rule.min_resolution[1]}",
            )
    if rule.max_resolution is not None:
        max_short, max_long = sorted(rule.max_resolution)
        if short > max_short or long > max_long:
            found.breach(
                "max_resolution",
                f"resolution {info.width}x{info.height} is over the maximum "
                f"{rule.max_resolution[0]}x{rule.max_resolution[1]}",
            )
    if rule.max_width is not None and info.width > rule.max_width:
        found.breach("max_width", f"width {info.width} px is over the {rule.max_width} px limit")
    if rule.recommended_resolution is not None:
        rec_short, rec_long = sorted(rule.recommended_resolution)
        if short < rec_short or long < rec_long:
            w, h = rule.recommended_resolution
            found.warn(f"resolution {info.width}x{info.height} is below the recommended {w}x{h}")


def _check_frame_rate(info: MediaInfo, rule: PlatformRules, found: _Findings) -> None:
    fps = info.frame_rate
    if fps <= 0:
        found.warn("frame rate unknown")
        return
    if rule.min_fps is not None and fps < rule.min_fps * (1 - _FPS_TOLERANCE):
        found.breach("min_fps", f"frame rate {fps:.3g} fps is under the {rule.min_fps:g} fps minimum")
    elif rule.max_fps is not None and fps > rule.max_fps * (1 + _FPS_TOLERANCE):
        found.breach("max_fps", f"frame rate {fps:.3g} fps is over the {rule.max_fps:g} fps maximum")
    elif not any(abs(fps / common - 1) <= _FPS_TOLERANCE for common in COMMON_FRAME_RATES):
        found.warn(f"unusual frame rate {fps:.3g} fps (usual: 24, 25, 30, 50 or 60)")


# -- text --------------------------------------------------------------------------------------


def youtube_tags_length(tags: list[str]) -> int:
    """Length YouTube counts for tags: each tag, a comma between, quotes around a tag with a space."""
    if not tags:
        return 0
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + len(tags) - 1


def _check_text(config: PostText, rule: PlatformRules, found: _Findings) -> None:
    """Add the breaches of ``rule``'s text limits by ``config`` to ``found``.

    The caption checked is the one the platform will show: composed from title, description and
    tags into the platform's caption field (``captions.compose_caption``), or the
    ``platform_specific`` override, exactly as the client sends it.
    """
    title = config.title or ""
    if rule.title_required and not title.strip():
        found.breach("title_required", "title is required")
    _check_field("title", title, rule.title_max_length, rule.title_unit, rule.title_forbidden_chars, found)
    composed = compose_caption(config, rule.key)
    caption = composed.text
    if composed.source != "composed":
        field = composed.source
    elif composed.field in ("description", "snippet.description"):
        field = "description"
    else:
        field = f"caption ({composed.field}: title, description and tags composed)"
    _check_field(
        field,
        caption,
        rule.description_max_length,
        rule.description_unit,
        rule.description_forbidden_chars,
        found,
        rule_name="description",
    )
    for warning in composed.warnings:
        found.warn(warning)
    tags = [str(t) for t in config.tags]
    if rule.max_tags is not None and len(tags) > rule.max_tags:
        found.breach("max_tags", f"tags: {len(tags)} tags, over the limit of {rule.max_tags}")
    if rule.tags_max_total_length is not None:
        total = youtube_tags_length(tags)
        if total > rule.tags_max_total_length:
            found.breach(
                "tags_max_total_length",
                f"tags: {total} characters in all, over the limit of {rule.tags_max_total_length}",
            )
    if rule.max_hashtags is not None:
        hashtags = composed.hashtags
        if len(hashtags) > rule.max_hashtags:
            found.breach(
                "max_hashtags",
                f"{field}: {len(hashtags)} hashtags, over the limit of {rule.max_hashtags}",
            )
    if rule.max_mentions is not None:
        mentions = len(set(_MENTION.findall(caption)))
        if mentions > rule.max_mentions:
            found.breach(
                "max_mentions", f"{field}: {mentions} @mentions, over the limit of {rule.max_mentions}"
            )


def _check_field(
    field: str,
    text: str,
    max_length: int | None,
    unit: str,
    forbidden: str,
    found: _Findings,
    rule_name: str | None = None,
) -> None:
    name = rule_name or field
    if max_length is not None:
        length = text_length(text, unit)
        if length > max_length:
            found.breach(
                f"{name}_max_length",
                f"{field}: {length} {_UNIT_NAMES[unit]}, over the limit of {max_length}",
            )
    bad = sorted({c for c in text if c in forbidden})
    if bad:
        found.breach(
            f"{name}_forbidden_chars",
            f"{field}: contains {' '.join(repr(c) for c in bad)}, which is not allowed",
        )


# -- formatting --------------------------------------------------------------------------------


def _check_size(size: int, rule: PlatformRules, found: _Findings) -> None:
    if rule.max_size is not None and size > rule.max_size:
        found.breach("max_size", f"file size {_bytes(size)} is over the {_bytes(rule.max_size)} limit")


def _secs(value: float) -> str:
    if value >= 3600 and value % 3600 == 0:
        return f"{value / 3600:g} h ({value:g} s)"
    if value >= 60 and value % 60 == 0:
        return f"{value / 60:g} min ({value:g} s)"
    return f"{value:.3g} s" if value < 100 else f"{value:.0f} s"


def _bytes(value: int) -> str:
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if value >= size:
            return f"{value / size:.4g} {unit}"
    return f"{value} bytes"


def _upper(items: Iterable[str]) -> str:
    return ", ".join(i.upper() for i in items)


def _ratio_text(width: int, height: int) -> str:
    """``1080x1920`` -> ``9:16``; other sizes as a decimal (``0.462:1``)."""
    ratio = width / height if height else 0.0
    for w, h in ((9, 16), (16, 9), (1, 1), (4, 5), (5, 4), (4, 3), (3, 4), (21, 9), (2, 3), (3, 2)):
        if abs(ratio / (w / h) - 1) <= 0.01:
            return f"{w}:{h}"
    return f"{ratio:.3g}:1"
