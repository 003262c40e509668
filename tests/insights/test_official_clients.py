"""The analytics endpoints of the emulator, witnessed by google-api-python-client and the upload-post
SDK (the official clients), so the emulator speaks what the real services speak."""

from __future__ import annotations

import pytest
from googleapiclient.errors import HttpError

from tests.insights.conftest import FakeClock, seed
from tests.sandbox.test_youtube_google_client import youtube


def test_statistics_and_update_through_the_google_client(sb: str, clock: FakeClock) -> None:
    client = youtube(sb, refresh_token="rt-stats")
    from multipublish.sandbox.youtube import _channel_for

    [post] = seed(sb, "youtube", [clock.dt()], channel=_channel_for("rt-stats"), title="First title")
    clock.advance(6 * 3600)
    got = client.videos().list(part="statistics,snippet", id=post["video_id"]).execute()
    [item] = got["items"]
    assert int(item["statistics"]["viewCount"]) > 0  # strings, as Google sends them
    assert item["statistics"]["likeCount"].isdigit()
    body = {"id": post["video_id"], "snippet": {"title": "Second title", "categoryId": "22"}}
    updated = client.videos().update(part="snippet", body=body).execute()
    assert updated["snippet"]["title"] == "Second title"
    with pytest.raises(HttpError) as err:  # the API requires categoryId with the snippet
        client.videos().update(part="snippet", body={"id": post["video_id"],
                                                     "snippet": {"title": "x"}}).execute()
    assert err.value.resp.status == 400


def test_post_analytics_through_the_upload_post_sdk(sb: str, clock: FakeClock) -> None:
    upload_post = pytest.importorskip("upload_post")
    [post] = seed(sb, "tiktok", [clock.dt()], user="sdkuser")
    clock.advance(3600)
    sdk = upload_post.UploadPostClient("sdk-key")
    sdk.BASE_URL = f"{sb}/api"
    answer = sdk.get_post_analytics(post["request_id"])
    metrics = answer["platforms"]["tiktok"]["post_metrics"]
    assert metrics["views"] > 0 and set(metrics) >= {"likes", "comments", "shares"}
