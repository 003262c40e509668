"""The platform catalogue, the platform key, captions, and the media package's independence."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from multipublish import catalogue
from multipublish.captions import compose_caption
from multipublish.catalogue import CATALOGUE, PLATFORMS, UPLOAD_POST_PLATFORMS, PlatformKey
from multipublish.errors import UnknownPlatformError
from multipublish.media.rules import BUILTIN_RULES
from multipublish.platforms.base import PublishConfig
from multipublish.platforms.upload_post import MAPPERS
from multipublish.usage.store import quota_bucket


def test_catalogue_is_the_one_list() -> None:
    assert PLATFORMS == ("tiktok", "instagram", "facebook", "linkedin", "youtube")
    assert UPLOAD_POST_PLATFORMS == ("tiktok", "instagram", "facebook", "linkedin")
    assert set(MAPPERS) == set(UPLOAD_POST_PLATFORMS)
    for name, entry in CATALOGUE.items():
        # every post type has its rules, and every mapper module exists with map_options
        for post_type in entry.post_types:
            assert f"{entry.rules_key}:{post_type}" in BUILTIN_RULES
        if entry.via_upload_post:
            assert MAPPERS[name].__name__ == entry.option_mapper
            assert callable(MAPPERS[name].map_options)
    assert quota_bucket("youtube:shorts") == "youtube"
    assert quota_bucket("instagram:stories") == "upload-post"
    assert quota_bucket("vine") is None


@pytest.mark.parametrize(
    ("raw", "platform", "post_type", "short"),
    [
        ("instagram", "instagram", "reels", "instagram"),
        (" Instagram:Stories ", "instagram", "stories", "instagram:stories"),
        ("instagram:reels", "instagram", "reels", "instagram"),
        ("youtube:shorts", "youtube", "shorts", "youtube:shorts"),
    ],
)
def test_platform_key_parsed_once(raw: str, platform: str, post_type: str, short: str) -> None:
    key = PlatformKey.parse(raw)
    assert (key.platform, key.post_type, key.short, str(key)) == (platform, post_type, short, short)
    assert key.full == f"{platform}:{post_type}"
    assert catalogue.parse_platform(raw) == (platform, post_type)


@pytest.mark.parametrize(
    ("raw", "fragment"), [("vine", "unknown platform"), ("tiktok:reels", "unknown post type")]
)
def test_platform_key_refuses_unknown(raw: str, fragment: str) -> None:
    with pytest.raises(UnknownPlatformError) as info:
        PlatformKey.parse(raw)
    assert info.value.field == "platform" and fragment in info.value.reason


CONFIG = PublishConfig(title="Hello", description="Look #news", tags=["news", "summer trip", "#viral", "!!"])


@pytest.mark.parametrize(
    ("platform", "field", "text"),
    [
        ("tiktok", "tiktok_title", "Hello\n\nLook #news\n\n#summertrip #viral"),
        ("instagram:stories", "instagram_title", "Hello\n\nLook #news\n\n#summertrip #viral"),
        ("facebook", "description", "Look #news\n\n#summertrip #viral"),
        ("linkedin", "description", "Look #news\n\n#summertrip #viral"),
        ("youtube", "snippet.description", "Look #news"),
    ],
)
def test_caption_composed_into_the_field_the_platform_reads(platform: str, field: str, text: str) -> None:
    caption = compose_caption(CONFIG, platform)
    assert (caption.field, caption.text, caption.source) == (field, text, "composed")


def test_caption_override_per_platform() -> None:
    config = PublishConfig(
        title="T",
        description="D",
        tags=["x"],
        platform_specific={"tiktok": {"caption": "only this #y"}, "linkedin": {"commentary": "pro"}},
    )
    assert compose_caption(config, "tiktok").text == "only this #y"
    assert compose_caption(config, "tiktok").source == "platform_specific.tiktok.caption"
    assert compose_caption(config, "linkedin").text == "pro"
    assert compose_caption(config, "instagram").text == "T\n\nD\n\n#x"


def test_media_imports_none_of_the_publishing_code() -> None:
    """``media/`` may use errors, the catalogue and captions, never the clients, manager or queue."""
    import multipublish.media

    allowed = {"multipublish.errors", "multipublish.catalogue", "multipublish.captions"}
    package = Path(multipublish.media.__file__).parent
    seen: set[str] = set()
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                seen.add(node.module)
            elif isinstance(node, ast.Import):
                seen.update(alias.name for alias in node.names)
    ours = {m for m in seen if m.startswith("multipublish") and not m.startswith("multipublish.media")}
    assert ours and ours <= allowed, ours - allowed
