"""Resumable uploads (the tus protocol, served by ``tuspyserver``) and the list of uploaded files.

A browser or any tus client (tus-js-client, Uppy, tus-py-client) creates an upload at
``/api/publishing/uploads/tus``, sends it in chunks, and after a dropped connection asks the
server how much arrived (``HEAD``) and goes on from there, so a multi-gigabyte file is never sent
twice. The same token rules as every route apply (bearer header, or the dashboard cookie plus its
CSRF header). A finished upload is linked into ``<first media root>/uploads`` under its original
name, where ``video_path`` may name it; the listing below is what the composer picks from.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from fastapi import APIRouter, HTTPException, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel

from multipublish.api.auth import TokenDep, current_token
from multipublish.api.deps import StateDep, get_state
from multipublish.api.paths import upload_root
from multipublish.api.routes.common import errors
from multipublish.api.routes.uploads import safe_name
from multipublish.errors import NotFoundError

PREFIX = "/api/publishing/uploads/tus"
#: Largest resumable upload accepted (bytes): above every platform's own limit.
MAX_SIZE = 64 * 1024**3
_UID = re.compile(r"^[0-9a-f]{32}$")
_VIDEO_EXTENSIONS = frozenset(
    {"mp4", "mov", "m4v", "webm", "mkv", "avi", "flv", "wmv", "3gp", "mpeg", "mpg", "ts"}
)

router = APIRouter(prefix="/api/publishing/uploads", tags=["uploads"])


class UploadedFilePublic(BaseModel):
    video_path: str
    filename: str
    size: int
    uploaded_at: datetime
    upload_id: str | None = None


class UploadedFilesPublic(BaseModel):
    files: list[UploadedFilePublic]


def _refuse_non_video(metadata: dict[str, Any], info: dict[str, Any]) -> None:
    """Refuse, before any byte is stored, a file that announces itself as something else."""
    name = str(metadata.get("filename") or "")
    kind = str(metadata.get("filetype") or "")
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if kind and not kind.startswith("video/") and ext not in _VIDEO_EXTENSIONS:
        raise HTTPException(
            status_code=415, detail=f"{name or 'the file'} is not a video ({kind})"
        )
    if not kind and ext not in _VIDEO_EXTENSIONS:
        raise HTTPException(
            status_code=415,
            detail=f"{name or 'the file'} is not a video file (expected .mp4, .mov, .webm, ...)",
        )


def _link_into_uploads(file_path: str, metadata: dict[str, Any]) -> None:
    """Give a finished upload its name in the uploads folder (a hard link: no copy)."""
    uid = Path(file_path).name
    target = Path(file_path).parent.parent  # <uploads>/.tus/<uid> -> <uploads>
    final = target / f"{uid}_{safe_name(str(metadata.get('filename') or 'upload.mp4'))}"
    if not final.exists():
        try:
            os.link(file_path, final)
        except OSError:  # another file system: copy instead
            import shutil

            shutil.copyfile(file_path, final)


def _files_dir(request: Request) -> Callable[[dict[str, Any]], dict[str, str]]:
    """Dependency of every tus route: this service's ``<uploads>/.tus`` (from its settings)."""
    files = upload_root(get_state(request).settings.media_root_paths()) / ".tus"
    files.mkdir(exist_ok=True)
    return lambda _metadata: {"files_dir": str(files)}


def tus_router() -> APIRouter:
    """The tus endpoints; files go to the requesting service's ``<uploads>/.tus``."""
    from tuspyserver import create_tus_router

    made: APIRouter = create_tus_router(
        prefix=PREFIX,
        files_dir="",  # always replaced by _files_dir
        max_size=MAX_SIZE,
        auth=cast(Any, current_token),  # a FastAPI dependency (typed there as a bare callable)
        days_to_keep=3,
        on_upload_complete=_link_into_uploads,
        pre_create_hook=_refuse_non_video,
        file_dep=cast(Any, _files_dir),
        tags=["uploads"],
    )
    # The protocol's own answers (204, 409 offset mismatch, 412 version, 460 checksum...) are the
    # tus specification's, not this API's error shape: documented there, left out of our schema.
    for route in made.routes:
        if isinstance(route, APIRoute):
            route.include_in_schema = False
    return made


def _entry(path: Path) -> dict[str, Any]:
    stat = path.stat()
    uid, _, rest = path.name.partition("_")
    return {
        "video_path": str(path),
        "filename": rest if _UID.match(uid) else path.name.partition("_")[2] or path.name,
        "size": stat.st_size,
        "uploaded_at": datetime.fromtimestamp(stat.st_mtime, UTC),
        "upload_id": uid if _UID.match(uid) else None,
    }


@router.get("/files", response_model=UploadedFilesPublic, responses=errors(503))
def list_uploaded(state: StateDep, _token: TokenDep) -> Any:
    """Files already uploaded (newest first), to publish again without sending them twice."""
    target = upload_root(state.settings.media_root_paths())
    found = [p for p in target.iterdir() if p.is_file() and not p.name.startswith(".")]
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return {"files": [_entry(p) for p in found[:200]]}


@router.get("/files/{upload_id}", response_model=UploadedFilePublic, responses=errors(404, 503))
def uploaded_file(upload_id: str, state: StateDep, _token: TokenDep) -> Any:
    """The file a finished tus upload became (its ``video_path``)."""
    if not _UID.match(upload_id):
        raise NotFoundError("upload", upload_id)
    target = upload_root(state.settings.media_root_paths())
    match = next(iter(sorted(target.glob(f"{upload_id}_*"))), None)
    if match is None:
        raise NotFoundError("upload", upload_id)
    return _entry(match)
