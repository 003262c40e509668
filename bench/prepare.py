"""Media preparation speed and quality against the ffmpeg command line doing the same transform.

    python bench/prepare.py [--seconds 60] [--repeat 2] [--only pad|remux] [--keep DIR]

A 1080p30 H.264/AAC clip (FFmpeg's ``testsrc2`` pattern with temporal noise, so the encoder has
real work) is prepared twice:

1. 16:9 -> 9:16 ``pad`` (blurred fill), re-encoded with libx264 (``prepare_video_for_platforms``,
   process pool, hashing and the final check included), then by ``ffmpeg`` with the same filter
   graph, encoder settings (preset, CRF, maxrate) and audio copy;
2. a remux-only fix for Facebook (16:9 accepted): the same clip with its index after the media
   data, moved to the front (stream copy), then ``ffmpeg -c copy -movflags +faststart``.

Runs are interleaved (the best of ``--repeat`` is shown). Printed: wall and CPU seconds, the
real-time factor (video seconds per wall second), output size, SSIM of the output against the
uncompressed transform of the source (FFmpeg's ``ssim`` filter) and peak resident memory of the
process that did the work. Needs Debian's ``ffmpeg`` for the reference and the SSIM; without it
only our figures are printed.
"""

from __future__ import annotations

import os
import sys

# Run as a script, this file's folder comes first on sys.path, where bench/queue.py would shadow the
# standard library's ``queue`` module (which ``concurrent.futures`` imports).
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import av

from multipublish.media.prepare import plan_for
from multipublish.media.prepare.encode import DEFAULT_CRF, DEFAULT_PRESET
from multipublish.media.prepare.plan import Target
from multipublish.media.probe import probe
from multipublish.media.rules import load_rules

PLATFORM = "instagram:reels"
#: Takes 16:9 but wants the index in front: the remux-only fix.
REMUX_PLATFORM = "facebook:video"

#: Runs our preparation in a fresh interpreter, so its peak memory is its own (and its workers').
_OURS = """
import json, resource, sys, time
from multipublish.media.prepare import prepare_video_for_platforms
from multipublish.media.rules import load_rules
t0 = time.perf_counter()
result = prepare_video_for_platforms(sys.argv[1], [sys.argv[2]], load_rules(None), sys.argv[3], max_workers=1)
seconds = time.perf_counter() - t0
import hashlib
t1 = time.perf_counter()
with open(sys.argv[1], "rb") as fh:
    hashlib.file_digest(fh, "sha256")  # what naming the rendition by content costs (again, for the figure)
hash_seconds = time.perf_counter() - t1
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
peak = max(me.ru_maxrss, kids.ru_maxrss)
out = {"seconds": seconds, "hash_seconds": hash_seconds, "cpu": cpu, "peak_kb": peak}
print(json.dumps({**out, "result": result[sys.argv[2]]}))
"""


def make_source(path: Path, seconds: float, faststart: bool = True) -> Path:
    """1080p30 H.264 (CRF 18) + AAC 48 kHz stereo, from FFmpeg's test pattern with noise."""
    graph = f"testsrc2=size=1920x1080:rate=30:duration={seconds},noise=alls=4:allf=t"
    tone = f"sine=frequency=440:sample_rate=48000:duration={seconds}"
    options = {"movflags": "+faststart"} if faststart else {}
    with (
        av.open(graph, format="lavfi") as video_in,
        av.open(tone, format="lavfi") as audio_in,
        av.open(str(path), "w", options=options) as out,
    ):
        vs: Any = out.add_stream("libx264", rate=30)
        vs.width, vs.height, vs.pix_fmt = 1920, 1080, "yuv420p"
        vs.options = {"preset": "ultrafast", "crf": "20"}
        aus: Any = out.add_stream("aac", rate=48000)
        aus.layout = "stereo"  # type: ignore[assignment,unused-ignore]
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=48000)
        fifo = av.AudioFifo()
        for frame in video_in.decode(video=0):
            frame.pict_type = av.video.frame.PictureType.NONE
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        pts = 0
        for aframe in audio_in.decode(audio=0):
            for resampled in resampler.resample(aframe):
                resampled.pts = None
                fifo.write(resampled)
            while fifo.samples >= 1024:
                chunk: Any = fifo.read(1024)
                chunk.pts = pts
                pts += 1024
                for packet in aus.encode(chunk):
                    out.mux(packet)
        for packet in aus.encode():
            out.mux(packet)
    return path


