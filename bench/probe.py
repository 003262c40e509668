"""Probe time against file size and frame count, and validation throughput.

    python bench/probe.py [--runs 15] [--long-minutes 30]

Probe reads headers only, so its time should follow the number of frames (the MP4 sample tables),
not the bytes: 1 MB, 100 MB and 1 GB files made by padding one real clip (sparse, cheap on disk)
should probe in the same time. A genuinely long clip shows the cost of many frames. Then 100 files
are validated for all five platforms. Everything is written to a temp dir and deleted.
"""

from __future__ import annotations

import os
import sys

# Run as a script, this file's folder comes first on sys.path, where bench/queue.py would shadow the
# standard library's ``queue`` module (which ``concurrent.futures`` imports).
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from multipublish.media import load_rules, probe, validate_video_for_platforms
from multipublish.media.sample import make_video, pad_to_size
from multipublish.platforms.base import PLATFORMS

MB = 1024 * 1024


def median_ms(fn: Callable[[], object], runs: int) -> tuple[float, float, float]:
    """Median, min and max wall time of ``fn`` in milliseconds (one warm-up call first)."""
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), min(times), max(times)


def row(label: str, path: Path, runs: int) -> None:
    info = probe(path)
    med, lo, hi = median_ms(lambda: probe(path), runs)
    print(
        f"{label:<38} {info.size / MB:>9.1f} MB {info.duration:>8.0f} s "
        f"{med:>8.2f} ms  (min {lo:.2f}, max {hi:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="probe runs per file (median)")
    parser.add_argument("--long-minutes", type=float, default=30, help="length of the long clip")
    parser.add_argument("--files", type=int, default=100, help="files in the validation run")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="multipublish-bench-"))
    try:
        print(f"probe, median of {args.runs} runs")
        print(f"{'file':<38} {'size':>12} {'duration':>10} {'median':>11}")
        base = make_video(tmp / "base.mp4", width=1080, height=1920, duration=3, fps=30)
        for size in (1 * MB, 100 * MB, 1024 * MB):
            path = tmp / f"padded-{size // MB}mb.mp4"
            shutil.copyfile(base, path)
            pad_to_size(path, size)
            row(f"3 s 1080x1920 clip padded to {size // MB} MB", path, args.runs)
        rotated = make_video(tmp / "rotated.mp4", width=1920, height=1080, duration=2, rotation=90)
        row("2 s 1920x1080 rotated 90 (decodes 1 frame)", rotated, args.runs)
        webm = make_video(tmp / "clip.webm", width=1080, height=1920, duration=2)
        row("2 s 1080x1920 WebM (no rotation: no decode)", webm, args.runs)

        seconds = args.long_minutes * 60
        t0 = time.perf_counter()
        long = make_video(tmp / "long.mp4", width=64, height=112, duration=seconds, fps=30, audio=False)
        made = time.perf_counter() - t0
        frames = round(seconds * 30)
        print(f"(long clip: {frames} frames encoded in {made:.1f} s)")
        row(f"{args.long_minutes:g} min 30 fps clip ({frames} frames)", long, args.runs)
        pad_to_size(long, 1024 * MB)
        row("same, padded to 1 GB", long, args.runs)

        print(f"\nvalidation of {args.files} files for {len(PLATFORMS)} platforms")
        files = []
        for i in range(args.files):
            path = tmp / f"file{i:03d}.mp4"
            shutil.copyfile(base, path)
            files.append(path)
        rules = load_rules()
        t0 = time.perf_counter()
        valid = 0
        for path in files:
            report = validate_video_for_platforms(path, list(PLATFORMS), rules)
            valid += sum(entry["valid"] for entry in report.values())
        total = time.perf_counter() - t0
        print(
            f"total {total * 1000:.0f} ms, {total * 1000 / len(files):.2f} ms per file "
            f"({valid} of {len(files) * len(PLATFORMS)} verdicts valid)"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
