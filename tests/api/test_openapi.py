"""The OpenAPI document makes a good generated client: short operation ids, a model for every answer.

The client is generated with openapi-python-client from the live document and then used against the
running service, so its typed fields are checked against real answers.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.api.helpers import add_account, wait_for_job
from tests.fixtures.api import ApiServer

#: Answers that are not JSON objects: Prometheus text and the CSV exports.
UNTYPED = {"metrics", "platform_stats_csv", "costs_export"}
#: Tags whose answers are typed by another piece of work (insights), not checked here yet.
NOT_YET = {"insights"}


def test_operation_ids_are_short_and_unique(api_server: ApiServer) -> None:
    with api_server.client() as client:
        spec = client.get("/openapi.json").json()
    ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert all("_api_" not in i and len(i) <= 30 for i in ids), ids
    assert {"publish_immediate", "publish_scheduled", "get_job", "list_jobs", "check_account"} <= set(ids)


def test_every_json_answer_has_a_model(api_server: ApiServer) -> None:
    with api_server.client() as client:
        spec = client.get("/openapi.json").json()
    missing = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if op["operationId"] in UNTYPED or NOT_YET & set(op.get("tags", [])):
                continue
            code = next(c for c in ("200", "201") if c in op["responses"])
            schema = op["responses"][code].get("content", {}).get("application/json", {}).get("schema")
            if not schema or not ({"$ref", "items", "additionalProperties"} & set(schema)):
                missing.append(f"{method.upper()} {path}")
    assert not missing
    job = spec["components"]["schemas"]["JobPublic"]["properties"]["results"]
    assert job["additionalProperties"]["$ref"].endswith("/JobPlatformResultPublic")


@pytest.fixture
def generated(api_server: ApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The package openapi-python-client makes from the service's own document."""
    with api_server.client() as client:
        (tmp_path / "openapi.json").write_text(client.get("/openapi.json").text)
    exe = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))
    assert exe, "openapi-python-client is a dev dependency"
    proc = subprocess.run(
        [exe, "generate", "--path", "openapi.json", "--meta", "none", "--output-path", "mp_client"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )
    assert (tmp_path / "mp_client" / "client.py").is_file(), proc.stdout + proc.stderr
    monkeypatch.syspath_prepend(str(tmp_path))
    return importlib.import_module("mp_client")


def test_generated_client_has_typed_fields(api_server: ApiServer, generated: Any) -> None:
    from mp_client.api.jobs import get_job  # type: ignore[import-not-found]
    from mp_client.api.publishing import publish_scheduled  # type: ignore[import-not-found]
    from mp_client.models import (  # type: ignore[import-not-found]
        JobPlatformResultPublic,
        JobPublic,
        ScheduledPublishCreate,
    )

    with api_server.client() as rest:
        add_account(rest, "acme", "tiktok")
    client = generated.AuthenticatedClient(base_url=api_server.url, token=api_server.token)
    body = ScheduledPublishCreate(
        account_id="acme", platforms=["tiktok"], video_path=str(api_server.media_root / "video.mp4"),
        title="From a generated client", priority=7,
    )
    job = publish_scheduled.sync(client=client, body=body)
    assert isinstance(job, JobPublic), job
    assert job.priority == 7 and job.status in ("pending", "processing", "completed")
    with api_server.client() as rest:
        wait_for_job(rest, job.id)
    done = get_job.sync(client=client, job_id=job.id)
    assert isinstance(done, JobPublic) and done.status == "completed"
    result = done.results["tiktok"]
    assert isinstance(result, JobPlatformResultPublic)
    assert result.status == "published" and result.success is True
    assert isinstance(result.url, str) and result.url.startswith("https://")
