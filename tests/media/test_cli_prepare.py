"""``multipublish prepare`` / ``thumbnail`` and ``PublishingManager.prepare_video_for_platforms``."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from multipublish.cli import app
from multipublish.manager import PublishingManager
from multipublish.media.probe import probe
from multipublish.media.thumbnail import make_thumbnail, score_frames
from multipublish.settings import Settings
from tests.fixtures.videos import VideoFactory

runner = CliRunner()


@pytest.fixture(scope="module")
def wide(video_factory: VideoFactory) -> Path:
    return video_factory("mp4", width=320, height=180, duration=3.2, fps=30)


def test_prepare_json_is_keyed_by_platform_as_given(wide: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["prepare", str(wide), "--platforms", "instagram:reels,youtube", "--out", str(tmp_path), "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data) == ["instagram:reels", "youtube"]
    assert data["youtube"] == {"path": str(wide), "actions": [], "valid": True}
    reels = data["instagram:reels"]
    assert reels["valid"] is True and reels["actions"] == ["reframe_pad"]
    assert Path(reels["path"]).parent == tmp_path and probe(reels["path"]).height > probe(reels["path"]).width


def test_prepare_fit_crop_and_a_table(wide: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["prepare", str(wide), "-p", "instagram:reels", "--out", str(tmp_path), "--fit", "crop"]
    )
    assert result.exit_code == 0, result.output
    assert "reframe_crop" in result.output and "valid" in result.output


def test_prepare_exit_1_when_a_platform_cannot_be_fixed(small_video: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["prepare", str(small_video), "-p", "tiktok,instagram:reels", "--out", str(tmp_path), "--json"]
    )
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["instagram:reels"]["valid"] is False
    assert "under the 3 s minimum" in data["instagram:reels"]["error"]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["-p", "myspace"],
        ["-p", "instagram:reels", "--fit", "stretch"],
        ["-p", ""],
        [],
    ],
)
def test_prepare_usage_errors_exit_2(wide: Path, tmp_path: Path, args: list[str]) -> None:
    result = runner.invoke(app, ["prepare", str(wide), "--out", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    assert list(tmp_path.iterdir()) == []


def test_manager_prepares_into_the_cache_beside_the_database(wide: Path, tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db' / 'mp.db'}")
    manager = PublishingManager(settings)
    result = manager.prepare_video_for_platforms(str(wide), ["instagram:stories"], fit="letterbox")
    entry = result["instagram:stories"]
    assert entry["valid"] and entry["actions"] == ["reframe_letterbox"]
    assert Path(entry["path"]).parent == tmp_path / "db" / "multipublish-renditions"
    again = manager.prepare_video_for_platforms(str(wide), ["instagram:stories"], fit="letterbox")
    assert again == result


# -- thumbnails --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def black_opening(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 s, 9:16: 1.5 s of black, a blurred fade, then a detailed picture."""
    path = tmp_path_factory.mktemp("thumb") / "black_opening.mp4"
    rng = np.random.default_rng(3)
    detail = rng.integers(0, 255, (320, 180, 3), dtype=np.uint8)
    smooth = np.full((320, 180, 3), 110, np.uint8)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=30)
        vs.width, vs.height, vs.pix_fmt = 180, 320, "yuv420p"  # type: ignore[union-attr]
        vs.options = {"preset": "ultrafast"}
        for i in range(180):
            img = np.zeros_like(detail) if i < 45 else smooth if i < 52 else detail
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 30)
            for packet in vs.encode(frame):  # type: ignore[union-attr,arg-type]
                out.mux(packet)
        for packet in vs.encode():  # type: ignore[union-attr]
            out.mux(packet)
    return path


def _mean_luma(jpeg: Path) -> float:
    with av.open(str(jpeg)) as c:
        return float(next(c.decode(video=0)).to_ndarray(format="gray").mean())


def test_thumbnail_of_a_black_opening_is_not_black(black_opening: Path, tmp_path: Path) -> None:
    out = tmp_path / "thumb.jpg"
    result = runner.invoke(app, ["thumbnail", str(black_opening), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["time"] >= 1.7  # past the black and the flat fade
    assert (data["width"], data["height"]) == (1280, 720)
    assert out.stat().st_size == data["bytes"] <= 2 * 1024 * 1024
    with av.open(str(out)) as c:
        frame = next(c.decode(video=0))
        assert (frame.width, frame.height) == (1280, 720)
    assert _mean_luma(out) > 40
    scores = score_frames(black_opening)
    assert [s.exposed for s in scores[:8]] == [False] * 8  # the black samples were dropped


def test_thumbnail_at_a_time_and_tiktok_cover_offset(black_opening: Path, tmp_path: Path) -> None:
    out = tmp_path / "cover.jpg"
    result = make_thumbnail(black_opening, out, at=0.5, platform="tiktok")
    assert result["option"] == "cover_timestamp" and result["value"] == 500
    assert (result["width"], result["height"]) == (180, 320)
    assert _mean_luma(out) < 20  # asked for a black frame: got it


def test_thumbnail_errors_exit_1_without_traceback(
    audio_only: Path, black_opening: Path, tmp_path: Path
) -> None:
    for args in (
        [str(audio_only), "--out", str(tmp_path / "a.jpg")],
        [str(black_opening), "--out", str(tmp_path / "b.jpg"), "--at", "60"],
        [str(black_opening), "--out", str(tmp_path / "missing" / "c.jpg")],
    ):
        result = runner.invoke(app, ["thumbnail", *args])
        assert result.exit_code == 1, result.output
        assert "Error:" in result.output and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []
    bad = runner.invoke(
        app, ["thumbnail", str(black_opening), "--out", str(tmp_path / "d.jpg"), "--platform", "x"]
    )
    assert bad.exit_code == 2
