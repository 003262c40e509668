"""Clips and helpers of the media tests (real files made with PyAV; see tests/fixtures/videos.py)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tests.fixtures.videos import VideoFactory

#: Small 9:16 clip parameters; most rule tests change one thing from these.
TINY = {"width": 144, "height": 256, "duration": 0.2, "fps": 30}


@pytest.fixture(scope="session")
def tiny(video_factory: VideoFactory) -> VideoFactory:
    """``tiny(suffix="mp4", **overrides)``: a small clip, defaults from ``TINY``."""

    def make(suffix: str = "mp4", **kwargs: object) -> Path:
        return video_factory(suffix, **{**TINY, **kwargs})

    return make


@pytest.fixture(scope="session")
def edit_list_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MP4 whose video starts 0.5 s in: the muxer writes an empty edit (a real edit list)."""
    path = tmp_path_factory.mktemp("elst") / "delayed.mp4"
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 144, 256, "yuv420p"  # type: ignore[union-attr]
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.zeros((256, 144, 3), np.uint8), format="rgb24")
            frame.pts, frame.time_base = i + 15, Fraction(1, 30)
            for packet in stream.encode(frame):  # type: ignore[union-attr,arg-type]
                out.mux(packet)
        for packet in stream.encode():  # type: ignore[union-attr]
            out.mux(packet)
    return path


@pytest.fixture(scope="session")
def audio_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An AAC-only MP4 (an .mp4 name, no video stream)."""
    path = tmp_path_factory.mktemp("audio") / "song.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=48000)
        stream.layout = "stereo"  # type: ignore[union-attr]
        for i in range(20):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((2, 1024), np.float32), format="fltp", layout="stereo"
            )
            frame.sample_rate, frame.pts = 48000, i * 1024
            for packet in stream.encode(frame):  # type: ignore[union-attr,arg-type]
                out.mux(packet)
        for packet in stream.encode():  # type: ignore[union-attr]
            out.mux(packet)
    return path


def cut(src: Path, dst: Path, length: int) -> Path:
    """Copy the first ``length`` bytes of ``src`` to ``dst`` (a file cut short)."""
    with src.open("rb") as fh:
        dst.write_bytes(fh.read(length))
    return dst


def mp4_box_offset(path: Path, kind: bytes) -> int:
    """Offset of the first top-level box of type ``kind`` (read independently of the probe)."""
    data = path.read_bytes()
    pos = 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        if data[pos + 4 : pos + 8] == kind:
            return pos
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        pos += size
    raise AssertionError(f"no {kind!r} box in {path}")
