"""The YouTube and OAuth emulators, witnessed by google-api-python-client and google-auth."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import googleapiclient
import httpx
import pytest
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request as GoogleRequest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaFileUpload

from tests.sandbox.helpers import HTTP, KIB256, configure, posts, sha256, tiny_png, with_random_tail

DISCOVERY = Path(googleapiclient.__file__).parent / "discovery_cache/documents/youtube.v3.json"


def credentials(base: str, refresh_token: str = "rt-alice") -> Credentials:
    return Credentials(
        token=None,
        refresh_token=refresh_token,
        token_uri=f"{base}/token",
        client_id="cid",
        client_secret="csecret",
    )


def youtube(base: str, refresh_token: str = "rt-alice") -> Any:
    """The official client, built from its bundled discovery document, rooted at the sandbox."""
    document = json.loads(DISCOVERY.read_text())
    document["rootUrl"] = base + "/"
    return build_from_document(document, credentials=credentials(base, refresh_token))


def upload(client: Any, path: Path, body: dict[str, Any], chunks: int = 1) -> dict[str, Any]:
    media = MediaFileUpload(str(path), mimetype="video/mp4", chunksize=KIB256 * chunks,
                            resumable=True)
    request = client.videos().insert(part="snippet,status", body=body, media_body=media)
    response = None
    rounds = 0
    while response is None:
        _, response = request.next_chunk()
        rounds += 1
    assert rounds > 1  # it really went in several chunks
    result: dict[str, Any] = response
    return result


@pytest.fixture
def clip(small_video: Path, tmp_path: Path) -> Path:
    """A real clip grown to about 1.3 MB with random bytes (several chunks)."""
    return with_random_tail(small_video, tmp_path / "clip.mp4", 1_300_000)


def test_insert_in_chunks_keeps_identical_bytes_and_metadata(sandbox_url: str, clip: Path) -> None:
    client = youtube(sandbox_url)
    video = upload(
        client,
        clip,
        {
            "snippet": {"title": "Chunked", "description": "D", "tags": ["a", "b c"],
                        "categoryId": "27"},
            "status": {"privacyStatus": "unlisted", "selfDeclaredMadeForKids": False},
        },
        chunks=2,
    )
    assert video["kind"] == "youtube#video"
    assert video["status"]["uploadStatus"] == "uploaded"
    assert video["snippet"]["title"] == "Chunked"
    [post] = posts(sandbox_url, "youtube")
    assert post["video_id"] == video["id"]
    assert post["size"] == clip.stat().st_size
    assert post["sha256"] == sha256(clip)
    assert post["options"]["categoryId"] == "27"
    assert post["options"]["tags"] == ["a", "b c"]
    assert post["options"]["privacyStatus"] == "unlisted"
    assert post["channel"].startswith("UC")

    listed = client.videos().list(id=video["id"], part="snippet,status").execute()
    assert [item["id"] for item in listed["items"]] == [video["id"]]
    mine = client.channels().list(mine=True, part="snippet").execute()
    assert mine["items"][0]["id"] == post["channel"]


def test_thumbnail_and_playlist(sandbox_url: str, clip: Path, tmp_path: Path) -> None:
    client = youtube(sandbox_url)
    video = upload(client, clip, {"snippet": {"title": "T", "categoryId": "22"},
                                  "status": {"privacyStatus": "private"}}, chunks=3)
    thumb = tmp_path / "thumb.png"
    thumb.write_bytes(tiny_png())
    answer = client.thumbnails().set(
        videoId=video["id"], media_body=MediaFileUpload(str(thumb), mimetype="image/png")
    ).execute()
    assert answer["kind"] == "youtube#thumbnailSetResponse"
    assert answer["items"][0]["default"]["url"]
    item = client.playlistItems().insert(
        part="snippet",
        body={"snippet": {"playlistId": "PL123",
                          "resourceId": {"kind": "youtube#video", "videoId": video["id"]}}},
    ).execute()
    assert item["snippet"]["playlistId"] == "PL123"
    [post] = posts(sandbox_url, "youtube")
    assert post["thumbnail"]["sha256"] == sha256(thumb)
    assert post["playlists"] == ["PL123"]
    with pytest.raises(HttpError) as info:
        client.playlistItems().insert(
            part="snippet",
            body={"snippet": {"playlistId": "PL123",
                              "resourceId": {"kind": "youtube#video", "videoId": "nope"}}},
        ).execute()
    assert info.value.status_code == 404


def future(days: int = 2) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("snippet", "status", "reason"),
    [
        ({"title": "x" * 101}, {}, "invalidTitle"),
        ({"title": "a <b>"}, {}, "invalidTitle"),
        ({"title": ""}, {}, "invalidTitle"),
        ({"title": "ok", "description": "é" * 2501}, {}, "invalidDescription"),
        ({"title": "ok", "categoryId": "99"}, {}, "invalidCategoryId"),
        ({"title": "ok", "tags": ["x" * 501]}, {}, "invalidTags"),
        ({"title": "ok"}, {"privacyStatus": "public", "publishAt": future()}, "invalidPublishAt"),
        ({"title": "ok"}, {"privacyStatus": "private", "publishAt": "2001-01-01T00:00:00Z"},
         "invalidPublishAt"),
    ],
)
def test_metadata_errors(
    sandbox_url: str, clip: Path, snippet: dict[str, Any], status: dict[str, Any], reason: str
) -> None:
    client = youtube(sandbox_url)
    media = MediaFileUpload(str(clip), mimetype="video/mp4", chunksize=KIB256, resumable=True)
    request = client.videos().insert(part="snippet,status",
                                     body={"snippet": snippet, "status": status},
                                     media_body=media)
    with pytest.raises(HttpError) as info:
        request.next_chunk()
    assert info.value.status_code == 400
    assert info.value.error_details[0]["reason"] == reason
    assert posts(sandbox_url) == []


def test_scheduled_private_video_keeps_publish_at(sandbox_url: str, clip: Path) -> None:
    when = future(3)
    video = upload(youtube(sandbox_url), clip,
                   {"snippet": {"title": "Later"},
                    "status": {"privacyStatus": "private", "publishAt": when}}, chunks=2)
    assert video["status"]["publishAt"] == when
    [post] = posts(sandbox_url)
    assert post["status"] == "scheduled"
    assert post["options"]["publishAt"] == when


def test_revoked_refresh_token_is_invalid_grant(sandbox_url: str) -> None:
    creds = credentials(sandbox_url, "revoked-123")
    with pytest.raises(RefreshError) as info:
        creds.refresh(GoogleRequest())
    assert "invalid_grant" in str(info.value)


def test_google_auth_refresh_and_expiry(sandbox_url: str) -> None:
    configure(sandbox_url, token_lifetime=120)
    creds = credentials(sandbox_url)
    creds.refresh(GoogleRequest())
    assert creds.token and creds.token.startswith("ya29.")
    assert creds.expiry is not None
    remaining = creds.expiry - datetime.now(UTC).replace(tzinfo=None)
    assert timedelta(seconds=60) < remaining <= timedelta(seconds=120)
    headers = {"Authorization": f"Bearer {creds.token}"}
    url = f"{sandbox_url}/youtube/v3/channels"
    assert HTTP.get(url, params={"mine": "true", "part": "id"}, headers=headers).status_code == 200
    HTTP.post(f"{sandbox_url}/_sandbox/tokens/expire").raise_for_status()
    expired = HTTP.get(url, params={"mine": "true", "part": "id"}, headers=headers)
    assert expired.status_code == 401
    assert expired.headers["WWW-Authenticate"].startswith("Bearer")
    assert expired.json()["error"]["errors"][0]["reason"] == "authError"
    assert expired.json()["error"]["status"] == "UNAUTHENTICATED"
    creds.refresh(GoogleRequest())
    fresh = {"Authorization": f"Bearer {creds.token}"}
    assert HTTP.get(url, params={"mine": "true", "part": "id"}, headers=fresh).status_code == 200


def test_authorization_code_grant_gives_refresh_token(sandbox_url: str) -> None:
    consent = HTTP.get(
        f"{sandbox_url}/o/oauth2/auth",
        params={"client_id": "cid", "redirect_uri": "http://127.0.0.1:9/cb", "state": "s1",
                "response_type": "code"},
    )
    assert consent.status_code == 302
    location = httpx.URL(consent.headers["location"])
    assert location.params["state"] == "s1"
    answer = HTTP.post(
        f"{sandbox_url}/token",
        data={"grant_type": "authorization_code", "code": location.params["code"],
              "client_id": "cid", "client_secret": "cs", "redirect_uri": "http://127.0.0.1:9/cb"},
    ).json()
    assert answer["refresh_token"] and answer["access_token"] and answer["expires_in"] > 0


def test_multipart_insert_then_update(sandbox_url: str, small_video: Path) -> None:
    """``MediaFileUpload(resumable=False)``: metadata and file in one multipart body; then
    ``videos.update`` changes the title and privacy of the video."""
    client = youtube(sandbox_url)
    media = MediaFileUpload(str(small_video), mimetype="video/mp4", resumable=False)
    body = {"snippet": {"title": "One shot", "categoryId": "22"}, "status": {"privacyStatus": "private"}}
    video = client.videos().insert(part="snippet,status", body=body, media_body=media).execute()
    assert video["snippet"]["title"] == "One shot"
    [post] = posts(sandbox_url, "youtube")
    assert post["sha256"] == sha256(small_video) and post["size"] == small_video.stat().st_size
    updated = (
        client.videos()
        .update(
            part="snippet,status",
            body={
                "id": video["id"],
                "snippet": {"title": "Renamed", "categoryId": "22"},
                "status": {"privacyStatus": "unlisted"},
            },
        )
        .execute()
    )
    assert updated["snippet"]["title"] == "Renamed" and updated["status"]["privacyStatus"] == "unlisted"
    [item] = client.videos().list(part="snippet,status", id=video["id"]).execute()["items"]
    assert item["snippet"]["title"] == "Renamed" and item["status"]["privacyStatus"] == "unlisted"
    with pytest.raises(HttpError) as missing:
        client.videos().update(
            part="snippet", body={"id": "nope", "snippet": {"title": "x", "categoryId": "22"}}
        ).execute()
    assert missing.value.resp.status == 404


def test_unaudited_project_locks_uploads_private(sandbox_url: str, clip: Path) -> None:
    configure(sandbox_url, youtube_unaudited=True, youtube_processing_outcome="rejected")
    client = youtube(sandbox_url)
    video = upload(client, clip, {"snippet": {"title": "t"}, "status": {"privacyStatus": "public"}}, 2)
    assert video["status"]["privacyStatus"] == "private"
    listed = client.videos().list(part="status,processingDetails", id=video["id"]).execute()
    [item] = listed["items"]
    assert item["status"]["uploadStatus"] == "rejected" and item["status"]["rejectionReason"] == "duplicate"


def _png(width: int, height: int) -> bytes:
    """A valid RGB PNG of random pixels, stored uncompressed (about ``3 * width * height`` bytes)."""
    import os
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + os.urandom(3 * width) for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 0))
        + chunk(b"IEND", b"")
    )


def test_resumable_thumbnail_set_with_the_official_client(
    sandbox_url: str, clip: Path, tmp_path: Path
) -> None:
    """thumbnails.set "supports media upload" (simple and resumable): MediaFileUpload(resumable=True)
    opens a session on the upload path and PUTs the image to it."""
    client = youtube(sandbox_url)
    video = upload(client, clip, {"snippet": {"title": "T"}, "status": {"privacyStatus": "private"}})
    thumb = tmp_path / "thumb.png"
    thumb.write_bytes(_png(300, 200))
    media = MediaFileUpload(str(thumb), mimetype="image/png", resumable=True)
    request = client.thumbnails().set(videoId=video["id"], media_body=media)
    assert "uploadType=resumable" in request.uri
    answer = request.execute()
    assert answer["kind"] == "youtube#thumbnailSetResponse"
    [post] = posts(sandbox_url, "youtube")
    assert post["thumbnail"]["sha256"] == sha256(thumb) and post["thumbnail"]["content_type"] == "image/png"
    # octet-stream is an accepted type too (the bytes still have to be an image)
    again = MediaFileUpload(str(thumb), mimetype="application/octet-stream", resumable=True)
    assert client.thumbnails().set(videoId=video["id"], media_body=again).execute()["items"]


def test_thumbnail_set_is_strict_about_size_and_type(sandbox_url: str, clip: Path, tmp_path: Path) -> None:
    client = youtube(sandbox_url)
    video = upload(client, clip, {"snippet": {"title": "T"}, "status": {"privacyStatus": "private"}})
    big = tmp_path / "big.png"
    big.write_bytes(_png(900, 800))  # about 2.1 MB: over thumbnails.set's 2 MB
    assert big.stat().st_size > 2 * 1024 * 1024
    for resumable in (True, False):
        media = MediaFileUpload(str(big), mimetype="image/png", resumable=resumable)
        with pytest.raises(HttpError) as info:
            client.thumbnails().set(videoId=video["id"], media_body=media).execute()
        assert info.value.resp.status == 400 and info.value.error_details[0]["reason"] == "mediaBodyTooLarge"
    gif = tmp_path / "thumb.gif"
    gif.write_bytes(b"GIF89a" + b"\x00" * 64)
    for resumable in (True, False):
        media = MediaFileUpload(str(gif), mimetype="image/gif", resumable=resumable)
        with pytest.raises(HttpError) as info:
            client.thumbnails().set(videoId=video["id"], media_body=media).execute()
        assert info.value.error_details[0]["reason"] == "badContent"
        assert "image/gif" in str(info.value)
    # an accepted type whose bytes are not an image
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"not a jpeg at all")
    media = MediaFileUpload(str(fake), mimetype="image/jpeg", resumable=True)
    with pytest.raises(HttpError) as info:
        client.thumbnails().set(videoId=video["id"], media_body=media).execute()
    assert info.value.error_details[0]["reason"] == "invalidImage"
    # the upload endpoint without uploadType is refused, as Google's upload paths are
    token = client._http.credentials.token
    bare = httpx.post(
        f"{sandbox_url}/upload/youtube/v3/thumbnails/set",
        params={"videoId": video["id"]},
        headers={"Authorization": f"Bearer {token}", "Content-Type": "image/png"},
        content=tiny_png(),
        timeout=10,
    )
    assert bare.status_code == 400 and "uploadType" in bare.text
    [post] = posts(sandbox_url, "youtube")
    assert post["thumbnail"] is None  # nothing refused was set


def test_channel_long_uploads_status_is_served_per_channel(sandbox_url: str) -> None:
    """channels.list ``part=status`` carries ``longUploadsStatus`` (allowed / eligible / disallowed)."""
    alice, bob = youtube(sandbox_url, "rt-alice"), youtube(sandbox_url, "rt-bob")
    [alice_channel] = alice.channels().list(mine=True, part="status").execute()["items"]
    assert alice_channel["status"]["longUploadsStatus"] == "allowed"  # the sandbox's default
    assert "snippet" not in alice_channel  # only the parts asked for
    configure(sandbox_url, youtube_long_uploads={alice_channel["id"]: "eligible"},
              youtube_long_uploads_default="disallowed")
    [again] = alice.channels().list(mine=True, part="snippet,status").execute()["items"]
    assert again["status"]["longUploadsStatus"] == "eligible" and again["snippet"]["title"]
    [other] = bob.channels().list(mine=True, part="status").execute()["items"]
    assert other["id"] != alice_channel["id"] and other["status"]["longUploadsStatus"] == "disallowed"
    bad = HTTP.post(f"{sandbox_url}/_sandbox/config", json={"youtube_long_uploads": {"x": "maybe"}})
    assert bad.status_code == 400 and "youtube_long_uploads" in bad.text
