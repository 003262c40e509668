"""The usage store: one row per publish attempt, and quota counters that workers reserve against.

Reservations are atomic across processes and machines: the counter rows are read and updated in one
write transaction that SQLite starts with ``BEGIN IMMEDIATE`` (one writer at a time) and PostgreSQL
holds with ``SELECT ... FOR UPDATE`` (rows locked in a fixed order, so two workers never deadlock).
Two workers can therefore never both take the last unit.

Counting rules (documented once, used by the gate and by the reports):

* upload-post (TikTok, Instagram, Facebook, LinkedIn) share one monthly plan per account: bucket
  ``upload-post``, one upload per publish. A failed publish gives its upload back (the service's own
  ``usage`` block, when it comes, is the truth and overwrites the local count).
* YouTube: ``videos.insert`` is one call of its own daily bucket ``youtube_daily_uploads`` (100, as
  determine_quota_cost documents today; with the bucket off, the older rule:
  ``youtube_unit_costs["videos.insert"]`` units of ``youtube_daily_units``), plus
  ``thumbnails.set`` with a thumbnail and ``playlistItems.insert`` with a playlist. A failed upload
  that never sent a byte gives its units back; one that started uploading keeps them (Google charges
  for the call). Every other call the client reports making (``details["youtube_calls"]``: the
  processing polls' ``videos.list``, ``playlistItems.list``, the channel-status ``channels.list``,
  each thumbnail or playlist try) is counted at its ``youtube_unit_costs``, whatever the outcome;
  a result without that report counts what was planned.
* A quota refusal from the service marks the bucket exhausted until its reset.

Whose counter: :meth:`UsageStore.quota_key` is the one place that says it. upload-post counters are
the account's; YouTube's belong to the Google Cloud project (the OAuth client id), shared by every
channel authorised through that client. Every reader and writer (the gate, usage recording, the
insights collector, title experiments, the quota listings) goes through it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from time import monotonic
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from multipublish import catalogue
from multipublish.db import ensure_schema
from multipublish.db.engine import single_statement
from multipublish.errors import ErrorKind
from multipublish.platforms.base import PublishConfig, PublishResult, PublishStatus
from multipublish.settings import YOUTUBE_UNIT_COSTS, Settings
from multipublish.usage import hot
from multipublish.usage.models import (
    UPLOAD_POST,
    UPLOAD_POST_RATE,
    YOUTUBE_INSERTS,
    YOUTUBE_UNITS,
    Charge,
    Clock,
    QuotaDecision,
    Reservation,
)
from multipublish.usage.resets import next_local_midnight, parse_timestamp, upload_post_reset
from multipublish.usage.tables import quota_state, usage_records

#: Where a YouTube result reports the Data API calls its attempt made (the client's ``CALLS_DETAIL``).
_CALLS_DETAIL = "youtube_calls"
#: The platforms that go through upload-post and share its monthly plan (from the catalogue).
UPLOAD_POST_PLATFORMS = frozenset(catalogue.UPLOAD_POST_PLATFORMS)
#: Longest error text kept per record.
_MAX_ERROR = 1000
#: Prefix of the owner of a Google Cloud project's YouTube counters (``google-project:<client id>``).
GOOGLE_PROJECT = "google-project:"
#: How long an account's project is remembered (an account re-added with another client moves on).
_KEY_TTL = 60.0


def quota_bucket(platform: str) -> str | None:
    """The main quota bucket a platform's publishes are counted in (``None``: not tracked)."""
    entry = catalogue.CATALOGUE.get(catalogue.base_platform(platform))
    if entry is None:
        return None
    return {catalogue.PRICING_YOUTUBE: YOUTUBE_UNITS, catalogue.PRICING_UPLOAD_POST: UPLOAD_POST}.get(
        entry.pricing_key
    )


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("naive datetime; pass an aware one (UTC)")
    return now.astimezone(UTC)


