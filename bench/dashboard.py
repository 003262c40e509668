"""Dashboard speed in a real browser: the jobs page and the calendar with 10,000 jobs in the database.

    python bench/dashboard.py [--jobs 10000] [--runs 5] [--database-url URL]

Serves the app (API and dashboard, no queue workers) on 127.0.0.1 twice: once on an empty database
(the reference: the same pages served without data) and once with ``--jobs`` waiting jobs spread
over the past and next six months. For each page, headless Chromium (Debian's, through
Playwright) loads it in a fresh context (no cache) ``--runs`` times and the script prints the
median of:

- first render: the browser's ``first-contentful-paint``;
- interactive: the page showing its data (the jobs table filled, the calendar's month drawn with
  its posts, or with a count per busy day when the month holds too many to draw one by one),
  measured in the page from navigation start;
- page weight: bytes over the wire (document plus every script, style and API answer), with a
  cold cache (the session cookie comes from the login form, in another browser context).

The goal is under 1 s for both pages at 10,000 jobs. The machine's load average is printed before
and after (the figures mean little on a loaded machine). Everything is deleted afterwards.
"""

from __future__ import annotations

import sys
from pathlib import Path

# ``python bench/dashboard.py`` puts bench/ first on sys.path, where bench/queue.py would shadow the
# standard library's ``queue``: drop it.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse
import os
import shutil
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from cryptography.fernet import Fernet

from multipublish.api import create_app
from multipublish.api.tokens import TokenStore
from multipublish.media.sample import make_video
from multipublish.platforms.base import PublishConfig
from multipublish.queue.models import QueuedPublishConfig
from multipublish.settings import Settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync",
        "--disable-component-update", "--no-first-run"]

#: The page has its data: what "interactive" waits for, per page and database.
READY = {
    "jobs": "() => !!document.querySelector('#jobs[data-loaded]')",
    "calendar": "() => !!document.querySelector('#calendar[data-loaded] .fc-daygrid-day')",
}

WEIGHT = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  let total = nav ? nav.transferSize : 0;
  for (const r of performance.getEntriesByType('resource')) total += r.transferSize;
  return total;
}"""


def fill(app: Any, count: int, video: str) -> None:
    """``count`` waiting jobs, one every ~30 minutes around now (the calendar's month holds ~1,500)."""
    queue = app.state.service.queue
    start = datetime.now(UTC) - timedelta(days=182)
    step = timedelta(days=365) / max(count, 1)
    for i in range(count):
        queue.add_job(None, QueuedPublishConfig(
            account_id=f"acct{i % 20}", platforms=["tiktok", "youtube"], video_path=video,
            config=PublishConfig(title=f"Post {i}", description="bench"),
            scheduled_time=start + step * i,
        ))


def measure(
    url: str, token: str, page_name: str, runs: int, verbose: bool = False
) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    path = {"jobs": "/", "calendar": "/calendar"}[page_name]
    out: dict[str, list[float]] = {"first_render_ms": [], "interactive_ms": [], "weight_kb": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        # a session cookie as a person gets one (the login form), made in a context of its own so
        # that every measured load starts with an empty cache
        first = browser.new_context()
        login = first.new_page()
        login.goto(url + "/login")
        login.fill("#token", token)
        login.click("#login")
        login.wait_for_url(url + "/")
        session = [c for c in first.cookies() if c["name"] == "multipublish_session"]
        first.close()
        for _ in range(runs):
            ctx = browser.new_context(viewport={"width": 1366, "height": 900})
            ctx.add_cookies(session)
            page = ctx.new_page()
            page.goto(url + path, wait_until="commit")
            page.wait_for_function(READY[page_name], timeout=60_000, polling=10)
            ready = page.evaluate("performance.now()")
            page.wait_for_load_state("networkidle")
            fcp = page.evaluate(
                "(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || 0"
            )
            out["first_render_ms"].append(float(fcp))
            out["interactive_ms"].append(float(ready))
            out["weight_kb"].append(page.evaluate(WEIGHT) / 1024)
            if verbose:
                entries = page.evaluate("performance.getEntriesByType('resource').map(r => r.toJSON())")
                arrived = [(r["name"].split("/", 3)[-1][:40], round(r["responseEnd"])) for r in entries]
                print(page_name, f"interactive {ready:.0f} ms", arrived)
            ctx.close()
        browser.close()
    return {k: statistics.median(v) for k, v in out.items()}


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """uvicorn on 127.0.0.1 (a port the kernel picks) in a thread; yields the base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", log_config=None))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def serve(database_url: str, media: Path, jobs: int) -> Any:
    settings = Settings(
        database_url=database_url, secret_key=Fernet.generate_key().decode(),
        media_roots=str(media), sandbox_url="http://127.0.0.1:9",
    )
    app = create_app(settings, start_workers=False)
    token = TokenStore(app.state.service.engine).create("bench")[0]
    if jobs:
        began = time.perf_counter()
        fill(app, jobs, str(media / "video.mp4"))
        print(f"  ({jobs} jobs added in {time.perf_counter() - began:.1f} s)")
    return app, token


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--verbose", action="store_true", help="print when each resource arrived")
    parser.add_argument("--database-url", default=None,
                        help="a database to fill (default: SQLite files in a temp dir); it gets the jobs")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit("chromium is not installed (apt-get install -y chromium)")
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    tmp = Path(tempfile.mkdtemp(prefix="mp-bench-dash-"))
    try:
        media = tmp / "media"
        media.mkdir()
        make_video(media / "video.mp4", width=1080, height=1920, duration=3.0, fps=30)
        rows: list[tuple[str, str, dict[str, float]]] = []
        for label, url, count in (
            ("empty", f"sqlite:///{tmp}/empty.db", 0),
            (f"{args.jobs} jobs", args.database_url or f"sqlite:///{tmp}/full.db", args.jobs),
        ):
            print(f"serving {label} ...")
            app, token = serve(url, media, count)
            with serve_in_thread(app) as base:
                for name in ("jobs", "calendar"):
                    rows.append((name, label, measure(base, token, name, args.runs, args.verbose)))
            app.state.service.service.engine.dispose()
        print(f"\nmedian of {args.runs} cold loads each (headless Chromium, 1366x900, 127.0.0.1)")
        print(f"{'page':<10}{'database':<14}{'first render':>14}{'interactive':>14}{'weight':>12}")
        for name, label, m in rows:
            print(f"{name:<10}{label:<14}{m['first_render_ms']:>11.0f} ms{m['interactive_ms']:>11.0f} ms"
                  f"{m['weight_kb']:>9.0f} KB")
        print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
