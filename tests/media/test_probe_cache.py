"""Probes are cached by file identity and miss as soon as the file changes."""

from __future__ import annotations

import importlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from multipublish.media.probe import cache_clear, cache_info, probe
from tests.fixtures.videos import VideoFactory


def test_probe_of_an_unchanged_file_is_answered_from_the_cache(
    small_video: Path, copy_video: Callable[..., Path]
) -> None:
    clip = copy_video(small_video, "cached.mp4")
    cache_clear()
    first = probe(clip)
    again = probe(clip)
    assert again == first
    assert cache_info()["hits"] == 1 and cache_info()["misses"] == 1
    # The same file under another name (a hard link) is the same identity; the path is its own.
    link = clip.with_name("linked.mp4")
    os.link(clip, link)
    via_link = probe(link)
    assert via_link.path == str(link) and via_link.duration == first.duration
    assert cache_info()["hits"] == 2


def test_probe_cache_misses_when_the_file_changes(
    video_factory: VideoFactory, small_video: Path, tmp_path: Path
) -> None:
    longer = video_factory("mp4", width=180, height=320, duration=2.0, fps=30)
    clip = tmp_path / "changing.mp4"
    shutil.copyfile(small_video, clip)
    cache_clear()
    assert probe(clip).duration < 1.5
    # Rewritten in place with other content: size and mtime change, the new facts are read.
    shutil.copyfile(longer, clip)
    assert probe(clip).duration > 1.5
    # Only touched (same bytes, new mtime): probed again too.
    stamp = clip.stat().st_mtime_ns + 5_000_000_000
    os.utime(clip, ns=(stamp, stamp))
    probe(clip)
    # Replaced by another file (new inode) with the same size and mtime as before.
    other = tmp_path / "other.mp4"
    shutil.copyfile(longer, other)
    os.utime(other, ns=(stamp, stamp))
    os.replace(other, clip)
    probe(clip)
    assert cache_info() == {"hits": 0, "misses": 4, "size": 4}


def test_probe_cache_is_bounded(small_video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The package re-exports the function ``probe``, which hides the module of the same name.
    monkeypatch.setattr(importlib.import_module("multipublish.media.probe"), "_CACHE_SIZE", 2)
    cache_clear()
    for i in range(4):
        clip = tmp_path / f"c{i}.mp4"
        shutil.copyfile(small_video, clip)
        probe(clip)
    assert cache_info()["size"] == 2
