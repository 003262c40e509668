"""Upload a video (multipart, streamed to disk) for clients that do not share the server's files.

The body is parsed as it arrives and written straight into ``<first media root>/uploads``: nothing
is held in memory or spooled to a temporary directory first. The size cap is the request guard's
(``api/guard.py``: 413 before reading, or as soon as a chunked body passes it); a file that does not
probe as a video is removed and refused. The answer's ``video_path`` is what to send in a publish
request.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from multipublish.api.auth import TokenDep
from multipublish.api.deps import StateDep
from multipublish.api.paths import upload_root
from multipublish.api.routes.common import errors
from multipublish.api.schemas import UploadPublic
from multipublish.errors import InputError, MediaError
from multipublish.media.probe import probe

router = APIRouter(prefix="/api/publishing", tags=["uploads"])

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        }
    },
}


def safe_name(filename: str) -> str:
    """A file name that cannot climb out of the upload directory."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    base = _SAFE.sub("_", base).strip("._") or "upload.bin"
    stem, dot, ext = base.rpartition(".")
    if dot and len(ext) <= 10:
        return f"{stem[:80] or 'upload'}.{ext}"
    return base[:90]


class _FilePart:
    """Callbacks of the streaming parser: the part named ``file`` goes to disk."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.header_field = b""
        self.header_value = b""
        self.headers: dict[bytes, bytes] = {}
        self.handle: Any = None
        self.temp: Path | None = None
        self.filename: str | None = None
        self.size = 0
        self.done = False

    def on_part_begin(self) -> None:
        self.headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.header_field.strip().lower()] = self.header_value.strip()
        self.header_field = b""
        self.header_value = b""

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self.headers.get(b"content-disposition", b""))
        if params.get(b"name") == b"file" and not self.done and self.handle is None:
            raw = params.get(b"filename", b"upload.bin").decode("utf-8", "replace")
            self.filename = safe_name(raw)
            self.temp = self.directory / f".{uuid.uuid4().hex}.part"
            self.handle = self.temp.open("wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.handle is not None:
            self.handle.write(data[start:end])
            self.size += end - start

    def on_part_end(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
            self.done = True

    def discard(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        if self.temp is not None:
            self.temp.unlink(missing_ok=True)


@router.post(
    "/uploads",
    status_code=201,
    response_model=UploadPublic,
    responses=errors(503),
    openapi_extra={"requestBody": _UPLOAD_BODY},
)
async def upload(request: Request, state: StateDep, _token: TokenDep) -> Any:
    """Stream a video file (form field ``file``) into the media root; returns its ``video_path``."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise InputError("file", "send multipart/form-data with the video in the field 'file'")
    directory = upload_root(state.settings.media_root_paths())
    part = _FilePart(directory)
    callbacks: Any = {
        "on_part_begin": part.on_part_begin,
        "on_header_field": part.on_header_field,
        "on_header_value": part.on_header_value,
        "on_header_end": part.on_header_end,
        "on_headers_finished": part.on_headers_finished,
        "on_part_data": part.on_part_data,
        "on_part_end": part.on_part_end,
    }
    try:
        parser = MultipartParser(boundary, callbacks)
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except (MultipartParseError, ValueError) as exc:
        part.discard()
        raise InputError("file", f"malformed multipart body ({type(exc).__name__})") from None
    except BaseException:
        part.discard()
        raise
    if not part.done or part.temp is None or part.filename is None:
        part.discard()
        raise InputError("file", "no complete form field named 'file' in the body")
    try:
        # 300 MB of zeros named .mp4 is not a video: refuse it now, not at publish time.
        await run_in_threadpool(probe, part.temp)
    except MediaError as exc:
        part.discard()
        raise InputError("file", f"not a readable video ({exc.reason})") from None
    except BaseException:
        part.discard()
        raise
    final = directory / f"{uuid.uuid4().hex[:12]}_{part.filename}"
    os.replace(part.temp, final)
    return {"video_path": str(final), "size": part.size, "filename": part.filename}
