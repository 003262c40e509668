"""Every media rule of the built-in table, crossed by a real file (errors, or warnings when soft)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from multipublish.media import load_rules, validate_video_for_platforms
from multipublish.media.rules import BUILTIN_RULES
from multipublish.media.sample import pad_to_size
from tests.fixtures.videos import VideoFactory

MB = 1024 * 1024
GB = 1024 * MB

ALL_KEYS = list(BUILTIN_RULES)
IG = ["instagram:reels", "instagram:stories", "instagram:feed"]
FB = ["facebook:video", "facebook:reels", "facebook:stories"]
META = IG + FB


def check(path: Path, key: str) -> dict[str, Any]:
    return validate_video_for_platforms(path, [key])[key]


def assert_breach(entry: dict[str, Any], severity: str, fragment: str) -> None:
    """``fragment`` is in the errors (or only in the warnings, for a soft rule)."""
    errors = [m for m in entry["errors"] if fragment in m]
    warnings = [m for m in entry["warnings"] if fragment in m]
    if severity == "error":
        assert errors, entry
        assert entry["valid"] is False
    else:
        assert warnings and not errors, entry


def assert_clear(entry: dict[str, Any], fragment: str) -> None:
    assert not [m for m in entry["errors"] + entry["warnings"] if fragment in m], entry


# (rule, platform key, clip parameters for ``tiny``, severity, fragment of the message)
CASES: list[tuple[str, str, dict[str, Any], str, str]] = [
    *[("min_duration", k, {}, "error", "under the 3 s minimum") for k in META if k != "facebook:video"],
    ("min_duration", "linkedin:video", {}, "error", "under the 3 s minimum"),
    ("min_duration", "tiktok:video", {}, "warning", "under the 3 s minimum"),
    ("containers", "instagram:reels", {"suffix": "webm"}, "error", "container WEBM is not accepted"),
    ("containers", "facebook:video", {"suffix": "webm"}, "error", "container WEBM is not accepted"),
    ("containers", "tiktok:video", {"suffix": "avi"}, "error", "container AVI is not accepted"),
    ("containers", "linkedin:video", {"suffix": "mov"}, "error", "container MOV is not accepted"),
    ("containers", "youtube:video", {"suffix": "mkv"}, "error", "container MKV is not accepted"),
    ("preferred_containers", "tiktok:video", {"suffix": "mov"}, "warning", "MP4 is preferred"),
    ("preferred_containers", "facebook:video", {"suffix": "mov"}, "warning", "MP4 is preferred"),
    ("preferred_containers", "youtube:video", {"suffix": "avi"}, "warning", "MP4 is preferred"),
    *[
        ("video_codecs", k, {"video_codec": "mpeg4"}, "error", "video codec mpeg4 is not accepted")
        for k in ("tiktok:video", "instagram:reels", "facebook:video")
    ],
    *[
        ("preferred_video_codecs", k, {"video_codec": "libx265"}, "warning", "h264 is preferred")
        for k in ("tiktok:video", "facebook:video", "linkedin:video", "youtube:video")
    ],
    ("audio_codecs", "instagram:reels", {"audio_codec": "mp3"}, "error", "audio codec mp3"),
    ("audio_codecs", "facebook:video", {"audio_codec": "mp3"}, "warning", "audio codec mp3"),
    ("audio_codecs", "linkedin:video", {"audio_codec": "libopus"}, "warning", "audio codec opus"),
    *[("max_audio_sample_rate", k, {"sample_rate": 96000}, "error", "96000 Hz is over") for k in IG],
    *[("max_audio_channels", k, {"channels": 6}, "error", "6 audio channels") for k in IG],
    ("aspect_range", "youtube:shorts", {"width": 256, "height": 144}, "error", "outside"),
    (
        "preferred_aspect_ratios",
        "tiktok:video",
        {"width": 256, "height": 144},
        "warning",
        "9:16 is preferred",
    ),
    (
        "preferred_aspect_ratios",
        "youtube:shorts",
        {"width": 256, "height": 256},
        "warning",
        "9:16 is preferred",
    ),
    ("min_resolution", "tiktok:video", {"width": 180, "height": 320}, "error", "under the minimum 360x360"),
    *[
        ("min_resolution", k, {"width": 360, "height": 640}, "error", "under the minimum 540x960")
        for k in ("facebook:reels", "facebook:stories")
    ],
    (
        "min_resolution",
        "linkedin:video",
        {"width": 128, "height": 72},
        "warning",
        "under the minimum 256x144",
    ),
    (
        "max_resolution",
        "tiktok:video",
        {"width": 2448, "height": 4352, "duration": 1 / 30},
        "error",
        "over the maximum 4096x4096",
    ),
    (
        "max_resolution",
        "linkedin:video",
        {"width": 4352, "height": 2448, "duration": 1 / 30},
        "warning",
        "over the maximum 4096x2304",
    ),
    *[
        (
            "max_width",
            k,
            {"width": 2448, "height": 4352, "duration": 1 / 30},
            "error",
            "width 2448 px is over the 1920 px limit",
        )
        for k in IG
    ],
    (
        "recommended_resolution",
        "tiktok:video",
        {"width": 540, "height": 960},
        "warning",
        "below the recommended 1080x1920",
    ),
    (
        "recommended_resolution",
        "youtube:video",
        {"width": 1280, "height": 720},
        "warning",
        "below the recommended 1920x1080",
    ),
    *[
        ("min_fps", k, {"fps": 15}, "error", "under the")
        for k in ("tiktok:video", "instagram:reels", "facebook:reels")
    ],
    ("min_fps", "linkedin:video", {"fps": 5}, "warning", "under the 10 fps minimum"),
    *[
        ("max_fps", k, {"fps": 120}, "error", "over the 60 fps maximum")
        for k in ("tiktok:video", "instagram:feed", "facebook:stories")
    ],
    ("max_fps", "linkedin:video", {"fps": 120}, "warning", "over the 60 fps maximum"),
    ("odd_frame_rate", "youtube:video", {"fps": 27}, "warning", "unusual frame rate 27"),
    *[("require_moov_first", k, {"faststart": False}, "error", "moov") for k in META],
]


def _id(case: tuple[str, str, dict[str, Any], str, str]) -> str:
    return f"{case[0]}-{case[1]}"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_rule_is_crossed(tiny: VideoFactory, case: tuple[str, str, dict[str, Any], str, str]) -> None:
    _, key, params, severity, fragment = case
    params = dict(params)
    suffix = params.pop("suffix", "mp4")
    assert_breach(check(tiny(suffix, **params), key), severity, fragment)


def test_compliant_clip_has_no_finding(vertical_video: Path) -> None:
    """The controls of every case above: a 3 s 1080x1920 H.264/AAC faststart MP4."""
    report = validate_video_for_platforms(vertical_video, ALL_KEYS)
    for key in ALL_KEYS:
        if key == "instagram:feed":  # feed takes 4:5 and 1:1 only (the brief)
            assert report[key]["errors"] == [
                "aspect ratio 9:16 (1080x1920) is not accepted (accepted: 4:5, 1:1)"
            ]
            continue
        assert report[key] == {
            "valid": True,
            "errors": [],
            "warnings": [],
            "media": report[key]["media"],
        }, key
        assert report[key]["media"]["width"] == 1080


def test_edit_list_refused_by_meta(edit_list_video: Path) -> None:
    for key in META:
        assert_breach(check(edit_list_video, key), "error", "edit list")
    assert_clear(check(edit_list_video, "youtube:video"), "edit list")


def test_faststart_not_required_elsewhere(tiny: VideoFactory) -> None:
    path = tiny(faststart=False)
    for key in ("tiktok:video", "linkedin:video", "youtube:video"):
        assert_clear(check(path, key), "moov")


# -- durations: clips over each platform's limit (1 fps, or one frame a minute, tiny, silent) ----


def _limits(field: str) -> dict[str, float]:
    rules = load_rules()
    return {k: getattr(r, field) for k, r in rules.items() if getattr(r, field) is not None}


def _long_clip(tiny: VideoFactory, seconds: float) -> Path:
    fps = Fraction(1) if seconds < 1000 else Fraction(1, 60)
    return tiny(duration=seconds, fps=fps, audio=False)


@pytest.mark.parametrize("key", list(_limits("max_duration")))
def test_max_duration_crossed(tiny: VideoFactory, key: str) -> None:
    limit = _limits("max_duration")[key]
    over = _long_clip(tiny, limit + 60)
    assert_breach(check(over, key), "error", "is over the")
    at_limit = check(_long_clip(tiny, limit), key)
    assert not [m for m in at_limit["errors"] if "duration" in m], at_limit


def test_built_in_durations_are_the_briefs() -> None:
    assert _limits("max_duration") == {
        "tiktok:video": 600,
        "instagram:reels": 90,
        "instagram:stories": 60,
        "instagram:feed": 3600,
        "facebook:video": 7200,
        "facebook:reels": 90,
        "facebook:stories": 60,
        "linkedin:video": 600,
        "youtube:video": 43200,
        "youtube:shorts": 180,
    }


def test_over_fifteen_minutes_needs_a_verified_youtube_channel(tiny: VideoFactory) -> None:
    entry = check(_long_clip(tiny, 960), "youtube:video")
    assert_breach(entry, "warning", "must be verified")
    assert_clear(check(_long_clip(tiny, 600), "youtube:video"), "verified")


# -- sizes: sparse files padded past each limit (cheap on disk, real sizes) ---------------------


@pytest.fixture
def padded(tiny: VideoFactory, tmp_path: Path) -> Callable[[int], Path]:
    def make(size: int) -> Path:
        path = tmp_path / f"padded-{size}.mp4"
        shutil.copyfile(tiny(audio=False, duration=3, fps=24, width=180, height=320), path)
        return pad_to_size(path, size)

    return make


@pytest.mark.parametrize(
    ("key", "limit"),
    [
        ("tiktok:video", 287 * MB),
        *[(k, 100 * MB) for k in IG],
        *[(k, 4 * GB) for k in FB],
        ("linkedin:video", 5 * GB),
        ("youtube:video", 256 * GB),
        ("youtube:shorts", 256 * GB),
    ],
)
def test_max_size_crossed(padded: Callable[[int], Path], key: str, limit: int) -> None:
    assert load_rules()[key].max_size == limit  # the brief's figure
    assert_breach(check(padded(limit + MB), key), "error", "file size")
    assert_clear(check(padded(limit), key), "file size")


def test_instagram_bitrate_cap(padded: Callable[[int], Path]) -> None:
    # A 3 s file of 10 MB carries 28 Mbps: over Instagram's 25 Mbps cap; 9 MB (25.2 Mbps) too.
    for key in IG:
        assert_breach(check(padded(10 * MB), key), "error", "over the 25 Mbps cap")
    assert_clear(check(padded(8 * MB), "instagram:reels"), "Mbps")
    assert_clear(check(padded(10 * MB), "tiktok:video"), "Mbps")
