"""Read what a video file really is, from its content, in milliseconds whatever its size.

PyAV opens the file and reads only its headers (for MP4 the ``moov`` box, whose size grows with the
number of frames, not with the bytes of media). A small walk over the top-level MP4 boxes adds what
FFmpeg does not report: whether ``moov`` comes before ``mdat`` (Meta refuses it after) and whether
a track carries a real edit list. Rotation is applied so width and height are *as displayed*.
"""

from __future__ import annotations

import math
import os
import stat
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, BinaryIO

import av

from multipublish.errors import MediaError

#: Boxes whose children the walk visits (it never reads sample tables or media data).
_CONTAINER_BOXES = {b"moov", b"trak", b"edts"}
#: Box types an ISO BMFF (MP4/MOV) file may start with.
_TOP_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid"}
#: Bytes read to find a Matroska Projection element ahead of the first Cluster.
_MATROSKA_HEAD = 64 * 1024
#: Index entries checked at the end of each stream for the truncation test.
_TAIL_ENTRIES = 16


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What a video file is: the facts the platform rules are checked against."""

    path: str
    #: Container told from the content: mp4, mov, 3gp, webm, mkv, avi, flv, wmv, or FFmpeg's name.
    container: str
    #: FFmpeg's demuxer name (``mov,mp4,m4a,3gp,3g2,mj2`` for both MP4 and MOV).
    format_name: str
    duration: float  #: seconds
    size: int  #: bytes
    width: int  #: as displayed (rotation applied)
    height: int
    coded_width: int  #: as stored in the stream
    coded_height: int
    rotation: int  #: display rotation in degrees (0, 90, 180, 270)
    video_codec: str  #: h264, hevc, vp8, vp9, av1, mpeg4, ...
    video_profile: str | None
    pix_fmt: str | None
    frame_rate: float  #: frames per second (0.0 when unknown)
    bitrate: int  #: bits per second, whole file
    audio_codec: str | None  #: aac, opus, mp3, ...; None when there is no audio stream
    audio_sample_rate: int | None
    audio_channels: int | None
    #: MP4/MOV only: ``moov`` before the first ``mdat`` (None for other containers).
    faststart: bool | None
    #: MP4/MOV only: a track has a real edit list (several entries or an empty edit).
    edit_list: bool

    @property
    def aspect_ratio(self) -> float:
        """Displayed width over height."""
        return self.width / self.height if self.height else 0.0

    @property
    def moov_after_mdat(self) -> bool:
        """True for an MP4/MOV whose index comes after its media data (not "faststart")."""
        return self.faststart is False

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (the ``media`` entry of a validation report)."""
        data = {name: getattr(self, name) for name in _INFO_FIELDS}  # flat: no asdict recursion
        data["aspect_ratio"] = round(self.aspect_ratio, 4)
        data["moov_after_mdat"] = self.moov_after_mdat
        return data


_INFO_FIELDS = tuple(f.name for f in fields(MediaInfo))


@dataclass(slots=True)
class _BoxFacts:
    """What the MP4 box walk found."""

    major_brand: str | None = None
    moov_offset: int | None = None
    mdat_offset: int | None = None
    #: The first top-level box that claims more bytes than the file holds.
    overrun: str | None = None
    edit_list: bool = False
    #: Display matrix (a, b, c, d) of the first visual track, when not identity.
    matrix: tuple[float, float, float, float] | None = None


#: Probes of unchanged files are answered from memory: scheduling a known file does not reopen it.
_CACHE_SIZE = 1024
_cache: OrderedDict[tuple[int, int, int, int], MediaInfo] = OrderedDict()
_cache_lock = threading.Lock()
_cache_counts = {"hits": 0, "misses": 0}


def cache_info() -> dict[str, int]:
    """Hits and misses of the probe cache since start (or ``cache_clear``), and its size."""
    with _cache_lock:
        return {**_cache_counts, "size": len(_cache)}


def cache_clear() -> None:
    with _cache_lock:
        _cache.clear()
        _cache_counts.update(hits=0, misses=0)


