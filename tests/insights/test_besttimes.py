"""The best-time model recovers the emulator's hidden peak hours from 200 posts collected for real."""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
from sqlalchemy import Engine

from multipublish.accounts import AccountStore
from multipublish.insights import InsightStore, MetricsCollector
from multipublish.insights.besttimes import HOURS, fit, fit_account, next_slot
from multipublish.settings import Settings
from tests.insights.conftest import REFRESH_TOKEN, YT_ACCOUNT, FakeClock, seed, set_audience


def _circular(a: int, b: int) -> int:
    d = abs(a - b) % HOURS
    return min(d, HOURS - d)


async def test_learned_best_hours_recover_the_hidden_peaks(
    sb: str, settings: Settings, db: Engine, clock: FakeClock, accounts: AccountStore, yt_channel: str
) -> None:
    rng = random.Random(16)
    hidden = sorted(rng.sample(range(HOURS), 2))
    while _circular(*hidden) < 24:
        hidden = sorted(rng.sample(range(HOURS), 2))
    set_audience(sb, yt_channel, base=1500.0, peaks=hidden, peak_gain=2.0, width=2.0, noise=0.25)
    # 200 posts over one week, at random minutes: the emulator creates each as its time comes.
    start = clock.dt()
    times = sorted(start + timedelta(minutes=rng.uniform(0, 7 * 24 * 60)) for _ in range(200))
    settings.insights_schedule = [3600.0, 86400.0]  # 1 h and 24 h are all the model needs
    store = InsightStore(db, settings, clock=clock.dt)
    collector = MetricsCollector(db, settings, clock=clock.dt, worker_id="w", accounts=accounts)
    pending = list(times)
    for _ in range(8 * 24 + 2):  # hour by hour through the week and one more day
        now = clock.dt()
        due = [t for t in pending if t <= now]
        pending = [t for t in pending if t > now]
        if due:
            for post in seed(sb, "youtube", due, refresh_token=REFRESH_TOKEN):
                store.register(YT_ACCOUNT, "youtube", post["video_id"], now, title="clip")
        await collector.run_once(discover=False)
        clock.advance(3600)
    model = fit_account(db, YT_ACCOUNT, "youtube")
    assert model.posts == 200  # every post got its 24 h views
    learned = model.best_hours[:2]
    for peak in hidden:
        assert min(_circular(peak, h) for h in learned) <= 1, (hidden, learned)
    # Uncertainty is reported, and is smallest where the posts are.
    out = model.to_dict()
    best = out["best"][0]
    assert best["low"] < best["expected_views"] < best["high"]


def test_few_posts_shrink_toward_the_flat_prior() -> None:
    hours = [10, 10, 30]
    views = [5000.0, 4000.0, 100.0]
    few = fit(hours, views, prior_strength=3.0)
    many = fit(hours * 20, views * 20, prior_strength=3.0)
    # With three posts the curve moves only part of the way; with sixty it follows the data.
    assert 0 < few.effect[10] < many.effect[10]
    assert abs(few.effect[100]) < 1e-9  # no posts near: the prior (the account's mean)
    assert few.se[10] > many.se[10]
    empty = fit([], [])
    assert empty.best_hours == [] and np.allclose(empty.effect, 0.0)
    assert empty.to_dict()["confidence"] == "none"


def test_next_free_slot_skips_hours_already_taken() -> None:
    from datetime import UTC, datetime

    model = fit([43] * 10 + [5] * 10, [9000.0] * 10 + [100.0] * 10)
    assert model.best_hours[0] == 43  # Tuesday 19:00 UTC
    monday = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)
    slot = next_slot(model, monday)
    assert slot == datetime(2030, 3, 5, 19, 0, tzinfo=UTC)
    taken = next_slot(model, monday, busy=[slot])
    assert taken is not None and taken != slot
