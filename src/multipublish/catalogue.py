"""The one catalogue of platforms: everything that differs per platform, as data.

Each ``PlatformSpec`` says which post types a platform has, which transport carries it
(upload-post or its native API), which form field carries its caption, which rules table and
option mapper apply, which usage bucket prices it and which emulator route stands in for it.
Everything else reads this table instead of keeping its own list, so adding a platform through
upload-post is one entry here plus its option mapper.

A platform key (``"instagram:stories"``) is parsed once into a ``PlatformKey``.

This module depends on nothing of multipublish but ``errors``: the media package, the queue and
the clients may all import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from multipublish.errors import UnknownPlatformError

Transport = Literal["upload-post", "native"]

#: Usage buckets publishes are counted in (the names ``usage.models`` uses).
PRICING_UPLOAD_POST = "upload-post"
PRICING_YOUTUBE = "youtube"


@dataclass(frozen=True, slots=True)
class PlatformSpec:
    """What is particular to one platform."""

    name: str
    #: Post types; the first is the default (``instagram`` alone means reels).
    post_types: tuple[str, ...]
    transport: Transport
    #: Form field the service reads the post's caption from. upload-post ignores ``description``
    #: for TikTok and Instagram videos: their caption is ``<platform>_title``, falling back to
    #: ``title`` (docs.upload-post.com/api/upload-video, "description ... used only on LinkedIn
    #: commentary, Facebook descriptions, YouTube descriptions, and Pinterest notes").
    caption_field: str
    #: Form (or API) field of the separate title, when the platform shows one beside the caption.
    title_field: str | None
    #: Prefix of this platform's keys in the media rules table (``media.rules``).
    rules_key: str
    #: Module holding ``map_options`` for this platform's ``platform_specific`` options.
    option_mapper: str
    #: Usage bucket this platform's publishes are counted in.
    pricing_key: str
    #: Route of the sandbox emulator that stands in for the service.
    emulator_route: str

    @property
    def default_post_type(self) -> str:
        return self.post_types[0]

    @property
    def via_upload_post(self) -> bool:
        return self.transport == "upload-post"


_UPLOAD_ROUTE = "/api/upload"

CATALOGUE: MappingProxyType[str, PlatformSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            PlatformSpec(
                name="tiktok",
                post_types=("video",),
                transport="upload-post",
                caption_field="tiktok_title",
                title_field=None,
                rules_key="tiktok",
                option_mapper="multipublish.platforms.tiktok",
                pricing_key=PRICING_UPLOAD_POST,
                emulator_route=_UPLOAD_ROUTE,
            ),
            PlatformSpec(
                name="instagram",
                post_types=("reels", "stories", "feed"),
                transport="upload-post",
                caption_field="instagram_title",
                title_field=None,
                rules_key="instagram",
                option_mapper="multipublish.platforms.instagram",
                pricing_key=PRICING_UPLOAD_POST,
                emulator_route=_UPLOAD_ROUTE,
            ),
            PlatformSpec(
                name="facebook",
                post_types=("video", "reels", "stories"),
                transport="upload-post",
                caption_field="description",
                title_field="facebook_title",
                rules_key="facebook",
                option_mapper="multipublish.platforms.facebook",
                pricing_key=PRICING_UPLOAD_POST,
                emulator_route=_UPLOAD_ROUTE,
            ),
            PlatformSpec(
                name="linkedin",
                post_types=("video",),
                transport="upload-post",
                # The commentary of a LinkedIn post is the request's ``description``.
                caption_field="description",
                title_field="linkedin_title",
                rules_key="linkedin",
                option_mapper="multipublish.platforms.linkedin",
                pricing_key=PRICING_UPLOAD_POST,
                emulator_route=_UPLOAD_ROUTE,
            ),
            PlatformSpec(
                name="youtube",
                post_types=("video", "shorts"),
                transport="native",
                caption_field="snippet.description",
                title_field="snippet.title",
                rules_key="youtube",
                option_mapper="multipublish.platforms.youtube",
                pricing_key=PRICING_YOUTUBE,
                emulator_route="/upload/youtube/v3/videos",
            ),
        )
    }
)

#: The five platforms of the brief, in the catalogue's order.
PLATFORMS: tuple[str, ...] = tuple(CATALOGUE)
#: Post types per platform; the first is the default.
POST_TYPES: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {name: spec.post_types for name, spec in CATALOGUE.items()}
)
#: The platforms published through upload-post (and sharing its monthly plan).
UPLOAD_POST_PLATFORMS: tuple[str, ...] = tuple(n for n, s in CATALOGUE.items() if s.via_upload_post)


def spec(name: str) -> PlatformSpec:
    """The catalogue entry of a platform name or key (``"instagram:stories"`` -> instagram)."""
    return PlatformKey.parse(name).spec


@dataclass(frozen=True, slots=True)
class PlatformKey:
    """A parsed platform key: ``instagram:stories`` is ``PlatformKey("instagram", "stories")``."""

    platform: str
    post_type: str

    @classmethod
    def parse(cls, name: str) -> PlatformKey:
        """Parse ``"instagram"`` (default post type) or ``"instagram:stories"``; refuse unknown names.

        Raises ``UnknownPlatformError`` (field ``platform``) naming the known values.
        """
        raw = str(name).strip().lower()
        platform, _, post_type = raw.partition(":")
        entry = CATALOGUE.get(platform)
        if entry is None:
            raise UnknownPlatformError(
                "platform", f"unknown platform {name!r} (known: {', '.join(PLATFORMS)})"
            )
        if not post_type:
            return cls(platform, entry.default_post_type)
        if post_type not in entry.post_types:
            raise UnknownPlatformError(
                "platform",
                f"unknown post type {post_type!r} for {platform} (known: {', '.join(entry.post_types)})",
            )
        return cls(platform, post_type)

    @property
    def spec(self) -> PlatformSpec:
        return CATALOGUE[self.platform]

    @property
    def is_default_type(self) -> bool:
        return self.post_type == self.spec.default_post_type

    @property
    def full(self) -> str:
        """Always with the post type: ``instagram:reels`` (the rules table's key)."""
        return f"{self.platform}:{self.post_type}"

    @property
    def short(self) -> str:
        """Normalised: ``instagram`` for the default post type, else ``instagram:stories``."""
        return self.platform if self.is_default_type else self.full

    def __str__(self) -> str:
        return self.short


def parse_platform(name: str) -> tuple[str, str]:
    """Split ``"instagram:stories"`` into ``("instagram", "stories")``; refuse unknown names."""
    key = PlatformKey.parse(name)
    return key.platform, key.post_type


def base_platform(name: str) -> str:
    """The platform part of a key, lower-cased, unchecked (``instagram:stories`` -> ``instagram``)."""
    return str(name).partition(":")[0].strip().lower()


def post_type_part(name: str) -> str:
    """The post-type part of a key as written, unchecked (``instagram:stories`` -> ``stories``, else "")."""
    return str(name).partition(":")[2]
