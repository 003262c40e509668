"""Streaming multipart/form-data reader: form fields in memory, file parts hashed straight to disk.

Starlette's ``request.form()`` spools files and would need a second pass to hash them; this reads
the body once, so a multi-gigabyte upload costs a 64 KiB buffer and one sha256 pass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header

from multipublish.sandbox.state import HashingSink

#: Largest text field accepted (a description is a few KB; this stops a runaway field).
MAX_FIELD_BYTES = 1024 * 1024


class MultipartError(ValueError):
    """The body is not a well-formed multipart/form-data document."""


@dataclass
class FilePart:
    """A file part received: its form name, file name, size and sha256."""

    name: str
    filename: str
    content_type: str
    size: int
    sha256: str
    path: Path | None


@dataclass
class ParsedForm:
    """Text fields (repeated names keep every value, in order) and file parts."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    files: list[FilePart] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else None

    def get_all(self, name: str) -> list[str]:
        return list(self.fields.get(name, []))


def boundary_of(content_type: str) -> bytes:
    """The boundary of a multipart Content-Type header, or ``MultipartError``."""
    ctype, params = parse_options_header(content_type)
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise MultipartError("Content-Type must be multipart/form-data with a boundary")
    return params[b"boundary"]


async def read_form(
    stream: AsyncIterator[bytes],
    content_type: str,
    file_path: Callable[[str], Path | None],
    on_file_bytes: Callable[[str, int], None] | None = None,
    form: ParsedForm | None = None,
) -> ParsedForm:
    """Parse the body as it arrives.

    ``file_path(field_name)`` says where a file part goes (``None``: hash only). ``on_file_bytes``
    is told the running byte count of the file part being received, so a fault can act mid-upload
    (it may raise to stop reading).
    """
    form = ParsedForm() if form is None else form
    header_field = bytearray()
    header_value = bytearray()
    headers: dict[str, str] = {}
    current: dict[str, object] = {}
    text = bytearray()
    sink: HashingSink | None = None
    errors: list[str] = []

    def on_part_begin() -> None:
        nonlocal sink
        headers.clear()
        current.clear()
        text.clear()
        sink = None

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[header_field.decode("latin-1").lower()] = header_value.decode("utf-8", "replace")
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        nonlocal sink
        _, params = parse_options_header(headers.get("content-disposition", ""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        current["name"] = name
        if b"filename" in params:
            filename = params[b"filename"].decode("utf-8", "replace")
            current["filename"] = filename
            sink = HashingSink(file_path(name))

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if sink is not None:
            sink.write(memoryview(data)[start:end])
            if on_file_bytes is not None:
                on_file_bytes(str(current.get("name", "")), sink.size)
        else:
            if len(text) + end - start > MAX_FIELD_BYTES:
                errors.append(f"form field {current.get('name')!r} is too large")
                return
            text.extend(data[start:end])

    def on_part_end() -> None:
        nonlocal sink
        name = str(current.get("name", ""))
        if sink is not None:
            sink.close()
            form.files.append(
                FilePart(
                    name=name,
                    filename=str(current.get("filename", "")),
                    content_type=headers.get("content-type", "application/octet-stream"),
                    size=sink.size,
                    sha256=sink.hexdigest(),
                    path=sink.path,
                )
            )
            sink = None
        else:
            form.fields.setdefault(name, []).append(text.decode("utf-8", "replace"))

    parser = MultipartParser(
        boundary_of(content_type),
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
        },
        max_header_count=32,
    )
    try:
        async for chunk in stream:
            parser.write(chunk)
        parser.finalize()
    except ValueError as exc:  # MultipartParseError is a ValueError
        raise MultipartError(f"malformed multipart body: {exc}") from None
    finally:
        if sink is not None:
            sink.close()
    if errors:
        raise MultipartError(errors[0])
    return form
