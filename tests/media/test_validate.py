"""The validation report: shapes, geometry and containers per platform, and bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from multipublish.errors import InputError
from multipublish.manager import PublishingManager
from multipublish.media import validate_video_for_platforms
from multipublish.settings import Settings
from tests.fixtures.videos import VideoFactory
from tests.media.conftest import cut, mp4_box_offset

KEYS = [
    "tiktok",
    "instagram:reels",
    "instagram:stories",
    "instagram:feed",
    "facebook",
    "facebook:reels",
    "linkedin",
    "youtube",
    "youtube:shorts",
]


def _aspect_verdicts(report: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Per platform: "error", "warning" or "ok" as far as the aspect ratio goes."""
    out = {}
    for key, entry in report.items():
        if any("aspect ratio" in m for m in entry["errors"]):
            out[key] = "error"
        elif any("aspect ratio" in m for m in entry["warnings"]):
            out[key] = "warning"
        else:
            out[key] = "ok"
    return out


# Expected aspect-ratio verdicts (the brief's ratios; YouTube accepts any ratio, so only warns).
GEOMETRY = {
    "vertical": ((1080, 1920), "ok ok ok error ok ok ok ok ok"),
    "horizontal": ((1920, 1080), "warning error error error ok error ok ok error"),
    "square": ((1080, 1080), "warning error error ok ok error ok ok warning"),
    "4:5": ((1080, 1350), "error error error ok ok error error warning warning"),
    "21:9": ((2560, 1080), "error error error error error error error ok error"),
}


@pytest.mark.parametrize("name", list(GEOMETRY))
def test_aspect_ratio_per_platform(tiny: VideoFactory, name: str) -> None:
    (width, height), expected = GEOMETRY[name]
    report = validate_video_for_platforms(tiny(width=width, height=height), KEYS)
    assert _aspect_verdicts(report) == dict(zip(KEYS, expected.split(), strict=True))
    assert all(entry["media"]["width"] == width for entry in report.values())


def test_rotated_clip_is_judged_as_displayed(tiny: VideoFactory) -> None:
    # Stored 1920x1080, displayed 1080x1920: a valid reel, not a landscape video.
    report = validate_video_for_platforms(tiny(width=1920, height=1080, rotation=90, duration=0.1), KEYS)
    assert _aspect_verdicts(report) == dict(zip(KEYS, GEOMETRY["vertical"][1].split(), strict=True))
    assert report["instagram:reels"]["media"]["rotation"] in (90, 270)


@pytest.mark.parametrize(
    ("suffix", "kwargs", "refused_by"),
    [
        ("mp4", {}, set()),
        ("mov", {}, {"linkedin"}),
        ("webm", {}, {"instagram:reels", "facebook", "linkedin"}),
        ("avi", {}, {"tiktok", "instagram:reels", "facebook", "linkedin"}),
        # A MOV renamed .mp4 is still a MOV: LinkedIn takes MP4 only.
        ("mp4", {"container": "mov"}, {"linkedin"}),
    ],
    ids=["mp4", "mov", "webm", "avi", "mov-named-mp4"],
)
def test_container_verdicts(
    tiny: VideoFactory, suffix: str, kwargs: dict[str, Any], refused_by: set[str]
) -> None:
    keys = ["tiktok", "instagram:reels", "facebook", "linkedin", "youtube"]
    report = validate_video_for_platforms(tiny(suffix, **kwargs), keys)
    refused = {k for k in keys if any("container" in m for m in report[k]["errors"])}
    assert refused == refused_by


def test_report_shape_and_plain_names(vertical_video: Path) -> None:
    report = validate_video_for_platforms(
        vertical_video, ["tiktok", "instagram", "facebook", "linkedin", "youtube"]
    )
    assert list(report) == ["tiktok", "instagram", "facebook", "linkedin", "youtube"]
    for entry in report.values():
        assert set(entry) == {"valid", "errors", "warnings", "media"}
        assert entry["valid"] is True
        assert entry["media"]["container"] == "mp4"


def test_plain_instagram_means_reels(tiny: VideoFactory) -> None:
    path = tiny(duration=70, fps=24, audio=False)  # over stories' 60 s, under reels' 90 s
    report = validate_video_for_platforms(path, ["instagram", "instagram:stories"])
    assert not any("duration" in m for m in report["instagram"]["errors"])
    assert any("duration" in m for m in report["instagram:stories"]["errors"])


