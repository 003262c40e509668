"""The REST API (FastAPI): ``create_app(settings)`` builds the service."""

from __future__ import annotations

from multipublish.api.app import create_app

__all__ = ["create_app"]
