"""The usage REST routes on the real service: jobs published through the API's own queue show up in
the statistics and costs, checked against the jobs' results; CSV exports; auth and bad input."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from tests.api.helpers import add_account, dashboard_login, wait_for_job
from tests.fixtures.api import ApiServer, StartServer

PRICE = 0.3
PLAN = 9.0


def _job(server: ApiServer, platforms: list[str], title: str) -> dict[str, Any]:
    return {
        "account_id": "acme",
        "platforms": platforms,
        "video_path": str(server.media_root / "video.mp4"),
        "title": title,
    }


def test_stats_and_costs_reflect_the_jobs_published(start_api: StartServer, db_url: str) -> None:
    server = start_api(
        db_url,
        price_per_upload={"tiktok": PRICE, "instagram": PRICE},
        upload_post_plan_price=PLAN,
    )
    with server.client() as api:
        add_account(api, "acme", "tiktok")
        add_account(api, "acme", "instagram")
        ids = []
        for n, platforms in enumerate([["tiktok"], ["tiktok", "instagram"], ["instagram"]]):
            resp = api.post("/api/publishing/publish/scheduled", json=_job(server, platforms, f"v{n}"))
            assert resp.status_code == 201, resp.text
            ids.append(resp.json()["id"])
        jobs = [wait_for_job(api, i) for i in ids]

        # expected figures, from the jobs' own per-platform results
        per_platform: dict[str, list[bool]] = {}
        for job in jobs:
            for platform, res in job["results"].items():
                per_platform.setdefault(platform, []).append(bool(res["success"]))

        stats = api.get("/api/publishing/stats/platforms", params={"since": "1d"})
        assert stats.status_code == 200, stats.text
        got = {row["key"]: row for row in stats.json()["by_platform"]}
        assert set(got) == set(per_platform)
        for platform, outcomes in per_platform.items():
            assert got[platform]["attempts"] == len(outcomes)
            assert got[platform]["successes"] == sum(outcomes)
            assert got[platform]["success_rate"] == round(sum(outcomes) / len(outcomes), 4)
        assert sum(d["jobs"] for d in stats.json()["jobs_per_day"]) == len(jobs)

        month = datetime.now(UTC).strftime("%Y-%m")
        costs = api.get("/api/publishing/costs", params={"month": month})
        assert costs.status_code == 200, costs.text
        successes = sum(sum(o) for o in per_platform.values())
        assert costs.json()["total"] == round(successes * PRICE + PLAN, 6)

        export = api.get("/api/publishing/stats/platforms.csv", params={"since": "1d"})
        assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
        rows = {r["key"]: r for r in csv.DictReader(io.StringIO(export.text)) if r["group"] == "platform"}
        assert {k: int(r["attempts"]) for k, r in rows.items()} == {
            k: len(v) for k, v in per_platform.items()
        }
        costs_csv = api.get("/api/publishing/costs.csv", params={"month": month})
        assert costs_csv.status_code == 200
        lines = list(csv.DictReader(io.StringIO(costs_csv.text)))
        assert round(sum(float(r["cost"]) for r in lines), 6) == costs.json()["total"]

        quotas = api.get("/api/publishing/quotas", params={"account_id": "acme"}).json()["quotas"]
        plan = [q for q in quotas if q["platform"] == "upload-post"]
        assert plan and plan[0]["used"] >= 1  # counted locally or reported by the service

        bad = api.get("/api/publishing/stats/platforms", params={"since": "soon"})
        assert bad.status_code == 422 and bad.json()["field"] == "since"
        bad_month = api.get("/api/publishing/costs", params={"month": "2026-13"})
        assert bad_month.status_code == 422 and bad_month.json()["field"] == "month"
    with server.client(token=None) as anon:
        assert anon.get("/api/publishing/costs").status_code == 401
        assert anon.get("/api/publishing/stats/platforms.csv").status_code == 401


def test_dashboard_stats_page_shows_daily_success_and_costs(start_api: StartServer, db_url: str) -> None:
    import re

    from multipublish.errors import ErrorKind
    from multipublish.platforms.base import PublishResult, PublishStatus
    from multipublish.usage import UsageStore

    server = start_api(db_url, start_workers=False, price_per_upload={"linkedin": 1.25})
    store = UsageStore(server.app.state.service.engine, server.settings)
    outcomes = [True, True, False, True]
    for n, success in enumerate(outcomes):
        result = PublishResult(
            platform="linkedin",
            success=success,
            status=PublishStatus.PUBLISHED if success else PublishStatus.FAILED,
            error_kind=None if success else ErrorKind.TRANSIENT,
        )
        store.record_attempt("corp", result, job_id=f"j{n}", duration_s=1.0)
    with server.client(token=None, follow_redirects=False) as browser:
        cookie = dashboard_login(browser, server.token)
        page = browser.get("/stats", headers={"Cookie": cookie})
    assert page.status_code == 200
    html = page.text
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    rate = round(100 * sum(outcomes) / len(outcomes), 1)
    assert f"<title>{today}: {rate}%</title>" in html
    assert 'data-platform="linkedin"' in html
    total = f"{sum(outcomes) * 1.25:.2f}"
    assert re.search(rf"<th colspan=\"5\">Total</th><th>{re.escape(total)}</th>", html)