@dataclass(slots=True)
class _Row:
    """One locked ``quota_state`` row, as the transaction sees it."""

    account_id: str
    bucket: str
    limit: int
    used: int
    reset_at: datetime
    exhausted_until: datetime | None
    limit_source: str

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


class UsageStore:
    """Usage records and quota counters in the project database."""

    def __init__(self, engine: Engine, settings: Settings | None = None, clock: Clock | None = None) -> None:
        self.engine = engine
        self.settings = settings or Settings()
        self._clock = clock or (lambda: datetime.now(UTC))
        #: account id -> (its YouTube counters' owner, when read): see :meth:`quota_key`.
        self._keys: dict[str, tuple[str, float]] = {}
        self._single = single_statement(engine)
        #: Whether the common case takes one statement (``usage.hot``); off, everything takes the
        #: general path (the tests compare the two).
        self.in_place = True
        ensure_schema(engine)

    def quota_key(self, account_id: str, bucket: str) -> str:
        """The owner of the counter of ``bucket`` for ``account_id``: the one place that says it.

        YouTube Data API quota belongs to the Google Cloud project, i.e. the OAuth client: "Projects
        that enable the YouTube Data API have a default quota allocation of ... 10,000 units per day"
        (developers.google.com/youtube/v3/determine_quota_cost), so every channel authorised through
        one client shares its units and its ``videos.insert`` calls. Counting per channel would let
        ten channels on one client spend ten times what Google allows, and the eleventh upload of the
        day would be refused by Google instead of waiting here. The key is
        ``google-project:<client id>``; an account whose client cannot be read (no such account, no
        key to decrypt with) keeps counters of its own. Other buckets are the account's.
        """
        if not bucket.startswith(YOUTUBE_UNITS):
            return account_id
        cached = self._keys.get(account_id)
        if cached is not None and monotonic() - cached[1] < _KEY_TTL:
            return cached[0]
        project = _google_project(self.engine, self.settings, account_id)
        key = f"{GOOGLE_PROJECT}{project}" if project else account_id
        self._keys[account_id] = (key, monotonic())
        return key

    def now(self) -> datetime:
        """The store's clock (aware UTC)."""
        return _utc(self._clock())

    # -- limits and resets ---------------------------------------------------------------------
    def configured_limit(self, account_id: str, bucket: str) -> int:
        """The limit of ``bucket`` for ``account_id`` from settings: an override of its counter's
        owner (``google-project:<client id>`` for YouTube) first, then of the account, then the default."""
        for owner in (self.quota_key(account_id, bucket), account_id):
            override = self.settings.account_quota_limits.get(owner, {})
            if bucket in override:
                return int(override[bucket])
        if bucket == YOUTUBE_UNITS:
            return self.settings.youtube_daily_units
        if bucket == YOUTUBE_INSERTS:
            return int(self.settings.youtube_daily_uploads or 0)
        if bucket == UPLOAD_POST:
            return self.settings.upload_post_monthly_limit
        return 0

    def next_reset(self, bucket: str, now: datetime, last_reset: datetime | None = None) -> datetime:
        """When ``bucket`` next starts from zero: YouTube at midnight Pacific, upload-post monthly."""
        if bucket.startswith("youtube"):
            return next_local_midnight(now, self.settings.youtube_quota_timezone)
        if bucket == UPLOAD_POST_RATE:
            return now + timedelta(minutes=1)
        return upload_post_reset(now, last_reset)

    def charges_for(self, platform: str, config: PublishConfig | None = None) -> tuple[Charge, ...]:
        """What one publish to ``platform`` takes from which bucket."""
        bucket = quota_bucket(platform)
        if bucket == UPLOAD_POST:
            return (Charge(bucket=UPLOAD_POST, amount=1),)
        if bucket != YOUTUBE_UNITS:
            return ()
        cost = self.settings.youtube_unit_cost
        units = 0
        charges: list[Charge] = []
        if self.settings.youtube_daily_uploads:
            charges.append(Charge(bucket=YOUTUBE_INSERTS, amount=1))
        else:
            units += cost("videos.insert")
        if config is not None:
            options = config.options_for("youtube")
            if config.thumbnail_path:
                units += cost("thumbnails.set")
            if options.get("playlist_id") or options.get("playlist"):
                units += cost("playlistItems.insert")
        if units:
            charges.append(Charge(bucket=YOUTUBE_UNITS, amount=units))
        return tuple(charges)

    # -- transactions ----------------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction: ``BEGIN IMMEDIATE`` on SQLite, row locks taken by ``_lock``."""
        with self.engine.connect() as conn:
            conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                yield conn

    def _lock(self, conn: Connection, account_id: str, bucket: str, now: datetime) -> _Row:
        """Create (if missing), lock and roll over the counter row of (account, bucket).

        The row is the one of the counter's owner (:meth:`quota_key`), not always the account's."""
        limit = self.configured_limit(account_id, bucket)
        account_id = self.quota_key(account_id, bucket)
        values = {
            "account_id": account_id,
            "platform": bucket,
            "limit": limit,
            "used": 0,
            "remaining": limit,
            "reset_at": self.next_reset(bucket, now),
            "exhausted_until": None,
            "limit_source": "config",
            "updated_at": now,
        }
        ins = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        conn.execute(
            ins(quota_state)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["account_id", "platform"])
        )
        query = select(quota_state).where(
            quota_state.c.account_id == account_id, quota_state.c.platform == bucket
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        r = conn.execute(query).one()
        row = _Row(account_id, bucket, r.limit, r.used, r.reset_at, r.exhausted_until, r.limit_source)
        changed = self._roll_over(row, now)
        if row.limit_source == "config" and row.limit != limit:
            row.limit = limit
            changed = True
        if changed:
            self._save(conn, row, now)
        return row

    def _roll_over(self, row: _Row, now: datetime) -> bool:
        """Start a new period when the reset time has passed (in memory; returns whether changed)."""
        changed = False
        if row.reset_at <= now:
            row.used = 0
            row.reset_at = self.next_reset(row.bucket, now, last_reset=row.reset_at)
            changed = True
        if row.exhausted_until is not None and row.exhausted_until <= now:
            row.exhausted_until = None
            changed = True
        return changed

    @staticmethod
    def _save(conn: Connection, row: _Row, now: datetime) -> None:
        conn.execute(
            update(quota_state)
            .where(quota_state.c.account_id == row.account_id, quota_state.c.platform == row.bucket)
            .values(
                limit=row.limit,
                used=row.used,
                remaining=row.remaining,
                reset_at=row.reset_at,
                exhausted_until=row.exhausted_until,
                limit_source=row.limit_source,
                updated_at=now,
            )
        )

    # -- the gate --------------------------------------------------------------------------------
    def _decide(
        self,
        rows: dict[str, _Row],
        rate: _Row | None,
        charges: Sequence[Charge],
        platform: str,
        now: datetime,
    ) -> QuotaDecision:
        for charge in charges:
            row = rows[charge.bucket]
            if row.exhausted_until is not None and row.exhausted_until > now:
                return QuotaDecision(
                    allowed=False,
                    wait_until=row.exhausted_until,
                    reason=f"{row.bucket} quota exhausted (refused by the service); "
                    f"waits until {row.exhausted_until.isoformat()}",
                )
            if charge.amount > row.limit:
                return QuotaDecision(
                    allowed=False,
                    wait_until=None,
                    reason=f"{platform} needs {charge.amount} of {row.bucket} quota, "
                    f"more than the whole limit of {row.limit}",
                )
            if row.used + charge.amount > row.limit:
                return QuotaDecision(
                    allowed=False,
                    wait_until=row.reset_at,
                    reason=f"{row.bucket} quota: {row.used}/{row.limit} used, {platform} needs "
                    f"{charge.amount}; waits for the reset at {row.reset_at.isoformat()}",
                )
        if rate is not None and rate.remaining <= 0 and rate.reset_at > now:
            return QuotaDecision(
                allowed=False,
                wait_until=rate.reset_at,
                reason=f"upload-post rate limit reached; waits until {rate.reset_at.isoformat()}",
                rate_limited=True,
            )
        return QuotaDecision(allowed=True, wait_until=None, reason="within quota")

    def _rate_row(self, conn: Connection, account_id: str, platform: str, now: datetime) -> _Row | None:
        """The observed upload-post rate-limit window, if the service ever reported one.

        As stored, not rolled over: a window blocks until its reset time and not after it. A roll
        over would start a new one-minute window of ``limit`` calls, and the window a 429 without
        rate headers leaves has a limit of 0, so it blocked the account for good, one minute at a
        time."""
        if quota_bucket(platform) != UPLOAD_POST:
            return None
        return self._read(conn, account_id, UPLOAD_POST_RATE)

    @staticmethod
    def _read(conn: Connection, account_id: str, bucket: str) -> _Row | None:
        r = conn.execute(
            select(quota_state).where(
                quota_state.c.account_id == account_id, quota_state.c.platform == bucket
            )
        ).one_or_none()
        if r is None:
            return None
        return _Row(account_id, bucket, r.limit, r.used, r.reset_at, r.exhausted_until, r.limit_source)

    def check(
        self,
        account_id: str,
        platform: str,
        now: datetime | None = None,
        config: PublishConfig | None = None,
    ) -> QuotaDecision:
        """Whether a publish would fit now, without taking anything (read only)."""
        now = _utc(now or self.now())
        charges = self.charges_for(platform, config)
        if not charges or not self.settings.quota_enforce:
            return QuotaDecision(allowed=True, wait_until=None, reason="no quota tracked")
        rows: dict[str, _Row] = {}
        with self.engine.connect() as conn:
            for bucket in sorted({c.bucket for c in charges}):
                row = self._read(conn, self.quota_key(account_id, bucket), bucket)
                if row is None:
                    limit = self.configured_limit(account_id, bucket)
                    row = _Row(account_id, bucket, limit, 0, self.next_reset(bucket, now), None, "config")
                else:
                    self._roll_over(row, now)
                    if row.limit_source == "config":
                        row.limit = self.configured_limit(account_id, bucket)
                rows[bucket] = row
            rate = self._rate_row(conn, account_id, platform, now)
        return self._decide(rows, rate, charges, platform, now)

    def reserve(
        self,
        account_id: str,
        platform: str,
        now: datetime | None = None,
        config: PublishConfig | None = None,
    ) -> QuotaDecision:
        """Take the quota of one publish atomically, or say until when to wait."""
        now = _utc(now or self.now())
        charges = self.charges_for(platform, config)
        if not charges or not self.settings.quota_enforce:
            return QuotaDecision(
                allowed=True,
                wait_until=None,
                reason="no quota tracked",
                reservation=Reservation(
                    account_id=account_id, platform=platform, charges=(), reserved_at=now
                ),
            )
        reservation = Reservation(account_id=account_id, platform=platform, charges=charges, reserved_at=now)
        if self._reserve_in_place(account_id, platform, charges, now):
            return QuotaDecision(allowed=True, wait_until=None, reason="reserved", reservation=reservation)
        with self._write() as conn:
            rows = {b: self._lock(conn, account_id, b, now) for b in sorted({c.bucket for c in charges})}
            rate = self._rate_row(conn, account_id, platform, now)
            decision = self._decide(rows, rate, charges, platform, now)
            if not decision.allowed:
                return decision
            for charge in charges:
                row = rows[charge.bucket]
                row.used += charge.amount
                self._save(conn, row, now)
        return QuotaDecision(allowed=True, wait_until=None, reason="reserved", reservation=reservation)

    def _reserve_in_place(
        self, account_id: str, platform: str, charges: Sequence[Charge], now: datetime
    ) -> bool:
        """Take a single charge in one statement where nothing but the charge changes
        (``usage.hot.RESERVE``); ``False``: nothing was written, the general path decides."""
        if not self.in_place or len(charges) != 1:
            return False
        (charge,) = charges
        bucket = charge.bucket
        params = {
            "amount": charge.amount,
            "now": now,
            "owner": self.quota_key(account_id, bucket),
            "bucket": bucket,
            "configured": self.configured_limit(account_id, bucket),
            "account": account_id,
            # the rate window is upload-post's (``_rate_row``); no counter has an empty name
            "rate": UPLOAD_POST_RATE if quota_bucket(platform) == UPLOAD_POST else "",
        }
        with self._single.connect() as conn:
            return hot.RESERVE.run(conn, params) == 1

    def spend(
        self, account_id: str, bucket: str, amount: int, now: datetime | None = None
    ) -> QuotaDecision:
        """Take ``amount`` of ``bucket`` for a call that is not a publish (metrics reads, title
        updates), or say until when to wait; counted in the same counters as publishes."""
        now = _utc(now or self.now())
        charges = (Charge(bucket=bucket, amount=amount),)
        if not self.settings.quota_enforce or amount <= 0:
            with self._write() as conn:
                if amount > 0:
                    self._apply(conn, account_id, {bucket: amount}, now)
            return QuotaDecision(allowed=True, wait_until=None, reason="counted")
        with self._write() as conn:
            row = self._lock(conn, account_id, bucket, now)
            decision = self._decide({bucket: row}, None, charges, bucket, now)
            if not decision.allowed:
                return decision
            row.used += amount
            self._save(conn, row, now)
        return QuotaDecision(allowed=True, wait_until=None, reason="spent")

    def release(self, reservation: Reservation, now: datetime | None = None) -> None:
        """Give back a reservation whose publish never happened."""
        now = _utc(now or self.now())
        with self._write() as conn:
            self._apply(conn, reservation.account_id, {c.bucket: -c.amount for c in reservation.charges}, now)

    def _apply(self, conn: Connection, account_id: str, deltas: dict[str, int], now: datetime) -> None:
        for bucket in sorted(deltas):
            if not deltas[bucket]:
                continue
            row = self._lock(conn, account_id, bucket, now)
            row.used = max(0, row.used + deltas[bucket])
            self._save(conn, row, now)

    # -- recording -------------------------------------------------------------------------------
    def counted_charges(
        self, platform: str, result: PublishResult, planned: Sequence[Charge]
    ) -> tuple[Charge, ...]:
        """What a finished attempt really took (see the module docstring for the rules)."""
        calls = _youtube_calls(result) if quota_bucket(platform) == YOUTUBE_UNITS else None
        if calls is not None:
            return self._charges_of_calls(calls, bool(self._planned_taken(platform, result, planned)))
        return self._planned_taken(platform, result, planned)

    @staticmethod
    def _planned_taken(platform: str, result: PublishResult, planned: Sequence[Charge]) -> tuple[Charge, ...]:
        if result.success or result.status != PublishStatus.FAILED:
            return tuple(planned)
        if result.error_kind == ErrorKind.QUOTA:
            return ()
        if quota_bucket(platform) == YOUTUBE_UNITS and result.bytes_sent > 0:
            return tuple(planned)
        return ()

    def _charges_of_calls(self, calls: dict[str, int], insert_taken: bool) -> tuple[Charge, ...]:
        """The charges of the Data API calls a YouTube attempt reports it made, each at its
        documented cost (``youtube_unit_costs``). The ``videos.insert`` call follows the insert
        rule of the module docstring (``insert_taken``); every other call counts once made."""
        cost = self.settings.youtube_unit_cost
        charges: list[Charge] = []
        units = 0
        for method, count in sorted(calls.items()):
            if method == "videos.insert":
                if not insert_taken:
                    continue
                if self.settings.youtube_daily_uploads:
                    charges.append(Charge(bucket=YOUTUBE_INSERTS, amount=1))
                    continue
                count = 1
            units += cost(method) * count
        if units:
            charges.append(Charge(bucket=YOUTUBE_UNITS, amount=units))
        return tuple(charges)

    def record_attempt(
        self,
        account_id: str,
        result: PublishResult,
        *,
        job_id: str | None = None,
        attempt: int = 1,
        duration_s: float = 0.0,
        post_type: str | None = None,
        request_id: str | None = None,
        reservation: Reservation | None = None,
        config: PublishConfig | None = None,
        occurred_at: datetime | None = None,
    ) -> int:
        """Record one publish attempt and settle its quota; returns the record id.

        With a ``reservation`` (the queue path) the difference between what was reserved and what
        the attempt really took is given back or added; without one (the manager path) the whole
        charge is added to the counters. The service's own quota figures are applied afterwards.
        """
        now = _utc(occurred_at or self.now())
        platform = catalogue.base_platform(result.platform)
        held = reservation.charges if reservation is not None else ()
        planned = held or self.charges_for(platform, config)  # nothing held: quotas not enforced
        counted = self.counted_charges(platform, result, planned)
        deltas: dict[str, int] = {}
        for c in counted:
            deltas[c.bucket] = deltas.get(c.bucket, 0) + c.amount
        if reservation is not None:
            for c in reservation.charges:
                deltas[c.bucket] = deltas.get(c.bucket, 0) - c.amount
        plan_uploads = sum(c.amount for c in counted if c.bucket == UPLOAD_POST)
        units = sum(c.amount for c in counted if c.bucket == YOUTUBE_UNITS)
        uploads_priced = 1 if counted else 0
        cost = uploads_priced * float(self.settings.price_per_upload.get(platform, 0.0)) + units * float(
            self.settings.price_per_quota_unit.get(platform, 0.0)
        )
        values: dict[str, Any] = {
            "occurred_at": now,
            "account_id": account_id,
            "platform": platform,
            "post_type": post_type,
            "job_id": job_id,
            "attempt": attempt,
            # The request id, never the reference: a YouTube reference is a session URI of any length.
            "request_id": request_id or _text(result.details.get("request_id")),
            "outcome": str(result.status),
            "success": bool(result.success),
            "error_kind": str(result.error_kind) if result.error_kind else None,
            "error": (result.error or None) and str(result.error)[:_MAX_ERROR],
            "bytes_sent": int(result.bytes_sent or 0),
            "duration_s": max(0.0, float(duration_s)),
            "quota_bucket": quota_bucket(platform),
            "plan_uploads": plan_uploads,
            "quota_units": units,
            "cost": round(cost, 6),
            "currency": self.settings.usage_currency,
            "fixes": _fixes(result),
        }
        figures = self._figures_in_place(account_id, platform, result, now)
        if figures is not None and not any(deltas.values()):
            with self._write() as conn:
                (row,) = hot.RECORD.rows(conn, values)
                for params in figures:
                    hot.SERVICE_FIGURES.run(conn, params)
            return int(row[0])
        with self._write() as conn:
            record_id = conn.execute(usage_records.insert().values(**values)).inserted_primary_key
            self._apply(conn, account_id, deltas, now)  # counters count even when not enforced
            self._apply_service_figures(conn, account_id, platform, result, now)
        return int(record_id[0]) if record_id else 0

    def update_quota_from_result(
        self, account_id: str, platform: str, result: PublishResult, now: datetime | None = None
    ) -> None:
        """Apply what the service said about quota (``usage`` block, rate-limit headers, refusals)."""
        now = _utc(now or self.now())
        with self._write() as conn:
            self._apply_service_figures(conn, account_id, platform, result, now)

    def _figures_in_place(
        self, account_id: str, platform: str, result: PublishResult, now: datetime
    ) -> list[dict[str, Any]] | None:
        """The upserts (``usage.hot.SERVICE_FIGURES``) that write what ``_apply_service_figures``
        would, when the service's figures are complete; ``None`` when a counter's new values
        depend on its row (a partial report, a 429's window, a quota refusal)."""
        bucket = quota_bucket(platform)
        if not self.in_place or result.error_kind == ErrorKind.QUOTA:
            return None
        out: list[dict[str, Any]] = []
        if bucket != UPLOAD_POST:
            return out
        if result.error_kind == ErrorKind.RATE_LIMITED and result.retry_after:
            return None
        usage = _find_usage(result.details)
        if usage is not None:
            count, limit, last_reset = usage
            if count is None or limit is None:
                return None
            reset_at = upload_post_reset(now, last_reset)
            out.append(self._figures(account_id, UPLOAD_POST, limit, count, reset_at, now))
        rate = _find_rate_limit(result.details)
        if rate is not None:
            r_limit, r_remaining, r_reset = rate
            if r_limit is None or r_remaining is None or r_reset is None:
                return None
            used = max(0, r_limit - r_remaining)
            out.append(self._figures(account_id, UPLOAD_POST_RATE, r_limit, used, r_reset, now))
        return out

    def _figures(
        self, account_id: str, bucket: str, limit: int, used: int, reset_at: datetime, now: datetime
    ) -> dict[str, Any]:
        return {
            "owner": self.quota_key(account_id, bucket),
            "bucket": bucket,
            "limit": limit,
            "used": used,
            "remaining": max(0, limit - used),
            "reset_at": reset_at,
            "now": now,
        }

    def _apply_service_figures(
        self, conn: Connection, account_id: str, platform: str, result: PublishResult, now: datetime
    ) -> None:
        bucket = quota_bucket(platform)
        if bucket is None:
            return
        usage = _find_usage(result.details)
        if bucket == UPLOAD_POST and usage is not None:
            count, limit, last_reset = usage
            row = self._lock(conn, account_id, UPLOAD_POST, now)
            if limit is not None:
                row.limit, row.limit_source = limit, "service"
            if count is not None:
                row.used = count
            row.reset_at = upload_post_reset(now, last_reset)
            self._save(conn, row, now)
        rate = _find_rate_limit(result.details)
        if bucket == UPLOAD_POST and rate is not None:
            r_limit, r_remaining, r_reset = rate
            row = self._lock(conn, account_id, UPLOAD_POST_RATE, now)
            row.limit = r_limit if r_limit is not None else max(row.limit, r_remaining or 0)
            row.used = max(0, row.limit - (r_remaining if r_remaining is not None else row.limit))
            row.limit_source = "service"
            if r_reset is not None:
                row.reset_at = r_reset
            self._save(conn, row, now)
        if bucket == UPLOAD_POST and result.error_kind == ErrorKind.RATE_LIMITED and result.retry_after:
            # A 429's Retry-After is when the window opens again (not the one-minute default).
            row = self._lock(conn, account_id, UPLOAD_POST_RATE, now)
            row.used = row.limit
            row.reset_at = now + timedelta(seconds=float(result.retry_after))
            row.limit_source = "service"
            self._save(conn, row, now)
        if result.error_kind == ErrorKind.QUOTA:
            for b in sorted({c.bucket for c in self.charges_for(platform)} | {bucket}):
                row = self._lock(conn, account_id, b, now)
                until = row.reset_at
                if result.retry_after and b.startswith(UPLOAD_POST):
                    # upload-post said when it resets; YouTube always resets at midnight Pacific
                    until = now + timedelta(seconds=float(result.retry_after))
                row.exhausted_until = until
                self._save(conn, row, now)

    def mark_exhausted(self, account_id: str, platform: str, now: datetime | None = None) -> datetime:
        """Mark ``platform``'s quota used up until its reset (a quota error seen elsewhere)."""
        now = _utc(now or self.now())
        result = PublishResult.failed(platform, ErrorKind.QUOTA, "quota used up (reported elsewhere)")
        self.update_quota_from_result(account_id, platform, result, now)
        return self.check(account_id, platform, now).wait_until or self.next_reset(
            quota_bucket(platform) or "", now
        )

    # -- reading -----------------------------------------------------------------------------------
    def quota_states(self, account_id: str | None = None) -> list[dict[str, Any]]:
        """The counters as stored (for the API, the CLI and the dashboard).

        An account's YouTube counters are its project's (:meth:`quota_key`): listed with it, their
        ``account_id`` naming the project, so a reader sees that other channels share them.
        """
        query = select(quota_state).order_by(quota_state.c.account_id, quota_state.c.platform)
        if account_id is not None:
            owners = {account_id, self.quota_key(account_id, YOUTUBE_UNITS)}
            query = query.where(quota_state.c.account_id.in_(sorted(owners)))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def quota_state(self, account_id: str, bucket: str) -> dict[str, Any] | None:
        """The stored counter of ``bucket`` that ``account_id`` spends from (``None``: none yet)."""
        owner = self.quota_key(account_id, bucket)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(quota_state).where(quota_state.c.account_id == owner, quota_state.c.platform == bucket)
            ).one_or_none()
        return dict(row._mapping) if row is not None else None


