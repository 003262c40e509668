"""The webhook outbox: a message is written in the transaction that decides the job, so the decision and
its message commit together or not at all; delivery claims messages under lease, like jobs.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update

from multipublish.queue.backoff import webhook_delay
from multipublish.queue.models import Job
from multipublish.queue.schema import webhook_attempts, webhook_messages
from multipublish.queue.store.base import _Base
from multipublish.webhooks import build_payload


class _Outbox(_Base):
    """The webhook outbox: messages written with the job's decision, claimed and delivered apart."""

    # -- webhooks outbox ------------------------------------------------------------------------
    def _enqueue_webhook(
        self, conn: Connection, job: Job, event: str, next_at: datetime | None, now: datetime
    ) -> None:
        assert job.webhook_url
        conn.execute(
            insert(webhook_messages).values(
                id=f"msg_{uuid.uuid4().hex}",
                job_id=job.id,
                account_id=job.account_id,
                event=event,
                url=job.webhook_url,
                payload=build_payload(job, event, next_attempt_at=next_at),
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
        )

    def claim_webhooks(self, worker_id: str, limit: int = 10, lease_seconds: float = 60.0) -> list[Any]:
        now = self.now()
        stmt = (
            select(webhook_messages.c.id)
            .where(
                webhook_messages.c.status == "pending",
                webhook_messages.c.next_attempt_at <= now,
                or_(
                    webhook_messages.c.lease_expires_at.is_(None),
                    webhook_messages.c.lease_expires_at < now,
                ),
            )
            .order_by(webhook_messages.c.next_attempt_at)
            .limit(limit)
        )
        # SQLite: the probe is a read, so a poll with nothing due (most of them) never takes the
        # database's one write lock from a worker committing a finished job.
        if not self.is_pg and not self._any(stmt):
            return []
        if self.is_pg:
            stmt = stmt.with_for_update(skip_locked=True)
        with self._tx() as conn:
            ids = [r.id for r in conn.execute(stmt)]
            if not ids:
                return []
            return list(
                conn.execute(
                    update(webhook_messages)
                    .where(webhook_messages.c.id.in_(ids))
                    .values(
                        locked_by=worker_id,
                        lease_expires_at=now + timedelta(seconds=lease_seconds),
                        attempts=webhook_messages.c.attempts + 1,
                        updated_at=now,
                    )
                    .returning(*webhook_messages.c)
                ).all()
            )

    def record_webhook_attempt(
        self,
        message: Any,
        *,
        success: bool,
        status_code: int | None,
        error: str | None,
        duration_ms: float,
    ) -> None:
        now = self.now()
        attempt = int(message.attempts)
        with self._tx() as conn:
            conn.execute(
                insert(webhook_attempts).values(
                    message_id=message.id,
                    attempt=attempt,
                    url=message.url,
                    status_code=status_code,
                    success=success,
                    error=error,
                    duration_ms=duration_ms,
                    created_at=now,
                )
            )
            values: dict[str, Any] = {"locked_by": None, "lease_expires_at": None, "updated_at": now}
            if success:
                values.update(status="delivered", last_error=None)
            elif attempt >= self.settings.webhook_max_attempts:
                values.update(status="failed", last_error=error)
            else:
                values.update(
                    next_attempt_at=now + timedelta(seconds=webhook_delay(attempt, rand=self.rand)),
                    last_error=error,
                )
            conn.execute(
                update(webhook_messages)
                .where(webhook_messages.c.id == message.id, webhook_messages.c.locked_by == message.locked_by)
                .values(**values)
            )

    def webhook_log(self, job_id: str) -> list[dict[str, Any]]:
        """Messages of a job with their attempts (for tests, the CLI and the API)."""
        with self._read() as conn:
            msgs = conn.execute(
                select(webhook_messages)
                .where(webhook_messages.c.job_id == job_id)
                .order_by(webhook_messages.c.created_at)
            ).all()
            out = []
            for m in msgs:
                atts = conn.execute(
                    select(webhook_attempts)
                    .where(webhook_attempts.c.message_id == m.id)
                    .order_by(webhook_attempts.c.attempt)
                ).all()
                out.append(
                    {
                        "id": m.id,
                        "event": m.event,
                        "url": m.url,
                        "status": m.status,
                        "attempts": [
                            {
                                "attempt": a.attempt,
                                "status_code": a.status_code,
                                "success": a.success,
                                "error": a.error,
                            }
                            for a in atts
                        ],
                        "payload": m.payload,
                    }
                )
        return out

    def next_webhook_at(self) -> datetime | None:
        with self._read() as conn:
            value: datetime | None = conn.execute(
                select(func.min(webhook_messages.c.next_attempt_at)).where(
                    webhook_messages.c.status == "pending"
                )
            ).scalar()
        return value
