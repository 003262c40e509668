"""REST API throughput and latency: schedule and job status at 50 concurrent clients, workers on.

    python bench/api.py [--clients 50] [--requests 2000] [--database-url URL]

Starts ``multipublish serve`` as a real process (API, queue workers and dashboard, SQLite in a temp
dir by default) with the sandbox platforms in a process of their own (``multipublish sandbox``), as
the real platforms are remote in production; ``--in-process-sandbox`` runs ``serve --sandbox``
instead, so the platforms' uploads compete with the API for one interpreter. It creates a token
with ``multipublish tokens create``, then drives the API over HTTP from this process:

1. ``POST /api/publishing/publish/scheduled`` (due now, so the workers publish them to the sandbox
   while the benchmark runs);
2. ``GET /api/publishing/jobs/{id}`` over the jobs just created.

Prints requests/s and p50/p90/p99 latency for each. The reference, run in the same script and
interleaved with ours (two rounds each), is ``bench/bare_api.py``: a minimal FastAPI app on the same
database under uvicorn doing one indexed SELECT (status) or one INSERT (schedule). With ``wrk``
installed, both servers are then driven by it too (10 s per phase, two rounds each, interleaved):
the Python client needs most of a core itself, so those figures are the servers' own. Everything
is deleted afterwards.
"""

from __future__ import annotations

import sys
from pathlib import Path

# ``python bench/api.py`` puts bench/ first on sys.path, where bench/queue.py would shadow the
# standard library's ``queue``: drop it.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from typing import Any

import httpx
from cryptography.fernet import Fernet

from multipublish.media.sample import make_video

EXE = [sys.executable, "-m", "multipublish"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def drive(
    label: str, clients: int, total: int, make: Any, url: str, token: str
) -> tuple[list[Any], float]:
    """Run ``total`` requests from ``clients`` concurrent connections; print the figures."""
    latencies: list[float] = []
    results: list[Any] = [None] * total
    errors = 0
    transport: list[str] = []
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120, limits=limits
    ) as client:

        async def worker() -> None:
            nonlocal errors
            for i in counter:
                method, path, body = make(i)
                t0 = time.perf_counter()
                try:
                    resp = await client.request(method, path, json=body)
                except httpx.TransportError as exc:
                    transport.append(f"{type(exc).__name__} after {time.perf_counter() - t0:.1f}s")
                    continue
                latencies.append(time.perf_counter() - t0)
                if resp.status_code >= 300:
                    errors += 1
                else:
                    results[i] = resp.json()

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - t0
    ms = [v * 1000 for v in latencies]
    print(
        f"{label:<22} {total / elapsed:8.1f} req/s   p50 {percentile(ms, 0.50):7.1f} ms   "
        f"p90 {percentile(ms, 0.90):7.1f} ms   p99 {percentile(ms, 0.99):7.1f} ms   "
        f"mean {statistics.fmean(ms):7.1f} ms   errors {errors}"
    )
    if transport:
        print(f"  {len(transport)} dropped connections, e.g. {transport[:3]}")
    return results, total / elapsed


def start_bare(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The reference app (``bench/bare_api.py``) on the same database, ready to serve."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("bare_api.py")), "--port", str(port),
         "--database-url", env["MULTIPUBLISH_DATABASE_URL"]],
        env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/jobs/none", timeout=2)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the bare reference app did not start")


