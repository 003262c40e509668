"""PublishingManager: the brief's entry point for accounts, validation and publishing.

It validates input, resolves the account, and fans a publish out to the platform clients. It knows
no HTTP face and no terminal: the REST API, the CLI, the dashboard and the queue all call it.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from multipublish.db import ensure_schema, make_engine
from multipublish.platforms.base import PublishConfig
from multipublish.settings import Settings, get_settings


class PublishingManager:
    """Accounts, validation and publishing across platforms."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        engine: Engine | None = None,
        database_url: str | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self._engine = engine
        self._database_url = database_url

    @cached_property
    def engine(self) -> Engine:
        """The project database, migrated on first use (validation alone never opens it)."""
        engine = self._engine or make_engine(self._database_url or self.settings.database_url)
        ensure_schema(engine)
        return engine

    @cached_property
    def rules(self) -> Any:
        """The platform rules in effect (built-in table plus the user's rules file)."""
        from multipublish.media.rules import load_rules

        return load_rules(self.settings.rules_file)

    # -- validation -----------------------------------------------------------------------------
    def validate_video_for_platforms(
        self,
        video_path: str | Path,
        platforms: list[str],
        config: PublishConfig | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Per platform ``{"valid", "errors", "warnings", "media"}``; with ``config`` its text too."""
        from multipublish.media.validate import validate_video_for_platforms

        return validate_video_for_platforms(video_path, platforms, self.rules, config=config)

    def validate_config_for_platforms(
        self, config: PublishConfig, platforms: list[str]
    ) -> dict[str, dict[str, Any]]:
        """Per platform ``{"valid", "errors", "warnings"}`` for the text fields of ``config``."""
        from multipublish.media.validate import validate_config_for_platforms

        return validate_config_for_platforms(config, platforms, self.rules)
