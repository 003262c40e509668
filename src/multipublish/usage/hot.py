"""The quota gate's per-publish writes as one statement each, for the common case.

Every upload reserves its quota before it starts and records its attempt when it ends. Done the
general way (``UsageStore._lock``: create the counter row if missing, lock it, roll it over, save
it) a reservation was six round trips holding the account's counter row locked, and recording a
success that carried upload-post's ``usage`` block and rate-limit headers was eleven; every upload
of one account queued behind the others on that row, and the statements' SQLAlchemy Core set-up
was a quarter of an API node's CPU while its workers published (``bench/api.py`` on PostgreSQL).

Here the common case is one statement, compiled once (:class:`multipublish.db.rawsql.Hot`):

* :data:`RESERVE` takes the charge only where the general path would decide "allowed" without
  changing anything else (the row exists, needs no roll-over, has no refusal on it, its limit is
  the configured one or the service's, the charge fits, the rate window is open). Otherwise it
  changes nothing and the caller runs the general path, which decides and explains.
* :data:`SERVICE_FIGURES` writes what the service reported (its count, its limit and its reset)
  as an upsert: the values the general path would compute, none of which depends on the row but
  its refusal mark, which the statement rolls over itself.
"""

from __future__ import annotations

from sqlalchemy import bindparam, insert, text

from multipublish.db.rawsql import Hot
from multipublish.db.tables import UTCDateTime
from multipublish.usage.tables import usage_records

_TIMES = ("now", "reset_at")

#: One charge taken in place (rows changed: 1 taken, 0 run the general path). The ``SET``
#: expressions read the row as it was, so ``remaining`` is the old ``limit - used`` less the charge.
RESERVE = Hot(
    text(
        'UPDATE quota_state SET used = used + :amount, remaining = "limit" - used - :amount,'
        " updated_at = :now"
        " WHERE account_id = :owner AND platform = :bucket AND reset_at > :now"
        " AND exhausted_until IS NULL"
        " AND (limit_source <> 'config' OR \"limit\" = :configured)"
        ' AND used + :amount <= "limit"'
        " AND NOT EXISTS (SELECT 1 FROM quota_state AS r WHERE r.account_id = :account"
        ' AND r.platform = :rate AND r.reset_at > :now AND r."limit" - r.used <= 0)'
    ).bindparams(bindparam("now", type_=UTCDateTime))
)

#: A counter set from the service's figures; a refusal mark whose time has passed is cleared (as
#: the general path's roll-over does), one still running is kept.
SERVICE_FIGURES = Hot(
    text(
        'INSERT INTO quota_state (account_id, platform, "limit", used, remaining, reset_at,'
        " exhausted_until, limit_source, updated_at)"
        " VALUES (:owner, :bucket, :limit, :used, :remaining, :reset_at, NULL, 'service', :now)"
        ' ON CONFLICT (account_id, platform) DO UPDATE SET "limit" = excluded."limit",'
        " used = excluded.used, remaining = excluded.remaining, reset_at = excluded.reset_at,"
        " exhausted_until = CASE WHEN quota_state.exhausted_until <= excluded.updated_at"
        " THEN NULL ELSE quota_state.exhausted_until END,"
        " limit_source = 'service', updated_at = excluded.updated_at"
    ).bindparams(*(bindparam(n, type_=UTCDateTime) for n in _TIMES))
)

#: The columns of an attempt's record, in ``UsageStore.record_attempt``'s ``values``.
RECORD_COLUMNS = (
    "occurred_at", "account_id", "platform", "post_type", "job_id", "attempt", "request_id",
    "outcome", "success", "error_kind", "error", "bytes_sent", "duration_s", "quota_bucket",
    "plan_uploads", "quota_units", "cost", "currency", "fixes",
)

#: One attempt's record; its id comes back (both databases have ``RETURNING``).
RECORD = Hot(
    insert(usage_records)
    .values({c: bindparam(c, type_=usage_records.c[c].type) for c in RECORD_COLUMNS})
    .returning(usage_records.c.id)
)
