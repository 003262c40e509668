"""Which client speaks for which platform: upload-post for four, the native API for YouTube."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from multipublish.catalogue import PlatformKey
from multipublish.errors import ConfigurationError, UnknownPlatformError
from multipublish.platforms.base import PlatformClient
from multipublish.settings import Settings

SaveCredentials = Callable[[dict[str, Any]], None]
"""Persists refreshed credentials (merged) back into the account store."""


def build_client(
    platform: str,
    account_id: str,
    credentials: Mapping[str, Any],
    settings: Settings,
    save_credentials: SaveCredentials,
) -> PlatformClient:
    """A client for ``platform`` bound to one account's decrypted credentials.

    The YouTube client is imported lazily so the four upload-post platforms need none of
    Google's libraries.
    """
    key = PlatformKey.parse(platform)
    base = key.platform
    if key.spec.transport == "native":
        try:
            from multipublish.platforms.youtube import YouTubeClient
        except ImportError as exc:  # pragma: no cover - only while the module is missing
            raise ConfigurationError(f"the YouTube client is not available: {exc.msg}") from None
        client: PlatformClient = YouTubeClient(account_id, dict(credentials), settings, save_credentials)
        return client
    from multipublish.platforms.upload_post import MAPPERS, UploadPostPlatform

    if base not in MAPPERS:  # pragma: no cover - parse_platform already refused it
        raise UnknownPlatformError("platform", f"no client for {platform!r}")
    return UploadPostPlatform(base, account_id, credentials, settings)
