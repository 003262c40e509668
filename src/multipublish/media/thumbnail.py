"""Pick a representative frame of a video and write it as a platform's thumbnail (issue 13).

Frames are sampled over the first third (where a viewer decides), scored on a small grey copy:
black, washed-out and flat frames (low luminance spread) are dropped, then blurred ones (a
Laplacian variance well under the sharpest candidate's); the sharpest well-exposed frame wins.
No face detector is used: none of the well-kept libraries works without a downloaded model or a
large dependency, and sharpness plus exposure already avoids the fades and motion blur that make
bad thumbnails.

YouTube gets a 1280x720 JPEG under its 2 MB limit (the picture fitted over a blurred copy of
itself when it is not 16:9). TikTok and Instagram take no image through upload-post, only the
frame's time: ``cover_timestamp`` and ``thumb_offset``, in milliseconds (upload-post's upload
parameters), returned with the JPEG of that frame.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.filter
import numpy as np

from multipublish.catalogue import base_platform
from multipublish.errors import InputError, MediaError
from multipublish.media.probe import probe

#: Where each platform takes a thumbnail: an image of this size and byte limit, or a time option.
PLATFORM_THUMBNAILS: dict[str, dict[str, Any]] = {
    "youtube": {"size": (1280, 720), "max_bytes": 2 * 1024 * 1024},  # thumbnails.set (older 2 MB limit)
    "tiktok": {"option": "cover_timestamp"},  # ms (TikTok Content Posting API through upload-post)
    "instagram": {"option": "thumb_offset"},  # ms (Instagram Graph API through upload-post)
}
#: Frames sampled in the first third.
SAMPLES = 12
_BLACK, _WHITE = 28.0, 235.0  #: mean luminance limits of a well-exposed frame
_FLAT = 12.0  #: luminance standard deviation under which a frame is flat (a fade, a title card)
_BLURRED = 0.25  #: sharpness under this share of the sharpest candidate's counts as blurred
_SCORE_WIDTH = 320
#: JPEG quantiser steps tried (2 is best quality) until the image fits the byte limit.
_QUALITIES = (2, 3, 4, 6, 8, 11, 15, 20, 31)


@dataclass(frozen=True, slots=True)
class FrameScore:
    time: float
    luma: float
    spread: float
    sharpness: float

    @property
    def exposed(self) -> bool:
        return _BLACK <= self.luma <= _WHITE and self.spread >= _FLAT


def make_thumbnail(
    video_path: str | Path,
    out: str | Path,
    *,
    at: float | None = None,
    platform: str = "youtube",
) -> dict[str, Any]:
    """Write the thumbnail JPEG to ``out``; returns ``{"path", "time", "width", "height", "bytes"}``.

    For TikTok and Instagram the result also has ``"option"`` and ``"value"`` (the upload option
    naming the cover frame, in ms). ``at`` picks the frame at that time instead of choosing one.
    Raises ``MediaError`` for a file that is not a readable video and ``InputError`` for a bad
    ``at``, platform or output path; nothing is left at ``out`` on failure.
    """
    base = base_platform(platform)
    if base not in PLATFORM_THUMBNAILS:
        raise InputError(
            "platform", f"no thumbnail for {platform!r} (known: {', '.join(PLATFORM_THUMBNAILS)})"
        )
    info = probe(video_path)
    if at is not None and not (0 <= at <= info.duration):
        raise InputError("at", f"{at:g} s is outside the video (0 to {info.duration:.3g} s)")
    out = Path(out)
    if not out.parent.is_dir():
        raise InputError("out", f"{out.parent}: no such folder")
    chosen = at if at is not None else pick_time(video_path)
    frame = _frame_at(str(video_path), chosen)
    if frame is None:
        raise MediaError(str(video_path), f"no frame could be decoded at {chosen:.3g} s")
    spec = PLATFORM_THUMBNAILS[base]
    width, height = spec.get("size") or _even_size(frame.width, frame.height, 1280)
    picture = _fit(frame, width, height)
    data = _jpeg(picture, spec.get("max_bytes"))
    _write_atomically(out, data)
    result: dict[str, Any] = {
        "path": str(out),
        "time": round(float(chosen), 3),
        "width": width,
        "height": height,
        "bytes": len(data),
    }
    if "option" in spec:
        result["option"], result["value"] = spec["option"], round(chosen * 1000)
    return result


def pick_time(video_path: str | Path, samples: int = SAMPLES) -> float:
    """Time (s) of the sharpest well-exposed frame among ``samples`` taken in the first third."""
    scores = score_frames(video_path, samples)
    if not scores:
        raise MediaError(str(video_path), "no frame could be decoded")
    exposed = [s for s in scores if s.exposed]
    if not exposed:  # all dark or flat: the frame with the most to see
        return max(scores, key=lambda s: s.spread).time
    sharpest = max(s.sharpness for s in exposed)
    candidates = [s for s in exposed if s.sharpness >= _BLURRED * sharpest]
    return max(candidates, key=_score).time


def _score(s: FrameScore) -> float:
    exposure = 1.0 - 0.5 * abs(s.luma - 128.0) / 128.0
    return s.sharpness * exposure * min(s.spread / 48.0, 1.0)


def score_frames(video_path: str | Path, samples: int = SAMPLES) -> list[FrameScore]:
    """Scores of frames sampled evenly over the first third of the video."""
    info = probe(video_path)
    span = max(info.duration / 3.0, 0.0)
    times = [span * (i + 0.5) / samples for i in range(samples)] if span > 0 else [0.0]
    scores: list[FrameScore] = []
    with av.open(str(video_path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for t in times:
            frame = _decode_at(container, stream, t)
            if frame is None:
                continue
            scores.append(_measure(frame, t))
    return scores


def _measure(frame: Any, t: float) -> FrameScore:
    height = max(2, round(frame.height * _SCORE_WIDTH / frame.width) // 2 * 2)
    gray = frame.reformat(width=_SCORE_WIDTH, height=height, format="gray").to_ndarray().astype(np.float32)
    lap = gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:] - 4.0 * gray[1:-1, 1:-1]
    return FrameScore(time=t, luma=float(gray.mean()), spread=float(gray.std()), sharpness=float(lap.var()))


def _decode_at(container: Any, stream: Any, t: float) -> Any:
    """The first frame shown at or after ``t`` (seeking to the keyframe before it)."""
    tb = stream.time_base or Fraction(1, 1000)
    start = (stream.start_time or 0) * tb
    try:
        container.seek(int((Fraction(t) + start) / tb), stream=stream, backward=True, any_frame=False)
    except av.FFmpegError:
        return None
    last = None
    try:
        for frame in container.decode(stream):
            last = frame
            if frame.time is not None and frame.time - float(start) >= t - 1e-3:
                return frame
    except av.FFmpegError:
        pass
    return last


def _frame_at(path: str, t: float) -> Any:
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frame = _decode_at(container, stream, t)
        if frame is None:
            return None
        rotation = int(getattr(frame, "rotation", 0) or 0) % 360
        return _rotate(frame, rotation) if rotation else frame


def _rotate(frame: Any, rotation: int) -> Any:
    steps = {90: ["transpose=cclock"], 270: ["transpose=clock"], 180: ["hflip", "vflip"]}
    return _run_graph(frame, steps.get(rotation, []))


def _run_graph(frame: Any, steps: list[str], build: Any = None) -> Any:
    graph = av.filter.Graph()
    node: Any = graph.add_buffer(
        width=frame.width, height=frame.height, format=frame.format.name, time_base=Fraction(1, 1)
    )
    if build is not None:
        node = build(graph, node)
    for step in steps:
        name, _, args = step.partition("=")
        nxt = graph.add(name, args) if args else graph.add(name)
        node.link_to(nxt)
        node = nxt
    sink = graph.add("buffersink")
    node.link_to(sink)
    graph.configure()
    frame.pts = 0
    graph.push(frame)
    return graph.pull()


def _fit(frame: Any, width: int, height: int) -> Any:
    """``width`` x ``height``: the picture scaled to fit, over a blurred copy filling the rest."""

    def build(graph: Any, src: Any) -> Any:
        split = graph.add("split")
        src.link_to(split)
        small_w, small_h = max(2, width // 8), max(2, height // 8)
        chain = [
            graph.add("scale", f"w={small_w}:h={small_h}:force_original_aspect_ratio=increase"),
            graph.add("crop", f"w={small_w}:h={small_h}"),
            graph.add("avgblur", "sizeX=4"),
            graph.add("scale", f"w={width}:h={height}"),
        ]
        fg = graph.add("scale", f"w={width}:h={height}:force_original_aspect_ratio=decrease")
        overlay = graph.add("overlay", "x=(W-w)/2:y=(H-h)/2")
        split.link_to(chain[0], 0, 0)
        for a, b in itertools.pairwise(chain):
            a.link_to(b)
        chain[-1].link_to(overlay, 0, 0)
        split.link_to(fg, 1, 0)
        fg.link_to(overlay, 0, 1)
        return overlay

    return _run_graph(frame, ["setsar=1", "format=yuvj420p"], build)


def _jpeg(frame: Any, max_bytes: int | None) -> bytes:
    data = b""
    for q in _QUALITIES:
        cc: Any = av.CodecContext.create("mjpeg", "w")
        cc.width, cc.height, cc.pix_fmt = frame.width, frame.height, "yuvj420p"
        cc.time_base = Fraction(1, 1)
        cc.options = {"qmin": str(q), "qmax": str(q)}
        frame.pts = 0
        data = b"".join(bytes(p) for p in [*cc.encode(frame), *cc.encode(None)])
        if max_bytes is None or len(data) <= max_bytes:
            return data
    return data


def _even_size(width: int, height: int, longest: int) -> tuple[int, int]:
    scale = min(1.0, longest / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def _write_atomically(out: Path, data: bytes) -> None:
    temp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        with open(temp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, out)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise InputError("out", f"{out}: cannot write it ({exc.strerror or exc})") from None
