"""Platform clients: one wire protocol each, behind the ``PlatformClient`` protocol."""

from multipublish.platforms.base import (
    PLATFORMS,
    POST_TYPES,
    PlatformClient,
    PublishConfig,
    PublishResult,
    PublishStatus,
    parse_platform,
)

__all__ = [
    "PLATFORMS",
    "POST_TYPES",
    "PlatformClient",
    "PublishConfig",
    "PublishResult",
    "PublishStatus",
    "parse_platform",
]
