"""Title and thumbnail experiments on YouTube: variant A for a window, then variant B (a title
through ``videos.update``, a thumbnail through ``thumbnails.set``), keep the winner.

The test. Views gained while A ran (``n_a``) and while B ran (``n_b``) are treated as Poisson counts.
Growth slows as a post ages, so B's window would get fewer views even with an equal title: the
expected ratio ``r0 = E[n_b] / E[n_a]`` under "the titles are equal" is estimated from the account's
other posts on the platform (median over posts followed past the end of the experiment, of views
gained in B's age window over views gained in A's, interpolated from their samples); with fewer
than 3 such posts ``r0 = 1`` (which favours A: conservative). Conditional on ``n = n_a + n_b``,
``n_b ~ Binomial(n, p0)`` with ``p0 = r0 / (1 + r0)``; the two-sided p-value comes from the normal
approximation with continuity correction. B wins when ``p < alpha`` and ``n_b`` is above
expectation, A wins when ``p < alpha`` and below; otherwise no difference is shown and A (the
original) is kept. Overdispersion (view bursts) is not modelled: ``alpha`` defaults to 0.01.

Quota: ``videos.list`` 1 unit at the start, at the switch and at the end. A title experiment
reads the snippet (1) and sends ``videos.update`` (50) at the switch, and again when A is put
back. A thumbnail experiment uploads image A with ``thumbnails.set`` at the start (so the video
shows a known A; about 50 units, developers.google.com/youtube/v3/docs/thumbnails/set), B at the
switch (50), and A again when A is kept (50); each cost as ``youtube_unit_costs`` says. Counted in
the YouTube counters of the account's Google Cloud project and in the experiment's
``quota_units``. Other platforms cannot edit a caption or change a cover after posting (upload-post
offers no edit call for TikTok, Instagram, Facebook or LinkedIn posts), so experiments are refused
for them with that reason.
"""

from __future__ import annotations

import hashlib
import math
import statistics
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, or_, select, update

from multipublish.errors import ConflictError, ErrorKind, InputError, NotFoundError
from multipublish.insights.sources import MetricsError, YouTubeMetrics
from multipublish.insights.tables import insight_experiments, insight_posts, insight_samples
from multipublish.settings import Settings

#: thumbnails.set: "Maximum file size: 2MB"; JPEG or PNG.
MAX_THUMBNAIL_BYTES = 2 * 1024 * 1024
RUNNING = ("running_a", "running_b")


