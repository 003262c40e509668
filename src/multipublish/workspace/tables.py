"""Tables of the workspace (migration ``0010``), on the project's one ``metadata``."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table, UniqueConstraint

from multipublish.db.tables import BigIntPK, UTCDateTime, jobs, metadata

#: One weekly posting time of an account, in the account's time zone ("Mon 09:30 Europe/Paris").
queue_slots = Table(
    "queue_slots",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("account_id", String(200), nullable=False),
    Column("weekday", Integer, nullable=False),  #: 0 = Monday ... 6 = Sunday
    Column("time", String(5), nullable=False),  #: "HH:MM", local to ``timezone``
    Column("timezone", String(64), nullable=False),  #: IANA name, e.g. "Europe/Paris"
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("account_id", "weekday", "time", name="uq_queue_slots_account_weekday_time"),
    Index("ix_queue_slots_account_id", "account_id"),
)

#: A composer's unfinished post: the form as the user left it.
drafts = Table(
    "drafts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("title", String(500), nullable=False, default=""),
    Column("data", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_drafts_updated_at", "updated_at"),
)

#: The calendar reads jobs by their time range.
Index("ix_jobs_scheduled_time", jobs.c.scheduled_time)
