"""Media preparation (issue 13) on real clips made with PyAV: plans, renditions, faithfulness."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from multipublish.media.prepare import PruneLimits, plan_for, prepare_video_for_platforms
from multipublish.media.prepare.renditions import prune
from multipublish.media.probe import probe
from multipublish.media.rules import RuleSet, load_rules
from multipublish.media.validate import validate_video_for_platforms
from tests.fixtures.videos import VideoFactory
from tests.media.conftest import cut

RULES = load_rules(None)


def _prepare(path: Path, platforms: list[str], out: Path, rules: RuleSet = RULES, **kw: object) -> dict:
    return prepare_video_for_platforms(path, platforms, rules, out, **kw)  # type: ignore[arg-type]


def _assert_valid(entry: dict, platform: str, rules: RuleSet = RULES) -> None:
    """The project's validator (not the planner) must accept the output."""
    assert entry["valid"], entry
    report = validate_video_for_platforms(entry["path"], [platform], rules)[platform]
    assert report["valid"], report["errors"]


def _sync_clip(
    path: Path,
    *,
    width: int,
    height: int,
    duration: float,
    fps: int = 30,
    at: float = 1.5,
    container: str | None = None,
    vcodec: str = "libx264",
    acodec: str = "aac",
    rotation: int = 0,
    faststart: bool = True,
    rate: int = 48000,
) -> Path:
    """A dark clip with one bright frame at ``at`` and a tone burst at the same instant."""
    fmt = container or path.suffix.lstrip(".")
    options = {"movflags": "+faststart"} if faststart and fmt in ("mp4", "mov") else {}
    with av.open(str(path), "w", format=fmt, options=options) as out:
        vs = out.add_stream(vcodec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"  # type: ignore[union-attr]
        if vcodec == "libx264":
            vs.options = {"preset": "ultrafast"}
        elif vcodec.startswith("libvpx"):
            vs.options = {"deadline": "realtime", "cpu-used": "8", "b": "200k"}
        if rotation:
            vs.set_display_rotation(rotation)  # type: ignore[union-attr]
        aus = out.add_stream(acodec, rate=rate)
        aus.layout = "stereo"  # type: ignore[union-attr]
        dark_rgb = np.full((height, width, 3), 30, np.uint8)
        dark_rgb[: height // 4, : width // 4] = 200  # a marker block at the top left (coded picture)
        dark, bright = (
            av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            for rgb in (dark_rgb, np.full((height, width, 3), 235, np.uint8))
        )
        flash = round(at * fps)
        for i in range(round(duration * fps)):
            frame = bright if i == flash else dark
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in vs.encode(frame):  # type: ignore[union-attr,arg-type]
                out.mux(packet)
        for packet in vs.encode():  # type: ignore[union-attr]
            out.mux(packet)
        total, size, t0 = int(duration * rate), 960 if acodec == "libopus" else 1024, 0
        while t0 < total:
            n = min(size, total - t0)
            t = np.arange(t0, t0 + n) / rate
            tone = np.where((t >= at) & (t < at + 0.05), 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0)
            data = np.vstack([tone, tone]).astype(np.float32)
            af = av.AudioFrame.from_ndarray(data, format="fltp", layout="stereo")
            af.sample_rate, af.pts = rate, t0
            for packet in aus.encode(af):  # type: ignore[union-attr,arg-type]
                out.mux(packet)
            t0 += n
        for packet in aus.encode():  # type: ignore[union-attr]
            out.mux(packet)
    return path


def _flash_and_beep(path: str | Path) -> tuple[float, float]:
    """Time of the brightest frame and of the first loud audio sample."""
    with av.open(str(path)) as c:
        best, when = -1.0, 0.0
        for frame in c.decode(video=0):
            if frame.time is not None and frame.time > 4:
                break
            luma = float(frame.to_ndarray(format="gray").mean())
            if luma > best:
                best, when = luma, float(frame.time)
    with av.open(str(path)) as c:
        beep = -1.0
        for af in c.decode(audio=0):
            data = af.to_ndarray()
            loud = np.nonzero(np.abs(data).max(axis=0) > 0.1)[0]
            if loud.size:
                beep = float(af.time) + loud[0] / af.sample_rate
                break
    return when, beep


def _assert_faithful(src: Path, out: str, duration: float | None = None, at: float = 1.5) -> None:
    """Duration kept (±0.1 s) and audio in sync (flash and beep within 50 ms)."""
    info = probe(out)
    assert abs(info.duration - (duration if duration is not None else probe(src).duration)) <= 0.1
    flash, beep = _flash_and_beep(out)
    assert abs(flash - at) <= 0.05, flash
    assert abs(beep - flash) <= 0.05, (flash, beep)


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16:9 320x180 H.264/AAC MP4, 3.5 s, with a sync marker at 1.5 s."""
    return _sync_clip(tmp_path_factory.mktemp("wide") / "wide.mp4", width=320, height=180, duration=3.5)


# -- plans -------------------------------------------------------------------------------------


def test_a_valid_file_is_left_as_it_is(vertical_video: Path, tmp_path: Path) -> None:
    result = _prepare(vertical_video, ["tiktok", "instagram:reels", "youtube"], tmp_path / "out")
    for entry in result.values():
        assert entry == {"path": str(vertical_video), "actions": [], "valid": True}
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("fit", ["pad", "crop", "letterbox"])
def test_16_9_to_9_16(wide: Path, tmp_path: Path, fit: str) -> None:
    entry = _prepare(wide, ["instagram:reels"], tmp_path, fit=fit)["instagram:reels"]
    assert entry["actions"] == [f"reframe_{fit}"]
    _assert_valid(entry, "instagram:reels")
    info = probe(entry["path"])
    assert abs(info.width / info.height - 9 / 16) < 0.01
    assert (info.video_codec, info.audio_codec, info.frame_rate) == ("h264", "aac", 30.0)
    _assert_faithful(wide, entry["path"])
    with av.open(entry["path"]) as c:
        frame = next(c.decode(video=0)).to_ndarray(format="gray").astype(int)
    mid = info.height // 2
    top, middle = frame[: info.height // 8].mean(), frame[mid - 10 : mid + 10].mean()
    if fit == "letterbox":
        assert top < 20  # black bars
    elif fit == "pad":
        assert top > 20  # a blurred copy of the picture, not black
    else:
        assert abs(top - middle) < 60  # picture everywhere


def test_moov_after_mdat_is_remuxed_with_identical_packets(
    video_factory: VideoFactory, tmp_path: Path
) -> None:
    src = video_factory("mp4", width=180, height=320, duration=3.2, fps=30, faststart=False)
    assert probe(src).moov_after_mdat
    entry = _prepare(src, ["instagram:reels"], tmp_path)["instagram:reels"]
    assert entry["actions"] == ["faststart"]
    _assert_valid(entry, "instagram:reels")
    assert probe(entry["path"]).faststart

    def packets(path: str | Path) -> list[list[bytes]]:
        with av.open(str(path)) as c:
            streams: list[list[bytes]] = [[] for _ in c.streams]
            for p in c.demux():
                if p.size:
                    streams[p.stream.index].append(bytes(p))
            return streams

    assert packets(src) == packets(entry["path"])


def test_webm_vp9_to_mp4_h264_for_linkedin(tmp_path: Path) -> None:
    src = _sync_clip(
        tmp_path / "in.webm", width=320, height=180, duration=3.5, vcodec="libvpx-vp9", acodec="libopus"
    )
    assert probe(src).container == "webm"
    entry = _prepare(src, ["linkedin"], tmp_path / "out")["linkedin"]
    assert set(entry["actions"]) == {"change_container", "reencode_video", "reencode_audio"}
    _assert_valid(entry, "linkedin")
    info = probe(entry["path"])
    assert (info.container, info.video_codec, info.audio_codec) == ("mp4", "h264", "aac")
    _assert_faithful(src, entry["path"])


def test_rotated_phone_video_is_baked_when_reframed(tmp_path: Path) -> None:
    # Stored 320x180 with a 90° display matrix: a 180x320 portrait video as shown.
    src = _sync_clip(tmp_path / "phone.mp4", width=320, height=180, duration=3.5, rotation=90)
    info = probe(src)
    assert (info.width, info.height, info.rotation) == (180, 320, 90)
    result = _prepare(src, ["instagram:reels", "instagram:feed"], tmp_path / "out", fit="crop")
    assert result["instagram:reels"] == {"path": str(src), "actions": [], "valid": True}
    entry = result["instagram:feed"]
    assert "bake_rotation" in entry["actions"]
    _assert_valid(entry, "instagram:feed")
    out = probe(entry["path"])
    assert out.rotation == 0 and out.width < out.height
    _assert_faithful(src, entry["path"])
    # The marker block at the stored top left is shown at the bottom left (as FFmpeg displays it).
    with av.open(entry["path"]) as c:
        gray = next(c.decode(video=0)).to_ndarray(format="gray").astype(int)
    h = gray.shape[0]
    assert gray[-h // 8 :, :4].mean() > 120 and gray[: h // 8, :4].mean() < 80


def test_cache_shares_and_reuses_a_rendition(wide: Path, tmp_path: Path) -> None:
    first = _prepare(wide, ["instagram:reels", "instagram:stories"], tmp_path)
    assert first["instagram:reels"]["path"] == first["instagram:stories"]["path"]  # one target, one file
    path = Path(first["instagram:reels"]["path"])
    stamp = path.stat().st_mtime_ns
    os.utime(path, ns=(stamp - 10**9, stamp - 10**9))
    seen: list[tuple[str, float]] = []
    second = _prepare(wide, ["instagram:reels"], tmp_path, progress=lambda n, f: seen.append((n, f)))
    assert second["instagram:reels"] == first["instagram:reels"]
    assert path.stat().st_size > 0 and seen == [("instagram:reels", 1.0)]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_progress_is_reported_while_encoding(wide: Path, tmp_path: Path) -> None:
    seen: list[float] = []
    _prepare(wide, ["instagram:reels"], tmp_path, progress=lambda n, f: seen.append(f))
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)


def test_prune_by_age_and_size(tmp_path: Path) -> None:
    names = [f"v.{'a' * 16}.{str(i) * 12}.mp4" for i in range(4)]
    for i, name in enumerate(names):
        (tmp_path / name).write_bytes(b"x" * 1000)
        os.utime(tmp_path / name, (1_000_000 + i, 1_000_000 + i))
    (tmp_path / "mine.mp4").write_bytes(b"user file")
    os.utime(tmp_path / "mine.mp4", (1, 1))
    removed = prune(tmp_path, PruneLimits(max_age=None, max_bytes=2500))
    assert sorted(p.name for p in removed) == names[:2]  # oldest first, until under 2500 bytes
    removed = prune(tmp_path, PruneLimits(max_age=3600, max_bytes=None))
    assert sorted(p.name for p in removed) == names[2:]
    assert (tmp_path / "mine.mp4").exists()  # not a rendition: never touched


def _rules_file(tmp_path: Path, text: str) -> RuleSet:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return load_rules(path)


def test_4k60_is_brought_to_the_limits(tmp_path: Path) -> None:
    # Short clip: a rules file lowers the minimum duration (and caps the rate) to keep it cheap.
    rules = _rules_file(tmp_path, '["instagram:feed"]\nmin_duration = 0.3\nmax_fps = 30\n')
    src = _sync_clip(tmp_path / "uhd.mp4", width=3840, height=2160, duration=0.5, fps=60, at=0.3)
    result = _prepare(src, ["instagram:feed", "tiktok"], tmp_path / "out", rules, fit="crop")
    assert result["tiktok"]["path"] == str(src)  # TikTok takes 4K60 as it is
    entry = result["instagram:feed"]
    assert entry["actions"] == ["reframe_crop", "scale", "reduce_fps"]
    _assert_valid(entry, "instagram:feed", rules)
    info = probe(entry["path"])
    assert (info.width, info.height, info.frame_rate) == (1920, 1920, 30.0)
    _assert_faithful(src, entry["path"], at=0.3)


def test_over_the_size_limit_is_brought_under_it(tmp_path: Path) -> None:
    src = tmp_path / "noise.mp4"
    rng = np.random.default_rng(7)
    with av.open(str(src), "w", options={"movflags": "+faststart"}) as out:
        vs = out.add_stream("libx264", rate=30)
        vs.width, vs.height, vs.pix_fmt = 180, 320, "yuv420p"  # type: ignore[union-attr]
        vs.options = {"preset": "ultrafast", "crf": "0"}
        for i in range(105):
            img = rng.integers(0, 255, (320, 180, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 30)
            for packet in vs.encode(frame):  # type: ignore[union-attr,arg-type]
                out.mux(packet)
        for packet in vs.encode():  # type: ignore[union-attr]
            out.mux(packet)
    limit = 200 * 1024
    assert src.stat().st_size > 5 * limit
    rules = _rules_file(tmp_path, '["instagram:reels"]\nmax_size = "200KB"\n')
    entry = _prepare(src, ["instagram:reels"], tmp_path / "out", rules)["instagram:reels"]
    assert entry["actions"] == ["fit_size"]
    _assert_valid(entry, "instagram:reels", rules)
    assert Path(entry["path"]).stat().st_size <= limit
    assert abs(probe(entry["path"]).duration - 3.5) <= 0.1


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """700 s, 256x144 at 5 fps (LinkedIn's 10-minute limit is firm, its picture and rate limits soft)."""
    folder = tmp_path_factory.mktemp("long")
    return _sync_clip(folder / "long.mp4", width=256, height=144, duration=700.0, fps=5, at=2.0, rate=16000)


def test_700_s_without_trim_is_an_error(long_clip: Path, tmp_path: Path) -> None:
    entry = _prepare(long_clip, ["linkedin"], tmp_path)["linkedin"]
    assert not entry["valid"] and "600 s limit" in entry["error"] and str(long_clip) in entry["error"]
    assert list(tmp_path.iterdir()) == []


def test_700_s_with_trim_is_cut_without_reencoding(long_clip: Path, tmp_path: Path) -> None:
    entry = _prepare(long_clip, ["linkedin", "youtube"], tmp_path, trim=True)
    assert entry["youtube"]["path"] == str(long_clip)  # within YouTube's limits: never cut
    linkedin = entry["linkedin"]
    assert linkedin["actions"] == ["trim"]
    _assert_valid(linkedin, "linkedin")
    _assert_faithful(long_clip, linkedin["path"], duration=600.0, at=2.0)
    with av.open(str(long_clip)) as a, av.open(linkedin["path"]) as b:
        first = [bytes(p) for p, _ in zip(a.demux(video=0), range(50), strict=False)]
        again = [bytes(p) for p, _ in zip(b.demux(video=0), range(50), strict=False)]
    assert first == again  # stream copy


# -- bad inputs -------------------------------------------------------------------------------


def test_too_long_without_trim_names_the_limit(long_clip: Path, tmp_path: Path) -> None:
    entry = _prepare(long_clip, ["instagram:reels"], tmp_path)["instagram:reels"]
    assert not entry["valid"] and entry["path"] is None
    assert str(long_clip) in entry["error"] and "90 s limit" in entry["error"] and "trim" in entry["error"]


def test_unreachable_target_under_the_minimum(small_video: Path, tmp_path: Path) -> None:
    entry = _prepare(small_video, ["instagram:reels"], tmp_path)["instagram:reels"]
    assert not entry["valid"] and "under the 3 s minimum" in entry["error"]


def test_bad_files_are_clear_errors(audio_only: Path, video_factory: VideoFactory, tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    good = video_factory("mp4", width=180, height=320, duration=3.2, fps=30, faststart=False)
    truncated = cut(good, tmp_path / "cut.mp4", good.stat().st_size // 2)
    for path, reason in ((audio_only, "audio-only"), (text, "not a video"), (truncated, "truncated")):
        entry = _prepare(path, ["tiktok"], tmp_path / "out")["tiktok"]
        assert not entry["valid"] and str(path) in entry["error"] and reason in entry["error"], entry
    assert not (tmp_path / "out").exists()


def test_unwritable_output_folder(wide: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    entry = _prepare(wide, ["instagram:reels"], blocker / "out")["instagram:reels"]
    assert not entry["valid"] and "output folder" in entry["error"]


def test_no_space_left_leaves_no_half_file(wide: Path, tmp_path: Path) -> None:
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.system(f"mount -t tmpfs -o size=4k tmpfs {mount} 2>/dev/null") != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        entry = _prepare(wide, ["instagram:reels"], mount)["instagram:reels"]
        assert not entry["valid"] and "no space left" in entry["error"], entry
        assert list(mount.iterdir()) == []
    finally:
        os.system(f"umount {mount}")


def test_planner_ignores_soft_rules(video_factory: VideoFactory) -> None:
    # TikTok's 3 s minimum is uncertain (soft): a 1 s clip warns in validation, so nothing to fix.
    info = probe(video_factory("mp4", width=360, height=640, duration=1.0, fps=30))
    assert plan_for(info, RULES.for_platform("tiktok")).nothing_to_do


def test_edit_list_is_dropped_by_a_remux(edit_list_video: Path, tmp_path: Path) -> None:
    # The clip is 0.3 s long: a rules file lifts the minimum so only the edit list is at fault.
    rules = _rules_file(tmp_path, '["instagram:reels"]\nmin_duration = 0\n')
    assert probe(edit_list_video).edit_list
    entry = _prepare(edit_list_video, ["instagram:reels"], tmp_path / "out", rules)["instagram:reels"]
    assert entry["actions"] == ["drop_edit_list"]
    _assert_valid(entry, "instagram:reels", rules)
    assert not probe(entry["path"]).edit_list


def test_full_range_colour_is_kept_by_a_reencode(tmp_path: Path) -> None:
    src = tmp_path / "full.mp4"
    with av.open(str(src), "w", options={"movflags": "+faststart"}) as out:
        vs = out.add_stream("libx264", rate=30)
        vs.width, vs.height, vs.pix_fmt = 320, 180, "yuvj420p"  # type: ignore[union-attr]
        vs.options = {"preset": "ultrafast"}
        img = np.full((180, 320, 3), 250, np.uint8)
        for i in range(100):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuvj420p")
            frame.pts, frame.time_base = i, Fraction(1, 30)
            for packet in vs.encode(frame):  # type: ignore[union-attr,arg-type]
                out.mux(packet)
        for packet in vs.encode():  # type: ignore[union-attr]
            out.mux(packet)
    entry = _prepare(src, ["instagram:reels"], tmp_path / "out", fit="letterbox")["instagram:reels"]
    assert entry["valid"], entry

    def luma_and_range(path: str | Path) -> tuple[float, int]:
        with av.open(str(path)) as c:
            frame = next(c.decode(video=0))
            rows = frame.height // 2
            y = frame.planes[0]
            data = np.frombuffer(bytes(y), np.uint8).reshape(-1, y.line_size)[rows, : frame.width]
            return float(data.mean()), int(c.streams.video[0].codec_context.color_range)

    src_luma, src_range = luma_and_range(src)
    out_luma, out_range = luma_and_range(entry["path"])
    assert src_range == out_range == 2  # full ("JPEG") range, flagged as such
    assert abs(src_luma - out_luma) < 3  # and the values not squeezed into 16-235


def test_two_callers_at_once_share_one_rendition(video_factory: VideoFactory, tmp_path: Path) -> None:
    import threading

    src = video_factory("mp4", width=180, height=320, duration=3.2, fps=30, faststart=False)
    results: list[dict] = []

    def run() -> None:
        results.append(_prepare(src, ["instagram:reels"], tmp_path)["instagram:reels"])

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r["path"] for r in results}) == 1 and all(r["valid"] for r in results)
    assert [p.name for p in tmp_path.iterdir()] == [Path(results[0]["path"]).name]
    _assert_valid(results[0], "instagram:reels")


def test_content_hash_follows_the_content(tmp_path: Path) -> None:
    import hashlib

    from multipublish.media.prepare.renditions import content_hash

    path = tmp_path / "v.bin"
    path.write_bytes(b"a" * 1000)
    first = content_hash(path)
    assert first == hashlib.sha256(b"a" * 1000).hexdigest() == content_hash(path)
    path.write_bytes(b"b" * 1000)  # same size, new content (and a new modification time)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert content_hash(path) == hashlib.sha256(b"b" * 1000).hexdigest()


def test_remux_while_hashing_is_named_by_content_and_a_changed_file_misses(
    video_factory: VideoFactory, tmp_path: Path
) -> None:
    import hashlib
    import shutil

    a = video_factory("mp4", width=180, height=320, duration=3.2, fps=30, faststart=False)
    b = video_factory("mp4", width=180, height=320, duration=3.4, fps=30, faststart=False)
    out = tmp_path / "out"
    first_copy, second_copy = tmp_path / "x" / "clip.mp4", tmp_path / "y" / "clip.mp4"
    for copy in (first_copy, second_copy):
        copy.parent.mkdir()
        shutil.copyfile(a, copy)  # a new file: its digest is not known yet, it is computed meanwhile
    first = _prepare(first_copy, ["instagram:reels"], out)["instagram:reels"]
    assert first["actions"] == ["faststart"] and first["valid"], first
    name = Path(first["path"]).name
    assert name.split(".")[1] == hashlib.sha256(a.read_bytes()).hexdigest()[:16]
    assert [p.name for p in out.iterdir()] == [name]  # no temporary file left behind
    _assert_valid(first, "instagram:reels")
    again = _prepare(second_copy, ["instagram:reels"], out)["instagram:reels"]
    assert again["path"] == first["path"] and [p.name for p in out.iterdir()] == [name]  # reused
    shutil.copyfile(b, first_copy)  # the same path, other content
    changed = _prepare(first_copy, ["instagram:reels"], out)["instagram:reels"]
    assert Path(changed["path"]).name.split(".")[1] == hashlib.sha256(b.read_bytes()).hexdigest()[:16]
    assert sorted(p.name for p in out.iterdir()) == sorted([name, Path(changed["path"]).name])
    _assert_valid(changed, "instagram:reels")


def test_a_write_the_system_refuses_is_a_clear_error_and_leaves_nothing(wide: Path, tmp_path: Path) -> None:
    # A full disk cannot be made without root (a small tmpfs needs a mount: the test above); a
    # file-size limit (RLIMIT_FSIZE) makes the kernel refuse the rendition's writes part-way the same
    # way (EFBIG instead of ENOSPC), through the real CLI in a process of its own.
    import json
    import resource
    import subprocess
    import sys

    out = tmp_path / "out"
    limit = 4096  # well under the rendition's size

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    command = [sys.executable, "-m", "multipublish", "prepare", str(wide), "--platforms", "instagram:reels"]
    proc = subprocess.run(
        [*command, "--out", str(out), "--json"], capture_output=True, text=True, preexec_fn=cap, timeout=300
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    entry = json.loads(proc.stdout)["instagram:reels"]
    assert not entry["valid"] and str(wide) in entry["error"], entry
    assert f"cannot write in {out}" in entry["error"] and "largest file size" in entry["error"], entry
    assert "Traceback" not in proc.stderr
    assert list(out.iterdir()) == []  # no rendition, and no temporary file either


def test_read_only_output_folder(wide: Path, tmp_path: Path) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as root: a read-only mode does not stop root")
        entry = _prepare(wide, ["instagram:reels"], folder)["instagram:reels"]
        assert not entry["valid"] and f"output folder {folder}: not writable" in entry["error"], entry
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)