def remux_moov_last(src: Path, dst: Path) -> Path:
    """The same packets with the index at the end (what many cameras and editors write)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return dst


def pad_filter(src_w: int, src_h: int, target: Target) -> str:
    """The filter graph ``media.prepare.encode`` builds for a ``pad`` target, in ffmpeg's syntax."""
    video = target.video
    assert video is not None and video.fit == "pad"
    w, h = video.width, video.height
    sw, sh = max(2, w // 8) // 2 * 2, max(2, h // 8) // 2 * 2
    return (
        f"[0:v]split[a][b];[a]scale=w={sw}:h={sh}:force_original_aspect_ratio=increase,crop=w={sw}:h={sh},"
        f"avgblur=sizeX=4,scale=w={w}:h={h}:out_range=limited[bg];"
        f"[b]scale=w={w}:h={h}:force_original_aspect_ratio=decrease:force_divisible_by=2:out_range=limited[fg];"
        "[bg][fg]overlay=x=(W-w)/2:y=(H-h)/2,setsar=1,format=yuv420p"
    )


def run_ffmpeg(args: list[str]) -> dict[str, Any]:
    """Run ffmpeg; wall seconds and the peak memory of that one process (``wait4``)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(["ffmpeg", "-hide_banner", "-v", "error", "-y", *args])
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"ffmpeg failed ({proc.returncode}): {' '.join(args)}")
    return {"seconds": seconds, "cpu": usage.ru_utime + usage.ru_stime, "peak_kb": usage.ru_maxrss}


def run_ours(src: Path, platform: str, out_dir: Path) -> dict[str, Any]:
    command = [sys.executable, "-c", _OURS, str(src), platform, str(out_dir)]
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"prepare failed: {proc.stderr}")
    data: dict[str, Any] = json.loads(proc.stdout)
    if not data["result"]["valid"]:
        raise SystemExit(f"prepare did not produce a valid file: {data['result']}")
    return data


def ssim(output: Path, source: Path, transform: str | None) -> float:
    """SSIM (All) of ``output`` against ``source`` put through ``transform`` without compression."""
    if transform is None:
        graph = "[0:v][1:v]ssim"
    else:
        graph = transform.replace("[0:v]", "[1:v]") + "[ref];[0:v][ref]ssim"
    proc = subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-i",
            str(output),
            "-i",
            str(source),
            "-filter_complex",
            graph,
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
    )
    match = re.search(r"All:([0-9.]+)", proc.stderr)
    return float(match.group(1)) if match else float("nan")


def line(label: str, run: dict[str, Any], length: float, size: int, score: float | None) -> None:
    shown = f"{score:.4f}" if score is not None else "   n/a"
    print(
        f"{label:<36} {run['seconds']:>7.2f} s wall ({length / run['seconds']:>6.2f}x real time) "
        f"{run['cpu']:>7.2f} s CPU {size / 1e6:>8.2f} MB  SSIM {shown}  peak {run['peak_kb'] / 1024:>5.0f} MB"
    )
    if "hash_seconds" in run:  # before an encode it is waited for; a stream copy runs alongside it
        print(f"{'  the content hash, timed alone':<36} {run['hash_seconds']:>7.2f} s")


def ratio(ours: dict[str, Any], ref: dict[str, Any]) -> None:
    print(
        f"{'speed vs ffmpeg':<36} {ref['seconds'] / ours['seconds']:>7.2f}x wall, "
        f"{ref['cpu'] / ours['cpu']:.2f}x CPU (the machine is shared: CPU time is the steadier figure)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the test clip")
    parser.add_argument("--keep", type=Path, help="keep the files in this folder")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each (the best is shown)")
    parser.add_argument("--only", choices=("pad", "remux"), help="run one of the two transforms")
    args = parser.parse_args()
    have_ffmpeg = shutil.which("ffmpeg") is not None
    root = Path(args.keep or tempfile.mkdtemp(prefix="mp-bench-prepare-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        src = make_source(root / "source.mp4", args.seconds)
        moov_last = remux_moov_last(src, root / "moov_last.mp4")
        info = probe(src)
        print(
            f"source: {info.width}x{info.height} {info.frame_rate:g} fps {info.duration:.1f} s "
            f"{info.size / 1e6:.1f} MB {info.bitrate / 1e6:.1f} Mbit/s "
            f"(made in {time.perf_counter() - t0:.1f} s)"
        )
        rules = load_rules(None).for_platform(PLATFORM)
        plan = plan_for(info, rules)
        assert plan.target is not None and plan.target.video is not None, plan
        video = plan.target.video
        print(
            f"plan for {PLATFORM}: {', '.join(plan.actions)} -> {video.width}x{video.height}, "
            f"libx264 {DEFAULT_PRESET} CRF {DEFAULT_CRF}, maxrate {video.maxrate / 1e6:.2f} Mbit/s"
        )
        transform = pad_filter(info.width, info.height, plan.target)
        length = info.duration

        if args.only != "remux":
            pad_run(args, src, root, transform, video, length, have_ffmpeg)
        if args.only != "pad":
            remux_run(args, moov_last, root, length, have_ffmpeg)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


def pad_run(
    args: Any, src: Path, root: Path, transform: str, video: Any, length: float, have_ffmpeg: bool
) -> None:
    print("\n16:9 -> 9:16 pad (re-encode), best of", args.repeat)
    ffmpeg_pad = [
        "-i", str(src), "-filter_complex", transform,
        "-c:v", "libx264", "-preset", DEFAULT_PRESET, "-crf", str(DEFAULT_CRF),
        "-maxrate", str(video.maxrate), "-bufsize", str(video.maxrate * 2), "-profile:v", "high",
        "-c:a", "copy", "-movflags", "+faststart", str(root / "ffmpeg_pad.mp4"),
    ]  # fmt: skip
    ours_runs, ref_runs = [], []
    for _ in range(args.repeat):  # interleaved, so both see the same machine load
        shutil.rmtree(root / "ours", ignore_errors=True)
        ours_runs.append(run_ours(src, PLATFORM, root / "ours"))
        if have_ffmpeg:
            ref_runs.append(run_ffmpeg(ffmpeg_pad))
    ours = min(ours_runs, key=lambda r: r["seconds"])
    ours_path = Path(ours["result"]["path"])
    line("multipublish prepare", ours, length, ours_path.stat().st_size,
         ssim(ours_path, src, transform) if have_ffmpeg else None)  # fmt: skip
    if have_ffmpeg:
        ref = min(ref_runs, key=lambda r: r["seconds"])
        ref_path = root / "ffmpeg_pad.mp4"
        line("ffmpeg (same graph and settings)", ref, length, ref_path.stat().st_size,
             ssim(ref_path, src, transform))  # fmt: skip
        ratio(ours, ref)


def remux_run(args: Any, moov_last: Path, root: Path, length: float, have_ffmpeg: bool) -> None:
    print(f"\nremux only for {REMUX_PLATFORM} (index to the front), best of", args.repeat)
    ours_runs, ref_runs = [], []
    ref_path = root / "ffmpeg_remux.mp4"
    for _ in range(args.repeat):
        shutil.rmtree(root / "ours_remux", ignore_errors=True)
        ours_runs.append(run_ours(moov_last, REMUX_PLATFORM, root / "ours_remux"))
        if have_ffmpeg:
            ref_runs.append(
                run_ffmpeg(["-i", str(moov_last), "-c", "copy", "-movflags", "+faststart", str(ref_path)])
            )
    ours = min(ours_runs, key=lambda r: r["seconds"])
    ours_path = Path(ours["result"]["path"])
    print(f"{'actions':<36} {', '.join(ours['result']['actions'])}")
    line("multipublish prepare", ours, length, ours_path.stat().st_size, None)
    if have_ffmpeg:
        ref = min(ref_runs, key=lambda r: r["seconds"])
        line("ffmpeg -c copy -movflags +faststart", ref, length, ref_path.stat().st_size, None)
        ratio(ours, ref)
    else:
        print("\n(ffmpeg not installed: no reference run and no SSIM; apt-get install ffmpeg)")


if __name__ == "__main__":
    main()
