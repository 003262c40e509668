"""Title experiments against the emulator: the switch at the right time, the favoured title wins,
quota counted; platforms that cannot edit captions are refused with the reason."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from multipublish.accounts import AccountStore
from multipublish.errors import InputError
from multipublish.insights import InsightStore, MetricsCollector
from multipublish.insights.experiments import ExperimentRunner, compare
from multipublish.settings import Settings
from multipublish.usage.store import UsageStore
from multipublish.usage.tables import quota_state
from tests.insights.conftest import REFRESH_TOKEN, UP_ACCOUNT, YT_ACCOUNT, FakeClock, seed, set_audience


def _units(db: Engine, settings: Settings) -> int:
    """YouTube units used by the account's Google Cloud project (where its counter lives)."""
    counter = UsageStore(db, settings).quota_state(YT_ACCOUNT, "youtube")
    assert counter is not None
    return int(counter["used"])


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
    before = _units(db, settings)
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
    assert done["quota_units"] == expected and _units(db, settings) - before == expected
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


def _png(path: Path, width: int, height: int) -> Path:
    """A real PNG written by PyAV's image encoder (sizes differ, so the images do)."""
    import av

    with av.open(str(path), "w", format="image2") as out:
        stream = out.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb24"
        for packet in stream.encode(av.VideoFrame(width, height, "rgb24")):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _thumbnail_history(sb: str, video_id: str) -> list[str]:
    """The sha256 of each image ``thumbnails.set`` put on the video, in order (the emulator's record)."""
    state = httpx.get(f"{sb}/_sandbox/audience/videos/{video_id}/thumbnails", timeout=10)
    state.raise_for_status()
    return [str(sha) for _, sha in state.json()["history"]]


@pytest.mark.parametrize(("favoured", "winner"), [("b", "b"), ("a", "a")])
async def test_the_thumbnail_the_emulator_favours_wins(
    sb: str, settings: Settings, db: Engine, clock: FakeClock, accounts: AccountStore, yt_channel: str,
    tmp_path: Path, favoured: str, winner: str,
) -> None:
    a, b = _png(tmp_path / "a.png", 64, 36), _png(tmp_path / "b.png", 128, 72)
    sha = {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in (("a", a), ("b", b))}
    set_audience(sb, yt_channel, base=8000.0, noise=0.2, peaks=[100],
                 thumbnail_boost={sha[favoured][:16]: 2.0})
    settings.insights_schedule = [1800.0, 3600.0, 5400.0, 7200.0, 9000.0]
    store = InsightStore(db, settings, clock=clock.dt)
    collector = MetricsCollector(db, settings, clock=clock.dt, worker_id="w", accounts=accounts)
    await _history(sb, store, collector, clock, 5)
    [post] = seed(sb, "youtube", [clock.dt()], refresh_token=REFRESH_TOKEN, title="Daily clip")
    pid = store.register(YT_ACCOUNT, "youtube", post["video_id"], clock.dt())
    runner = ExperimentRunner(db, settings, clock=clock.dt, accounts=accounts)
    before = _units(db, settings)
    exp = await runner.start_thumbnail(pid, str(a), str(b), timedelta(hours=1))
    assert (exp["kind"], exp["state"], exp["quota_units"]) == ("thumbnail", "running_a", 1 + 50)
    assert exp["result"]["sha256_b"] == sha["b"]
    assert _thumbnail_history(sb, post["video_id"]) == [sha["a"]]  # A is up from the start

    clock.advance(3599)
    assert await runner.advance() == 0  # not yet
    clock.advance(1)
    assert await runner.advance() == 1
    assert runner.get(exp["id"])["state"] == "running_b"
    assert _thumbnail_history(sb, post["video_id"]) == [sha["a"], sha["b"]]

    clock.advance(3600)
    assert await runner.advance() == 1
    done = runner.get(exp["id"])
    assert done["state"] == "finished" and done["winner"] == winner, done["result"]
    assert done["p_value"] < 0.01 and done["result"]["kept"] == winner
    assert "conditional binomial test" in done["result"]["test"]
    # 1 + 50 to start, 1 + 50 to switch, 1 to judge, and 50 more when A is put back.
    expected = 51 + 51 + 1 + (50 if winner == "a" else 0)
    assert done["quota_units"] == expected and _units(db, settings) - before == expected
    assert _thumbnail_history(sb, post["video_id"])[-1] == sha[winner]


async def test_thumbnail_experiment_bad_inputs(
    sb: str, settings: Settings, db: Engine, clock: FakeClock, accounts: AccountStore, tmp_path: Path,
) -> None:
    [tk] = seed(sb, "tiktok", [clock.dt()], user="brandprofile")
    store = InsightStore(db, settings)
    tk_id = store.register(UP_ACCOUNT, "tiktok", tk["video_id"], clock.dt(), reference=tk["request_id"])
    [yt] = seed(sb, "youtube", [clock.dt()], refresh_token=REFRESH_TOKEN)
    yt_id = store.register(YT_ACCOUNT, "youtube", yt["video_id"], clock.dt())
    a, b = _png(tmp_path / "a.png", 64, 36), _png(tmp_path / "b.png", 128, 72)
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    big = tmp_path / "big.png"
    big.write_bytes(b.read_bytes() + b"\0" * (2 * 1024 * 1024))
    runner = ExperimentRunner(db, settings, clock=clock.dt, accounts=accounts)
    cases = [
        (tk_id, a, b, "platform", "cannot edit a caption after posting"),
        (yt_id, a, a, "thumbnail_b", "same image"),
        (yt_id, a, text, "thumbnail_b", "not a JPEG or PNG"),
        (yt_id, a, big, "thumbnail_b", "at most 2 MB"),
        (yt_id, tmp_path / "gone.png", b, "thumbnail_a", "cannot be read"),
    ]
    for post_id, first, second, field, words in cases:
        with pytest.raises(InputError) as err:
            await runner.start_thumbnail(post_id, str(first), str(second), timedelta(hours=1))
        assert err.value.field == field and words in err.value.reason, err.value
    with db.connect() as conn:  # refused before any call: no quota spent at all
        assert conn.execute(select(quota_state.c.used)).first() is None

    # B removed during the experiment: the switch fails the experiment, saying which file.
    exp = await runner.start_thumbnail(yt_id, str(a), str(b), timedelta(minutes=30))
    b.unlink()
    clock.advance(1800)
    assert await runner.advance() == 1
    failed = runner.get(exp["id"])
    assert failed["state"] == "failed" and "thumbnail_b cannot be read" in failed["error"]
