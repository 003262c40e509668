"""Emulator of the YouTube Data API v3 and Google's OAuth token endpoint (in progress)."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
