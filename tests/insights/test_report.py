"""The insight queries on SQLite and PostgreSQL: figures computed from the inputs, weeks, trends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from multipublish.insights import InsightStore, Sample
from multipublish.insights.besttimes import fit_account
from multipublish.insights.report import build_insights
from multipublish.insights.store import Task

#: A Monday.
WEEK1 = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


def _post(store: InsightStore, account: str, platform: str, vid: str, published: datetime,
          v1: int, v24: int) -> int:
    pid = store.register(account, platform, vid, published, title=vid, now=published)
    store.claim("w", limit=100, now=published + timedelta(hours=1))
    task = Task(pid, account, platform, vid, None, published, 0, None, None)
    store.save_samples([(task, Sample(views=v1, likes=v1 // 10, comments=1, shares=0))], "w",
                       now=published + timedelta(hours=1))
    store.claim("w", limit=100, now=published + timedelta(hours=24))
    task = Task(pid, account, platform, vid, None, published, 0, published + timedelta(hours=1), v1)
    store.save_samples([(task, Sample(views=v24, likes=v24 // 10, comments=2, shares=1))], "w",
                       now=published + timedelta(hours=24))
    return pid


def test_insights_and_best_times_on_both_backends(engine: Engine) -> None:
    store = InsightStore(engine, clock=lambda: WEEK1)
    _post(store, "a", "youtube", "w1-low", WEEK1, 10, 100)
    _post(store, "a", "youtube", "w1-high", WEEK1 + timedelta(hours=2), 30, 300)
    _post(store, "a", "youtube", "w2", WEEK1 + timedelta(days=7), 40, 500)
    _post(store, "b", "tiktok", "tk", WEEK1, 5, 50)
    data = build_insights(engine, WEEK1 - timedelta(days=1), WEEK1 + timedelta(days=30))
    groups = {(g["account_id"], g["platform"]): g for g in data["groups"]}
    a = groups[("a", "youtube")]
    assert a["posts"] == 3 and a["avg_views_1h"] == round((10 + 30 + 40) / 3, 1)
    assert a["avg_views_24h"] == 300.0 and a["total_views"] == 900
    assert a["best_post"]["video_id"] == "w2" and a["worst_post"]["video_id"] == "w1-low"
    assert a["engagement_rate"] == round((10 + 3 + 30 + 3 + 50 + 3) / 900, 6)
    assert [w["week_start"] for w in a["weekly"]] == ["2030-03-04", "2030-03-11"]
    assert [w["views_24h"] for w in a["weekly"]] == [200.0, 500.0]
    assert a["trend_24h"] == 1.5
    window = (WEEK1 - timedelta(days=1), WEEK1 + timedelta(days=30))
    only_b = build_insights(engine, *window, account_id="b")
    assert [g["account_id"] for g in only_b["groups"]] == ["b"]
    model = fit_account(engine, "a", "youtube")
    # Hour 9 (Monday) has the 100 and the 500 views, hour 11 the 300: in logs, 11 is the better one.
    assert model.posts == 3 and model.effect[11] > model.effect[9]
