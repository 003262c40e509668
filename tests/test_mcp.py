"""The MCP server driven by the official MCP client SDK, over stdio and over streamable HTTP."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from multipublish.manager import PublishingManager
from multipublish.settings import Settings
from tests.api.helpers import UPLOAD_POST_CREDENTIALS, add_account, wait_for_job
from tests.fixtures.api import ApiServer

TOOLS = {
    "validate", "prepare", "publish_now", "schedule", "list_jobs", "get_job", "cancel_job", "retry_job",
    "queue_stats", "list_accounts",
}
FUTURE = "2099-01-01T10:00:00Z"


async def exercise(client: Client, video: Path) -> None:
    """The checks both transports must pass: tools listed, validate, schedule, refusals."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert TOOLS <= set(tools)
    priority = tools["schedule"].input_schema["properties"]["priority"]
    assert (priority["minimum"], priority["maximum"]) == (1, 10)
    assert tools["schedule"].input_schema["required"] == ["account_id", "platforms", "video_path"]

    report = await client.call_tool("validate", {"video_path": str(video), "platforms": ["tiktok"]})
    assert not report.is_error, report.content
    assert report.structured_content is not None
    assert report.structured_content["platforms"]["tiktok"]["valid"] is True

    prepared = await client.call_tool("prepare", {"video_path": str(video), "platforms": ["tiktok"]})
    assert not prepared.is_error, prepared.content
    assert prepared.structured_content is not None
    tiktok = prepared.structured_content["platforms"]["tiktok"]
    assert tiktok["valid"] is True and tiktok["path"] == str(video)  # nothing to fix: the file itself
    bad_fit = await client.call_tool(
        "prepare", {"video_path": str(video), "platforms": ["tiktok"], "fit": "stretch"}
    )
    assert bad_fit.is_error and "fit" in _text(bad_fit)

    job = await client.call_tool(
        "schedule",
        {"account_id": "acme", "platforms": ["tiktok"], "video_path": str(video), "title": "Hi",
         "scheduled_time": FUTURE, "priority": 8},
    )
    assert not job.is_error, job.content
    assert job.structured_content is not None
    job_id = job.structured_content["id"]
    assert job.structured_content["status"] == "scheduled" and job.structured_content["priority"] == 8
    got = await client.call_tool("get_job", {"job_id": job_id})
    assert got.structured_content is not None and got.structured_content["id"] == job_id
    listed = await client.call_tool("list_jobs", {"status": "scheduled"})
    assert listed.structured_content is not None
    assert [j["id"] for j in listed.structured_content["jobs"]] == [job_id]
    cancelled = await client.call_tool("cancel_job", {"job_id": job_id})
    assert cancelled.structured_content is not None
    assert cancelled.structured_content["status"] == "cancelled"

    accounts = await client.call_tool("list_accounts", {})
    assert accounts.structured_content is not None
    text = str(accounts.structured_content)
    assert "api_key" in text and UPLOAD_POST_CREDENTIALS["api_key"] not in text
    assert UPLOAD_POST_CREDENTIALS["api_key"][-4:] not in text
    stats = await client.call_tool("queue_stats", {})
    assert stats.structured_content is not None and stats.structured_content["jobs"]["cancelled"] == 1

    # Refused calls are tool errors naming the field and the reason, and add nothing.
    bad = await client.call_tool(
        "schedule", {"account_id": "acme", "platforms": ["tiktok"], "video_path": str(video), "priority": 11}
    )
    assert bad.is_error and "priority" in _text(bad) and "less than or equal to 10" in _text(bad)
    missing = await client.call_tool("schedule", {"account_id": "acme", "platforms": ["tiktok"]})
    assert missing.is_error and "video_path" in _text(missing)
    unknown = await client.call_tool(
        "schedule", {"account_id": "acme", "platforms": ["myspace"], "video_path": str(video)}
    )
    assert unknown.is_error and "platforms" in _text(unknown)
    nobody = await client.call_tool(
        "schedule", {"account_id": "nobody", "platforms": ["tiktok"], "video_path": str(video)}
    )
    assert nobody.is_error and "nobody/tiktok" in _text(nobody) and "not found" in _text(nobody)
    no_job = await client.call_tool("get_job", {"job_id": "no-such-job"})
    assert no_job.is_error and "no-such-job" in _text(no_job)
    after = await client.call_tool("queue_stats", {})
    assert after.structured_content is not None and after.structured_content["jobs"]["total"] == 1


def _text(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


async def test_stdio(sqlite_url: str, secret_key: str, sandbox_url: str, vertical_video: Path) -> None:
    env = {
        "MULTIPUBLISH_DATABASE_URL": sqlite_url,
        "MULTIPUBLISH_SECRET_KEY": secret_key,
        "MULTIPUBLISH_SANDBOX_URL": sandbox_url,
        "PATH": os.environ.get("PATH", ""),
    }
    settings = Settings(database_url=sqlite_url, secret_key=secret_key, sandbox_url=sandbox_url)
    PublishingManager(settings).add_account("acme", "tiktok", dict(UPLOAD_POST_CREDENTIALS))
    params = StdioServerParameters(command=sys.executable, args=["-m", "multipublish", "mcp"], env=env)
    async with Client(params, read_timeout_seconds=120) as client:
        await exercise(client, vertical_video)


async def test_streamable_http_behind_the_token(api_server: ApiServer) -> None:
    with api_server.client() as rest:
        add_account(rest, "acme", "tiktok")
    video = api_server.media_root / "video.mp4"
    headers = {"Authorization": f"Bearer {api_server.token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=120) as http:
        transport = streamable_http_client(f"{api_server.url}/mcp", http_client=http)
        async with Client(transport, read_timeout_seconds=120) as client:
            await exercise(client, video)
            # Over HTTP, paths outside the media roots are refused like the REST API refuses them.
            outside = await client.call_tool(
                "validate", {"video_path": "/etc/hostname", "platforms": ["tiktok"]}
            )
            assert outside.is_error and "outside the configured media roots" in _text(outside)
            done = await client.call_tool(
                "publish_now",
                {"account_id": "acme", "platforms": ["tiktok"], "video_path": str(video), "title": "Now"},
            )
            assert not done.is_error, done.content
            assert done.structured_content is not None and done.structured_content["success"] is True

    with api_server.client() as rest:
        jobs = rest.get("/api/publishing/jobs").json()["jobs"]
        wait_for_job(rest, jobs[0]["id"])


@pytest.mark.parametrize("token", [None, "mpt_not-a-token"])
def test_http_refuses_without_a_valid_token(api_server: ApiServer, token: str | None) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream"}
    with api_server.client(token=token, headers=headers) as client:
        resp = client.post("/mcp", json=body)
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "Bearer"
    assert "tools" not in resp.text


async def test_sdk_client_without_token_is_refused(api_server: ApiServer) -> None:
    async def list_tools(headers: dict[str, str]) -> list[str]:
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
            transport = streamable_http_client(f"{api_server.url}/mcp", http_client=http)
            async with Client(transport, read_timeout_seconds=30) as client:
                return [t.name for t in (await client.list_tools()).tools]

    assert "schedule" in await list_tools({"Authorization": f"Bearer {api_server.token}"})
    with pytest.raises(BaseException) as info:
        await list_tools({})
    assert _leaves(info.value) and all(isinstance(e, MCPError) for e in _leaves(info.value))


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


def test_rest_still_answers(api: httpx.Client) -> None:
    """Mounting /mcp leaves the REST API and its OpenAPI document alone."""
    assert api.get("/api/publishing/queue/stats").status_code == 200
    assert "/mcp" not in api.get("/openapi.json").json()["paths"]
