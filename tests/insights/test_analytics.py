"""YouTube Analytics ``reports.query`` (views by day, watch time) for accounts that granted the
scope: the emulator witnessed by google-api-python-client's own ``youtubeAnalytics`` v2 discovery
document; the collector's watch time; a scope absent or revoked is a clear state, collection going
on from videos.list, and Analytics coming back by itself once the grant is back."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import googleapiclient
import httpx
import pytest
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import HttpError
from sqlalchemy import Engine

from multipublish.accounts import AccountStore
from multipublish.insights import InsightStore, MetricsCollector
from multipublish.insights.collector import NO_ANALYTICS, PAUSE
from multipublish.platforms.google_oauth import ANALYTICS_SCOPES, YOUTUBE_SCOPES, can_read_analytics
from multipublish.sandbox.youtube import _channel_for
from multipublish.settings import Settings
from tests.insights.conftest import REFRESH_TOKEN, YT_ACCOUNT, FakeClock, seed, set_audience
from tests.sandbox.test_youtube_google_client import credentials

DISCOVERY = Path(googleapiclient.__file__).parent / "discovery_cache/documents/youtubeAnalytics.v2.json"
WITH_ANALYTICS = " ".join((*YOUTUBE_SCOPES, ANALYTICS_SCOPES[0]))
WITHOUT = " ".join(YOUTUBE_SCOPES)


def grant(sb: str, scopes: str) -> None:
    """What the sandbox's consent grants (and, when it lacks Analytics, withdraws at once)."""
    answer = httpx.post(f"{sb}/_sandbox/config", json={"youtube_granted_scopes": scopes}, timeout=10)
    answer.raise_for_status()


def analytics_client(sb: str, refresh_token: str) -> Any:
    document = json.loads(DISCOVERY.read_text())
    document["rootUrl"] = sb + "/"
    return build_from_document(document, credentials=credentials(sb, refresh_token))


def test_reports_query_through_the_google_client(sb: str, clock: FakeClock) -> None:
    grant(sb, WITH_ANALYTICS)
    [post] = seed(sb, "youtube", [clock.dt()], channel=_channel_for("rt-an"), title="Clip")
    clock.advance(3 * 86400 + 3600)
    client = analytics_client(sb, "rt-an")
    day0 = clock.dt().date() - timedelta(days=3)
    report = client.reports().query(
        ids="channel==MINE", startDate=day0.isoformat(), endDate=clock.dt().date().isoformat(),
        metrics="views,estimatedMinutesWatched", dimensions="day", filters=f"video=={post['video_id']}",
    ).execute()
    assert report["kind"] == "youtubeAnalytics#resultTable"
    assert [h["name"] for h in report["columnHeaders"]] == ["day", "views", "estimatedMinutesWatched"]
    days = [r[0] for r in report["rows"]]
    assert days == [(day0 + timedelta(days=i)).isoformat() for i in range(3)]  # not today: it has not ended
    views = [r[1] for r in report["rows"]]
    assert views[0] > views[1] > views[2] > 0  # growth slows with age
    with pytest.raises(HttpError) as err:
        client.reports().query(ids="channel==MINE", startDate="2030-01-01", endDate="2030-01-02",
                               metrics="views,bogus", dimensions="day", filters="video==x").execute()
    assert err.value.resp.status == 400 and "bogus" in str(err.value)
    grant(sb, WITHOUT)  # the grant withdrawn: refused at once, even with a token issued before
    with pytest.raises(HttpError) as err:
        client.reports().query(ids="channel==MINE", startDate=day0.isoformat(), endDate=day0.isoformat(),
                               metrics="views", dimensions="day",
                               filters=f"video=={post['video_id']}").execute()
    assert err.value.resp.status == 403 and "insufficient" in str(err.value).lower()


async def test_watch_time_collected_then_revoked_then_back(
    sb: str, settings: Settings, db: Engine, clock: FakeClock, accounts: AccountStore, yt_channel: str
) -> None:
    set_audience(sb, yt_channel, base=5000.0, noise=0.0, peaks=[100], watch_seconds=30.0)
    accounts.update_credentials(YT_ACCOUNT, "youtube", {"scopes": WITH_ANALYTICS.split()})
    grant(sb, WITH_ANALYTICS)
    settings.insights_schedule = [86400.0 * d for d in (2, 3, 4, 5)]
    store = InsightStore(db, settings, clock=clock.dt)
    [post] = seed(sb, "youtube", [clock.dt()], refresh_token=REFRESH_TOKEN)
    pid = store.register(YT_ACCOUNT, "youtube", post["video_id"], clock.dt())
    collector = MetricsCollector(db, settings, clock=clock.dt, worker_id="w", accounts=accounts)

    clock.advance(2 * 86400)
    r = await collector.run_once()
    assert (r.sampled, r.calls, r.quota_units) == (1, 2, 1)  # videos.list + reports.query (no Data API units)
    row = store.post(pid)
    client = analytics_client(sb, REFRESH_TOKEN)
    report = client.reports().query(
        ids="channel==MINE", startDate=(clock.dt() - timedelta(days=3)).date().isoformat(),
        endDate=clock.dt().date().isoformat(), metrics="views,estimatedMinutesWatched", dimensions="day",
        filters=f"video=={post['video_id']}").execute()
    assert len(report["rows"]) == 2
    assert row["watch_time_s"] == 60.0 * sum(r[2] for r in report["rows"]) > 0
    assert row["state"] == "active" and row["state_reason"] is None
    assert store.samples(pid)[-1]["watch_time_s"] == row["watch_time_s"]

    grant(sb, WITHOUT)  # the user removed the Analytics grant
    clock.advance(86400)
    r = await collector.run_once()
    row = store.post(pid)
    assert r.sampled == 1 and row["state"] == "active"  # still collected, from videos.list
    assert "yt-analytics.readonly scope is absent or was revoked" in row["state_reason"]
    assert store.samples(pid)[-1]["watch_time_s"] is None and row["watch_time_s"] > 0  # last known kept
    assert row["views"] > store.samples(pid)[0]["views"]

    grant(sb, WITH_ANALYTICS)  # granted again: after the pause Analytics is asked again by itself
    assert PAUSE.total_seconds() <= 86400
    clock.advance(86400)  # the next sample (day 4), past the pause
    r = await collector.run_once()
    row = store.post(pid)
    assert r.sampled == 1 and row["state_reason"] is None
    assert store.samples(pid)[-1]["watch_time_s"] > 0


