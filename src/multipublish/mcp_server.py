"""The MCP server: the service's tools for AI assistants, with the official ``mcp`` SDK.

``multipublish mcp`` serves them over stdio (local use: any readable file may be named, as with the
CLI); ``multipublish serve`` also serves them over streamable HTTP at ``/mcp``, behind the API's
bearer token and the media roots, like the REST API. Every tool goes through the same service parts
and checks as the REST routes (``multipublish.scheduling``). Input schemas name each field and its
limits; refused input comes back as a tool error naming the field and the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import Field, ValidationError

from multipublish import __version__
from multipublish.errors import InputError, MultipublishError

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from multipublish.bootstrap import Service

INSTRUCTIONS = """\
Publish one video to TikTok, Instagram, Facebook, LinkedIn and YouTube from stored accounts.
Validate first (validate; prepare makes a refused file fit), then publish now (publish_now) or
queue it (schedule); follow queued jobs with list_jobs/get_job, and cancel_job/retry_job.
Platforms: tiktok, instagram, facebook, linkedin, youtube, with a post type after a colon
(instagram:stories, youtube:shorts, facebook:reels). video_path is a path on the server's
machine (under its media roots over HTTP)."""

Platforms = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=40)]],
    Field(
        min_length=1,
        max_length=10,
        description="1-10 platforms, e.g. ['tiktok', 'instagram:stories', 'youtube']",
    ),
]
AccountId = Annotated[str, Field(min_length=1, max_length=200, description="A stored account id")]
VideoPath = Annotated[
    str, Field(min_length=1, max_length=4096, description="Absolute path of the video file")
]
Title = Annotated[str, Field(max_length=500, description="Title or caption (at most 500 characters)")]
Description = Annotated[str, Field(max_length=10000, description="Description (at most 10,000 characters)")]
Tags = Annotated[
    list[Annotated[str, Field(max_length=100)]],
    Field(max_length=100, description="Up to 100 tags of at most 100 characters, without '#'"),
]
Options = Annotated[
    dict[str, dict[str, Any]],
    Field(description="Per-platform options, e.g. {'tiktok': {'privacy': 'public'}}"),
]
JobId = Annotated[str, Field(min_length=1, max_length=200, description="A job id from schedule or list_jobs")]
T = TypeVar("T")

Status = Literal["pending", "scheduled", "processing", "completed", "failed", "cancelled", "retrying"]


def _tool_error(exc: MultipublishError) -> Exception:
    """Our error as the SDK's tool error (``isError`` result), field and reason first."""
    from mcp.server.mcpserver.exceptions import ToolError

    if isinstance(exc, InputError):
        return ToolError(f"{exc.field}: {exc.reason}")
    return ToolError(exc.message)


@contextmanager
def _tool_errors() -> Iterator[None]:
    """The one translation of refusals into tool errors: the field and the reason, no traceback."""
    try:
        yield
    except ValidationError as exc:
        raise _fields(exc) from None
    except MultipublishError as exc:
        raise _tool_error(exc) from None


def _fields(exc: ValidationError) -> Exception:
    from mcp.server.mcpserver.exceptions import ToolError

    from multipublish.scheduling import _worded

    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "arguments"
    return ToolError(f"{field}: {_worded(err)}")


def _publish_fields(
    account_id: str,
    platforms: list[str],
    video_path: str,
    title: str,
    description: str,
    tags: list[str] | None,
    platform_specific: dict[str, dict[str, Any]] | None,
) -> dict[str, Any]:
    """The request body the REST API would get for these tool arguments (same model, same checks)."""
    return {
        "account_id": account_id, "platforms": platforms, "video_path": video_path, "title": title,
        "description": description, "tags": tags or [], "platform_specific": platform_specific or {},
    }