def test_over_duration_limit(tiny: VideoFactory) -> None:
    # 700 s at 1 fps, tiny, silent: over TikTok's and LinkedIn's 10 minutes, fine for YouTube.
    path = tiny(duration=700, fps=1, audio=False)
    report = validate_video_for_platforms(path, ["tiktok", "linkedin", "youtube"])
    assert "duration 700 s is over the 10 min (600 s) limit" in report["tiktok"]["errors"]
    assert "duration 700 s is over the 10 min (600 s) limit" in report["linkedin"]["errors"]
    assert not any("duration" in m for m in report["youtube"]["errors"])


# -- unknown platforms and bad files -----------------------------------------------------------


def test_unknown_platform_and_post_type_are_entries(vertical_video: Path) -> None:
    report = validate_video_for_platforms(vertical_video, ["tiktok", "myspace", "instagram:igtv", "youtube"])
    assert report["tiktok"]["valid"] and report["youtube"]["valid"]
    assert report["myspace"]["valid"] is False
    assert "unknown platform 'myspace'" in report["myspace"]["errors"][0]
    assert report["instagram:igtv"]["valid"] is False
    assert "unknown post type 'igtv' for instagram" in report["instagram:igtv"]["errors"][0]


def test_no_platform_is_an_input_error(vertical_video: Path) -> None:
    with pytest.raises(InputError) as caught:
        validate_video_for_platforms(vertical_video, [])
    assert caught.value.field == "platforms"


def _bad_files(tmp: Path, tiny: VideoFactory, audio_only: Path) -> dict[str, tuple[Path, str]]:
    text = tmp / "notes.mp4"
    text.write_text("not a video\n" * 50)
    empty = tmp / "empty.mp4"
    empty.touch()
    src = tiny()
    head_cut = cut(src, tmp / "cut.mp4", mp4_box_offset(src, b"mdat") + 64)
    late = tiny(faststart=False)
    tail_cut = cut(late, tmp / "cut-late.mp4", mp4_box_offset(late, b"moov") // 2)
    return {
        "missing": (tmp / "missing.mp4", "file not found"),
        "directory": (tmp, "is a directory"),
        "empty": (empty, "empty file"),
        "text": (text, "not a video file"),
        "audio-only": (audio_only, "no video stream"),
        "truncated": (head_cut, "truncated"),
        "truncated-moov-at-end": (tail_cut, "truncated"),
    }


@pytest.mark.parametrize(
    "case",
    ["missing", "directory", "empty", "text", "audio-only", "truncated", "truncated-moov-at-end"],
)
def test_bad_file_makes_every_entry_invalid(
    tiny: VideoFactory, audio_only: Path, tmp_path: Path, case: str
) -> None:
    path, reason = _bad_files(tmp_path, tiny, audio_only)[case]
    report = validate_video_for_platforms(path, ["tiktok", "instagram:stories", "youtube"])
    assert list(report) == ["tiktok", "instagram:stories", "youtube"]
    for entry in report.values():
        assert entry["valid"] is False
        assert entry["media"] == {}
        assert len(entry["errors"]) == 1
        assert entry["errors"][0].startswith(f"{path}: ")
        assert reason in entry["errors"][0]


# -- through the manager (the brief's entry point) ---------------------------------------------


def test_manager_validates_with_the_settings_rules_file(vertical_video: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text('{"tiktok": {"max_duration": 2}}')
    plain = PublishingManager(Settings()).validate_video_for_platforms(vertical_video, ["tiktok"])
    assert plain["tiktok"]["valid"] is True
    strict = PublishingManager(Settings(rules_file=rules)).validate_video_for_platforms(
        vertical_video, ["tiktok"]
    )
    assert strict["tiktok"]["errors"] == ["duration 3 s is over the 2 s limit"]


def test_manager_reads_the_rules_file_from_the_environment(
    vertical_video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('["youtube:video"]\ncontainers = ["mov"]\n')
    monkeypatch.setenv("MULTIPUBLISH_RULES_FILE", str(rules))
    report = PublishingManager().validate_video_for_platforms(vertical_video, ["youtube", "tiktok"])
    assert report["youtube"]["errors"] == ["container MP4 is not accepted (accepted: MOV)"]
    assert report["tiktok"]["valid"] is True
