"""Make small, real video files with PyAV (demo, benchmarks and tests).

The encoder is the FFmpeg bundled in PyAV's wheel, so no system FFmpeg is needed.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np

_DEFAULT_CODEC = {
    "mp4": "libx264",
    "mov": "libx264",
    "webm": "libvpx-vp9",
    "avi": "mpeg4",
    "mkv": "libx264",
}
#: Channel layouts by channel count (``channels=`` of ``make_video``).
_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1"}
_DEFAULT_AUDIO = {"mp4": "aac", "mov": "aac", "webm": "libopus", "avi": "mp3", "mkv": "aac"}


def make_video(
    path: str | Path,
    *,
    width: int = 1080,
    height: int = 1920,
    duration: float = 1.0,
    fps: float = 30,
    container: str | None = None,
    video_codec: str | None = None,
    audio: bool = True,
    audio_codec: str | None = None,
    sample_rate: int = 48000,
    channels: int = 2,
    rotation: int = 0,
    faststart: bool = True,
) -> Path:
    """Encode a clip of moving colour bars (and a tone) and return its path.

    ``container`` defaults to the file's extension; ``rotation`` writes a display matrix, so a
    1920x1080 clip with ``rotation=90`` is displayed 1080x1920. Keep clips tiny: use a low ``fps``
    or resolution for long durations.
    """
    path = Path(path)
    fmt = (container or path.suffix.lstrip(".") or "mp4").lower()
    muxer = {"mkv": "matroska"}.get(fmt, fmt)
    vcodec = video_codec or _DEFAULT_CODEC.get(fmt, "libx264")
    options = {"movflags": "+faststart"} if faststart and fmt in ("mp4", "mov") else {}
    rate = Fraction(fps).limit_denominator(1001)
    n_frames = max(1, round(duration * float(rate)))
    with av.open(str(path), mode="w", format=muxer, options=options) as out:
        vs = cast(av.VideoStream, out.add_stream(vcodec, rate=rate))
        vs.width = width
        vs.height = height
        vs.pix_fmt = "yuv420p"
        if vcodec == "libx264":
            vs.options = {"preset": "ultrafast", "tune": "zerolatency"}
        elif vcodec == "libx265":
            vs.options = {"preset": "ultrafast", "x265-params": "log-level=none"}
        elif vcodec.startswith("libvpx"):
            vs.options = {"deadline": "realtime", "cpu-used": "8", "b": "200k"}
        if rotation:
            vs.set_display_rotation(rotation)  # type: ignore[attr-defined,unused-ignore]
        astream: av.AudioStream | None = None
        if audio:
            acodec = audio_codec or _DEFAULT_AUDIO.get(fmt, "aac")
            astream = cast(av.AudioStream, out.add_stream(acodec, rate=sample_rate))
            astream.layout = _LAYOUTS[channels]  # type: ignore[assignment,unused-ignore]
        # The bars move one step a frame and repeat every 8 frames: convert those 8 once.
        frames = [_bars_frame(width, height, shift) for shift in range(min(8, n_frames))]
        for i in range(n_frames):
            frame = frames[i % len(frames)]
            frame.pts = None
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if astream is not None:
            _encode_tone(out, astream, duration, sample_rate, channels)
    return path


def _bars_frame(width: int, height: int, shift: int) -> av.VideoFrame:
    """Colour bars shifted by ``shift``, already in the encoder's pixel format."""
    bars = np.linspace(0, 255, 8, dtype=np.uint8)
    cols = np.repeat(np.roll(bars, shift), max(1, width // 8))[:width]
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[:, : cols.shape[0], 0] = cols
    rgb[:, : cols.shape[0], 1] = 255 - cols
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")


def _encode_tone(
    out: av.container.OutputContainer,
    stream: av.AudioStream,
    duration: float,
    sample_rate: int,
    channels: int,
) -> None:
    frame_size = stream.codec_context.frame_size or 1024
    total = int(duration * sample_rate)
    t0 = 0
    while t0 < total:
        n = min(frame_size, total - t0)
        t = (np.arange(t0, t0 + n) / sample_rate).astype(np.float32)
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        data = np.vstack([tone] * channels)
        frame = av.AudioFrame.from_ndarray(data, format="fltp", layout=_LAYOUTS[channels])
        frame.sample_rate = sample_rate
        frame.pts = t0
        for packet in stream.encode(frame):
            out.mux(packet)
        t0 += n
    for packet in stream.encode():
        out.mux(packet)


def pad_to_size(path: str | Path, size: int) -> Path:
    """Grow an MP4/MOV to ``size`` bytes with a trailing top-level ``free`` box.

    The file still probes as the same clip, and the box is sparse on disk, so benchmarks and
    upload tests get a big file cheaply.
    """
    path = Path(path)
    current = path.stat().st_size
    extra = size - current
    if extra < 16:
        return path
    with path.open("r+b") as fh:
        fh.seek(current)
        if extra <= 0xFFFFFFFF:
            fh.write(extra.to_bytes(4, "big") + b"free")
        else:
            fh.write((1).to_bytes(4, "big") + b"free" + extra.to_bytes(8, "big"))
        fh.truncate(size)
    return path
