"""Checking ``platform_specific`` options before any byte is uploaded.

The official SDK silently drops options it does not know; we refuse them instead, naming the option
as ``platform_specific.<platform>.<name>`` and saying why, so a typo never publishes with defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from multipublish.errors import InputError


class OptionReader:
    """Reads and checks one platform's options; ``finish()`` refuses whatever was not read."""

    def __init__(self, platform: str, options: Mapping[str, Any] | None) -> None:
        if options is not None and not isinstance(options, Mapping):
            raise InputError(f"platform_specific.{platform}", "must be an object of option names")
        self.platform = platform
        self.options: dict[str, Any] = dict(options or {})
        self._known: list[str] = []

    def field(self, name: str) -> str:
        return f"platform_specific.{self.platform}.{name}"

    def _get(self, name: str) -> Any:
        self._known.append(name)
        return self.options.get(name)

    def error(self, name: str, reason: str) -> InputError:
        return InputError(self.field(name), reason)

    def boolean(self, name: str) -> bool | None:
        """A real boolean (or the strings ``true``/``false`` a form or CLI sends)."""
        value = self._get(name)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise self.error(name, f"must be true or false, got {value!r}")

    def choice(self, name: str, mapping: Mapping[str, str]) -> str | None:
        """One of the documented values, mapped onto the wire value."""
        value = self._get(name)
        if value is None:
            return None
        key = value.strip().lower() if isinstance(value, str) else value
        if key not in mapping:
            raise self.error(name, f"must be one of {', '.join(mapping)}, got {value!r}")
        return mapping[key]

    def text(self, name: str, *, max_length: int = 5000) -> str | None:
        value = self._get(name)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(name, "must be a non-empty string")
        if len(value) > max_length:
            raise self.error(name, f"at most {max_length} characters, got {len(value)}")
        return value

    def integer(self, name: str, *, minimum: int = 0, maximum: int | None = None) -> int | None:
        value = self._get(name)
        if value is None:
            return None
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, f"must be an integer, got {value!r}")
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            raise self.error(name, f"must be {bound}, got {value}")
        return value

    def names(self, name: str, *, pattern: str, max_items: int = 20) -> list[str] | None:
        """A list of handles (``@`` prefixes stripped), each matching ``pattern``."""
        value = self._get(name)
        if value is None:
            return None
        if isinstance(value, str):
            value = [v for v in re.split(r"[,\s]+", value) if v]
        if not isinstance(value, list) or not value:
            raise self.error(name, "must be a non-empty list of names")
        if len(value) > max_items:
            raise self.error(name, f"at most {max_items} names, got {len(value)}")
        out = []
        for item in value:
            if not isinstance(item, str) or not re.fullmatch(pattern, item.strip().lstrip("@")):
                raise self.error(name, f"not a valid name: {item!r}")
            out.append(item.strip().lstrip("@"))
        return out

    def timestamp(self, name: str) -> datetime | None:
        """An ISO-8601 date-time (``Z`` accepted), returned aware in UTC."""
        value = self._get(name)
        if value is None:
            return None
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                raise self.error(name, f"must be an ISO-8601 date-time, got {value!r}") from None
        else:
            raise self.error(name, f"must be an ISO-8601 date-time, got {value!r}")
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)

    def finish(self) -> None:
        """Refuse options this platform does not have (instead of silently dropping them)."""
        for name in self.options:
            if name not in self._known:
                raise self.error(
                    name, f"unknown option for {self.platform} (known: {', '.join(self._known)})"
                )


def flag(value: bool) -> str:
    """Booleans on the wire are lowercase strings."""
    return "true" if value else "false"


FormFields = list[tuple[str, str]]