async def test_an_account_without_the_scope_is_said_and_never_asked(
    sb: str, settings: Settings, db: Engine, clock: FakeClock, accounts: AccountStore
) -> None:
    accounts.update_credentials(YT_ACCOUNT, "youtube", {"scopes": WITHOUT.split()})
    settings.insights_schedule = [3600.0, 7200.0]
    store = InsightStore(db, settings, clock=clock.dt)
    [post] = seed(sb, "youtube", [clock.dt()], refresh_token=REFRESH_TOKEN)
    pid = store.register(YT_ACCOUNT, "youtube", post["video_id"], clock.dt())
    collector = MetricsCollector(db, settings, clock=clock.dt, worker_id="w", accounts=accounts)
    clock.advance(3600)
    r = await collector.run_once()
    assert (r.sampled, r.calls) == (1, 1)
    row = store.post(pid)
    assert row["state_reason"] == NO_ANALYTICS and row["watch_time_s"] is None and row["views"] > 0


def _connect(server: str, token: str, sb_query: dict[str, str] | None = None, **body: Any) -> httpx.URL:
    """The dashboard's "Connect YouTube" web flow, the browser played by httpx: Google's consent
    (the sandbox grants at once) and back to the callback; answers where the callback sent us."""
    started = httpx.post(f"{server}/api/publishing/youtube/connect", timeout=10,
                         headers={"Authorization": f"Bearer {token}"},
                         json={"account_id": YT_ACCOUNT, "client_id": "web-client.apps.example",
                               "client_secret": "GOCSPX-web-secret", **body})
    assert started.status_code == 200, started.text
    consent = httpx.get(started.json()["auth_url"], timeout=10, follow_redirects=False)
    back = httpx.get(consent.headers["location"], timeout=10, follow_redirects=False)
    assert back.status_code == 303
    return httpx.URL(back.headers["location"])


async def test_connect_with_analytics_in_the_dashboard_flow_then_watch_time_is_collected(
    sb: str, settings: Settings, db: Engine, clock: FakeClock, accounts: AccountStore
) -> None:
    from multipublish.api import create_app
    from multipublish.api.tokens import TokenStore
    from tests.fixtures.api import serve_in_thread

    app = create_app(settings, start_workers=False, mcp=False)
    with serve_in_thread(app) as server:
        token = TokenStore(db).create("tests")[0]
        # declined on Google's screen: still connected, said so, no analytics stored
        grant(sb, WITHOUT)
        back = _connect(server, token, analytics=True)
        assert back.params["youtube_connected"] == YT_ACCOUNT and "not granted" in back.params["youtube_note"]
        assert not can_read_analytics(accounts.load(YT_ACCOUNT, "youtube").credentials["scopes"])
        grant(sb, "")  # the user grants what is asked
        back = _connect(server, token)  # without the box ticked: not asked
        assert "youtube_note" not in back.params
        assert not can_read_analytics(accounts.load(YT_ACCOUNT, "youtube").credentials["scopes"])
        back = _connect(server, token, analytics=True)  # reconnected with the box ticked
        assert back.params["youtube_connected"] == YT_ACCOUNT and "youtube_note" not in back.params
    stored = accounts.load(YT_ACCOUNT, "youtube").credentials
    assert ANALYTICS_SCOPES[0] in stored["scopes"] and set(YOUTUBE_SCOPES) <= set(stored["scopes"])

    refresh = stored["refresh_token"]
    set_audience(sb, _channel_for(refresh), base=5000.0, noise=0.0, peaks=[100], watch_seconds=30.0)
    settings.insights_schedule = [86400.0 * 2]
    store = InsightStore(db, settings, clock=clock.dt)
    [post] = seed(sb, "youtube", [clock.dt()], refresh_token=refresh)
    pid = store.register(YT_ACCOUNT, "youtube", post["video_id"], clock.dt())
    clock.advance(2 * 86400)
    r = await MetricsCollector(db, settings, clock=clock.dt, worker_id="w", accounts=accounts).run_once()
    row = store.post(pid)
    assert (r.sampled, r.calls) == (1, 2) and row["state_reason"] is None
    assert row["watch_time_s"] > 0
