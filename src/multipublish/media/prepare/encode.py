"""Write one rendition with PyAV: stream copy where the plan allows, FFmpeg filters and libx264 else.

Runs in a worker process (CPU-bound, and FFmpeg holds the GIL only between calls): the caller hands
it a source, a ``Target`` and a temporary path, and renames the file only once this returns.
Timestamps come from the source (rebased to start at zero), so the frame rate, variable or not,
and the audio/video alignment are those of the original; audio is re-timed by its sample count.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

import av
import av.filter

from multipublish.media.prepare.plan import AudioTarget, Target, VideoTarget

Progress = Callable[[float], None]

#: libx264 quality target (the constant-rate-factor scale: lower is better, 23 is x264's default).
DEFAULT_CRF = 23
#: x264 speed/size trade-off (ffmpeg's own default is ``medium``).
DEFAULT_PRESET = "veryfast"
#: Re-encodes tried with a lower bitrate cap when the result is still over the size limit.
_SIZE_RETRIES = 2
#: FFmpeg's colour range value for full ("JPEG") range.
_RANGE_FULL = 2


class RenditionTooLarge(Exception):
    """The encode stayed over the size limit even with a lowered bitrate cap."""


def render(
    src: str,
    target: Target,
    dst: str,
    progress: Progress | None = None,
    *,
    crf: int = DEFAULT_CRF,
    preset: str = DEFAULT_PRESET,
) -> None:
    """Write ``target`` of ``src`` to ``dst`` (a temporary path the caller renames)."""
    report = _throttled(progress)
    if target.video is None:
        _write(src, target, dst, report, crf, preset)
        return
    video = target.video
    for attempt in range(_SIZE_RETRIES + 1):
        _write(src, target, dst, report, crf, preset, maxrate=video.maxrate)
        if target.max_size is None:
            return
        size = os.path.getsize(dst)
        if size <= target.max_size:
            return
        if attempt == _SIZE_RETRIES:
            raise RenditionTooLarge(f"{size} bytes after {attempt + 1} encodes, limit {target.max_size}")
        # Aim under the limit by the overshoot just seen, with a margin.
        lowered = int(video.maxrate * target.max_size / size * 0.9)
        video = VideoTarget(**{**_fields(video), "maxrate": lowered})
        target = Target(**{**_fields(target), "video": video})


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


def _throttled(progress: Progress | None) -> Progress:
    last = [0.0]

    def report(fraction: float) -> None:
        now = time.monotonic()
        if progress is not None and (now - last[0] >= 0.25 or fraction >= 1.0):
            last[0] = now
            progress(min(max(fraction, 0.0), 1.0))

    return report


def _write(
    src: str,
    target: Target,
    dst: str,
    report: Progress,
    crf: int,
    preset: str,
    maxrate: int | None = None,
) -> None:
    with av.open(src) as inp:
        vin = inp.streams.video[0]
        ain = inp.streams.audio[0] if inp.streams.audio else None
        chosen = [vin] if ain is None else [vin, ain]
        start = _start(chosen)
        length = (target.end if target.end is not None else _duration(inp)) or 1.0
        options = {"movflags": "+faststart"}
        with av.open(dst, "w", format=target.container, options=options) as out:
            video = (
                _VideoEncoder(out, vin, target.video, start, target.end, crf, preset, maxrate)
                if target.video is not None
                else _Copy(out, vin, start, target.end)
            )
            audio: _AudioEncoder | _Copy | None = None
            if ain is not None:
                audio = (
                    _AudioEncoder(out, ain, target.audio, start, target.end)
                    if target.audio is not None
                    else _Copy(out, ain, start, target.end)
                )
            for packet in inp.demux(chosen):
                handler = video if packet.stream.index == vin.index else audio
                if handler is None:
                    continue
                for out_packet in handler.feed(packet):
                    out.mux(out_packet)
                report(handler.time / length)
                if video.done and (audio is None or audio.done):
                    break
            for handler in (video, audio):
                if handler is not None:
                    for out_packet in handler.flush():
                        out.mux(out_packet)
    report(1.0)


def _start(streams: list[Any]) -> Fraction:
    """The earliest start time of the streams kept, in seconds (rebased to zero in the output)."""
    starts = [
        Fraction(s.start_time) * s.time_base for s in streams if s.start_time is not None and s.time_base
    ]
    return min(starts) if starts else Fraction(0)


def _duration(inp: Any) -> float:
    return float(inp.duration) / 1_000_000 if inp.duration else 0.0


class _Copy:
    """Stream copy, rebased to the common start and cut at ``end`` (whole packets only).

    A video stream stops at the first packet that ends after ``end`` in decode order: the packets
    kept are then all that the decoder needs (a later packet may be a reference of an earlier
    B-frame), and their display times are still contiguous.
    """

    def __init__(self, out: Any, stream: Any, start: Fraction, end: float | None) -> None:
        self.stream = stream
        self.out_stream = out.add_stream_from_template(stream)
        self.tb = stream.time_base
        self.offset = round(start / self.tb) if self.tb else 0
        self.end = end
        self.is_video = stream.type == "video"
        self.done = False
        self.time = 0.0

    def feed(self, packet: Any) -> Iterator[Any]:
        if packet.dts is None and packet.pts is None:
            return  # a demuxer flush packet
        if self.done:
            return
        pts = packet.pts if packet.pts is not None else packet.dts
        end_time = float((pts - self.offset + (packet.duration or 0)) * self.tb)
        self.time = float((pts - self.offset) * self.tb)
        if self.end is not None and end_time > self.end + 1e-6:
            if self.is_video:
                self.done = True
            elif self.time >= self.end:
                self.done = True
            return
        if self.offset:
            if packet.pts is not None:
                packet.pts -= self.offset
            if packet.dts is not None:
                packet.dts -= self.offset
        packet.stream = self.out_stream
        yield packet

    def flush(self) -> Iterator[Any]:
        return iter(())


class _VideoEncoder:
    """Decode, filter (rotation, frame rate, reframing, scaling) and encode with libx264."""

    def __init__(
        self,
        out: Any,
        stream: Any,
        target: VideoTarget,
        start: Fraction,
        end: float | None,
        crf: int,
        preset: str,
        maxrate: int | None,
    ) -> None:
        stream.thread_type = "AUTO"
        self.stream = stream
        rate = Fraction(target.fps).limit_denominator(1001) if target.fps else stream.average_rate
        rate = rate or stream.guessed_rate or Fraction(30)
        self.out_stream = out.add_stream("libx264", rate=rate)
        self.out_stream.width = target.width
        self.out_stream.height = target.height
        self.out_stream.pix_fmt = "yuv420p"
        cc = self.out_stream.codec_context
        src_cc = stream.codec_context
        full = src_cc.color_range == _RANGE_FULL or (src_cc.pix_fmt or "").startswith("yuvj")
        for name in ("colorspace", "color_primaries", "color_trc"):
            value = getattr(src_cc, name, None)
            if value:
                setattr(cc, name, value)
        cc.color_range = _RANGE_FULL if full else 1
        self.tb = Fraction(1) / rate if target.fps else stream.time_base
        cc.time_base = self.tb
        rate_cap = maxrate or target.maxrate
        self.out_stream.options = {
            "crf": str(crf),
            "preset": preset,
            "maxrate": str(rate_cap),
            "bufsize": str(rate_cap * 2),
            "profile": "high",
        }
        self.graph = _graph(stream, target, full)
        self.start = start
        self.end = end
        self.done = False
        self.time = 0.0
        self.last_pts: int | None = None

    def feed(self, packet: Any) -> Iterator[Any]:
        if self.done:
            return
        for frame in packet.decode():
            self.graph.push(frame)
            yield from self._drain()

    def flush(self) -> Iterator[Any]:
        if not self.done:
            for frame in _decode_rest(self.stream):
                self.graph.push(frame)
                yield from self._drain()
        self.graph.push(None)
        yield from self._drain()
        yield from self.out_stream.encode(None)

    def _drain(self) -> Iterator[Any]:
        while True:
            try:
                frame: Any = self.graph.pull()
            except (av.BlockingIOError, av.EOFError):
                return
            if frame.pts is None or self.done:
                continue
            seconds = Fraction(frame.pts) * frame.time_base - self.start
            self.time = float(seconds)
            if self.end is not None and seconds >= self.end - 1e-6:
                self.done = True
                continue
            pts = round(seconds / self.tb)
            if self.last_pts is not None and pts <= self.last_pts:
                continue  # a duplicate timestamp after rounding: x264 refuses it
            self.last_pts = pts
            frame.pts = pts
            frame.time_base = self.tb
            frame.pict_type = av.video.frame.PictureType.NONE
            yield from self.out_stream.encode(frame)


def _decode_rest(stream: Any) -> list[Any]:
    """Frames still in the decoder (none when the demuxer's flush packet already drained it)."""
    try:
        return list(stream.codec_context.decode(None))
    except av.EOFError:
        return []


def _graph(stream: Any, target: VideoTarget, full_range: bool) -> av.filter.Graph:
    """buffer -> rotation -> fps -> reframe/scale -> yuv420p -> buffersink."""
    graph = av.filter.Graph()
    node: Any = graph.add_buffer(template=stream)
    coded_w, coded_h = stream.codec_context.width, stream.codec_context.height

    def chain(name: str, args: str | None = None) -> Any:
        nonlocal node
        nxt = graph.add(name, args) if args is not None else graph.add(name)
        node.link_to(nxt)
        node = nxt
        return nxt

    rotation = target.rotation % 360
    if rotation == 90:
        chain("transpose", "cclock")
    elif rotation == 270:
        chain("transpose", "clock")
    elif rotation == 180:
        chain("hflip")
        chain("vflip")
    src_w, src_h = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
    if target.fps:
        chain("fps", str(Fraction(target.fps).limit_denominator(1001)))
    w, h = target.width, target.height
    out_range = "full" if full_range else "limited"
    if target.fit is None:
        if (src_w, src_h) != (w, h):
            chain("scale", f"w={w}:h={h}:out_range={out_range}")
    elif target.fit == "crop":
        ratio = w / h
        if src_w / src_h > ratio:
            cw, ch = _even(src_h * ratio), src_h
        else:
            cw, ch = src_w, _even(src_w / ratio)
        chain("crop", f"w={min(cw, src_w)}:h={min(ch, src_h)}")
        chain("scale", f"w={w}:h={h}:out_range={out_range}")
    elif target.fit == "letterbox":
        chain("scale", f"w={w}:h={h}:force_original_aspect_ratio=decrease:force_divisible_by=2")
        chain("pad", f"w={w}:h={h}:x=(ow-iw)/2:y=(oh-ih)/2:color=black")
    else:  # pad: the picture over a blurred, zoomed copy of itself (blurred at 1/8 size: cheap)
        split = chain("split")
        small_w, small_h = _even(max(w // 8, 2)), _even(max(h // 8, 2))
        bg = [
            graph.add("scale", f"w={small_w}:h={small_h}:force_original_aspect_ratio=increase"),
            graph.add("crop", f"w={small_w}:h={small_h}"),
            graph.add("avgblur", "sizeX=4"),
            graph.add("scale", f"w={w}:h={h}:out_range={out_range}"),
        ]
        fg = graph.add(
            "scale",
            f"w={w}:h={h}:force_original_aspect_ratio=decrease:force_divisible_by=2:out_range={out_range}",
        )
        overlay = graph.add("overlay", "x=(W-w)/2:y=(H-h)/2")
        split.link_to(bg[0], 0, 0)
        for a, b in itertools.pairwise(bg):
            a.link_to(b)
        bg[-1].link_to(overlay, 0, 0)
        split.link_to(fg, 1, 0)
        fg.link_to(overlay, 0, 1)
        node = overlay
    chain("setsar", "1")
    chain("format", "yuv420p")
    chain("buffersink")
    graph.configure()
    return graph


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


class _AudioEncoder:
    """Decode, resample and encode to AAC, timed by the sample count from the stream's start."""

    def __init__(
        self, out: Any, stream: Any, target: AudioTarget, start: Fraction, end: float | None
    ) -> None:
        self.stream = stream
        self.target = target
        layout = "stereo" if target.channels >= 2 else "mono"
        self.out_stream = out.add_stream("aac", rate=target.sample_rate)
        self.out_stream.layout = layout
        self.out_stream.bit_rate = target.bitrate
        self.resampler = av.AudioResampler(format="fltp", layout=layout, rate=target.sample_rate)
        self.fifo = av.AudioFifo()
        self.start = start
        self.end_samples = round(end * target.sample_rate) if end is not None else None
        self.next_pts: int | None = None
        self.done = False
        self.time = 0.0

    def feed(self, packet: Any) -> Iterator[Any]:
        if self.done:
            return
        for frame in packet.decode():
            if self.next_pts is None:
                first = Fraction(frame.pts or 0) * frame.time_base - self.start if frame.time_base else 0
                self.next_pts = max(0, round(first * self.target.sample_rate))
            yield from self._push(self.resampler.resample(frame))

    def flush(self) -> Iterator[Any]:
        if not self.done:
            for frame in _decode_rest(self.stream):
                yield from self._push(self.resampler.resample(frame))
            yield from self._push(self.resampler.resample(None))
            yield from self._encode_fifo(final=True)
        yield from self.out_stream.encode(None)

    def _push(self, frames: list[Any]) -> Iterator[Any]:
        for frame in frames:
            frame.pts = None
            self.fifo.write(frame)
        yield from self._encode_fifo(final=False)

    def _encode_fifo(self, final: bool) -> Iterator[Any]:
        size = self.out_stream.codec_context.frame_size or 1024
        while not self.done and (self.fifo.samples >= size or (final and self.fifo.samples > 0)):
            n = min(size, self.fifo.samples)
            pts = self.next_pts or 0
            if self.end_samples is not None and pts + n >= self.end_samples:
                n = self.end_samples - pts
                self.done = True
                if n <= 0:
                    break
            frame: Any = self.fifo.read(n)
            frame.pts = pts
            frame.time_base = Fraction(1, self.target.sample_rate)
            self.next_pts = pts + n
            self.time = self.next_pts / self.target.sample_rate
            yield from self.out_stream.encode(frame)
