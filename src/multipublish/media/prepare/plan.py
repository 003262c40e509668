"""The least change that makes a probed file valid for one platform, as named actions.

The planner reads only the probe (``MediaInfo``) and the platform's rules (``PlatformRules``): it
never touches the file, so it can run for every platform in microseconds and explain itself before
any CPU is spent. A breach of a ``soft`` rule only warns in validation, so it is never "fixed" here:
a file that validates is left exactly as it is.

Actions (the names the CLI and the API report):

- ``faststart``: move the MP4 index in front of the media data (remux, no re-encode);
- ``change_container``: MOV <-> MP4 (or MKV/WebM into MP4) when the codecs allow (remux);
- ``reencode_video`` / ``reencode_audio``: the codec is not accepted (or cannot go in the container);
- ``reframe_pad`` / ``reframe_crop`` / ``reframe_letterbox``: reach an accepted aspect ratio;
- ``scale``: the picture is over (or under) the resolution limits;
- ``reduce_fps`` / ``raise_fps``: the frame rate is outside the accepted range;
- ``fit_size``: the bitrate or the size is over the cap, so the video is re-encoded under it;
- ``resample_audio`` / ``downmix_audio``: sample rate or channels over the limit;
- ``trim``: cut to the duration limit (only when asked: otherwise an over-long file is an error);
- ``bake_rotation``: the display rotation is applied to the pixels (whenever video is re-encoded).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any, Literal

from multipublish.media.probe import MediaInfo
from multipublish.media.rules import PlatformRules, ratio_value

Fit = Literal["pad", "crop", "letterbox"]
FITS: tuple[str, ...] = ("pad", "crop", "letterbox")

#: Containers this module writes (FFmpeg muxer names are the same).
WRITABLE_CONTAINERS = ("mp4", "mov")
#: Codecs that may be stream-copied into MP4/MOV and that every platform's player reads.
_MP4_VIDEO = ("h264", "hevc")
_MP4_AUDIO = ("aac", "mp3")
#: Frame rates picked when the rate must change (the closest usual one inside the limits).
_USUAL_FPS = (24.0, 25.0, 30.0, 48.0, 50.0, 60.0)
#: Relative slack on frame rates, as the validator allows (PyAV reads 30 fps back as 30.0079).
_FPS_TOLERANCE = 0.01
#: Margin under a size or bitrate cap (container overhead, rate-control overshoot).
_CAP_MARGIN = 0.92
#: Cut this much before a duration limit, so encoder padding never pushes the end over it.
TRIM_MARGIN = 0.05
#: Audio bitrate of a re-encode, and the one assumed for copied audio when budgeting video.
AUDIO_BITRATE = 128_000
#: Quality ceiling of the video bitrate (bits per pixel per frame): above it nothing is gained,
#: so it caps every encode and two platforms with loose caps share one rendition.
_BITS_PER_PIXEL_CEILING = 0.2
#: Below this the size cap leaves no watchable video (bits/s).
_MIN_VIDEO_BITRATE = 60_000


@dataclass(frozen=True, slots=True)
class VideoTarget:
    """How to re-encode the video (H.264); absent from a ``Target`` when the stream is copied."""

    width: int  #: displayed width of the output
    height: int
    fit: str | None  #: reframing mode, None when the aspect ratio is kept
    fps: float | None  #: new frame rate, None to keep the source's
    maxrate: int  #: VBV cap of the video in bits/s
    rotation: int  #: source display rotation baked into the pixels


@dataclass(frozen=True, slots=True)
class AudioTarget:
    """How to re-encode the audio (AAC); absent when the stream is copied (or there is none)."""

    sample_rate: int
    channels: int
    bitrate: int = AUDIO_BITRATE


@dataclass(frozen=True, slots=True)
class Target:
    """One output file; its ``key`` names the rendition (platforms with equal targets share it)."""

    container: str
    video: VideoTarget | None = None
    audio: AudioTarget | None = None
    end: float | None = None  #: cut at this time (seconds), None to keep the whole file
    #: The size the result must stay under when it binds (checked after encoding).
    max_size: int | None = None

    @property
    def remux_only(self) -> bool:
        return self.video is None and self.audio is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def key(self) -> str:
        """Stable short digest of the target (part of the rendition's file name)."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do for one platform: nothing, a ``target`` to render, or an ``error`` (unfixable)."""

    platform: str  #: rules key, ``instagram:reels``
    actions: tuple[str, ...] = ()
    target: Target | None = None
    error: str | None = None

    @property
    def nothing_to_do(self) -> bool:
        return self.target is None and self.error is None


class _Unfixable(Exception):
    pass


def plan_for(info: MediaInfo, rule: PlatformRules, *, trim: bool = False, fit: str = "pad") -> Plan:
    """The least change that makes ``info`` pass ``rule``'s firm limits (see the module doc)."""
    if fit not in FITS:
        raise ValueError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    try:
        return _plan(info, rule, trim, fit)
    except _Unfixable as exc:
        return Plan(platform=rule.key, error=str(exc))


def _plan(info: MediaInfo, rule: PlatformRules, trim: bool, fit: str) -> Plan:
    def firm(name: str) -> bool:
        return name not in rule.soft

    container = info.container
    if rule.containers and firm("containers") and container not in rule.containers:
        container = _pick_container(rule)
    plan = _plan_into(info, rule, trim, fit, firm, container)
    if plan.target is not None and plan.target.container not in WRITABLE_CONTAINERS:
        # Something must be rewritten, and only MP4/MOV are written: plan again into one of them.
        plan = _plan_into(info, rule, trim, fit, firm, _pick_container(rule, container))
    return plan


def _plan_into(info: MediaInfo, rule: PlatformRules, trim: bool, fit: str, firm: Any, container: str) -> Plan:
    actions: list[str] = []
    duration = info.duration

    # -- duration: never lengthened, only cut when asked
    if rule.min_duration is not None and firm("min_duration") and duration < rule.min_duration:
        raise _Unfixable(
            f"duration {duration:.3g} s is under the {rule.min_duration:g} s minimum "
            "(a video cannot be lengthened without adding content)"
        )
    end: float | None = None
    if rule.max_duration is not None and firm("max_duration") and duration > rule.max_duration:
        if not trim:
            raise _Unfixable(
                f"duration {duration:.1f} s is over the {rule.max_duration:g} s limit "
                "(ask for trim to cut it to the limit)"
            )
        end = max(rule.max_duration - TRIM_MARGIN, 0.0)
        duration = end
        actions.append("trim")

    # -- container (remux only)
    if container != info.container:
        actions.append("change_container")
    elif rule.require_moov_first and firm("require_moov_first") and info.moov_after_mdat:
        actions.append("faststart")
    if rule.forbid_edit_lists and firm("forbid_edit_lists") and info.edit_list:
        actions.append("drop_edit_list")

    # -- video
    video_reasons: list[str] = []
    if rule.video_codecs and firm("video_codecs") and info.video_codec not in rule.video_codecs:
        video_reasons.append("reencode_video")
    elif container != info.container and info.video_codec not in _MP4_VIDEO:
        video_reasons.append("reencode_video")
    width, height, picture_actions, new_fit = _picture(info, rule, fit, firm)
    video_reasons += picture_actions
    fps, fps_action = _frame_rate(info, rule, firm)
    if fps_action:
        video_reasons.append(fps_action)

    # -- audio
    audio = _audio(info, rule, container, firm)
    audio_bps = audio.bitrate if audio is not None else (AUDIO_BITRATE if info.audio_codec else 0)
    if audio is not None:
        actions += _audio_actions(info, audio)

    # -- size and bitrate caps
    cap, max_size = _caps(rule, duration, audio_bps, firm)
    estimated_size = info.size * (duration / info.duration if info.duration else 1.0)
    over_size = max_size is not None and estimated_size > max_size * _CAP_MARGIN
    over_rate = (
        rule.max_bitrate is not None and firm("max_bitrate") and info.bitrate > rule.max_bitrate * _CAP_MARGIN
    )
    if over_size or over_rate:
        video_reasons.append("fit_size")

    video: VideoTarget | None = None
    size_check: int | None = None
    if video_reasons:
        if rule.video_codecs and firm("video_codecs") and "h264" not in rule.video_codecs:
            raise _Unfixable("the accepted video codecs do not include H.264, the only one written here")
        out_fps = fps if fps is not None else (info.frame_rate or 30.0)
        ceiling = int(_BITS_PER_PIXEL_CEILING * width * height * out_fps)
        maxrate = ceiling if cap is None else min(cap, ceiling)
        if maxrate < _MIN_VIDEO_BITRATE:
            raise _Unfixable(
                f"the size limit leaves {max(maxrate, 0) // 1000} kbit/s for the video over "
                f"{duration:.0f} s: too little to encode it"
            )
        video = VideoTarget(
            width=width, height=height, fit=new_fit, fps=fps, maxrate=maxrate, rotation=info.rotation
        )
        actions += [a for a in _VIDEO_ORDER if a in video_reasons]
        if info.rotation:
            actions.append("bake_rotation")
        if max_size is not None:
            # Checked even when the quality ceiling is below the size cap (the encoder's rate
            # control can overshoot both, on noise), and under the margin, not only the limit:
            # the rendition is planned again once written (``run._check``) with this same margin.
            size_check = int(max_size * _CAP_MARGIN)
    if not actions:
        return Plan(platform=rule.key)
    target = Target(container=container, video=video, audio=audio, end=end, max_size=size_check)
    return Plan(platform=rule.key, actions=tuple(dict.fromkeys(actions)), target=target)


_VIDEO_ORDER = (
    "reencode_video",
    "reframe_pad",
    "reframe_crop",
    "reframe_letterbox",
    "scale",
    "reduce_fps",
    "raise_fps",
    "fit_size",
)


def _pick_container(rule: PlatformRules, current: str | None = None) -> str:
    """The container to write: the current one when writable and accepted, else MP4 or MOV."""
    accepted = rule.containers or WRITABLE_CONTAINERS
    if current in WRITABLE_CONTAINERS and current in accepted:
        return current
    for name in (*rule.preferred_containers, "mp4", "mov"):
        if name in WRITABLE_CONTAINERS and name in accepted:
            return name
    raise _Unfixable(
        f"none of the accepted containers ({', '.join(rule.containers).upper()}) can be written here"
    )


def _ratio_ok(ratio: float, rule: PlatformRules, firm: Any) -> bool:
    tol = rule.aspect_tolerance
    if rule.aspect_ratios and firm("aspect_ratios"):
        return any(abs(ratio / ratio_value(r) - 1) <= tol for r in rule.aspect_ratios)
    if rule.aspect_range is not None and firm("aspect_range"):
        lo, hi = rule.aspect_range
        return lo * (1 - tol) <= ratio <= hi * (1 + tol)
    return True


def _target_ratio(ratio: float, rule: PlatformRules, firm: Any) -> float:
    """The accepted ratio nearest to ``ratio`` (preferred ones first when they are accepted)."""
    candidates: list[float] = []
    if rule.aspect_ratios and firm("aspect_ratios"):
        candidates = [ratio_value(r) for r in rule.aspect_ratios]
    elif rule.aspect_range is not None:
        lo, hi = rule.aspect_range
        preferred = [ratio_value(r) for r in rule.preferred_aspect_ratios]
        candidates = [r for r in preferred if lo <= r <= hi] or [max(lo, 1e-3), hi]
    return min(candidates, key=lambda r: abs(math.log(r / ratio)))


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def _picture(
    info: MediaInfo, rule: PlatformRules, fit: str, firm: Any
) -> tuple[int, int, list[str], str | None]:
    """Output size (displayed), the picture actions, and the reframing mode (None: kept)."""
    w, h = float(info.width), float(info.height)
    actions: list[str] = []
    new_fit: str | None = None
    ratio = w / h
    if not _ratio_ok(ratio, rule, firm):
        r = _target_ratio(ratio, rule, firm)
        new_fit = fit
        actions.append(f"reframe_{fit}")
        if fit == "crop":  # the largest region of ratio r inside the picture
            w, h = (h * r, h) if ratio > r else (w, w / r)
        else:  # the smallest canvas of ratio r around the picture
            w, h = (w, w / r) if ratio > r else (h * r, h)
            if rule.recommended_resolution is not None:  # a new canvas: no bigger than recommended
                rec_short, rec_long = sorted(rule.recommended_resolution)
                rec_w, rec_h = (rec_short, rec_long) if r < 1 else (rec_long, rec_short)
                shrink = min(1.0, rec_w / w, rec_h / h)
                w, h = w * shrink, h * shrink
    scale = 1.0
    short, long = sorted((w, h))
    if rule.max_resolution is not None and firm("max_resolution"):
        max_short, max_long = sorted(rule.max_resolution)
        scale = min(scale, max_short / short, max_long / long)
    if rule.max_width is not None and firm("max_width"):
        scale = min(scale, rule.max_width / w)
    if scale >= 1.0 and rule.min_resolution is not None and firm("min_resolution"):
        min_short, min_long = sorted(rule.min_resolution)
        scale = max(scale, min_short / short, min_long / long)
    if abs(scale - 1.0) > 1e-9:
        w, h = w * scale, h * scale
        actions.append("scale")
    out_w, out_h = _even(w), _even(h)
    if scale < 1.0:  # rounding must not push a side back over a limit
        out_w, out_h = int(w) // 2 * 2, int(h) // 2 * 2
    return out_w, out_h, actions, new_fit


def _frame_rate(info: MediaInfo, rule: PlatformRules, firm: Any) -> tuple[float | None, str | None]:
    fps = info.frame_rate
    if fps <= 0:
        return None, None
    if rule.max_fps is not None and firm("max_fps") and fps > rule.max_fps * (1 + _FPS_TOLERANCE):
        half = fps / 2
        if half <= rule.max_fps * (1 + _FPS_TOLERANCE) and (
            rule.min_fps is None or half >= rule.min_fps * (1 - _FPS_TOLERANCE)
        ):
            return _exact(half), "reduce_fps"  # every other frame: motion cadence kept
        usual = [f for f in _USUAL_FPS if f <= rule.max_fps]
        return (usual[-1] if usual else float(rule.max_fps)), "reduce_fps"
    if rule.min_fps is not None and firm("min_fps") and fps < rule.min_fps * (1 - _FPS_TOLERANCE):
        usual = [f for f in _USUAL_FPS if f >= rule.min_fps]
        return (usual[0] if usual else float(rule.min_fps)), "raise_fps"
    return None, None


def _exact(fps: float) -> float:
    """29.97 stays 30000/1001 rather than drifting: round to a 1001-denominator fraction."""
    return float(Fraction(fps).limit_denominator(1001))


def _audio(info: MediaInfo, rule: PlatformRules, container: str, firm: Any) -> AudioTarget | None:
    if info.audio_codec is None:
        return None
    rate = info.audio_sample_rate or 48000
    channels = info.audio_channels or 2
    reencode = False
    if rule.audio_codecs and firm("audio_codecs") and info.audio_codec not in rule.audio_codecs:
        reencode = True
    if container != info.container and info.audio_codec not in _MP4_AUDIO:
        reencode = True
    max_rate = rule.max_audio_sample_rate if firm("max_audio_sample_rate") else None
    if max_rate is not None and rate > max_rate:
        rate, reencode = max_rate, True
    max_channels = rule.max_audio_channels if firm("max_audio_channels") else None
    if max_channels is not None and channels > max_channels:
        channels, reencode = max_channels, True
    if not reencode:
        return None
    # AAC here is written at 48 kHz at most, in mono or stereo.
    return AudioTarget(sample_rate=min(rate, 48000), channels=min(channels, 2))


def _audio_actions(info: MediaInfo, audio: AudioTarget) -> list[str]:
    actions = ["reencode_audio"]
    if info.audio_sample_rate and audio.sample_rate < info.audio_sample_rate:
        actions.append("resample_audio")
    if info.audio_channels and audio.channels < info.audio_channels:
        actions.append("downmix_audio")
    return actions


def _caps(rule: PlatformRules, duration: float, audio_bps: int, firm: Any) -> tuple[int | None, int | None]:
    """Video bitrate cap (bits/s) from the size and bitrate limits, and the size limit itself."""
    cap: int | None = None
    max_size = rule.max_size if firm("max_size") else None
    if max_size is not None and duration > 0:
        cap = int(max_size * 8 * _CAP_MARGIN / duration) - audio_bps
    if rule.max_bitrate is not None and firm("max_bitrate"):
        by_rate = int(rule.max_bitrate * _CAP_MARGIN) - audio_bps
        cap = by_rate if cap is None else min(cap, by_rate)
    return cap, max_size
