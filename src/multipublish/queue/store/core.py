"""``JobStore``: the workers' side (claim, lease renewal, recovery of expired leases, fenced
result writes, the decision and the chained claim of the next job), on top of the parts it
inherits (``control``, ``outbox``, ``stats``, ``base``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select, update

from multipublish.db import job_results, jobs
from multipublish.errors import ErrorKind
from multipublish.platforms.base import ProtocolStep, PublishResult
from multipublish.queue.models import Job, QueueStatus, platform_base
from multipublish.queue.policy import FINAL_KIND_NAMES, decide
from multipublish.queue.store.claims import CHANNEL, Claim, ClaimBatch, Outcome, _Decided
from multipublish.queue.store.control import _Control
from multipublish.queue.store.rows import _apply, _changed, _iso
from multipublish.queue.store.statements import (
    _FINISH_AND_CLAIM_SCAN,
    _H_CANDIDATES_WITH_USE_SQLITE,
    _H_CLAIM,
    _H_CLAIM_ONE_WITH_RESULTS_PG,
    _H_CLAIM_ONE_WITH_RESULTS_SQLITE,
    _H_DECIDE,
    _H_DECIDE_FENCED,
    _H_DECIDE_LOCKING_PG,
    _H_DECIDE_WITH_RESULT_LOCKING_PG,
    _H_DECIDE_WITH_RESULT_PG,
    _H_FENCE,
    _H_FENCE_LOCKING_PG,
    _H_FINISH_AND_CLAIM_PG,
    _H_FINISH_BATCH_PG,
    _H_LOCK,
    _H_RECORD_PG,
    _H_RESULT,
    _H_RID,
    _H_STEP_PG,
    _N_CLAIMED,
    _S_EXPIRED,
    _S_EXPIRED_PG,
    _U_DECIDE,
    _U_FENCE,
    _U_IN_FLIGHT_UNKNOWN,
    _U_KEYS_UNKNOWN,
    _U_PHASE,
    _U_RENEW,
    _U_RESULT,
    _U_STEP,
    _WAKING,
    _candidates,
    _Fence,
    _in_use,
    _pg_candidates,
    _platforms_of,
)
from multipublish.queue.store.stats import _Stats
from multipublish.queue.store.writes import (
    _cancel_unstarted,
    _claims_from,
    _decision_params,
    _finish_batch_params,
    _newly_scheduled,
    _notify_payload,
    _result_doc,
    _result_params,
    _results_from_json,
    _split_claimed,
)
from multipublish.webhooks import build_payload

if TYPE_CHECKING:
    from psycopg import AsyncConnection


class JobStore(_Control, _Stats):
    """The queue's tables behind one narrow port; every method is one transaction.

    This part claims, leases, records and finishes (the workers' side); the others are
    inherited from the modules beside it.
    """

    # -- claim ----------------------------------------------------------------------------------
    def claim(self, worker_id: str, limit: int, lease_seconds: float | None = None) -> ClaimBatch:
        """Claim up to ``limit`` due jobs in priority then FIFO order, within the caps."""
        if limit <= 0:
            return ClaimBatch([])
        with self._tx() as conn:
            return self._claim_in(conn, worker_id, limit, lease_seconds, self.now())

    def _claim_in(
        self,
        conn: Connection,
        worker_id: str,
        limit: int,
        lease_seconds: float | None,
        now: datetime,
        *,
        locked: bool = False,
    ) -> ClaimBatch:
        """Claim in ``conn``'s transaction; ``locked``: it holds the ``queue_state`` lock already."""
        lease = float(lease_seconds or self.settings.lease_seconds)
        if self.is_pg and not locked:
            _H_LOCK.rows(conn, {})
        if self._recovery_due(now):
            self._recover_expired(conn, now)
        params: dict[str, Any] = {"b_now": now, "b_lim": limit * 4 + 4}
        if self.is_pg:
            hot, params["b_lim"] = _pg_candidates(params["b_lim"])
        else:
            hot = _H_CANDIDATES_WITH_USE_SQLITE
        found = hot.rows(conn, params)
        plat_use, acct_use = _in_use(found[0][4] if found else None)
        caps = self.settings.platform_concurrency
        acct_cap = self.settings.account_concurrency
        full_plats = [p for p, n in plat_use.items() if n >= caps.get(p, 1 << 30)]
        full_accts = [a for a, n in acct_use.items() if n >= acct_cap]
        capped = bool(full_plats or full_accts)
        candidates: Sequence[Sequence[Any]] = found
        if capped:  # read again without the jobs a full cap excludes, so the limit is not spent on them
            if full_accts:
                params["b_accts"] = full_accts
            if full_plats:
                params["b_plats"] = full_plats
            shape = _candidates(bool(full_accts), bool(full_plats), self.is_pg)
            candidates = conn.execute(shape, params).all()
        picked: list[Any] = []
        for cand in candidates:
            if len(picked) >= limit:
                break
            account, plats = cand[2], _platforms_of(cand[3])
            names: dict[str, int] = {}
            for key in plats:
                names[platform_base(key)] = names.get(platform_base(key), 0) + 1
            a_used = acct_use.get(account, 0)
            n = len(plats)
            fits = a_used == 0 or a_used + n <= acct_cap
            for name, k in names.items():
                used = plat_use.get(name, 0)
                cap = caps.get(name, 1 << 30)
                if not (used == 0 or used + k <= cap):
                    fits = False
            if not fits:
                capped = True
                continue
            acct_use[account] = a_used + n
            for name, k in names.items():
                plat_use[name] = plat_use.get(name, 0) + k
            picked.append(cand)
        if not picked:
            return ClaimBatch([], capped)
        ids = [c[1] for c in picked]
        lease_until = now + timedelta(seconds=lease)
        params = {"b_ids": ids, "b_j": ids[0], "b_w": worker_id, "b_exp": lease_until, "b_now": now}
        rows: Sequence[Sequence[Any]]
        if len(ids) == 1:
            hot = _H_CLAIM_ONE_WITH_RESULTS_PG if self.is_pg else _H_CLAIM_ONE_WITH_RESULTS_SQLITE
            rows = hot.rows(conn, params)
        else:
            rows = _H_CLAIM[self.is_pg].rows(conn, params)
        if self.is_pg:
            by_id, results = _split_claimed(rows)
        elif len(ids) == 1:
            by_id = {r[0]: r for r in rows}
            results = {r[0]: _results_from_json(r[_N_CLAIMED], conn.dialect) for r in rows}
        else:
            by_id = {r[0]: r for r in rows}
            results = self._results_for(conn, list(by_id))
        claims, new_rids = _claims_from(by_id, results, ids, worker_id, lease_until, now)
        _H_RID.run_many(conn, new_rids)
        return ClaimBatch(claims, capped)

    def _recovery_due(self, now: datetime) -> bool:
        """Look for expired leases at most every second per process (and on every explicit call)."""
        if self._next_recovery is not None and now < self._next_recovery:
            return False
        self._next_recovery = now + timedelta(seconds=1)
        return True

    def _recover_expired(self, conn: Connection, now: datetime) -> list[Outcome]:
        """Give jobs whose lease expired back to the queue (or fail them when attempts are spent)."""
        expired = [r.id for r in conn.execute(_S_EXPIRED_PG if self.is_pg else _S_EXPIRED, {"b_now": now})]
        outcomes: list[Outcome] = []
        for jid in expired:
            conn.execute(
                _U_IN_FLIGHT_UNKNOWN,
                {
                    "b_j": jid,
                    "b_now": now,
                    "b_err": "worker lost its lease during the upload; outcome to be reconciled",
                },
            )
            job = self._load(conn, jid)
            assert job is not None
            values, event, next_at = self._plan(job, now, lost_lease=True)
            outcomes.append(self._commit_plan(conn, job, values, event, next_at, now))
        return outcomes

    def recover_expired(self) -> int:
        """Run lease recovery now (the claim does it too); returns how many jobs it moved."""
        with self._tx() as conn:
            return len(self._recover_expired(conn, self.now()))

    # -- leases ---------------------------------------------------------------------------------
    def renew(self, worker_id: str, lease_seconds: float | None = None) -> dict[str, tuple[int, bool]]:
        """Extend every lease of ``worker_id`` in one statement.

        Returns ``{job_id: (attempt, cancel_requested)}`` for the jobs it still holds; a job missing
        from the answer was lost (its lease expired and another worker took it).
        """
        lease = float(lease_seconds or self.settings.lease_seconds)
        now = self.now()
        with self._tx() as conn:
            rows = conn.execute(_U_RENEW, {"b_w": worker_id, "b_exp": now + timedelta(seconds=lease)}).all()
        return {r.id: (int(r.attempts), bool(r.cancel_requested)) for r in rows}

    def _fence_params(self, claim: Claim, now: datetime) -> dict[str, Any]:
        return {"b_j": claim.job.id, "b_w": claim.worker_id, "b_att": claim.attempt, "b_now": now}

    def _fence(self, conn: Connection, claim: Claim, now: datetime) -> Any:
        """Lock the job row if ``claim`` still owns it (the fence of every write); the row or None."""
        return conn.execute(_U_FENCE, self._fence_params(claim, now)).first()

    def _write_result(
        self, conn: Connection, job_id: str, key: str, r: PublishResult, rid: str | None, now: datetime
    ) -> dict[str, Any]:
        """Write one platform's result; returns the columns as they now are (for in-memory views)."""
        params, view = _result_params(job_id, key, r, rid, now)
        conn.execute(_U_RESULT, params)
        return view

    def _rid(self, claim: Claim, key: str) -> str | None:
        return next((t.request_id for t in claim.tasks if t.key == key), None)

    def record(self, claim: Claim, key: str, result: PublishResult) -> bool:
        """Store one platform's result as soon as it is known; ``False`` when the lease was lost."""
        now = self.now()
        if self.is_pg:
            params, view = _result_params(claim.job.id, key, result, self._rid(claim, key), now)
            with self._autocommit.connect() as conn:
                held = _H_RECORD_PG.rows(conn, {**params, **self._fence_params(claim, now)})[0][0]
            if held:
                claim.recorded[key] = view
            return bool(held)
        with self._tx() as conn:
            if self._fence(conn, claim, now) is None:
                return False
            claim.recorded[key] = self._write_result(
                conn, claim.job.id, key, result, self._rid(claim, key), now
            )
        return True

    def checkpoint(self, claim: Claim, key: str, step: ProtocolStep) -> bool:
        """Store one protocol step of a platform in flight (its reference, video id, bytes), fenced
        like a result; ``False`` when the lease was lost. Reconcile reads what this wrote."""
        now = self.now()
        params = {
            "b_j": claim.job.id,
            "b_p": key,
            "b_ref": step.reference,
            "b_vid": step.video_id,
            "b_url": step.url,
            "b_bytes": step.bytes_sent,
            "b_now": now,
        }
        if self.is_pg:
            with self._autocommit.connect() as conn:
                return bool(_H_STEP_PG.rows(conn, {**params, **self._fence_params(claim, now)})[0][0])
        with self._tx() as conn:
            if self._fence(conn, claim, now) is None:
                return False
            conn.execute(_U_STEP, params)
        return True

    def stage(
        self,
        claim: Claim,
        key: str,
        phase: str,
        progress: float | None,
        preparation: dict[str, Any] | None = None,
    ) -> bool:
        """Store the step a platform in flight is in (``preparing`` with the fraction done, then
        ``uploading``), fenced like a result; ``False`` when the lease was lost.

        ``preparation`` (what was done to the file, and the rendition) goes into the result's
        details with the step that ends the preparation, before the upload starts: a worker lost
        after it leaves the job detail saying what was prepared, and the next attempt finds the
        finished rendition in the cache.
        """
        now = self.now()
        with self._tx() as conn:
            if self._fence(conn, claim, now) is None:
                return False
            params = {"b_j": claim.job.id, "b_p": key, "b_phase": phase, "b_progress": progress, "b_now": now}
            conn.execute(_U_PHASE, params)
            if preparation is not None:
                where = (job_results.c.job_id == claim.job.id, job_results.c.platform == key)
                details = conn.execute(select(job_results.c.details).where(*where)).scalar()
                merged = {**(details if isinstance(details, dict) else {}), "preparation": preparation}
                conn.execute(update(job_results).where(*where).values(details=merged))
        return True

    def _view(self, claim: Claim, changed: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        view = {k: dict(v) for k, v in claim.job.results.items()}
        tasks = {t.key for t in claim.tasks}
        for key, values in changed.items():
            entry = view.setdefault(key, {})
            entry.update(values)
            entry.pop("phase", None)  # a written result ends the step in flight
            entry.pop("progress", None)
            if key in tasks:
                entry["attempts"] = int(entry.get("attempts") or 0) + 1
        return view

    def finish(
        self,
        claim: Claim,
        results: dict[str, PublishResult],
        *,
        cancelled: bool = False,
        claim_next: int = 0,
    ) -> Outcome | None:
        """Write the last results and decide the job's fate; ``None`` when the lease was lost."""
        return self.finish_many([(claim, results, cancelled, claim_next)])[0]

    def finish_many(
        self, items: Sequence[tuple[Claim, dict[str, PublishResult], bool, int]]
    ) -> list[Outcome | None]:
        """Finish several jobs of one worker in one transaction (group commit).

        Each item is ``(claim, last results, cancelled, claim_next)``. A job whose lease was lost
        gets ``None`` and nothing of it is written. The fence of one job is inside the decision's
        own ``UPDATE`` (owner, attempt, still processing in its ``WHERE``; no row: lost), so a job
        costs one statement plus its results; several jobs are fenced by one locking read first.
        The other platforms' results are known from the claim: nobody else may change them while
        we hold the lease. Slots freed are refilled by a claim in the same transaction
        (``claim_next`` per item).
        """
        if self.is_pg and items:
            fast = self._finish_and_claim(items, self.now())
            if fast is not None:
                return fast
        return self.finish_many_by_transaction(items)

    def finish_many_by_transaction(
        self, items: Sequence[tuple[Claim, dict[str, PublishResult], bool, int]]
    ) -> list[Outcome | None]:
        """``finish_many`` without ``mp_finish_many_and_claim``: what the function hands back to
        (the worker calls it after ``finish_many_on`` declined, so the function is not tried twice)."""
        now = self.now()
        out: list[Outcome | None] = [None] * len(items)
        if not items:
            return out
        # On PostgreSQL a transaction that goes on to claim takes the claim's lock in its
        # finishing statement (``_CLAIM_LOCK``).
        lock = self.is_pg and any(item[3] for item in items)
        with self._tx() as conn:
            decided = (
                self._finish_one(conn, items[0], now, lock=lock)
                if len(items) == 1
                else self._finish_fenced(conn, items, now, lock=lock)
            )
            wanted = 0
            for idx, job, values, event, next_at in decided:
                out[idx] = self._after_decision(conn, job, values, event, next_at, now)
                wanted += items[idx][3]
            if wanted:
                # The slots these jobs free are refilled in the same transaction.
                claims = self._claim_in(
                    conn, items[0][0].worker_id, wanted, None, now, locked=lock
                ).claims
                for idx, *_ in decided:
                    outcome = out[idx]
                    take = items[idx][3]
                    if outcome is not None and take and claims:
                        outcome.next_claims, claims = claims[:take], claims[take:]
        return out

    def _finish_and_claim(
        self, items: Sequence[tuple[Claim, dict[str, PublishResult], bool, int]], now: datetime
    ) -> list[Outcome | None] | None:
        """PostgreSQL: jobs' finish and the claim that refills their slots in one call of
        ``mp_finish_many_and_claim`` (migration 0018), one round trip instead of five or six.

        ``None`` when this finish needs the transaction, and then nothing was written (see
        ``_plan_finish_and_claim``). ``finish_many_on`` is the same on an asyncio connection.
        """
        fast = self._plan_finish_and_claim(items, now)
        if fast is None:
            return None
        with self._autocommit.connect() as conn:
            rows = _H_FINISH_AND_CLAIM_PG.rows(conn, fast.params)
            outcomes, new_rids = self._end_finish_and_claim(fast, rows)
            _H_RID.run_many(conn, new_rids)  # before any upload starts, as in the transaction
        return outcomes

    async def finish_many_on(
        self, aconn: AsyncConnection[Any], items: Sequence[tuple[Claim, dict[str, PublishResult], bool, int]]
    ) -> list[Outcome | None] | None:
        """``finish_many`` through ``mp_finish_many_and_claim`` on an asyncio connection (autocommit):
        the worker's event loop awaits it, with no hand-off to a thread and back (at one job in
        flight those were a fifth of a job's time). ``None`` when the finish needs the transaction
        (nothing written: run ``finish_many``). A driver error propagates; the statement is atomic,
        so the finish may be repeated through ``finish_many``, whose fences see what committed.
        """
        now = self.now()
        fast = self._plan_finish_and_claim(items, now)
        if fast is None:
            return None
        dialect = self.engine.dialect
        outcomes, new_rids = self._end_finish_and_claim(
            fast, await _H_FINISH_AND_CLAIM_PG.rows_on(aconn, dialect, fast.params)
        )
        for rid in new_rids:  # before any upload starts, as in the transaction
            await _H_RID.rows_on(aconn, dialect, rid)
        return outcomes

    def _plan_finish_and_claim(
        self, items: Sequence[tuple[Claim, dict[str, PublishResult], bool, int]], now: datetime
    ) -> _FastFinish | None:
        """The decisions, planned here as for the transaction, as the function's parameters; the
        function writes them (fenced), the results, the webhook messages and the wake-ups, then
        claims with the caps. ``None`` when this finish needs the transaction: lease recovery is
        due, a platform was left without an outcome, a job is being cancelled, or the claim wants
        more than the function reads.
        """
        want = sum(item[3] for item in items)
        due = self._next_recovery is None or now >= self._next_recovery
        if (want and due) or want * 4 + 4 > _FINISH_AND_CLAIM_SCAN:
            return None
        planned: list[tuple[Job, dict[str, Any], tuple[str, ...], list[dict[str, Any]]]] = []
        docs: list[dict[str, Any]] = []
        for claim, results, cancelled, take in items:
            changed, writes, dangling = self._prepare(claim, results, now)
            if dangling:
                return None
            job = _changed(claim.job, results=self._view(claim, changed))
            newly = _newly_scheduled(claim, changed)
            values, events, next_at = self._plan(job, now, cancelled=cancelled, newly_scheduled=newly)
            if values["status"] == QueueStatus.CANCELLED:
                return None
            out = _apply(job, values)
            hooks = [
                {
                    "id": f"msg_{uuid.uuid4().hex}",
                    "account_id": out.account_id,
                    "event": event,
                    "url": out.webhook_url,
                    "payload": build_payload(out, event, next_attempt_at=next_at),
                }
                for event in (events if out.webhook_url else ())
            ]
            decision = _decision_params(job, values)
            docs.append(
                {
                    "id": job.id,
                    "worker": claim.worker_id,
                    "attempt": claim.attempt,
                    "known": job.cancel_requested,
                    "status": decision["b_status"],
                    "run_at": _iso(decision["b_run_at"]),
                    "attempts": decision["b_attempts"],
                    "completed": _iso(decision["b_completed"]),
                    "errmsg": decision["b_errmsg"],
                    "wait": decision["b_wait"],
                    "want": take,
                    "results": [_result_doc(w) for w in writes],
                    "hooks": hooks or None,
                    "notify": _notify_payload(None) if values["status"] in _WAKING else None,
                }
            )
            planned.append((out, values, events, hooks))
        lease_until = now + timedelta(seconds=float(self.settings.lease_seconds))
        params = {
            "b_jobs": json.dumps(docs),
            "b_w": items[0][0].worker_id,
            "b_now": now,
            "b_exp": lease_until,
            "b_channel": CHANNEL,
            "b_caps": json.dumps(self.settings.platform_concurrency),
            "b_acap": self.settings.account_concurrency,
            "b_final": _FINAL_KINDS,
        }
        return _FastFinish(items, planned, params, lease_until, now)

    def _end_finish_and_claim(
        self, fast: _FastFinish, rows: Sequence[Any]
    ) -> tuple[list[Outcome | None] | None, list[dict[str, Any]]]:
        """The outcomes from the function's rows, and the request ids the claims must write
        before any upload starts. ``None`` outcomes (``replan``, nothing written): a cancel was
        asked for since a claim, so the finish needs the transaction."""
        if rows[0][0] == "replan":
            return None, []
        items = fast.items
        ended = {r[2]: r[0] for r in rows if r[0] in ("done", "lost")}
        taken = [r[2:] for r in rows if r[0] == "ok" and r[2] is not None]
        claims: list[Claim] = []
        new_rids: list[dict[str, Any]] = []
        if taken:
            by_id, found = _split_claimed(taken)
            worker = items[0][0].worker_id
            claims, new_rids = _claims_from(by_id, found, list(by_id), worker, fast.lease_until, fast.now)
        outcomes: list[Outcome | None] = []
        for (claim, *_, take), (out, _values, events, hooks) in zip(items, fast.planned, strict=True):
            if ended.get(claim.job.id) != "done":
                outcomes.append(None)
                continue
            outcome = Outcome(out, events[-1] if events else None, bool(hooks))
            outcome.next_claims, claims = claims[:take], claims[take:]
            outcomes.append(outcome)
        return outcomes, new_rids

    def _prepare(
        self, claim: Claim, results: dict[str, PublishResult], now: datetime
    ) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]], list[str]]:
        """Results of an ending attempt as (columns changed per platform, result writes, dangling)."""
        changed = dict(claim.recorded)
        dangling = [t.key for t in claim.tasks if t.key not in changed and t.key not in results]
        for key in dangling:
            changed[key] = {"status": "unknown", "error_kind": str(ErrorKind.UNKNOWN)}
        writes: list[dict[str, Any]] = []
        for key, r in results.items():
            params, view = _result_params(claim.job.id, key, r, self._rid(claim, key), now)
            writes.append(params)
            changed[key] = view
        return changed, writes, dangling

    def _write_results(
        self, conn: Connection, job_id: str, writes: list[dict[str, Any]], dangling: list[str], now: datetime
    ) -> None:
        if dangling:
            conn.execute(
                _U_KEYS_UNKNOWN,
                {
                    "b_j": job_id,
                    "b_keys": dangling,
                    "b_now": now,
                    "b_err": "stopped before the outcome was known",
                },
            )
        _H_RESULT.run_many(conn, writes)

    def _finish_one(
        self,
        conn: Connection,
        item: tuple[Claim, dict[str, PublishResult], bool, int],
        now: datetime,
        *,
        lock: bool = False,
    ) -> list[_Decided]:
        """One job: the decision's ``UPDATE`` is the fence (planned with the cancel flag as claimed,
        planned again in the rare case the row says a cancel was asked for meanwhile)."""
        claim, results, cancelled, _ = item
        changed, writes, dangling = self._prepare(claim, results, now)
        job = _changed(claim.job, results=self._view(claim, changed))
        newly = _newly_scheduled(claim, changed)
        values, event, next_at = self._plan(job, now, cancelled=cancelled, newly_scheduled=newly)
        params = {**self._fence_params(claim, now), **_decision_params(job, values)}
        if self.is_pg and len(writes) == 1 and not dangling:
            hot = _H_DECIDE_WITH_RESULT_LOCKING_PG if lock else _H_DECIDE_WITH_RESULT_PG
            rows = hot.rows(conn, {**writes[0], **params})
            writes = []
        else:
            rows = (_H_DECIDE_LOCKING_PG if lock else _H_DECIDE_FENCED).rows(conn, params)
        if not rows:
            return []
        if rows[0][0] and not job.cancel_requested:
            job = _changed(job, cancel_requested=True)
            if not cancelled:
                values, event, next_at = self._plan(job, now, newly_scheduled=newly)
                conn.execute(_U_DECIDE, {"b_j": job.id, **_decision_params(job, values)})
        self._write_results(conn, job.id, writes, dangling, now)
        return [(0, job, values, event, next_at)]

    def _finish_fenced(
        self,
        conn: Connection,
        items: Sequence[tuple[Claim, dict[str, PublishResult], bool, int]],
        now: datetime,
        *,
        lock: bool = False,
    ) -> list[_Decided]:
        """Several jobs: one locking read of their rows is the fence, then one batch of writes."""
        ids = sorted({c.job.id for c, _, _, _ in items})
        hot = _H_FENCE_LOCKING_PG if lock else _H_FENCE[self.is_pg]
        fence = {r[0]: _Fence._make(r) for r in hot.rows(conn, {"b_ids": ids})}
        decided: list[_Decided] = []
        decisions: list[dict[str, Any]] = []
        writes: list[dict[str, Any]] = []
        for idx, (claim, results, cancelled, _) in enumerate(items):
            row = fence.get(claim.job.id)
            if (
                row is None
                or row.locked_by != claim.worker_id
                or row.attempts != claim.attempt
                or row.status != QueueStatus.PROCESSING
            ):
                continue
            changed, job_writes, dangling = self._prepare(claim, results, now)
            writes.extend(job_writes)
            self._write_results(conn, claim.job.id, [], dangling, now)
            job = _changed(
                claim.job,
                results=self._view(claim, changed),
                cancel_requested=bool(row.cancel_requested),
            )
            newly = _newly_scheduled(claim, changed)
            values, event, next_at = self._plan(job, now, cancelled=cancelled, newly_scheduled=newly)
            decisions.append({"b_j": job.id, **_decision_params(job, values)})
            decided.append((idx, job, values, event, next_at))
        if self.is_pg and len(decisions) > 1:
            _H_FINISH_BATCH_PG.run(conn, _finish_batch_params(decisions, writes))
        else:
            _H_DECIDE.run_many(conn, decisions)
            _H_RESULT.run_many(conn, writes)
        return decided

    def release(self, claim: Claim) -> bool:
        """Hand a job back (graceful stop): waiting again at once, this attempt not counted."""
        now = self.now()
        with self._tx() as conn:
            if self._fence(conn, claim, now) is None:
                return False
            in_flight = [t.key for t in claim.tasks if t.key not in claim.recorded]
            if in_flight:
                conn.execute(
                    _U_KEYS_UNKNOWN,
                    {
                        "b_j": claim.job.id,
                        "b_keys": in_flight,
                        "b_now": now,
                        "b_err": "handed back by a stopping worker",
                    },
                )
            conn.execute(
                update(jobs)
                .where(jobs.c.id == claim.job.id)
                .values(
                    status=str(QueueStatus.RETRYING),
                    attempts=jobs.c.attempts - 1,
                    locked_by=None,
                    lease_expires_at=None,
                    run_at=now,
                    wait_reason="handed back by a stopping worker",
                    updated_at=now,
                )
            )
            self._notify(conn)
        return True

    def _commit_plan(
        self,
        conn: Connection,
        job: Job,
        values: dict[str, Any],
        events: tuple[str, ...],
        next_at: datetime | None,
        now: datetime,
    ) -> Outcome:
        conn.execute(_U_DECIDE, {"b_j": job.id, **_decision_params(job, values)})
        return self._after_decision(conn, job, values, events, next_at, now)

    def _after_decision(
        self,
        conn: Connection,
        job: Job,
        values: dict[str, Any],
        events: tuple[str, ...],
        next_at: datetime | None,
        now: datetime,
    ) -> Outcome:
        if values.get("status") in (QueueStatus.RETRYING, QueueStatus.SCHEDULED):
            self._notify(conn)
        elif values.get("status") == QueueStatus.CANCELLED:
            _cancel_unstarted(conn, job.id, now)
        out = _apply(job, values)
        webhook = False
        for event in events if out.webhook_url else ():
            self._enqueue_webhook(conn, out, event, next_at, now)
            webhook = True
        return Outcome(out, events[-1] if events else None, webhook)

    def _plan(
        self,
        job: Job,
        now: datetime,
        *,
        cancelled: bool = False,
        lost_lease: bool = False,
        newly_scheduled: bool = False,
    ) -> tuple[dict[str, Any], tuple[str, ...], datetime | None]:
        """The policy's decision for ``job`` (``queue/policy.py``) as the columns to write, its
        webhook events (in order) and when it runs next."""
        decision = decide(
            job_id=job.id,
            attempt=job.attempts,
            max_retries=job.max_retries,
            retry_delay=job.retry_delay,
            results=job.results,
            now=now,
            cancelled=cancelled or job.cancel_requested,
            lost_lease=lost_lease,
            newly_scheduled=newly_scheduled,
            rand=self.rand,
        )
        values: dict[str, Any] = {
            "locked_by": None,
            "lease_expires_at": None,
            "updated_at": now,
            "status": str(decision.status),
            "error_message": decision.error_message,
            "wait_reason": decision.wait_reason,
        }
        if decision.finished:
            values["completed_at"] = now
        if decision.run_at is not None:
            values["run_at"] = decision.run_at
        if decision.attempts is not None:
            values["attempts"] = decision.attempts
        return values, decision.events, decision.run_at


#: The final error kinds as an array literal, written once: psycopg's dumping of a list costs
#: about 20 us of Python on every call, a string next to nothing (``ErrorKind`` values are plain
#: lowercase words: nothing to quote).
_FINAL_KINDS = "{" + ",".join(FINAL_KIND_NAMES) + "}"


@dataclass(slots=True)
class _FastFinish:
    """A finish planned for ``mp_finish_many_and_claim``: its items, each job as decided (job,
    columns, events, webhook messages), the function's parameters, the claims' lease end."""

    items: Sequence[tuple[Claim, dict[str, PublishResult], bool, int]]
    planned: list[tuple[Job, dict[str, Any], tuple[str, ...], list[dict[str, Any]]]]
    params: dict[str, Any]
    lease_until: datetime
    now: datetime
