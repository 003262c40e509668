"""Test-only publishers (the queue's ``Publisher`` port), importable by worker subprocesses.

``multipublish worker --publisher tests.queue.publishers:noop`` loads ``noop``. These stand in for
the platforms only where a test is about the queue itself (ordering, leases, draining); the
end-to-end tests use the real manager against the sandbox.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any

from multipublish.errors import ErrorKind
from multipublish.platforms.base import PublishConfig, PublishResult, PublishStatus


@dataclass
class RecordingPublisher:
    """Succeeds (or answers from ``script``) and remembers every call in order.

    ``script[platform]`` is a list of outcomes consumed one per publish: ``"ok"`` or an
    ``ErrorKind`` value, optionally ``(kind, retry_after)``. ``log_path`` (or the environment
    variable ``MP_TEST_PUBLISH_LOG``) appends one line per publish, for checks across processes.
    """

    script: dict[str, list[Any]] = field(default_factory=dict)
    delay: float = 0.0
    log_path: str | None = None
    calls: list[tuple[str, str, str | None]] = field(default_factory=list)
    reconciles: list[tuple[str, str]] = field(default_factory=list)
    published: dict[str, PublishResult] = field(default_factory=dict)

    async def publish_to_platform(
        self,
        account_id: str,
        platform: str,
        video_path: str,
        config: PublishConfig,
        *,
        request_id: str | None = None,
        progress: Any = None,
        validate: bool = True,
        record_usage: bool = True,
        checkpoint: Any = None,
        resume: str | None = None,
    ) -> PublishResult:
        self.calls.append((account_id, platform, request_id))
        if self.delay:
            await asyncio.sleep(self.delay)
        outcome = self.script.get(platform, []).pop(0) if self.script.get(platform) else "ok"
        path = self.log_path or os.environ.get("MP_TEST_PUBLISH_LOG")
        if path:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(f"{request_id}\t{outcome}\n")
        if outcome == "ok":
            result = PublishResult(
                platform=platform,
                success=True,
                status=PublishStatus.PUBLISHED,
                video_id=f"v-{request_id}",
                url=f"https://example.invalid/{request_id}",
                reference=request_id,
            )
            self.published[str(request_id)] = result
            return result
        kind, retry_after = outcome if isinstance(outcome, tuple) else (outcome, None)
        return PublishResult(
            platform=platform,
            success=False,
            status=PublishStatus.UNKNOWN if kind == "unknown" else PublishStatus.FAILED,
            error=f"scripted {kind}",
            error_kind=ErrorKind(kind),
            retry_after=retry_after,
            reference=request_id,
        )

    async def reconcile(
        self, account_id: str, platform: str, reference: str, *, checkpoint: Any = None
    ) -> PublishResult:
        self.reconciles.append((platform, reference))
        if reference in self.published:
            return self.published[reference]
        # Across processes the shared log is the "platform's" memory: a job whose worker lost its
        # lease after publishing is found here, as a real platform's status call would find it.
        path = self.log_path or os.environ.get("MP_TEST_PUBLISH_LOG")
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                if any(line.rstrip("\n") == f"{reference}\tok" for line in fh):
                    return PublishResult(
                        platform=platform,
                        success=True,
                        status=PublishStatus.PUBLISHED,
                        video_id=f"v-{reference}",
                        url=f"https://example.invalid/{reference}",
                        reference=reference,
                    )
        return PublishResult(
            platform=platform,
            success=False,
            status=PublishStatus.FAILED,
            error="not found",
            error_kind=ErrorKind.TRANSIENT,
        )


#: What ``--publisher tests.queue.publishers:noop`` loads.
noop = RecordingPublisher()
