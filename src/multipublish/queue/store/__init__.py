"""JobStore: every database operation of the queue (synchronous SQLAlchemy Core).

Claim, lease and completion rules (lessons from other queues' bug trackers):

* The claim is one short transaction: SQLite ``BEGIN IMMEDIATE``; PostgreSQL locks the
  ``queue_state`` row (so the concurrency caps hold across processes) and picks jobs with
  ``FOR UPDATE SKIP LOCKED``. The attempt is counted at claim time, so a job that kills its worker
  cannot loop forever.
* Every claim first recovers expired leases (no task the user must remember): such jobs go back to
  ``retrying`` (or ``failed`` when their attempts are spent) and their in-flight platforms become
  ``unknown``, to be reconciled before any repost.
* A worker renews all its leases with one statement; the answer also carries the cancel flags.
* Every write of a result is fenced by (``locked_by``, ``attempts``, ``status='processing'``) under a
  row lock on the job, so a worker that lost its lease cannot overwrite the new owner's result.

The parts, one concern each: ``claims`` (what the store hands the workers), ``rows`` (rows to
models and back), ``statements`` (the SQL, built once), ``writes`` (a result or a decision as bind
parameters), and ``JobStore`` itself, assembled in ``core`` from ``base`` (engine, clock,
transactions), ``control`` (enqueue and the API's operations), ``outbox`` (webhooks) and
``stats`` (counters and timers).
"""

from multipublish.queue.store.claims import CHANNEL, Claim, ClaimBatch, Outcome, PlatformTask, request_id_for
from multipublish.queue.store.core import JobStore
from multipublish.queue.store.rows import job_from_doc

__all__ = [
    "CHANNEL",
    "Claim",
    "ClaimBatch",
    "JobStore",
    "Outcome",
    "PlatformTask",
    "job_from_doc",
    "request_id_for",
]
