"""Where renditions live: named by the source's content and the target, written atomically, pruned.

A rendition's name is ``<stem>.<content hash>.<target key>.<ext>``: the same source prepared for
the same target is the same file, whichever platform asked and whatever the source is called, so
two platforms with one target share it and a second run costs only the hash. A file is written
under a temporary name (``.<name>.tmp-<pid>-<thread>``) and renamed when complete, so a crash never leaves
a half file that looks finished; stale temporary files are removed by ``prune``.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_NAME = re.compile(r"^.+\.[0-9a-f]{16}\.([0-9a-f]{12}\.(mp4|mov)|thumbnail\.jpg)$")
_TEMP = re.compile(r"^\..+\.tmp-\d+-\d+$")
#: A temporary file older than this belongs to a dead process.
_STALE_TEMP_SECONDS = 6 * 3600.0


@dataclass(frozen=True, slots=True)
class PruneLimits:
    """Renditions older than ``max_age`` seconds go, then the oldest until ``max_bytes`` is met."""

    max_age: float | None = 30 * 86400.0
    max_bytes: int | None = 20 * 1024**3


def default_dir(database_url: str) -> Path:
    """The cache folder beside an SQLite database, else the user's cache folder."""
    if database_url.startswith("sqlite"):
        _, _, rest = database_url.partition(":///")
        db = rest.split("?", 1)[0]
        if db and db != ":memory:":
            return Path(db).expanduser().resolve().parent / "multipublish-renditions"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "multipublish" / "renditions"


#: Digests of files seen by this process, by (device, inode, size, mtime): a publish to five
#: platforms prepares the file five times, and hashing a large file costs more than a remux.
_digests: dict[tuple[int, int, int, int], str] = {}
_digests_lock = threading.Lock()
_DIGESTS_KEPT = 256


Identity = tuple[int, int, int, int]


def identity(path: str | Path) -> Identity:
    """(device, inode, size, modification time): a file rewritten in place changes it."""
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def known_digest(ident: Identity) -> str | None:
    """The digest this process already computed for a file of this identity, if any."""
    with _digests_lock:
        return _digests.get(ident)


def content_hash(path: str | Path) -> str:
    """SHA-256 of the file's bytes, hex (the first 16 characters name its renditions)."""
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        known = known_digest(key)
        if known is not None:
            return known
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    with _digests_lock:
        _digests[key] = digest
        while len(_digests) > _DIGESTS_KEPT:
            _digests.pop(next(iter(_digests)))
    return digest


def _stem(source: str | Path) -> str:
    return re.sub(r"[^\w.-]+", "_", Path(source).stem)[:60] or "video"


def rendition_name(source: str | Path, digest: str, target_key: str, container: str) -> str:
    return f"{_stem(source)}.{digest[:16]}.{target_key}.{container}"


def early_name(source: str | Path, target_key: str, container: str) -> str:
    """The name a rendition is written under before its source's digest is known (always as a
    temporary file: see ``temp_path``); renamed to ``rendition_name`` once it is."""
    return f"{_stem(source)}.{target_key}.{container}"


def temp_path(final: Path) -> Path:
    """Hidden, and unique to this process and thread (two writers never share a temporary file)."""
    return final.with_name(f".{final.name}.tmp-{os.getpid()}-{threading.get_ident()}")


def commit(temp: Path, final: Path) -> None:
    """Flush ``temp`` to the disk, then rename it to ``final`` (atomic on one file system)."""
    with open(temp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(temp, final)
    try:  # make the rename itself durable
        fd = os.open(final.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def touch(path: Path) -> None:
    """Mark a reused rendition as recently used (pruning goes by modification time)."""
    try:
        os.utime(path)
    except OSError:
        pass


def prune(folder: Path, limits: PruneLimits, keep: set[Path] | None = None) -> list[Path]:
    """Remove old renditions (and stale temporary files) from ``folder``; returns what went.

    Only files named like renditions are considered, so a folder shared with other files is safe.
    """
    keep = {p.resolve() for p in (keep or set())}
    now = time.time()
    removed: list[Path] = []
    entries: list[tuple[float, int, Path]] = []
    try:
        listing = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in listing:
        if not entry.is_file(follow_symlinks=False):
            continue
        path = Path(entry.path)
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if _TEMP.match(entry.name):
            if now - st.st_mtime > _STALE_TEMP_SECONDS and _unlink(path):
                removed.append(path)
            continue
        if not _NAME.match(entry.name) or path.resolve() in keep:
            continue
        if limits.max_age is not None and now - st.st_mtime > limits.max_age:
            if _unlink(path):
                removed.append(path)
            continue
        entries.append((st.st_mtime, st.st_size, path))
    if limits.max_bytes is not None:
        kept_size = sum(p.stat().st_size for p in keep if p.exists())
        total = kept_size + sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= limits.max_bytes:
                break
            if _unlink(path):
                removed.append(path)
                total -= size
    return removed


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except OSError:
        return False
    return True
