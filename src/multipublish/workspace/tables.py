"""Tables of the workspace (migration ``0010``), on the project's one ``metadata``."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    false,
    text,
)

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
    #: Bumped by every save; a save naming an older version is refused (a second tab, migration 0012).
    Column("version", Integer, nullable=False, server_default="1"),
    Index("ix_drafts_updated_at", "updated_at"),
)

#: A queue slot taken by "add to queue" (migration ``0012``): the primary key makes the claim
#: atomic across processes, so two requests at once never get the same slot.
slot_claims = Table(
    "slot_claims",
    metadata,
    Column("account_id", String(200), primary_key=True),
    Column("slot_time", UTCDateTime, primary_key=True),
    Column("claim", String(40), nullable=False),  #: the claiming request's random token
    Column("claimed_at", UTCDateTime, nullable=False),
    #: False while the claiming request is still adding its jobs
    Column("done", Boolean, nullable=False, server_default=false()),
)

#: The calendar reads jobs by their time range; jobs without a time are left out (migration 0014).
Index(
    "ix_jobs_scheduled_time",
    jobs.c.scheduled_time,
    postgresql_where=text("scheduled_time IS NOT NULL"),
    sqlite_where=text("scheduled_time IS NOT NULL"),
)
