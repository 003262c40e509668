"""The dashboard's insights page in a real browser, drawn from samples the collector really took from
the emulator: per-post views, the weekly trend, the best-times heatmap with its band, the link that
queues a post at the best free slot, at 1366 and 390 px, light and dark, with no serious axe finding."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from multipublish.accounts import AccountStore
from multipublish.insights import InsightStore, MetricsCollector
from multipublish.settings import Settings
from tests.e2e.browser import axe_violations, browser_page, shot
from tests.fixtures.api import StartServer
from tests.insights.conftest import REFRESH_TOKEN, YT_ACCOUNT, FakeClock, seed, set_audience

pytestmark = pytest.mark.browser

POSTS = 10


async def _collect(db: Engine, settings: Settings, clock: FakeClock, accounts: AccountStore, sb: str,
                   until: float) -> list[int]:
    """Publish ``POSTS`` videos 17 h apart on the emulator and sample them on the schedule up to ``until``."""
    store = InsightStore(db, settings, clock=clock.dt)
    collector = MetricsCollector(db, settings, clock=clock.dt, worker_id="w1", accounts=accounts)

    async def run_to(t: float) -> None:
        while (due := store.next_due_at()) is not None and due.timestamp() <= t:
            clock.now = max(clock.now, due.timestamp())
            await collector.run_once()
        clock.now = t

    ids = []
    for k in range(POSTS):
        [post] = seed(sb, "youtube", [clock.dt()], refresh_token=REFRESH_TOKEN)
        ids.append(store.register(YT_ACCOUNT, "youtube", post["video_id"], clock.dt(), title=f"Clip {k}"))
        await run_to(clock.now + 17 * 3600)
    await run_to(until)
    return ids


def test_insights_page_charts_real_samples(
    sb: str, settings: Settings, db: Engine, clock: FakeClock, accounts: AccountStore, yt_channel: str,
    start_api: StartServer,
) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    clock.now = (now - timedelta(days=10)).timestamp()
    set_audience(sb, yt_channel, base=1500.0, peaks=[43], noise=0.1)
    ids = asyncio.run(_collect(db, settings, clock, accounts, sb, now.timestamp()))
    store = InsightStore(db, settings)
    assert all(len(store.samples(i)) >= 5 for i in ids)  # the charts below are drawn from these
    first = store.post(ids[0])
    server = start_api(settings.database_url, start_workers=False)

    best: dict[str, set[int]] = {}
    for width, scheme, zone in ((390, "dark", "UTC"), (1366, "light", "Asia/Tokyo")):
        extra = {"is_mobile": True, "has_touch": True} if width == 390 else {}
        with browser_page(server, width=width, height=900, color_scheme=scheme, bypass_csp=True,
                          timezone_id=zone, **extra) as pg:
            pg.goto(server.url + "/insights")
            pg.wait_for_selector("body[data-insights-ready=true]")
            group = pg.locator("section.insight-group")
            assert group.count() == 1
            assert "creator · youtube" in group.locator("h2").inner_text()
            # uPlot drew a canvas per chart: views per post, the weekly trend, the band by hour of week.
            assert pg.locator(".posts-chart canvas").count() == 1
            assert pg.locator(".trend canvas").count() == 1
            assert pg.locator(".band-chart canvas").count() == 1
            rows = pg.locator(".posts-table tbody tr")
            assert rows.count() == POSTS
            # The first post's 24 h views, as collected, are in its row.
            row = pg.locator(".posts-table tbody tr", has_text="Clip 0")
            assert f"{round(first['views_24h']):,}" in row.inner_text()
            assert pg.locator(".heatmap td.heat").count() == 168
            assert pg.locator(".heatmap td.heat-best").count() >= 1
            assert "90 % band" in pg.locator(".heatmap td.heat").first.get_attribute("title")
            # hours of week on the wall clock of the user's zone (the browser's here), said on the page
            assert f"Hours in {zone}" in pg.locator(".best-tz").inner_text()
            assert pg.locator(".heatmap thead th").first.inner_text() == zone
            assert pg.locator('.heatmap td[data-hour="52"]').get_attribute("title").startswith(
                f"Wed 04:00 {zone}")
            cells = pg.locator(".heatmap td.heat-best")
            best[zone] = {int(cells.nth(i).get_attribute("data-hour") or -1) for i in range(cells.count())}
            assert "shrunk toward a flat prior" in group.inner_text()  # 10 posts: low confidence
            link = pg.locator("a.add-best")
            assert "best free slot" in link.inner_text()
            href = link.get_attribute("href") or ""
            assert href.startswith("/compose?") and "account=creator" in href and "at=" in href
            wide = pg.evaluate(
                "() => [document.documentElement.scrollWidth, [...document.querySelectorAll('body *')]"
                ".filter(e => e.getBoundingClientRect().right > innerWidth + 1).slice(0, 5)"
                ".map(e => e.tagName + '.' + e.className)]"
            )
            assert wide[0] <= width, wide
            shot(pg, f"insights-{width}-{scheme}")
            assert axe_violations(pg) == []
            if width == 1366:
                link.click()
                pg.wait_for_url("**/compose?**")
                pg.wait_for_function("() => document.getElementById('scheduled_time').value !== ''")
                assert pg.locator('input[name="when"][value="at"]').is_checked()
    # the same best hours, shifted by Tokyo's nine hours
    assert best["UTC"] and best["Asia/Tokyo"] == {(h + 9) % 168 for h in best["UTC"]}
