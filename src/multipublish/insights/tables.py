"""Insight tables, declared on the project's one ``metadata`` (migration ``0006``).

``insight_posts`` holds one row per published post we follow (account, platform, the platform's id):
it is also the collector's work table, with a lease (``locked_by``, ``lease_expires_at``), a due time
(``next_sample_at``) and retry bookkeeping, so collection survives a crashed worker without touching
the publish queue's tables. ``insight_samples`` is the time series (cumulative counters at an age).
``insight_experiments`` records title experiments and their verdicts.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from multipublish.db.tables import BigIntPK, UTCDateTime, metadata

insight_posts = Table(
    "insight_posts",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column("account_id", String(200), nullable=False),
    Column("platform", String(32), nullable=False),
    Column("post_type", String(32), nullable=True),
    #: The platform's id of the post (YouTube video id, upload-post post id).
    Column("video_id", String(500), nullable=False),
    #: What the per-post analytics call is keyed by (upload-post: the upload's request id).
    Column("reference", String(500), nullable=True),
    Column("url", Text, nullable=True),
    Column("job_id", String(128), nullable=True),
    Column("title", String(500), nullable=False, default=""),
    Column("published_at", UTCDateTime, nullable=False),
    #: 0..167, Monday 00h UTC = 0: what the best-time model learns from.
    Column("hour_of_week", Integer, nullable=False),
    #: active | done (schedule finished) | deleted | unavailable (no analytics / scope revoked) | failed
    Column("state", String(16), nullable=False, default="active"),
    Column("state_reason", Text, nullable=True),
    Column("next_sample_at", UTCDateTime, nullable=True),
    Column("samples", Integer, nullable=False, default=0),
    #: Failed attempts since the last good sample (reset on success).
    Column("attempts", Integer, nullable=False, default=0),
    Column("locked_by", String(200), nullable=True),
    Column("lease_expires_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_sampled_at", UTCDateTime, nullable=True),
    #: Latest counters (denormalised from the last sample so insight queries need no join).
    Column("views", BigInteger, nullable=True),
    Column("likes", BigInteger, nullable=True),
    Column("comments", BigInteger, nullable=True),
    Column("shares", BigInteger, nullable=True),
    Column("watch_time_s", Float, nullable=True),
    #: Views at 1 h, 24 h, 7 d of age, interpolated between the samples around that age.
    Column("views_1h", Float, nullable=True),
    Column("views_24h", Float, nullable=True),
    Column("views_7d", Float, nullable=True),
    #: YouTube quota units spent collecting this post's metrics (its share of batched calls).
    Column("quota_units", Float, nullable=False, default=0.0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("platform", "account_id", "video_id", name="uq_insight_posts_platform"),
    Index("ix_insight_posts_due", "state", "next_sample_at"),
    Index("ix_insight_posts_account", "account_id", "platform", "published_at"),
    #: Best and worst post per account and platform (migration 0011).
    Index("ix_insight_posts_rank", "account_id", "platform", "views_24h"),
)

insight_samples = Table(
    "insight_samples",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column(
        "post_id",
        BigInteger().with_variant(Integer(), "sqlite"),
        ForeignKey("insight_posts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("taken_at", UTCDateTime, nullable=False),
    #: Seconds since the post was published.
    Column("age_s", Float, nullable=False),
    Column("views", BigInteger, nullable=True),
    Column("likes", BigInteger, nullable=True),
    Column("comments", BigInteger, nullable=True),
    Column("shares", BigInteger, nullable=True),
    Column("watch_time_s", Float, nullable=True),
    Index("ix_insight_samples_post", "post_id", "age_s"),
)

insight_experiments = Table(
    "insight_experiments",
    metadata,
    Column("id", BigIntPK, primary_key=True, autoincrement=True),
    Column(
        "post_id",
        BigInteger().with_variant(Integer(), "sqlite"),
        ForeignKey("insight_posts.id", ondelete="CASCADE"),
        nullable=False,
    ),
    #: title (thumbnails are left for later)
    Column("kind", String(16), nullable=False, default="title"),
    Column("variant_a", Text, nullable=False),
    Column("variant_b", Text, nullable=False),
    #: Seconds each variant runs.
    Column("window_s", Float, nullable=False),
    #: running_a | running_b | finished | failed
    Column("state", String(16), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("switch_at", UTCDateTime, nullable=False),
    Column("end_at", UTCDateTime, nullable=False),
    #: a | b | none (no significant difference: A is kept)
    Column("winner", String(8), nullable=True),
    Column("p_value", Float, nullable=True),
    Column("quota_units", Integer, nullable=False, default=0),
    Column("result", JSON, nullable=True),
    Column("error", Text, nullable=True),
    Column("locked_by", String(200), nullable=True),
    Column("lease_expires_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_insight_experiments_due", "state", "switch_at"),
)
