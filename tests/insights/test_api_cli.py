"""The loop closed end to end: a job published by the workers is followed, sampled, and reported
through REST (JSON, CSV), the CLI, and the best-times endpoint."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine
from typer.testing import CliRunner

from multipublish.cli import app as cli
from multipublish.db import make_engine
from multipublish.insights import InsightStore
from multipublish.insights.store import Sample, Task
from tests.api.helpers import add_account, wait_for_job
from tests.fixtures.api import StartServer


def _wait_sampled(api: httpx.Client, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        data = api.get("/api/publishing/insights", params={"since": "1d"}).json()
        if data["posts"] and data["posts"][0]["views"] is not None:
            return data
        assert time.monotonic() < deadline, data
        time.sleep(0.1)


def test_published_job_is_followed_sampled_and_reported(start_api: StartServer, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'svc.db'}"
    server = start_api(url, insights_schedule=[0.2, 3600.0], insights_poll_interval=0.1)
    with server.client() as api:
        add_account(api, "acme", "tiktok")
        body = {"account_id": "acme", "platforms": ["tiktok"], "title": "Launch day",
                "video_path": str(server.media_root / "video.mp4")}
        job = api.post("/api/publishing/publish/scheduled", json=body)
        assert job.status_code == 201, job.text
        assert wait_for_job(api, job.json()["id"])["status"] == "completed"
        data = _wait_sampled(api)
        post = data["posts"][0]
        assert (post["account_id"], post["platform"], post["title"]) == ("acme", "tiktok", "Launch day")
        assert post["state"] == "active"
        [group] = data["groups"]
        assert group["posts"] == 1 and group["sampled"] == 1
        as_csv = api.get("/api/publishing/insights", params={"since": "1d", "format": "csv"})
        assert as_csv.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(as_csv.text)))
        assert rows[0]["video_id"] == post["video_id"]
        bad = api.get("/api/publishing/insights", params={"since": "yesterday"})
        assert bad.status_code == 422 and bad.json()["field"] == "since"
        assert api.get("/api/publishing/best-times", params={"account_id": "acme", "platform": "mastodon"}
                       ).status_code == 422
        assert httpx.get(f"{server.url}/api/publishing/insights").status_code == 401


def _fill(engine: Engine, n: int = 40) -> None:
    """Posts with known early views: Tuesday 19h does five times better than the rest."""
    store = InsightStore(engine)
    now = datetime.now(UTC)
    monday = (now - timedelta(days=now.weekday() + 7)).replace(hour=0, minute=0, second=0, microsecond=0)
    for i in range(n):
        peak = i % 4 == 0
        published = monday + timedelta(hours=43 if peak else 10 + (i % 50), minutes=i)
        pid = store.register("acme", "youtube", f"vid{i}", published, title=f"post {i}")
        task = Task(id=pid, account_id="acme", platform="youtube", video_id=f"vid{i}", reference=None,
                    published_at=published, attempts=0, last_sampled_at=None, views=None)
        store.claim("w", limit=1000)
        views = 5000 if peak else 1000
        store.save_samples([(task, Sample(views=views, likes=views // 10, comments=5, shares=1))], "w",
                           now=published + timedelta(hours=24))


def test_cli_and_best_times_read_the_same_figures(start_api: StartServer, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    server = start_api(url, start_workers=False)
    engine = make_engine(url)
    _fill(engine)
    with server.client() as api:
        rest = api.get("/api/publishing/insights", params={"since": "30d", "account_id": "acme"}).json()
        best = api.get("/api/publishing/best-times", params={"account_id": "acme", "platform": "youtube"})
        assert best.status_code == 200, best.text
        tokyo = api.get("/api/publishing/best-times",
                        params={"account_id": "acme", "platform": "youtube", "timezone": "Asia/Tokyo"}).json()
        bad_tz = api.get("/api/publishing/best-times",
                         params={"account_id": "acme", "platform": "youtube", "timezone": "Mars/Olympus"})
        assert bad_tz.status_code == 422 and bad_tz.json()["field"] == "timezone"
    [group] = rest["groups"]
    assert group["posts"] == 40 and group["best_post"]["views_24h"] == 5000
    assert group["worst_post"]["views_24h"] == 1000
    # ten peak posts (500 likes, 5 comments, 1 share of 5000 views), thirty others (100+6 of 1000)
    assert group["engagement_rate"] == round((10 * 506 + 30 * 106) / (10 * 5000 + 30 * 1000), 6)
    model = best.json()
    assert model["best"][0]["hour_of_week"] == 43 and model["best"][0]["label"] == "Tue 19:00 UTC"
    assert model["next_free_slot"] is not None
    # the same peak on Tokyo's wall clock (UTC+9, no DST): nine hours later in the week, same instant
    assert tokyo["timezone"] == "Asia/Tokyo" and model["timezone"] == "UTC"
    assert tokyo["best"][0]["hour_of_week"] == 43 + 9 and tokyo["best"][0]["label"] == "Wed 04:00 Asia/Tokyo"
    assert [h["expected_views"] for h in tokyo["hours"]] == [
        model["hours"][(h - 9) % 168]["expected_views"] for h in range(168)]
    assert tokyo["next_free_slot"] == model["next_free_slot"]

    runner = CliRunner()
    env = {"MULTIPUBLISH_DATABASE_URL": url}
    as_json = runner.invoke(cli, ["insights", "--account", "acme", "--since", "30d", "--format", "json"],
                            env=env)
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["groups"] == rest["groups"]
    table = runner.invoke(cli, ["insights", "--platform", "youtube"], env=env)
    assert table.exit_code == 0 and "acme" in table.stdout
    as_csv = runner.invoke(cli, ["insights", "--format", "csv"], env=env)
    assert len(as_csv.stdout.strip().splitlines()) == 41
    bad = runner.invoke(cli, ["insights", "--since", "soon"], env=env)
    assert bad.exit_code == 2 and "since" in bad.output
    bt = runner.invoke(cli, ["best-times", "--account", "acme", "--platform", "youtube"], env=env)
    assert bt.exit_code == 0 and "Tue 19:00 UTC" in bt.stdout
    bt = runner.invoke(cli, ["best-times", "--account", "acme", "--platform", "youtube",
                             "--timezone", "Asia/Tokyo"], env=env)
    assert bt.exit_code == 0 and "Wed 04:00 Asia/Tokyo" in bt.stdout
    bad_tz = runner.invoke(cli, ["best-times", "--account", "acme", "--platform", "youtube",
                                 "--timezone", "Nowhere"], env=env)
    assert bad_tz.exit_code == 2 and "timezone" in bad_tz.output
    engine.dispose()


def test_experiment_routes_refuse_what_cannot_run(start_api: StartServer, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'exp.db'}"
    server = start_api(url, start_workers=False)
    engine = make_engine(url)
    pid = InsightStore(engine).register("acme", "tiktok", "tk1", datetime.now(UTC))
    with server.client() as api:
        r = api.post("/api/publishing/experiments", json={"post_id": pid, "title_b": "B"})
        assert r.status_code == 422 and r.json()["field"] == "platform"
        assert "cannot edit a caption" in r.json()["reason"]
        missing = api.post("/api/publishing/experiments", json={"post_id": 999, "title_b": "B"})
        assert missing.status_code == 404
        assert api.get("/api/publishing/experiments/5").status_code == 404
        both = api.post("/api/publishing/experiments",
                        json={"post_id": pid, "title_b": "B", "thumbnail_b": "/x.png"})
        assert both.status_code == 422 and "not both" in both.json()["reason"]
        neither = api.post("/api/publishing/experiments", json={"post_id": pid})
        assert neither.status_code == 422 and neither.json()["field"] == "title_b"
        outside = api.post("/api/publishing/experiments", json={
            "post_id": pid, "thumbnail_a": "/etc/hostname", "thumbnail_b": "/etc/hostname"})
        assert outside.status_code == 422 and outside.json()["field"] == "thumbnail_a"
        assert "outside the configured media roots" in outside.json()["reason"]
    engine.dispose()
