"""The media-root guard: a client may only name files under ``MULTIPUBLISH_MEDIA_ROOTS``.

A path is refused when it is relative, holds a ``..`` component or a NUL byte, or resolves
(symlinks followed) outside every configured root; the resolved path is what gets used, so a link
swapped in later cannot redirect an already accepted request.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath

from multipublish.errors import ConfigurationError, InputError


def resolve_media_path(
    raw: str, roots: list[Path] | None, *, field: str = "video_path"
) -> Path:
    """The real file ``raw`` names, or ``InputError(field, reason)``.

    ``roots=None`` (the local CLI, whose user may read any of their files) skips the root check.
    """
    if roots is not None and not roots:
        raise InputError(
            field,
            "this server accepts no file paths (MULTIPUBLISH_MEDIA_ROOTS is empty); upload the file",
        )
    if not raw or "\x00" in raw:
        raise InputError(field, "must be a non-empty absolute path")
    if ".." in PurePosixPath(raw).parts or ".." in PureWindowsPath(raw).parts:
        raise InputError(field, "must not contain '..'")
    path = Path(raw).expanduser() if raw.startswith("~") else Path(raw)
    if not path.is_absolute():
        where = "under a media root" if roots is not None else "(or relative to the plan file)"
        raise InputError(field, f"must be an absolute path {where}")
    try:
        resolved = path.resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # symlink loops
        raise InputError(field, f"cannot be resolved ({type(exc).__name__})") from None
    if roots is not None and not any(resolved.is_relative_to(root) for root in roots):
        raise InputError(field, "is outside the configured media roots")
    if not resolved.is_file():
        if roots is None:
            raise InputError(field, f"no such file: {resolved}; check the path")
        raise InputError(field, "no such file under the media roots")
    if not os.access(resolved, os.R_OK):
        raise InputError(field, "the file is not readable by the server")
    return resolved


def resolve_video(raw: str, roots: list[Path] | None, *, field: str = "video_path") -> Path | str:
    """A guarded local file, or a checked ``http(s)://`` URL (upload-post fetches it itself).

    A URL names no file of this server, so the media roots do not apply to it.
    """
    from multipublish.media.remote import check_video_url, video_url_of

    url = video_url_of(raw)
    if url is not None:
        return check_video_url(url, field_name=field)
    return resolve_media_path(raw, roots, field=field)


def upload_root(roots: list[Path]) -> Path:
    """Where uploads go: ``<first media root>/uploads``."""
    if not roots:
        raise ConfigurationError("uploads need a media root: set MULTIPUBLISH_MEDIA_ROOTS")
    target = roots[0] / "uploads"
    target.mkdir(parents=True, exist_ok=True)
    return target
