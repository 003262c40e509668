"""The web dashboard: server-rendered pages with a little JavaScript, served by the API app.

Login takes an API token and keeps it in an HttpOnly, SameSite=Strict cookie; the pages call the
same JSON API with that cookie plus a CSRF header for anything that changes state.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).with_name("static")


def mount(app: FastAPI) -> None:
    """Add the dashboard's static files to ``app`` (its pages are in the API's router list)."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