def build_mcp(service: Service, *, roots: list[Path] | None) -> MCPServer:
    """The MCP server over ``service``; ``roots=None`` skips the media-root check (stdio, local)."""
    from mcp.server import MCPServer

    from multipublish.api.routes.stats import success_rates
    from multipublish.api.schemas import ScheduledPublishCreate, ValidateCreate
    from multipublish.platforms.base import PublishConfig
    from multipublish.scheduling import check_video, publish_config, schedule_batch

    server: MCPServer = MCPServer(
        name="multipublish", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )
    manager, queue = service.manager, service.queue

    async def call(fn: Callable[[], T]) -> T:
        """Run blocking service code off the event loop; our errors become tool errors."""
        with _tool_errors():
            return await asyncio.to_thread(fn)

    @server.tool(title="Validate a video")
    async def validate(
        video_path: VideoPath,
        platforms: Platforms,
        title: Title = "",
        description: Description = "",
        tags: Tags | None = None,
    ) -> dict[str, Any]:
        """Check a video (and its text) against each platform's rules without uploading.

        Answers per platform {valid, errors, warnings, media}."""

        def run() -> dict[str, Any]:
            body = ValidateCreate.model_validate(
                {"video_path": video_path, "platforms": platforms, "title": title,
                 "description": description, "tags": tags or []}
            )
            from multipublish.api.paths import resolve_video

            video = resolve_video(body.video_path, roots)
            config = PublishConfig(
                title=body.title or "", description=body.description or "", tags=list(body.tags or [])
            )
            report = manager.validate_video_for_platforms(video, list(body.platforms), config)
            return {"valid": all(r.get("valid") for r in report.values()), "platforms": report}

        return await call(run)

    @server.tool(title="Prepare a video")
    async def prepare(
        video_path: VideoPath,
        platforms: Platforms,
        trim: Annotated[bool, Field(description="Cut a video longer than a platform allows")] = False,
        fit: Annotated[
            Literal["pad", "crop", "letterbox"],
            Field(description="How a frame of the wrong shape is made to fit"),
        ] = "pad",
    ) -> dict[str, Any]:
        """Make a file each platform will take (re-encoding only what its rules refuse).

        Answers per platform {path, actions, valid} and error when it cannot be fixed."""

        def run() -> dict[str, Any]:
            from multipublish.api.paths import resolve_media_path

            body = ValidateCreate.model_validate({"video_path": video_path, "platforms": platforms})
            video = resolve_media_path(body.video_path, roots)
            report = manager.prepare_video_for_platforms(video, list(body.platforms), trim=trim, fit=fit)
            return {"valid": all(r.get("valid") for r in report.values()), "platforms": report}

        return await call(run)

    @server.tool(title="Publish now")
    async def publish_now(
        account_id: AccountId,
        platforms: Platforms,
        video_path: VideoPath,
        title: Title = "",
        description: Description = "",
        tags: Tags | None = None,
        platform_specific: Options | None = None,
    ) -> dict[str, Any]:
        """Publish a video now to every platform given and wait for each platform's result."""
        from multipublish.api.schemas import ImmediatePublishCreate

        def prepare() -> Any:
            body = ImmediatePublishCreate.model_validate(
                _publish_fields(
                    account_id, platforms, video_path, title, description, tags, platform_specific
                )
            )
            video, config = publish_config(body, roots)
            check_video(manager, video, list(body.platforms), config)
            return body, video, config

        body, video, config = await call(prepare)

        with _tool_errors():
            results = await manager.publish_multi_platform(
                body.account_id, list(body.platforms), str(video), config, validate=False
            )
        return {
            "account_id": body.account_id,
            "success": bool(results) and all(r.success for r in results.values()),
            "results": {name: r.to_dict() for name, r in results.items()},
        }

    @server.tool(title="Schedule a publish")
    async def schedule(
        account_id: AccountId,
        platforms: Platforms,
        video_path: VideoPath,
        title: Title = "",
        description: Description = "",
        tags: Tags | None = None,
        platform_specific: Options | None = None,
        scheduled_time: Annotated[
            datetime | None,
            Field(description="ISO-8601 time, e.g. 2026-11-07T10:00:00Z (none: as soon as possible)"),
        ] = None,
        priority: Annotated[int, Field(ge=1, le=10, description="1-10, higher is more urgent")] = 5,
        max_retries: Annotated[int, Field(ge=0, le=20, description="0-20 retries")] = 3,
        webhook_url: Annotated[
            str | None, Field(max_length=2000, description="http(s) URL told about the outcome")
        ] = None,
    ) -> dict[str, Any]:
        """Queue a publish for scheduled_time (or now), checked first: a refused one adds nothing."""

        def run() -> dict[str, Any]:
            fields = _publish_fields(
                account_id, platforms, video_path, title, description, tags, platform_specific
            )
            body = ScheduledPublishCreate.model_validate(
                {**fields, "scheduled_time": scheduled_time, "priority": priority,
                 "max_retries": max_retries, "webhook_url": webhook_url}
            )
            (job,) = schedule_batch([body], roots=roots, manager=manager, queue=queue, field_prefix=None)
            return job.to_dict()

        return await call(run)

    @server.tool(title="List jobs")
    async def list_jobs(
        status: Status | None = None,
        account_id: Annotated[str | None, Field(max_length=200)] = None,
        platform: Annotated[str | None, Field(max_length=40)] = None,
        limit: Annotated[int, Field(ge=1, le=200, description="1-200 jobs")] = 50,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> dict[str, Any]:
        """Queued jobs, newest first, with their per-platform results."""

        def run() -> dict[str, Any]:
            jobs = queue.list_jobs(
                status=status, account_id=account_id, platform=platform, limit=limit, offset=offset
            )
            return {"jobs": [j.to_dict() for j in jobs], "count": len(jobs)}

        return await call(run)

    @server.tool(title="Get a job")
    async def get_job(job_id: JobId) -> dict[str, Any]:
        """One job with its per-platform results (status, url or error per platform)."""
        return await call(lambda: queue.get_job(job_id).to_dict())

    @server.tool(title="Cancel a job")
    async def cancel_job(job_id: JobId) -> dict[str, Any]:
        """Cancel a waiting job; a running one stops at its worker's next lease renewal."""
        return await call(lambda: queue.cancel_job(job_id).to_dict())

    @server.tool(title="Retry a job")
    async def retry_job(job_id: JobId) -> dict[str, Any]:
        """Put a failed job back in the queue (platforms already published are not posted again)."""
        return await call(lambda: queue.retry_job(job_id).to_dict())

    @server.tool(title="Queue statistics")
    async def queue_stats() -> dict[str, Any]:
        """Jobs per status and, per platform, the share of finished publishes that succeeded."""

        def run() -> dict[str, Any]:
            stats = queue.get_queue_stats()
            return {
                "jobs": {k: v for k, v in stats.items() if isinstance(v, int)},
                "success_rate": success_rates(stats),
            }

        return await call(run)

    @server.tool(title="List accounts")
    async def list_accounts(
        account_id: Annotated[str | None, Field(max_length=200, description="Only this account")] = None,
    ) -> dict[str, Any]:
        """Stored accounts and their platforms; which credential fields are set, never their values."""

        def run() -> dict[str, Any]:
            out = []
            for entry in manager.list_accounts(account_id):
                public = {k: v for k, v in entry.items() if k != "credentials"}
                public["credential_fields"] = sorted(entry.get("credentials") or {})
                out.append(public)
            return {"accounts": out, "count": len(out)}

        return await call(run)

    return server


def run_stdio(service: Service) -> None:
    """Serve the tools on standard input/output until the client closes them."""
    server = build_mcp(service, roots=None)

    async def main() -> None:
        try:
            await server.run_stdio_async()
        finally:
            await service.aclose()

    asyncio.run(main())