def run_wrk(
    label: str, url: str, token: str, tmp: Path, clients: int, body: dict[str, Any] | None = None
) -> float:
    """Drive ``url`` for 10 s with wrk (one thread, ``clients`` connections); print its figures and
    return its requests/s."""
    import json

    script = tmp / "wrk.lua"
    lines = [f'wrk.headers["Authorization"] = "Bearer {token}"']
    if body is not None:
        lines += [
            'wrk.method = "POST"',
            'wrk.headers["Content-Type"] = "application/json"',
            f"wrk.body = {json.dumps(json.dumps(body))}",
        ]
    script.write_text("\n".join(lines) + "\n")
    out = subprocess.run(
        ["wrk", "-t1", f"-c{clients}", "-d10s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = next((ln.split()[1] for ln in out.splitlines() if ln.startswith("Requests/sec")), "?")
    pct = {ln.split()[0]: ln.split()[1] for ln in out.splitlines() if ln.strip()[:3] in ("50%", "99%")}
    errors = next((ln.strip() for ln in out.splitlines() if "Non-2xx" in ln), "non-2xx 0")
    print(f"{label:<26} {float(rps):7.1f} req/s   p50 {pct.get('50%', '?'):>8}   "
          f"p99 {pct.get('99%', '?'):>8}   {errors}")
    return float(rps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--workers", type=int, default=4, help="queue workers in the server")
    parser.add_argument(
        "--in-process-sandbox", action="store_true", help="serve --sandbox (one process for all)"
    )
    parser.add_argument(
        "--worker-process",
        action="store_true",
        help="serve --no-workers plus a `multipublish worker` process (API-only node)",
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="mp-bench-api-"))
    media = tmp / "media"
    media.mkdir()
    video = make_video(media / "clip.mp4", width=1080, height=1920, duration=3.0, fps=30)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MULTIPUBLISH_")}
    env.update(
        MULTIPUBLISH_DATABASE_URL=args.database_url or f"sqlite:///{tmp / 'bench.db'}",
        MULTIPUBLISH_SECRET_KEY=Fernet.generate_key().decode(),
        MULTIPUBLISH_MEDIA_ROOTS=str(media),
        MULTIPUBLISH_LOG_LEVEL="WARNING",
        MULTIPUBLISH_STATUS_POLL_INTERVAL="0.05",
    )
    subprocess.run([*EXE, "db", "upgrade"], env=env, cwd=tmp, check=True, capture_output=True)
    token = subprocess.run(
        [*EXE, "tokens", "create", "--name", "bench"],
        env=env, cwd=tmp, check=True, capture_output=True, text=True,
    ).stdout.strip()
    log = tmp / "server.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sandbox = None
    serve = [*EXE, "serve", "--port", str(port), "--workers", str(args.workers)]
    if args.in_process_sandbox:
        serve.append("--sandbox")
    else:
        sandbox_port = free_port()
        sandbox = subprocess.Popen(
            [*EXE, "sandbox", "--host", "127.0.0.1", "--port", str(sandbox_port)],
            env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        env["MULTIPUBLISH_SANDBOX_URL"] = f"http://127.0.0.1:{sandbox_port}"
    worker = None
    if args.worker_process:
        serve.append("--no-workers")
        worker = subprocess.Popen(
            [*EXE, "worker", "--concurrency", str(args.workers)],
            env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    server = subprocess.Popen(
        serve, env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=log.open("wb"),
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not become ready")
            time.sleep(0.2)
        if args.in_process_sandbox:
            sandbox_url = next(
                ln.split(": ", 1)[1].strip() for ln in log.read_text().splitlines()
                if ln.startswith("sandbox platforms: ")
            )
        else:
            sandbox_url = env["MULTIPUBLISH_SANDBOX_URL"]
        # The sandbox's upload-post plan allows 1,000 uploads a month and 1,000 requests a minute
        # (like a real plan): the first 500 two-platform jobs would use it up and the workers sit
        # idle for the rest of the run. Lifted, so "workers on" means they publish throughout.
        for _ in range(150):
            try:
                httpx.post(
                    f"{sandbox_url}/_sandbox/config", timeout=30,
                    json={"plan_limit": 10**9, "rate_limit_per_minute": 10**9, "store_media": False},
                ).raise_for_status()
                break
            except httpx.ConnectError:  # the sandbox process is still starting
                time.sleep(0.2)
        else:
            raise SystemExit("the sandbox did not become ready")
        auth = {"Authorization": f"Bearer {token}"}
        for platform in ("tiktok", "linkedin"):
            httpx.post(
                f"{url}/api/publishing/accounts", headers=auth, timeout=30,
                json={"account_id": "bench", "platform": platform,
                      "credentials": {"api_key": "sk_bench_0123456789abcdef", "user": "bench"}},
            ).raise_for_status()
        body = {"account_id": "bench", "platforms": ["tiktok", "linkedin"],
                "video_path": str(video), "title": "bench"}
        where = "in the API process" if args.in_process_sandbox else "in their own process"
        if args.worker_process:
            where += "; workers in their own process"
        print(f"{args.clients} clients, {args.requests} requests each phase, "
              f"{args.workers} queue workers, {env['MULTIPUBLISH_DATABASE_URL'].split(':')[0]}, "
              f"sandbox platforms {where}")
        bare, bare_url = start_bare(env, tmp)
        figures: dict[str, list[float]] = {"ours GET": [], "bare GET": [], "ours POST": [], "bare POST": []}
        try:
            ids: list[str] = []
            for rnd in (1, 2):
                jobs, rps = asyncio.run(drive(
                    f"schedule (POST) #{rnd}", args.clients, args.requests,
                    lambda i: ("POST", "/api/publishing/publish/scheduled", body), url, token,
                ))
                figures["ours POST"].append(rps)
                ids.extend(j["id"] for j in jobs if j)
                _, rps = asyncio.run(drive(
                    f"bare INSERT (POST) #{rnd}", args.clients, args.requests,
                    lambda i: ("POST", "/jobs", body), bare_url, token,
                ))
                figures["bare POST"].append(rps)
                _, rps = asyncio.run(drive(
                    f"job status (GET) #{rnd}", args.clients, args.requests,
                    lambda i: ("GET", f"/api/publishing/jobs/{ids[i % len(ids)]}", None), url, token,
                ))
                figures["ours GET"].append(rps)
                _, rps = asyncio.run(drive(
                    f"bare SELECT (GET) #{rnd}", args.clients, args.requests,
                    lambda i: ("GET", f"/jobs/{ids[i % len(ids)]}", None), bare_url, token,
                ))
                figures["bare GET"].append(rps)
            if shutil.which("wrk"):
                # The Python client above needs most of a core itself on a 2-core machine; wrk
                # (C) shows what each server gives when the load generator is not the bottleneck.
                for rnd in (1, 2):
                    for side, base, status, post in (
                        ("ours", url, f"/api/publishing/jobs/{ids[0]}", "/api/publishing/publish/scheduled"),
                        ("bare", bare_url, f"/jobs/{ids[0]}", "/jobs"),
                    ):
                        figures.setdefault(f"wrk {side} GET", []).append(
                            run_wrk(f"{side} GET, wrk #{rnd}", base + status, token, tmp, args.clients))
                        figures.setdefault(f"wrk {side} POST", []).append(
                            run_wrk(f"{side} POST, wrk #{rnd}", base + post, token, tmp, args.clients,
                                    body=body))
        finally:
            bare.terminate()
            bare.wait(timeout=30)
        med = {k: statistics.median(v) for k, v in figures.items()}
        print("\n| workload | ours | bare app | ratio |")
        print("|---|---|---|---|")
        print(f"| REST job status, {args.clients} connections | {med['ours GET']:.0f} rps |"
              f" {med['bare GET']:.0f} rps | {med['ours GET'] / med['bare GET']:.2f}x |")
        print(f"| REST schedule, {args.clients} connections | {med['ours POST']:.0f} rps |"
              f" {med['bare POST']:.0f} rps | {med['ours POST'] / med['bare POST']:.2f}x |")
        if "wrk ours GET" in med:
            for what, key in (("job status", "GET"), ("schedule", "POST")):
                a, b = med[f"wrk ours {key}"], med[f"wrk bare {key}"]
                print(f"| REST {what}, {args.clients} connections, wrk | {a:.0f} rps | {b:.0f} rps |"
                      f" {a / b:.2f}x |")
        else:
            print("(wrk not installed: apt-get install wrk for the server-bound figures)")
        print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        stats = httpx.get(f"{url}/api/publishing/queue/stats", headers=auth, timeout=30).json()
        print(f"queue after the run: completed {stats['completed']}, pending {stats['pending']}, "
              f"processing {stats['processing']}, failed {stats['failed']}")
    except BaseException:
        print(f"server exit code: {server.poll()}", file=sys.stderr)
        print("server log (tail):\n" + "\n".join(log.read_text().splitlines()[-30:]), file=sys.stderr)
        raise
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        for child in (worker, sandbox):
            if child is not None:
                child.terminate()
                child.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
