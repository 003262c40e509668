"""probe() on real files: what it reports, and how it refuses what is not a readable video."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from multipublish.errors import MediaError
from multipublish.media import MediaInfo, probe
from multipublish.media.sample import pad_to_size
from tests.fixtures.videos import VideoFactory
from tests.media.conftest import cut, mp4_box_offset


@pytest.mark.parametrize(
    ("width", "height"),
    [(1080, 1920), (1920, 1080), (1080, 1080), (1080, 1350), (2560, 1080)],
    ids=["vertical", "horizontal", "square", "4:5", "21:9"],
)
def test_reports_dimensions_and_streams(tiny: VideoFactory, width: int, height: int) -> None:
    info = probe(tiny(width=width, height=height))
    assert (info.width, info.height) == (width, height)
    assert info.rotation == 0
    assert info.container == "mp4"
    assert info.video_codec == "h264"
    assert info.audio_codec == "aac"
    assert info.audio_sample_rate == 48000
    assert info.audio_channels == 2
    assert info.duration == pytest.approx(0.2, abs=0.05)
    assert info.frame_rate == pytest.approx(30, rel=0.01)
    assert info.faststart is True
    assert info.edit_list is False
    assert info.aspect_ratio == pytest.approx(width / height)


def test_full_report_of_the_vertical_fixture(vertical_video: Path) -> None:
    info = probe(vertical_video)
    assert isinstance(info, MediaInfo)
    assert info.size == vertical_video.stat().st_size
    assert info.duration == pytest.approx(3.0, abs=0.05)
    # Overall bitrate is the file's bits over its duration.
    assert info.bitrate == pytest.approx(info.size * 8 / info.duration, rel=0.05)
    data = info.to_dict()
    assert data["width"] == 1080 and data["height"] == 1920
    assert data["aspect_ratio"] == 0.5625
    assert data["moov_after_mdat"] is False
    assert data["path"] == str(vertical_video)


def test_rotation_is_applied_to_the_displayed_size(tiny: VideoFactory) -> None:
    info = probe(tiny(width=320, height=180, rotation=90))
    assert (info.coded_width, info.coded_height) == (320, 180)
    assert (info.width, info.height) == (180, 320)
    assert info.rotation in (90, 270)


def test_rotated_full_hd_is_displayed_vertical(tiny: VideoFactory) -> None:
    info = probe(tiny(width=1920, height=1080, rotation=90, duration=0.1))
    assert (info.width, info.height) == (1080, 1920)


@pytest.mark.parametrize(
    ("suffix", "kwargs", "container", "vcodec", "acodec"),
    [
        ("mp4", {}, "mp4", "h264", "aac"),
        ("mov", {}, "mov", "h264", "aac"),
        ("webm", {}, "webm", "vp9", "opus"),
        ("avi", {}, "avi", "mpeg4", "mp3"),
        ("mkv", {}, "mkv", "h264", "aac"),
        ("flv", {"video_codec": "libx264", "audio_codec": "aac"}, "flv", "h264", "aac"),
        ("wmv", {"container": "asf", "video_codec": "wmv2", "audio": False}, "wmv", "wmv2", None),
        # The name lies: a MOV called .mp4 is a MOV, an MP4 called .mov an MP4.
        ("mp4", {"container": "mov"}, "mov", "h264", "aac"),
        ("mov", {"container": "mp4"}, "mp4", "h264", "aac"),
        # Matroska holding VP9 is WebM whatever its name.
        (
            "mkv",
            {"container": "matroska", "video_codec": "libvpx-vp9", "audio_codec": "libopus"},
            "webm",
            "vp9",
            "opus",
        ),
    ],
)
def test_container_is_told_from_content(
    tiny: VideoFactory,
    suffix: str,
    kwargs: dict[str, object],
    container: str,
    vcodec: str,
    acodec: str | None,
) -> None:
    info = probe(tiny(suffix, **kwargs))
    assert info.container == container
    assert info.video_codec == vcodec
    assert info.audio_codec == acodec
    assert (info.width, info.height) == (144, 256)


def test_no_audio(tiny: VideoFactory) -> None:
    info = probe(tiny(audio=False))
    assert (info.audio_codec, info.audio_sample_rate, info.audio_channels) == (None, None, None)


def test_moov_after_mdat_is_reported(tiny: VideoFactory) -> None:
    path = tiny(faststart=False)
    assert mp4_box_offset(path, b"moov") > mp4_box_offset(path, b"mdat")  # the clip is as meant
    info = probe(path)
    assert info.faststart is False
    assert info.moov_after_mdat is True


def test_real_edit_list_is_reported(edit_list_video: Path, tiny: VideoFactory) -> None:
    assert probe(edit_list_video).edit_list is True
    # FFmpeg's one-entry list (AAC priming) in every clip is not an edit list to refuse.
    assert probe(tiny()).edit_list is False


def test_padding_changes_size_not_the_clip(tiny: VideoFactory, copy_video: Callable[..., Path]) -> None:
    src = tiny(audio=False)
    path = copy_video(src)
    pad_to_size(path, 5 * 1024 * 1024)
    info = probe(path)
    assert info.size == 5 * 1024 * 1024
    assert info.duration == pytest.approx(probe(src).duration)


def test_long_clip_duration(tiny: VideoFactory) -> None:
    info = probe(tiny(duration=700, fps=1, audio=False))
    assert info.duration == pytest.approx(700, abs=1)
    assert info.frame_rate == pytest.approx(1)


# -- bad input ---------------------------------------------------------------------------------


def _refused(path: Path | str, *words: str) -> MediaError:
    with pytest.raises(MediaError) as caught:
        probe(path)
    err = caught.value
    assert err.path == str(path)
    assert str(path) in str(err)
    for word in words:
        assert word in err.reason
    return err


def test_missing_file(tmp_path: Path) -> None:
    _refused(tmp_path / "nope.mp4", "not found")


def test_directory(tmp_path: Path) -> None:
    _refused(tmp_path, "directory")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    _refused(path, "empty")


def test_text_file_named_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("these are my notes, not a video\n" * 20)
    _refused(path, "not a video")


def test_audio_only_file(audio_only: Path) -> None:
    _refused(audio_only, "no video stream", "audio-only")


def test_truncated_after_header(tiny: VideoFactory, tmp_path: Path) -> None:
    src = tiny()
    mdat = mp4_box_offset(src, b"mdat")
    assert mp4_box_offset(src, b"moov") < mdat  # index first: the cut leaves it whole
    path = cut(src, tmp_path / "cut.mp4", mdat + 100)  # header and index whole, media cut
    _refused(path, "truncated")


def test_truncated_with_moov_at_end(tiny: VideoFactory, tmp_path: Path) -> None:
    src = tiny(faststart=False)
    path = cut(src, tmp_path / "cut.mp4", mp4_box_offset(src, b"moov") // 2)
    _refused(path, "truncated")


def test_truncated_inside_moov_at_end(tiny: VideoFactory, tmp_path: Path) -> None:
    src = tiny(faststart=False)
    path = cut(src, tmp_path / "cut.mp4", mp4_box_offset(src, b"moov") + 100)
    _refused(path, "truncated")


def test_truncated_webm_is_refused_or_reports_less(tiny: VideoFactory, tmp_path: Path) -> None:
    src = tiny("webm")
    path = cut(src, tmp_path / "cut.webm", 300)
    _refused(path)