def _google_project(engine: Engine, settings: Settings, account_id: str) -> str | None:
    """The OAuth client id of an account's YouTube credentials, or ``None`` when unreadable."""
    from multipublish.accounts import AccountStore
    from multipublish.platforms.google_oauth import load_client_config

    try:
        credentials = AccountStore(engine, settings).load(account_id, "youtube").credentials
    except Exception:  # no such account, no key to decrypt with: the account keeps its own counters
        return None
    client_id = credentials.get("client_id")
    if not client_id:
        try:
            config = load_client_config(credentials, secrets_dir=settings.google_secrets_dir)
            client_id = next(iter(config.values())).get("client_id")
        except (ValueError, OSError):
            return None
    return str(client_id) if client_id else None


def _text(value: Any) -> str | None:
    return str(value) if value is not None else None


def _lookup(data: dict[str, Any], *names: str) -> Any:
    lowered = {str(k).lower(): v for k, v in data.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _int(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _find_usage(details: dict[str, Any]) -> tuple[int | None, int | None, datetime | None] | None:
    """upload-post's ``usage`` block ``{count, limit, last_reset}`` wherever the client put it."""
    usage = details.get("usage")
    if not isinstance(usage, dict):
        body = details.get("response")
        usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return None
    count, limit = _int(usage.get("count")), _int(usage.get("limit"))
    if count is None and limit is None:
        return None
    return count, limit, parse_timestamp(usage.get("last_reset"))


def _find_rate_limit(details: dict[str, Any]) -> tuple[int | None, int | None, datetime | None] | None:
    """The ``X-RateLimit-*`` figures, flat in ``details`` or under ``rate_limit``/``headers``."""
    nested = [details.get(k) for k in ("rate_limit", "rate_limits", "headers")]
    for source in [s for s in nested if isinstance(s, dict)] + [details]:
        short = source is not details  # nested blocks may use bare names (limit, remaining, reset)

        def get(name: str, source: dict[str, Any] = source, short: bool = short) -> Any:
            return (
                _lookup(source, "X-RateLimit-" + name, name)
                if short
                else _lookup(source, "X-RateLimit-" + name)
            )

        remaining = _int(get("Remaining"))
        if remaining is not None:
            return _int(get("Limit")), remaining, parse_timestamp(get("Reset"))
    return None


def _fixes(result: PublishResult) -> str | None:
    """The media fixes applied before this attempt's upload (``auto_fix``), comma-separated."""
    preparation = (result.details or {}).get("preparation")
    actions = preparation.get("actions") if isinstance(preparation, dict) else None
    if not isinstance(actions, list) or not actions:
        return None
    return ",".join(str(a) for a in actions)[:500]


def _youtube_calls(result: PublishResult) -> dict[str, int] | None:
    """The calls a YouTube attempt reports (known methods, whole counts), or ``None`` when it
    reports none (an older client or a result made elsewhere: the planned charges count)."""
    raw = result.details.get(_CALLS_DETAIL)
    if not isinstance(raw, dict):
        return None
    return {
        str(m): int(n)
        for m, n in raw.items()
        if m in YOUTUBE_UNIT_COSTS and isinstance(n, int) and not isinstance(n, bool) and n > 0
    }
