"""Localizations reach YouTube's videos.insert (checked by the emulator and by Google's own client),
language tags are BCP 47, hashtags follow each platform's limits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from multipublish.errors import InputError
from multipublish.localization import check_language_tag, check_localizations, normalise_hashtags
from multipublish.platforms.base import PublishConfig
from tests.fixtures.youtube import ClientFactory, youtube_posts, youtube_state

LOCALIZED = {
    "en": {"title": "Morning run", "description": "Five kilometres before work"},
    "pt-br": {"title": "Corrida matinal", "description": "Cinco quilômetros antes do trabalho"},
    "zh-hant": {"title": "晨跑"},
}


async def test_localizations_are_sent_in_videos_insert(
    sandbox_url: str, yt_add_account: Callable[..., Any], yt_client: ClientFactory, yt_clip: Path
) -> None:
    yt_add_account()
    config = PublishConfig(title="Morning run", description="5 km", localizations=LOCALIZED)
    result = await yt_client().publish(yt_clip, config, post_type="video", request_id="loc-1")
    assert result.success, result.error
    [post] = youtube_posts(sandbox_url)
    assert post["options"]["part"] == ["snippet", "status", "localizations"]
    assert post["metadata"]["snippet"]["defaultLanguage"] == "en"
    sent = post["metadata"]["localizations"]
    assert sorted(sent) == ["en", "pt-BR", "zh-Hant"]
    assert sent["pt-BR"] == {"title": "Corrida matinal", "description": "Cinco quilômetros antes do trabalho"}
    assert sent["zh-Hant"]["title"] == "晨跑"
    [video] = [v for v in youtube_state(sandbox_url)["videos"] if v["id"] == result.video_id]
    assert video["localizations"]["pt-BR"]["title"] == "Corrida matinal"


async def test_default_language_option_and_refusals_before_any_upload(
    sandbox_url: str, yt_add_account: Callable[..., Any], yt_client: ClientFactory, yt_clip: Path
) -> None:
    yt_add_account()
    client = yt_client()
    config = PublishConfig(title="Run", localizations={"fr": {"title": "Course"}},
                           platform_specific={"youtube": {"default_language": "en-gb"}})
    ok = await client.publish(yt_clip, config, post_type="video", request_id="loc-2")
    assert ok.success, ok.error
    assert youtube_posts(sandbox_url)[0]["metadata"]["snippet"]["defaultLanguage"] == "en-GB"
    for bad, field in (
        ({"english": {"title": "x"}}, "localizations.english"),
        ({"en": {"title": "x" * 101}}, "localizations.en.title"),
        ({"en": {"subtitle": "x"}}, "localizations.en.subtitle"),
        ({"en": {}}, "localizations.en"),
    ):
        with pytest.raises(InputError) as err:
            client.check(PublishConfig(title="Run", localizations=bad), "video")
        assert err.value.field == field
    assert len(youtube_posts(sandbox_url)) == 1  # nothing more was uploaded


def test_the_emulator_is_as_strict_as_youtube_about_the_default_language(sandbox_url: str) -> None:
    import httpx

    body = {"snippet": {"title": "t", "categoryId": "22"}, "status": {},
            "localizations": {"fr": {"title": "t"}}}
    r = httpx.post(f"{sandbox_url}/upload/youtube/v3/videos",
                   params={"part": "snippet,status,localizations", "uploadType": "resumable"},
                   headers={"Authorization": "Bearer nobody"}, json=body, timeout=10)
    assert r.status_code == 401  # the token is checked first
    httpx.post(f"{sandbox_url}/_sandbox/config", json={"accept_any_token": True}, timeout=10)
    r = httpx.post(f"{sandbox_url}/upload/youtube/v3/videos",
                   params={"part": "snippet,status,localizations", "uploadType": "resumable"},
                   headers={"Authorization": "Bearer any"}, json=body, timeout=10)
    assert r.status_code == 400 and r.json()["error"]["errors"][0]["reason"] == "defaultLanguageNotSet"


@pytest.mark.parametrize(
    ("tag", "canonical"),
    [("en", "en"), ("pt-br", "pt-BR"), ("zh-hant-tw", "zh-Hant-TW"), ("es-419", "es-419"),
     ("sr_latn_rs", "sr-Latn-RS"), ("de-CH-1996", "de-ch-1996".replace("ch", "CH")),
     ("i-klingon", "i-klingon"), ("x-private", "x-private"), ("en-US-x-twain", "en-US-x-twain")],
)
def test_bcp47_tags_are_accepted_in_canonical_case(tag: str, canonical: str) -> None:
    assert check_language_tag(tag) == canonical


@pytest.mark.parametrize(
    "tag", ["", "e", "english", "en-", "en--us", "12", "en-USA-1", "en_US!", "toolongtag1"]
)
def test_non_bcp47_tags_are_refused_with_the_field(tag: str) -> None:
    with pytest.raises(InputError) as err:
        check_localizations({tag: {"title": "x"}})
    assert err.value.field.startswith("localizations")


def test_hashtags_per_platform_limits_with_warnings() -> None:
    tags = [f"tag{i}" for i in range(35)] + ["Tag1", "#summer-sale", "2024", "##", "ünïcode"]
    ig = normalise_hashtags(tags, "instagram")
    assert len(ig.hashtags) == 30 and ig.hashtags[0] == "#tag0"
    assert any(w.startswith("7 tag(s) left out") for w in ig.warnings)  # tag30..34, summersale, ünïcode
    assert any("repeats" in w and "Tag1" in w for w in ig.warnings)
    tk = normalise_hashtags(tags, "tiktok")
    assert "#summersale" in tk.hashtags and "#ünïcode" in tk.hashtags
    assert "#2024" not in tk.hashtags and any("only digits" in w for w in tk.warnings)
    assert len(tk.hashtags) == 35 + 2  # 35 distinct tagN, summersale, ünïcode
    yt = normalise_hashtags([f"t{i}" for i in range(70)], "youtube")
    assert len(yt.hashtags) == 60 and "ignores every hashtag" in yt.warnings[-1]
    # Hashtags already in the text count toward the limit and are not repeated.
    written = [f"w{i}" for i in range(29)] + ["one"]
    with_text = normalise_hashtags(["One", "two", "three"], "instagram", present=written)
    assert with_text.hashtags == [] and with_text.dropped == ["One", "two", "three"]
