"""Shared HTTP helpers of the platform clients (httpx): timeouts, error kinds, streamed bodies.

Every client goes through these so that a 429 means the same thing everywhere, every call has a
timeout (the official SDKs set none), and a file is streamed from disk in bounded chunks instead of
being read into memory.

Error-kind policy (the queue retries on it)::

    401                      -> auth
    408, 5xx                 -> transient
    429                      -> rate_limited (quota when the body says so)
    other 4xx                -> permanent
    timeouts, dropped/refused connections, protocol errors -> transient
"""

from __future__ import annotations

import mimetypes
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from multipublish.errors import ErrorKind, plain_text

#: Bytes read from disk per chunk of a streamed body (bounded memory, few syscalls).
CHUNK_SIZE = 1024 * 1024

#: Header names of the upload-post style rate-limit counters copied into result details.
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")

_QUOTA_WORDS = re.compile(r"quota|limit reached|plan limit|monthly limit", re.IGNORECASE)


def make_timeout(seconds: float, *, connect: float | None = None) -> httpx.Timeout:
    """One timeout for every phase of a call (read/write apply per socket operation)."""
    return httpx.Timeout(seconds, connect=connect if connect is not None else min(seconds, 30.0))


def new_request_id() -> str:
    """Our own id for one upload, sent with it so its outcome can be asked for later."""
    return uuid.uuid4().hex


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def looks_like_quota(text: str | None) -> bool:
    """Whether an error body speaks of a used-up quota rather than a short rate limit."""
    return bool(text) and bool(_QUOTA_WORDS.search(text or ""))


def error_kind_for_status(status_code: int, body: str | None = None) -> ErrorKind:
    """The retry policy of an HTTP error status (see the module docstring)."""
    if status_code == 401:
        return ErrorKind.AUTH
    if status_code == 429:
        return ErrorKind.QUOTA if looks_like_quota(body) else ErrorKind.RATE_LIMITED
    if status_code == 408 or status_code >= 500:
        return ErrorKind.TRANSIENT
    return ErrorKind.PERMANENT


def error_kind_for_exception(exc: BaseException) -> ErrorKind:
    """Transport failures are all worth a retry: nothing the user must fix."""
    if isinstance(exc, httpx.HTTPStatusError):
        return error_kind_for_status(exc.response.status_code, exc.response.text)
    return ErrorKind.TRANSIENT


def describe_exception(exc: BaseException) -> str:
    """A short, secret-free description of a transport failure (no URLs, no headers)."""
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection closed by the server without a complete response"
    if isinstance(exc, httpx.NetworkError):
        return f"connection dropped ({type(exc).__name__})"
    return type(exc).__name__


def rate_limit_details(response: httpx.Response) -> dict[str, str]:
    """The ``X-RateLimit-*`` headers of a response, for cost and quota tracking."""
    return {name: response.headers[name] for name in RATE_LIMIT_HEADERS if name in response.headers}


def response_json(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of a response, or ``{}`` when the body is not one."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {"data": data}


def error_message(response: httpx.Response, default: str = "") -> str:
    """The human message of an error body, whichever key the service used."""
    data = response_json(response)
    error = data.get("error")
    if isinstance(error, dict):  # Google style {"error": {"message": ...}}
        error = error.get("message")
    for value in (data.get("message"), error, data.get("detail"), data.get("details")):
        if isinstance(value, str) and value:
            return value
    text = plain_text(response.text.strip())  # Google answers some errors with an HTML page
    return text[:300] if text else (default or f"HTTP {response.status_code}")


ProgressFn = Callable[[int, int], None]
"""``progress(bytes_sent, total_bytes)``."""


async def iter_file(
    path: str | Path,
    *,
    start: int = 0,
    length: int | None = None,
    chunk_size: int = CHUNK_SIZE,
    on_bytes: Callable[[int], None] | None = None,
) -> AsyncIterator[bytes]:
    """Yield ``length`` bytes of ``path`` from ``start`` in bounded chunks (for PUT bodies too).

    Reads are plain blocking reads of at most ``chunk_size`` bytes: from the page cache they take
    microseconds, far less than sending them, so a thread hop per chunk would only cost throughput.
    """
    with open(path, "rb") as fh:
        fh.seek(start)
        remaining = (os.fstat(fh.fileno()).st_size - start) if length is None else length
        while remaining > 0:
            chunk = fh.read(min(chunk_size, remaining))
            if not chunk:
                raise OSError(f"file shrank while uploading: {Path(path).name}")
            remaining -= len(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
            yield chunk


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def form_body(fields: Iterable[tuple[str, str]]) -> tuple[bytes, str]:
    """A small ``multipart/form-data`` body of text fields only, and its Content-Type."""
    boundary = uuid.uuid4().hex
    body = bytearray()
    for key, value in fields:
        body += f"--{boundary}\r\n".encode()
        body += f'Content-Disposition: form-data; name="{_quote(key)}"\r\n\r\n'.encode()
        body += str(value).encode() + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return bytes(body), f"multipart/form-data; boundary={boundary}"


@dataclass
class StreamingMultipart:
    """A ``multipart/form-data`` body whose file part is streamed from disk.

    The length is known up front (``Content-Length``, no chunked encoding), memory stays at one
    chunk whatever the file's size, and ``complete`` tells afterwards whether every byte was handed
    to the connection, which decides whether a lost response may still have published.
    """

    fields: Iterable[tuple[str, str]]
    file_field: str
    file_path: Path
    filename: str | None = None
    content_type: str | None = None
    chunk_size: int = CHUNK_SIZE
    progress: ProgressFn | None = None
    boundary: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: Bytes of the file handed to the connection so far.
    bytes_sent: int = 0
    #: True once the whole body (closing boundary included) was handed to the connection.
    complete: bool = False

    def __post_init__(self) -> None:
        self.file_path = Path(self.file_path)
        self.fields = list(self.fields)
        self.file_size = self.file_path.stat().st_size
        name = self.filename or self.file_path.name
        ctype = self.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        head = bytearray()
        for key, value in self.fields:
            head += f"--{self.boundary}\r\n".encode()
            head += f'Content-Disposition: form-data; name="{_quote(key)}"\r\n\r\n'.encode()
            head += str(value).encode() + b"\r\n"
        head += f"--{self.boundary}\r\n".encode()
        head += (
            f'Content-Disposition: form-data; name="{_quote(self.file_field)}"; '
            f'filename="{_quote(name)}"\r\nContent-Type: {ctype}\r\n\r\n'
        ).encode()
        self._head = bytes(head)
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def content_length(self) -> int:
        return len(self._head) + self.file_size + len(self._tail)

    @property
    def headers(self) -> dict[str, str]:
        """``Content-Type`` (with the boundary) and ``Content-Length`` of this body."""
        return {
            "Content-Type": f"multipart/form-data; boundary={self.boundary}",
            "Content-Length": str(self.content_length),
        }

    def _advance(self, n: int) -> None:
        self.bytes_sent += n
        if self.progress is not None:
            self.progress(self.bytes_sent, self.file_size)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.bytes_sent = 0
        self.complete = False
        yield self._head
        async for chunk in iter_file(self.file_path, length=self.file_size, chunk_size=self.chunk_size):
            yield chunk
            # Counted once the transport asks for more, i.e. after this chunk was written.
            self._advance(len(chunk))
        yield self._tail
        self.complete = True
