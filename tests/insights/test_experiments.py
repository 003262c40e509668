"""Title experiments against the emulator: the switch at the right time, the favoured title wins,
quota counted; platforms that cannot edit captions are refused with the reason."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, select

from multipublish.accounts import AccountStore
from multipublish.errors import InputError
from multipublish.insights import InsightStore, MetricsCollector
from multipublish.insights.experiments import ExperimentRunner, compare
from multipublish.settings import Settings
from multipublish.usage.tables import quota_state
from tests.insights.conftest import REFRESH_TOKEN, UP_ACCOUNT, YT_ACCOUNT, FakeClock, seed, set_audience


def _units(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(
            select(quota_state.c.used).where(quota_state.c.account_id == YT_ACCOUNT)
        ).scalar_one())


async def _history(
    sb: str, store: InsightStore, collector: MetricsCollector, clock: FakeClock, n: int
) -> None:
    """``n`` earlier posts of the account, followed through their first hours (growth reference)."""
    start = clock.now
    posts = seed(sb, "youtube", [clock.dt()] * n, refresh_token=REFRESH_TOKEN, title="Daily clip")
    for p in posts:
        store.register(YT_ACCOUNT, "youtube", p["video_id"], clock.dt())
    for _ in range(10):
        clock.advance(1800)
        await collector.run_once(discover=False)
    clock.now = start + 5 * 3600  # next posts: later, ages line up with the history's samples


@pytest.mark.parametrize(("boost", "winner", "final"), [("Wow", "b", "b"), ("Daily", "a", "a")])
async def test_the_title_the_emulator_favours_wins(
    sb: str, settings: Settings, db: Engine, clock: FakeClock, accounts: AccountStore, yt_channel: str,
    boost: str, winner: str, final: str,
) -> None:
    set_audience(sb, yt_channel, base=8000.0, noise=0.2, peaks=[100], title_boost={boost: 2.0})
    settings.insights_schedule = [1800.0, 3600.0, 5400.0, 7200.0, 9000.0]
    store = InsightStore(db, settings, clock=clock.dt)
    collector = MetricsCollector(db, settings, clock=clock.dt, worker_id="w", accounts=accounts)
    await _history(sb, store, collector, clock, 5)
    [post] = seed(sb, "youtube", [clock.dt()], refresh_token=REFRESH_TOKEN, title="Daily clip")
    pid = store.register(YT_ACCOUNT, "youtube", post["video_id"], clock.dt())
    runner = ExperimentRunner(db, settings, clock=clock.dt, accounts=accounts)
    before = _units(db)
    exp = await runner.start(pid, "Wow, what a morning", timedelta(hours=1))
    assert (exp["variant_a"], exp["state"]) == ("Daily clip", "running_a")
    assert exp["switch_at"] == clock.dt() + timedelta(hours=1)

    clock.advance(3599)
    assert await runner.advance() == 0  # not yet
    clock.advance(1)
    assert await runner.advance() == 1
    video = httpx.get(f"{sb}/_sandbox/youtube", timeout=10).json()["videos"]
    [v] = [v for v in video if v["id"] == post["video_id"]]
    assert v["snippet"]["title"] == "Wow, what a morning" and v["snippet"]["categoryId"] == "22"
    assert runner.get(exp["id"])["state"] == "running_b"

    clock.advance(3600)
    assert await runner.advance() == 1
    done = runner.get(exp["id"])
    assert done["state"] == "finished" and done["winner"] == winner, done["result"]
    assert done["p_value"] < 0.01 and done["result"]["kept"] == final
    assert "median over 5 other posts" in done["result"]["r0_basis"]
    # 1+1 to start, 1+1+50 to switch, 1 to judge, and 1+50 more when A is put back.
    expected = 2 + 52 + 1 + (51 if final == "a" else 0)
    assert done["quota_units"] == expected and _units(db) - before == expected
    [v] = [v for v in httpx.get(f"{sb}/_sandbox/youtube", timeout=10).json()["videos"]
           if v["id"] == post["video_id"]]
    assert v["snippet"]["title"] == ("Wow, what a morning" if final == "b" else "Daily clip")


async def test_platforms_that_cannot_edit_captions_are_refused(
    sb: str, settings: Settings, db: Engine, clock: FakeClock, accounts: AccountStore
) -> None:
    [tk] = seed(sb, "tiktok", [clock.dt()], user="brandprofile")
    pid = InsightStore(db, settings).register(UP_ACCOUNT, "tiktok", tk["video_id"], clock.dt(),
                                              reference=tk["request_id"])
    with pytest.raises(InputError) as err:
        await ExperimentRunner(db, settings, accounts=accounts).start(pid, "B", timedelta(hours=1))
    assert err.value.field == "platform" and "cannot edit a caption after posting" in err.value.reason


def test_the_stated_test() -> None:
    assert compare(100, 100)["winner"] == "none"
    assert compare(100, 160)["winner"] == "b"
    assert compare(100, 60)["winner"] == "a"
    # Growth slowing to half: 100 then 55 is what equal titles would give, not a loss for B.
    assert compare(100, 55, r0=0.5)["winner"] == "none"
    assert compare(0, 0)["p_value"] == 1.0
