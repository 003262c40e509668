"""The publishing queue: persistent jobs with priorities, schedules, leases, retries and webhooks.

Storage choice for finished jobs: they stay in the hot ``jobs`` table for
``settings.job_retention_seconds`` (7 days by default), then the workers' housekeeping moves them to
``jobs_archive`` as one JSON document each. ``get_job`` still finds archived jobs; ``list_jobs``
covers the hot table; ``get_queue_stats`` counts both.
"""

from __future__ import annotations

from multipublish.queue.models import Job, QueuedPublishConfig, QueueStatus
from multipublish.queue.worker import PublishingQueue

__all__ = ["Job", "PublishingQueue", "QueueStatus", "QueuedPublishConfig"]
