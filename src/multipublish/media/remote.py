"""A video named by URL instead of a file: what can be known of it without its bytes.

upload-post's upload endpoint takes the video as a file part or as a URL in the same ``video``
field, and fetches the URL itself (docs.upload-post.com/api/upload-video: "The video file to
upload (can be a file upload or a video URL)"; the official SDK sends a ``http(s)://`` value as
that form field). multipublish then never holds the bytes, so its validation is partial: a
``HEAD`` request tells the size (``Content-Length``) and the type, when the server answers one;
duration, resolution, aspect ratio, codecs and frame rate are not checked, and the report says so.
YouTube's videos.insert takes the bytes only, so a URL is refused for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from multipublish.errors import InputError

#: What a URL's validation leaves unchecked (needs the file itself).
NOT_CHECKED = ("duration", "resolution", "aspect ratio", "codecs", "frame rate")
MAX_URL_LENGTH = 2048
#: Seconds for the HEAD request (it decides nothing the service would not find out itself).
HEAD_TIMEOUT = 10.0


def video_url_of(value: object) -> str | None:
    """The URL when ``value`` names a video by ``http(s)://`` URL rather than a local file."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text if text[:8].lower().startswith(("https://", "http://")) else None


def check_video_url(url: str, *, field_name: str = "video_path") -> str:
    """``url`` as it will be sent, or ``InputError`` naming the field and the reason."""
    if len(url) > MAX_URL_LENGTH:
        raise InputError(field_name, f"a video URL may have at most {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise InputError(field_name, "a video URL must not contain spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InputError(field_name, "must be a local file or an http(s):// URL with a host")
    if parts.username or parts.password:
        # It would travel to the service and into its logs (and ours): a credential, refused.
        raise InputError(field_name, "a video URL must not carry a user name or password")
    return url


def host_of(url: str) -> str:
    """The host only, for logs: a signed URL's query is a credential of sorts."""
    return urlsplit(url).hostname or "?"


@dataclass(slots=True)
class RemoteVideo:
    """What a ``HEAD`` request told of a video URL."""

    url: str
    size: int | None = None
    content_type: str | None = None
    #: HTTP status of the HEAD answer (``None``: not asked, or no answer).
    status: int | None = None
    #: Why something could not be learnt (the address guard, no answer, no Content-Length).
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url_host": host_of(self.url),
            "size": self.size,
            "content_type": self.content_type,
            "head_status": self.status,
            "validation": "partial",
            "not_checked": list(NOT_CHECKED),
            "notes": list(self.notes),
        }


def head_video(
    url: str, guard: Callable[[str], None], *, transport: httpx.BaseTransport | None = None
) -> RemoteVideo:
    """Ask the URL's server for the video's size with ``HEAD`` (never its bytes).

    ``guard(url)`` raises ``InputError`` for an address we must not call; the manager passes the
    webhooks' address guard (a private or loopback host is asked only when
    ``MULTIPUBLISH_WEBHOOK_ALLOW_HOSTS`` names it): the server must not be made to probe its own
    network on a user's behalf. What cannot be learnt becomes a note, not a refusal; only an answer
    that the video is not there (404, 410) or not allowed (401, 403) refuses it, since upload-post
    could not fetch it either.
    """
    info = RemoteVideo(url)

    def check(request: httpx.Request) -> None:  # every hop, redirects included
        guard(str(request.url))

    try:
        with httpx.Client(
            timeout=HEAD_TIMEOUT,
            follow_redirects=True,
            max_redirects=5,
            transport=transport,
            event_hooks={"request": [check]},
        ) as client:
            answer = client.head(url)
    except InputError as exc:
        info.notes.append(f"size not checked: {exc.reason}")
        return info
    except httpx.HTTPError as exc:
        info.notes.append(f"size not checked: no answer to HEAD ({type(exc).__name__})")
        return info
    info.status = answer.status_code
    if answer.status_code in (401, 403, 404, 410):
        return info
    if answer.status_code >= 400:
        info.notes.append(f"size not checked: HEAD answered HTTP {answer.status_code}")
        return info
    length = answer.headers.get("content-length", "")
    info.size = int(length) if length.isdigit() else None
    if info.size is None:
        info.notes.append("size not checked: the server sent no Content-Length")
    info.content_type = (answer.headers.get("content-type") or "").split(";")[0].strip() or None
    return info
