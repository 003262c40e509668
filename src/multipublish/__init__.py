"""multipublish: publish one video to TikTok, Instagram, Facebook, LinkedIn and YouTube.

The public names of the product brief are importable from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from multipublish.errors import ErrorKind, MultipublishError
from multipublish.platforms.base import PublishConfig, PublishResult, PublishStatus
from multipublish.settings import Settings

__version__ = "0.1.0"

if TYPE_CHECKING:
    from multipublish.manager import PublishingManager
    from multipublish.queue import PublishingQueue, QueuedPublishConfig, QueueStatus

_LAZY = {
    "PublishingManager": "multipublish.manager",
    "PublishingQueue": "multipublish.queue",
    "QueuedPublishConfig": "multipublish.queue",
    "QueueStatus": "multipublish.queue",
}


def __getattr__(name: str) -> Any:
    """Import the heavy parts (database, clients) only when asked for."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)


__all__ = [
    "ErrorKind",
    "MultipublishError",
    "PublishConfig",
    "PublishResult",
    "PublishStatus",
    "PublishingManager",
    "PublishingQueue",
    "QueueStatus",
    "QueuedPublishConfig",
    "Settings",
]
