"""The Dockerfile and compose.yaml, checked as far as a machine without a container engine allows.

* ``compose.yaml`` is validated against the Compose Specification's JSON schema (vendored in
  ``tests/data/compose-spec.json`` from the compose-spec project, Apache-2.0), then for the parts
  the project promises: PostgreSQL, an API node, N workers, a media and a database volume, secrets
  from an env file.
* The Dockerfile's runtime stage installs the wheel and nothing else: the wheel is built here the
  same way, installed into an empty target directory, and that copy is run (``--version``, the
  migrations, ``serve`` answering the image's own HEALTHCHECK command and the dashboard's page).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_compose_file_is_valid_and_complete() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    schema = json.loads((ROOT / "tests" / "data" / "compose-spec.json").read_text())
    jsonschema.Draft7Validator(schema).validate(compose)

    services = compose["services"]
    assert {"db", "migrate", "api", "worker"} <= set(services)
    assert services["db"]["image"].startswith("postgres:")
    assert "db-data:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert {"db-data", "media"} <= set(compose["volumes"])
    for name in ("migrate", "api", "worker"):
        service = services[name]
        assert service["build"] == "." and service["env_file"] == ".env"
        assert "media:/media" in service["volumes"]
        assert service["environment"]["MULTIPUBLISH_DATABASE_URL"].startswith("postgresql://")
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["api"]["command"][0] == "serve" and "--no-workers" in services["api"]["command"]
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert all(p.startswith("127.0.0.1:") for p in services["api"]["ports"])
    assert services["worker"]["command"][0] == "worker"
    assert services["worker"]["deploy"]["replicas"] == "${WORKERS:-2}"
    # Every setting the env file example names is one multipublish or compose reads.
    example = (ROOT / "multipublish.env.example").read_text()
    names = re.findall(r"^([A-Z_]+)=", example, flags=re.M)
    assert "MULTIPUBLISH_SECRET_KEY" in names and "POSTGRES_PASSWORD" in names


def test_dockerfile_is_slim_non_root_wheel_installed_with_a_healthcheck() -> None:
    steps = instructions()
    froms = [args for word, args in steps if word == "FROM"]
    assert len(froms) == 2 and all(f.split()[0].endswith("-slim") for f in froms)
    runtime = steps[[i for i, (w, _) in enumerate(steps) if w == "FROM"][-1]:]
    runs = " ".join(args for word, args in runtime if word == "RUN")
    assert "pip install /tmp/*.whl" in runs and "COPY src" not in " ".join(a for _, a in runtime)
    user = next(args for word, args in runtime if word == "USER")
    assert user.split(":")[0] not in ("root", "0")
    assert any(word == "HEALTHCHECK" for word, _ in runtime)
    assert json.loads(next(a for w, a in runtime if w == "ENTRYPOINT")) == ["multipublish"]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".env" in ignored


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel the Dockerfile's build stage makes (``python -m build --wheel``; pip here)."""
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    found = list(out.glob("multipublish-*.whl"))
    assert proc.returncode == 0 and found, proc.stderr
    return found[0]


def test_wheel_holds_the_files_the_service_reads(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "multipublish/dashboard/templates/",
        "multipublish/dashboard/static/",
        "multipublish/db/migrations/versions/",
        "multipublish/db/migrations/env.py",
    ):
        assert any(n.startswith(needed) for n in names), needed
    assert not any(n.startswith(("tests/", "bench/")) for n in names)


def test_installed_wheel_serves_and_passes_the_images_healthcheck(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)],
        check=True, timeout=300,
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MULTIPUBLISH_")},
        "PYTHONPATH": str(target),
        "MULTIPUBLISH_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'multipublish.db'}",
        "MULTIPUBLISH_MEDIA_ROOTS": str(tmp_path),
    }
    where = subprocess.run(
        [sys.executable, "-c", "import multipublish; print(multipublish.__file__)"],
        env=env, capture_output=True, text=True, check=True,
    )
    assert where.stdout.startswith(str(target))  # the wheel's copy, not the source tree
    version = subprocess.run([sys.executable, "-m", "multipublish", "--version"], env=env,
                             capture_output=True, text=True, check=True)
    assert version.stdout.startswith("multipublish ")
    subprocess.run([sys.executable, "-m", "multipublish", "db", "upgrade"], env=env, check=True, timeout=120)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "multipublish", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        health = next(a for w, a in instructions() if w == "HEALTHCHECK")
        command = json.loads(health.split("CMD", 1)[1].strip())
        command = [sys.executable if c == "python" else c.replace(":8000/", f":{port}/") for c in command]
        deadline = time.monotonic() + 90
        while subprocess.run(command, env=env, capture_output=True, check=False).returncode != 0:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "serve never became healthy"
            time.sleep(0.5)
        page = httpx.get(f"http://127.0.0.1:{port}/login", timeout=10)
        assert page.status_code == 200 and "<form" in page.text
    finally:
        server.terminate()
        server.wait(timeout=30)