def is_cached(path: str | Path) -> bool:
    """Whether ``probe(path)`` would answer from the cache (one ``stat``, no counts): a caller on
    an event loop probes only then, since opening a video takes tens of milliseconds."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return False
    with _cache_lock:
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) in _cache


def probe(path: str | Path) -> MediaInfo:
    """Probe ``path``; raise ``MediaError(path, reason)`` when it is not a readable video.

    Results are cached by the file's identity (device, inode, size, modification time in ns): a
    file rewritten, replaced or touched is probed again; only successful probes are kept.
    """
    p = Path(path)
    name = str(path)
    st = _check_file(p, name)
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            _cache_counts["hits"] += 1
        else:
            _cache_counts["misses"] += 1
    if hit is not None:
        return hit if hit.path == name else replace(hit, path=name)
    info = _probe_file(p, name, st.st_size)
    with _cache_lock:
        _cache[key] = info
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return info


def _probe_file(p: Path, name: str, size: int) -> MediaInfo:
    boxes = _walk_mp4(p, size)
    try:
        container = av.open(str(p), mode="r")
    except av.FFmpegError as exc:
        raise MediaError(name, _open_failure_reason(boxes, exc)) from None
    try:
        return _read(container, name, size, boxes)
    except av.FFmpegError as exc:
        raise MediaError(name, f"unreadable video: {_ffmpeg_reason(exc)}") from None
    finally:
        container.close()


def _check_file(p: Path, name: str) -> os.stat_result:
    try:
        st = p.stat()
    except FileNotFoundError:
        raise MediaError(name, "file not found") from None
    except PermissionError:
        raise MediaError(name, "permission denied") from None
    except OSError as exc:
        raise MediaError(name, f"cannot access file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise MediaError(name, "is a directory, not a video file")
    if not stat.S_ISREG(st.st_mode):
        raise MediaError(name, "not a regular file")
    if st.st_size == 0:
        raise MediaError(name, "empty file (0 bytes)")
    if not os.access(p, os.R_OK):
        raise MediaError(name, "permission denied")
    return st


def _read(container: Any, name: str, size: int, boxes: _BoxFacts | None) -> MediaInfo:
    if boxes is not None and boxes.overrun is not None:
        raise MediaError(name, f"truncated file: the '{boxes.overrun}' box runs past the end ({size} bytes)")
    if not container.streams.video:
        what = "audio-only file" if container.streams.audio else "no streams"
        raise MediaError(name, f"no video stream ({what})")
    v = container.streams.video[0]
    a = container.streams.audio[0] if container.streams.audio else None

    fmt_name = container.format.name
    video_codec = _codec_name(v)
    audio_codec = _codec_name(a) if a is not None else None
    kind = _container_kind(fmt_name, container.metadata, video_codec, audio_codec, boxes)

    end = _index_end(container)
    if end > size:
        raise MediaError(name, f"truncated file: media data ends at byte {end} but the file has {size} bytes")

    duration = _duration(container, v)
    coded_w, coded_h = int(v.codec_context.width or v.width), int(v.codec_context.height or v.height)
    if coded_w <= 0 or coded_h <= 0:
        raise MediaError(name, "video stream has no picture size")
    rotation = _rotation(
        container, kind, boxes, _matroska_may_rotate(Path(name)) if kind in ("mkv", "webm") else False
    )
    width, height = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)

    rate = v.average_rate or v.guessed_rate or v.base_rate
    bitrate = int(container.bit_rate or 0)
    if not bitrate and duration > 0:
        bitrate = int(size * 8 / duration)
    return MediaInfo(
        path=name,
        container=kind,
        format_name=fmt_name,
        duration=duration,
        size=size,
        width=width,
        height=height,
        coded_width=coded_w,
        coded_height=coded_h,
        rotation=rotation,
        video_codec=video_codec,
        video_profile=v.codec_context.profile,
        pix_fmt=v.codec_context.pix_fmt,
        frame_rate=float(rate) if rate else 0.0,
        bitrate=bitrate,
        audio_codec=audio_codec,
        audio_sample_rate=int(a.sample_rate) if a is not None and a.sample_rate else None,
        audio_channels=int(a.channels) if a is not None and a.channels else None,
        faststart=_faststart(boxes),
        edit_list=bool(boxes and boxes.edit_list),
    )


def _codec_name(stream: Any) -> str:
    """Canonical codec name (``mp3``, not the decoder's ``mp3float``)."""
    codec = stream.codec_context.codec
    return str(getattr(codec, "canonical_name", None) or codec.name)


def _container_kind(
    fmt_name: str,
    metadata: dict[str, str],
    video_codec: str,
    audio_codec: str | None,
    boxes: _BoxFacts | None,
) -> str:
    """MP4 vs MOV by the ``ftyp`` brand; WebM vs MKV by codecs (both demux as matroska)."""
    names = fmt_name.split(",")
    if "mov" in names or "mp4" in names:
        brand = (metadata.get("major_brand") or (boxes.major_brand if boxes else None) or "").strip()
        if brand in ("", "qt"):
            return "mov"  # QuickTime files may have no ftyp at all
        if brand.startswith("3g2"):
            return "3g2"
        if brand.startswith("3gp"):
            return "3gp"
        return "mp4"
    if "matroska" in names or "webm" in names:
        webm_video = video_codec in ("vp8", "vp9", "av1")
        webm_audio = audio_codec in (None, "opus", "vorbis")
        return "webm" if webm_video and webm_audio else "mkv"
    if names[0] == "asf":
        return "wmv"
    return names[0]


def _duration(container: Any, v: Any) -> float:
    if container.duration:
        return float(container.duration) / 1_000_000
    if v.duration and v.time_base:
        return float(v.duration * v.time_base)
    return 0.0


def _index_end(container: Any) -> int:
    """Largest ``pos + size`` among the last index entries of each stream (0 when unknown)."""
    end = 0
    for stream in container.streams:
        entries = stream.index_entries
        n = len(entries)
        for i in range(max(0, n - _TAIL_ENTRIES), n):
            entry = entries[i]
            if entry.pos >= 0:
                end = max(end, int(entry.pos) + int(entry.size))
    return end


def _rotation(container: Any, kind: str, boxes: _BoxFacts | None, matroska_may_rotate: bool) -> int:
    """Display rotation, decoding the first frame only when the file may carry one.

    PyAV exposes no display matrix on the stream, but each decoded frame has ``rotation``. An MP4
    whose video track has an identity matrix, or a Matroska file without a Projection element,
    is not rotated, so it is never decoded.
    """
    if kind in ("mp4", "mov", "3gp", "3g2"):
        if boxes is None or boxes.matrix is None:
            return 0
    elif not matroska_may_rotate:
        return 0
    try:
        container.seek(0)
        frame = next(container.decode(video=0), None)
    except (av.FFmpegError, StopIteration):
        frame = None
    if frame is not None:
        return _normalise(float(getattr(frame, "rotation", 0) or 0))
    if boxes is not None and boxes.matrix is not None:
        a, b, _, _ = boxes.matrix
        return _normalise(-math.degrees(math.atan2(b, a)))
    return 0


def _matroska_may_rotate(p: Path) -> bool:
    """Whether the Matroska header (before the first Cluster) may hold a Projection element.

    Rotation in Matroska is ``ProjectionPoseRoll`` inside ``Projection`` (ID 0x7670). When the
    header is not within the first bytes, answer yes so the caller decodes a frame to be sure.
    """
    try:
        with p.open("rb") as fh:
            head = fh.read(_MATROSKA_HEAD)
    except OSError:
        return True
    cluster = head.find(b"\x1f\x43\xb6\x75")
    if cluster < 0:
        return True
    return b"\x76\x70" in head[:cluster]


def _normalise(deg: float) -> int:
    return round(deg / 90.0) % 4 * 90


def _faststart(boxes: _BoxFacts | None) -> bool | None:
    if boxes is None or boxes.moov_offset is None:
        return None
    return boxes.mdat_offset is None or boxes.moov_offset < boxes.mdat_offset


# -- MP4 box walk ------------------------------------------------------------------------------


def _walk_mp4(p: Path, size: int) -> _BoxFacts | None:
    """Walk the top-level boxes (and moov's track headers); None when the file is not ISO BMFF."""
    try:
        with p.open("rb") as fh:
            head = fh.read(12)
            if len(head) < 8 or head[4:8] not in _TOP_BOXES:
                return None
            facts = _BoxFacts()
            _walk(fh, 0, size, size, facts, top=True)
            return facts
    except OSError:
        return None


def _box_header(fh: BinaryIO, pos: int, end: int) -> tuple[bytes, int, int] | None:
    """``(type, header_length, box_size)`` of the box at ``pos``, or None when unreadable."""
    fh.seek(pos)
    raw = fh.read(8)
    if len(raw) < 8:
        return None
    size, kind = struct.unpack(">I4s", raw)
    header = 8
    if size == 1:
        ext = fh.read(8)
        if len(ext) < 8:
            return None
        size = struct.unpack(">Q", ext)[0]
        header = 16
    elif size == 0:
        size = end - pos  # the box runs to the end of its parent
    if size < header:
        return None
    return kind, header, size


def _walk(fh: BinaryIO, start: int, end: int, file_size: int, facts: _BoxFacts, top: bool) -> None:
    pos = start
    while pos + 8 <= end:
        box = _box_header(fh, pos, end)
        if box is None:
            return
        kind, header, size = box
        if top:
            if kind == b"ftyp" and facts.major_brand is None:
                fh.seek(pos + header)
                facts.major_brand = fh.read(4).decode("latin-1")
            elif kind == b"moov" and facts.moov_offset is None:
                facts.moov_offset = pos
            elif kind == b"mdat" and facts.mdat_offset is None:
                facts.mdat_offset = pos
            if pos + size > file_size and facts.overrun is None:
                facts.overrun = kind.decode("latin-1")
                if kind != b"moov":
                    return
        if kind in _CONTAINER_BOXES:
            _walk(fh, pos + header, min(pos + size, file_size), file_size, facts, top=False)
        elif kind == b"tkhd":
            _read_tkhd(fh, pos + header, facts)
        elif kind == b"elst":
            _read_elst(fh, pos + header, facts)
        pos += size


def _read_tkhd(fh: BinaryIO, pos: int, facts: _BoxFacts) -> None:
    """Keep the display matrix of the first visual track (non-zero width) when not identity."""
    fh.seek(pos)
    data = fh.read(96)
    if len(data) < 4:
        return
    version = data[0]
    off = 4 + (32 if version == 1 else 20) + 8 + 8  # times, ids; reserved; layer..volume
    if len(data) < off + 44:
        return
    m = struct.unpack(">9i", data[off : off + 36])
    width, height = struct.unpack(">II", data[off + 36 : off + 44])
    if not width or not height or facts.matrix is not None:
        return
    a, b, c, d = (m[0] / 65536, m[1] / 65536, m[3] / 65536, m[4] / 65536)
    if (a, b, c, d) != (1.0, 0.0, 0.0, 1.0):
        facts.matrix = (a, b, c, d)


def _read_elst(fh: BinaryIO, pos: int, facts: _BoxFacts) -> None:
    """Flag a real edit list: several entries or an empty edit (a delayed start).

    FFmpeg writes a one-entry list to every track (encoder priming, B-frame delay): that one only
    shifts the start and is accepted everywhere, so it is not flagged.
    """
    fh.seek(pos)
    head = fh.read(8)
    if len(head) < 8:
        return
    version = head[0]
    count = struct.unpack(">I", head[4:8])[0]
    if count > 1:
        facts.edit_list = True
        return
    if count == 1:
        width = 8 if version == 1 else 4
        entry = fh.read(2 * width)
        if len(entry) == 2 * width:
            media_time = int.from_bytes(entry[width:], "big", signed=True)
            if media_time < 0:
                facts.edit_list = True


def _open_failure_reason(boxes: _BoxFacts | None, exc: av.FFmpegError) -> str:
    if boxes is not None and boxes.moov_offset is None:
        if boxes.overrun:
            return (
                f"truncated file: it ends inside the '{boxes.overrun}' box and the index "
                "('moov' box) is missing"
            )
        return "not a readable video: the MP4 index ('moov' box) is missing"
    if boxes is not None and boxes.overrun:
        return f"truncated file: it ends inside the '{boxes.overrun}' box"
    if isinstance(exc, av.InvalidDataError):
        return "not a video file (unrecognised or corrupt data)"
    return f"not a readable video: {_ffmpeg_reason(exc)}"


def _ffmpeg_reason(exc: av.FFmpegError) -> str:
    return str(getattr(exc, "strerror", None) or exc)