def thumbnail_image(value: Any, field: str) -> tuple[bytes, str]:
    """The bytes and MIME type of a thumbnail file; ``InputError(field)`` when YouTube would refuse it."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(field, "must be the path of a JPEG or PNG image")
    path = Path(value).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(field, f"cannot be read ({exc.strerror or exc})") from None
    if not data:
        raise InputError(field, "is an empty file")
    if len(data) > MAX_THUMBNAIL_BYTES:
        raise InputError(field, f"is {len(data)} bytes; thumbnails.set takes at most 2 MB")
    if data.startswith(b"\xff\xd8\xff"):
        return data, "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data, "image/png"
    raise InputError(field, "is not a JPEG or PNG image (thumbnails.set takes only those)")


def compare(n_a: int, n_b: int, r0: float = 1.0, alpha: float = 0.01) -> dict[str, Any]:
    """The conditional binomial test of the module docstring: winner ``a``, ``b`` or ``none``."""
    n = n_a + n_b
    p0 = r0 / (1.0 + r0)
    if n == 0:
        return {"winner": "none", "p_value": 1.0, "z": 0.0, "expected_b": 0.0, "n": 0, "r0": r0}
    mean = n * p0
    sd = math.sqrt(n * p0 * (1.0 - p0))
    diff = abs(n_b - mean) - 0.5
    z = max(0.0, diff) / sd if sd > 0 else 0.0
    p = math.erfc(z / math.sqrt(2.0))
    winner = "none"
    if p < alpha:
        winner = "b" if n_b > mean else "a"
    return {"winner": winner, "p_value": p, "z": z, "expected_b": mean, "n": n, "r0": r0}


class ExperimentRunner:
    """Starts experiments and moves them on when their switch or end time comes."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        clock: Callable[[], datetime] | None = None,
        accounts: Any = None,
        alpha: float = 0.01,
    ) -> None:
        from multipublish.accounts import AccountStore
        from multipublish.usage.store import UsageStore

        self.engine = engine
        self.settings = settings
        self._clock = clock or (lambda: datetime.now(UTC))
        self.accounts = accounts or AccountStore(engine, settings)
        self.usage = UsageStore(engine, settings, clock=self._clock)
        self.alpha = alpha

    def now(self) -> datetime:
        return self._clock().astimezone(UTC)

    # -- starting -------------------------------------------------------------------------------
    async def start(self, post_id: int, title_b: str, window: timedelta) -> dict[str, Any]:
        """Begin with the post's current title as A; B goes up after ``window``."""
        post = self._youtube_post(post_id, "a title experiment cannot switch titles there")
        title_b = (title_b or "").strip()
        if not title_b or len(title_b) > 100 or "<" in title_b or ">" in title_b:
            raise InputError("title_b", "YouTube titles are 1 to 100 characters, without < or >")
        self._check_window(window)
        self._not_busy(post_id)
        source = await self._source(post.account_id)
        units = 0
        try:
            units += await self._spend(post.account_id, "videos.list")
            video = await source.video(post.video_id)
            if not video:
                raise ConflictError(f"video {post.video_id} is no longer on YouTube")
            title_a = str(video["snippet"]["title"])
            if title_a == title_b:
                raise InputError("title_b", "is the title the video already has")
            units += await self._spend(post.account_id, "videos.list")
            stats = await source.statistics([post.video_id])
        finally:
            await source.aclose()
        return self._insert(post, "title", title_a, title_b, window, units, stats, {})

    async def start_thumbnail(
        self, post_id: int, thumbnail_a: str, thumbnail_b: str, window: timedelta
    ) -> dict[str, Any]:
        """Thumbnail A (uploaded now) for ``window``, then thumbnail B; the winner kept.

        Both images are files on this machine, read again at the switch and when A is put back
        (YouTube gives no thumbnail back as uploaded), so they must stay where they are.
        """
        post = self._youtube_post(post_id, "a thumbnail experiment cannot change the cover there")
        image_a, type_a = thumbnail_image(thumbnail_a, "thumbnail_a")
        image_b, _ = thumbnail_image(thumbnail_b, "thumbnail_b")
        sha_a, sha_b = hashlib.sha256(image_a).hexdigest(), hashlib.sha256(image_b).hexdigest()
        if sha_a == sha_b:
            raise InputError("thumbnail_b", "is the same image as thumbnail_a")
        self._check_window(window)
        self._not_busy(post_id)
        source = await self._source(post.account_id)
        units = 0
        try:
            units += await self._spend(post.account_id, "videos.list")
            stats = await source.statistics([post.video_id])
            if post.video_id in stats.missing:
                raise ConflictError(f"video {post.video_id} is no longer on YouTube")
            units += await self._spend(post.account_id, "thumbnails.set")
            await source.set_thumbnail(post.video_id, image_a, type_a)
        finally:
            await source.aclose()
        paths = (str(Path(thumbnail_a).expanduser().resolve()), str(Path(thumbnail_b).expanduser().resolve()))
        return self._insert(post, "thumbnail", *paths, window, units, stats,
                            {"sha256_a": sha_a, "sha256_b": sha_b})

    def _youtube_post(self, post_id: int, consequence: str) -> Any:
        with self.engine.connect() as conn:
            post = conn.execute(select(insight_posts).where(insight_posts.c.id == post_id)).first()
        if post is None:
            raise NotFoundError("post", str(post_id))
        if post.platform != "youtube":
            raise InputError(
                "platform",
                f"{post.platform} cannot edit a caption after posting (upload-post has no edit call), "
                f"so {consequence}; only YouTube posts can run one",
            )
        return post

    @staticmethod
    def _check_window(window: timedelta) -> None:
        if window < timedelta(minutes=5):
            raise InputError("window_minutes", "at least 5 minutes per variant")

    def _not_busy(self, post_id: int) -> None:
        with self.engine.connect() as conn:
            busy = conn.execute(
                select(insight_experiments.c.id).where(
                    insight_experiments.c.post_id == post_id, insight_experiments.c.state.in_(RUNNING)
                )
            ).first()
        if busy is not None:
            raise ConflictError(f"post {post_id} already runs experiment {busy.id}")

    def _insert(self, post: Any, kind: str, variant_a: str, variant_b: str, window: timedelta,
                units: int, stats: Any, extra: dict[str, Any]) -> dict[str, Any]:
        now = self.now()
        views = stats.samples.get(post.video_id)
        result = {
            "views_start": views.views if views and views.views is not None else 0,
            "age_start_s": (now - post.published_at).total_seconds(),
            **extra,
        }
        with self.engine.begin() as conn:
            done = conn.execute(
                insert(insight_experiments).values(
                    post_id=post.id, kind=kind, variant_a=variant_a, variant_b=variant_b,
                    window_s=window.total_seconds(), state="running_a", started_at=now,
                    switch_at=now + window, end_at=now + 2 * window, quota_units=units,
                    result=result, updated_at=now,
                )
            )
            key = done.inserted_primary_key
            assert key is not None
        return self.get(int(key[0]))

    def get(self, experiment_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(insight_experiments).where(insight_experiments.c.id == experiment_id)
            ).first()
        if row is None:
            raise NotFoundError("experiment", str(experiment_id))
        data = dict(row._mapping)
        data.pop("locked_by", None)
        data.pop("lease_expires_at", None)
        return data

    # -- moving on --------------------------------------------------------------------------------
    async def advance(self, worker: str = "experiments") -> int:
        """Switch the experiments whose window ended, and judge the finished ones; how many moved."""
        now = self.now()
        e = insight_experiments.c
        with self.engine.connect() as conn:
            due = conn.execute(
                select(e.id).where(
                    or_(
                        (e.state == "running_a") & (e.switch_at <= now),
                        (e.state == "running_b") & (e.end_at <= now),
                    ),
                    or_(e.lease_expires_at.is_(None), e.lease_expires_at < now),
                )
            ).scalars().all()
        moved = 0
        for exp_id in due:
            with self.engine.begin() as conn:  # lease it (one worker per experiment step)
                got = conn.execute(
                    update(insight_experiments)
                    .where(e.id == exp_id, or_(e.lease_expires_at.is_(None), e.lease_expires_at < now))
                    .values(locked_by=worker, lease_expires_at=now + timedelta(minutes=5))
                ).rowcount
            if not got:
                continue
            try:
                await self._step(int(exp_id))
                moved += 1
            except MetricsError as exc:
                retry = now + timedelta(minutes=30 if exc.kind != ErrorKind.QUOTA else 24 * 60)
                self._save(int(exp_id), error=str(exc), lease_expires_at=retry)
        return moved

    async def _step(self, exp_id: int) -> None:
        with self.engine.connect() as conn:
            exp = conn.execute(select(insight_experiments).where(insight_experiments.c.id == exp_id)).one()
            post = conn.execute(select(insight_posts).where(insight_posts.c.id == exp.post_id)).one()
        source = await self._source(post.account_id)
        result = dict(exp.result or {})
        units = exp.quota_units
        try:
            units += await self._spend(post.account_id, "videos.list")
            fetched = await source.statistics([post.video_id])
            if post.video_id in fetched.missing:
                self._save(exp_id, state="failed", error="the video was deleted during the experiment",
                           quota_units=units)
                return
            views = fetched.samples[post.video_id].views or 0
            now = self.now()
            if exp.state == "running_a":
                applied = await self._apply(source, post, exp, "b")
                if applied is None:
                    return
                units += applied
                result.update(views_switch=views, switched_at=now.isoformat(),
                              age_switch_s=(now - post.published_at).total_seconds())
                self._save(exp_id, state="running_b", result=result, quota_units=units, error=None)
                return
            result.update(views_end=views, age_end_s=(now - post.published_at).total_seconds())
            n_a = int(result.get("views_switch", 0)) - int(result.get("views_start", 0))
            n_b = views - int(result.get("views_switch", 0))
            r0, basis = self._expected_ratio(post, result)
            verdict = compare(n_a, n_b, r0, self.alpha)
            result.update(n_a=n_a, n_b=n_b, r0_basis=basis, test=(
                "conditional binomial test of n_b given n_a + n_b, p0 = r0/(1+r0), normal "
                f"approximation with continuity correction, two-sided, alpha {self.alpha}"
            ), **{k: verdict[k] for k in ("z", "expected_b", "r0")})
            keep_b = verdict["winner"] == "b"
            if not keep_b:  # A won or no difference shown: the original goes back
                applied = await self._apply(source, post, exp, "a", units=units, result=result)
                if applied is None:
                    return
                units += applied
            result["kept"] = "b" if keep_b else "a"
            self._save(exp_id, state="finished", winner=verdict["winner"], p_value=verdict["p_value"],
                       result=result, quota_units=units, error=None)
        finally:
            await source.aclose()

    async def _apply(self, source: YouTubeMetrics, post: Any, exp: Any, variant: str, *,
                     units: int | None = None, result: dict[str, Any] | None = None) -> int | None:
        """Put variant ``a`` or ``b`` on the video; the quota units spent, or ``None`` when the
        experiment cannot go on (a thumbnail file gone: the experiment is failed, saying which)."""
        value = exp.variant_a if variant == "a" else exp.variant_b
        if exp.kind == "thumbnail":
            try:
                image, content_type = thumbnail_image(value, f"thumbnail_{variant}")
            except InputError as exc:
                self._save(exp.id, state="failed", error=f"{exc.field} {exc.reason}: {value}",
                           quota_units=units if units is not None else exp.quota_units,
                           **({"result": result} if result is not None else {}))
                return None
            spent = await self._spend(post.account_id, "thumbnails.set")
            await source.set_thumbnail(post.video_id, image, content_type)
            return spent
        spent = await self._spend(post.account_id, "videos.list")
        video = await source.video(post.video_id)
        spent += await self._spend(post.account_id, "videos.update")
        await source.update_title(video, value)
        self._retitle(post.id, value)
        return spent

    def _expected_ratio(self, post: Any, result: dict[str, Any]) -> tuple[float, str]:
        """``r0`` from the account's other posts (see the module docstring)."""
        a0, a1, a2 = (float(result.get(k, 0.0)) for k in ("age_start_s", "age_switch_s", "age_end_s"))
        p, s = insight_posts.c, insight_samples.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(s.post_id, s.age_s, s.views)
                .join(insight_posts, p.id == s.post_id)
                .where(p.account_id == post.account_id, p.platform == post.platform, p.id != post.id,
                       s.views.is_not(None))
                .order_by(s.post_id, s.age_s)
            ).all()
        series: dict[int, list[tuple[float, float]]] = {}
        for r in rows:
            series.setdefault(int(r.post_id), [(0.0, 0.0)]).append((float(r.age_s), float(r.views)))
        ratios = []
        for points in series.values():
            if points[-1][0] < a2:
                continue
            va, vs, ve = (_interp(points, a) for a in (a0, a1, a2))
            if vs - va > 0:
                ratios.append((ve - vs) / (vs - va))
        if len(ratios) < 3:
            return 1.0, "fewer than 3 other posts followed this long: flat growth assumed"
        return float(statistics.median(ratios)), f"median over {len(ratios)} other posts of the account"

    # -- plumbing --------------------------------------------------------------------------------
    async def _source(self, account_id: str) -> YouTubeMetrics:
        record = self.accounts.load(account_id, "youtube")

        def save(partial: dict[str, Any]) -> None:
            self.accounts.update_credentials(account_id, "youtube", partial)

        return YouTubeMetrics(account_id, record.credentials, self.settings, save)

    async def _spend(self, account_id: str, method: str) -> int:
        """Take one ``method`` call's units (settings: ``youtube_unit_costs``) from the quota."""
        units = self.settings.youtube_unit_cost(method)
        decision = self.usage.spend(account_id, "youtube", units, self.now())
        if not decision.allowed:
            raise MetricsError(ErrorKind.QUOTA, f"YouTube quota: {decision.reason}")
        return units

    def _save(self, exp_id: int, **values: Any) -> None:
        values.setdefault("locked_by", None)
        values.setdefault("lease_expires_at", None)
        with self.engine.begin() as conn:
            conn.execute(
                update(insight_experiments)
                .where(insight_experiments.c.id == exp_id)
                .values(updated_at=self.now(), **values)
            )

    def _retitle(self, post_id: int, title: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(insight_posts).where(insight_posts.c.id == post_id).values(title=title[:500]))


def _interp(points: list[tuple[float, float]], age: float) -> float:
    """Cumulative views at ``age`` by linear interpolation between samples."""
    prev = points[0]
    for point in points[1:]:
        if point[0] >= age:
            span = point[0] - prev[0]
            frac = (age - prev[0]) / span if span > 0 else 1.0
            return prev[1] + frac * (point[1] - prev[1])
        prev = point
    return prev[1]
