"""Shared browser set-up of the dashboard tests: Debian's Chromium driven by Playwright, logged in."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.api import ApiServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
AXE = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"


@contextmanager
def browser_page(
    server: ApiServer, *, width: int = 1366, height: int = 900, **context: Any
) -> Iterator[Any]:
    """A logged-in page (the login form, then the session cookie) in a fresh browser context."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        ctx = browser.new_context(viewport={"width": width, "height": height}, **context)
        page = ctx.new_page()
        page.set_default_timeout(20_000)
        # the page's own errors end up in the test's output
        page.on("pageerror", lambda exc: print("page error:", exc))
        page.on("console", lambda m: print("console:", m.type, m.text) if m.type == "error" else None)
        page.goto(server.url + "/login")
        page.fill("#token", server.token)
        page.click("#login")
        page.wait_for_url(server.url + "/")
        try:
            yield page
        finally:
            ctx.close()
            browser.close()


def shot(page: Any, name: str) -> Path:
    """Keep a full-page screenshot as a test artifact."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page: Any, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """axe-core's violations of the page at these impacts (the script is injected by the test)."""
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    found = [v for v in result if v.get("impact") in impacts]
    for v in found:
        v["nodes"] = [n.get("target") for n in v.get("nodes", [])][:5]
    if found:
        print(json.dumps([{k: v[k] for k in ("id", "impact", "help", "nodes")} for v in found], indent=1))
    return found
