"""Upload throughput and client memory: the upload-post client against ``curl -F``.

Starts a sandbox (``multipublish sandbox``) in its own process, makes a real clip padded sparsely
to 1 GB and 4 GB, and uploads each file to ``POST /api/upload`` twice: once with ``curl -F`` and
once through ``PublishingManager.publish_to_platform`` (the production client) in a child process
that reports its own peak RSS. Goals: peak RSS < 100 MB whatever the size, throughput >= 80% of
curl's. Big files are deleted afterwards.

    python bench/upload.py [--sizes 1,4] [--repeat 1]
"""

from __future__ import annotations

import os
import sys

# Run as a script, this file's folder comes first on sys.path, where bench/queue.py would shadow the
# standard library's ``queue`` module (which ``concurrent.futures`` imports).
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse
import asyncio
import json
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

GB = 1024**3
API_KEY = "bench-key-0000000000"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sandbox(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "multipublish",
            "sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/_sandbox/posts", timeout=1).raise_for_status()
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit("sandbox did not start")


def reset(url: str) -> None:
    httpx.delete(f"{url}/_sandbox/posts", timeout=30).raise_for_status()


def last_post(url: str) -> dict[str, Any]:
    posts = httpx.get(f"{url}/_sandbox/posts", timeout=30).json()["posts"]
    return dict(posts[-1]) if posts else {}


def curl_upload(url: str, path: Path) -> float:
    """Seconds for ``curl -F`` to post the file (the reference)."""
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{time_total} %{http_code}",
            "-H",
            f"Authorization: Apikey {API_KEY}",
            "-H",
            "Expect:",
            "-F",
            "user=bench",
            "-F",
            "platform[]=tiktok",
            "-F",
            "title=bench",
            "-F",
            f"video=@{path};type=video/mp4",
            f"{url}/api/upload",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, code = out.stdout.split()
    if code != "200":
        raise SystemExit(f"curl upload answered HTTP {code}")
    return float(seconds)


def client_upload(url: str, path: Path, workdir: Path) -> dict[str, Any]:
    """Run the production client in a child process; it reports seconds and its peak RSS."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", url, str(path), str(workdir)],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


async def _child(url: str, path: Path, workdir: Path) -> dict[str, Any]:
    from cryptography.fernet import Fernet

    from multipublish.bootstrap import build_service
    from multipublish.platforms.base import PublishConfig
    from multipublish.settings import Settings

    settings = Settings(
        sandbox_url=url,
        database_url=f"sqlite:///{workdir / 'bench.db'}",
        secret_key=Fernet.generate_key().decode(),
        http_timeout=300,
    )
    manager = build_service(settings).manager
    manager.add_account("bench", "tiktok", {"api_key": API_KEY, "user": "bench"})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    result = await manager.publish_to_platform(
        "bench", "tiktok", str(path), PublishConfig(title="bench"), validate=False
    )
    seconds = time.perf_counter() - started
    await manager.aclose()
    return {
        "success": result.success,
        "error": result.error,
        "seconds": seconds,
        "bytes_sent": result.bytes_sent,
        "peak_rss_before_upload_mb": before,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,4", help="file sizes in GB, comma separated")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size (best kept)")
    parser.add_argument("--child", nargs=3, metavar=("URL", "FILE", "WORKDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, file, workdir = args.child
        print(json.dumps(asyncio.run(_child(url, Path(file), Path(workdir)))))
        return
    if shutil.which("curl") is None:
        raise SystemExit("curl is needed for the reference upload")

    from multipublish.media.sample import make_video, pad_to_size

    root = Path(tempfile.mkdtemp(prefix="mp-bench-upload-"))
    data_dir = root / "sandbox"
    data_dir.mkdir()
    proc, url = start_sandbox(data_dir)
    rows = []
    try:
        clip = make_video(root / "clip.mp4", width=320, height=568, duration=2, fps=10)
        for size_gb in [float(s) for s in args.sizes.split(",") if s.strip()]:
            path = root / f"upload-{size_gb:g}g.mp4"
            shutil.copyfile(clip, path)
            size = pad_to_size(path, int(size_gb * GB)).stat().st_size
            best_curl, best_client, rss, base = float("inf"), float("inf"), 0.0, 0.0
            for _ in range(args.repeat):
                reset(url)
                best_curl = min(best_curl, curl_upload(url, path))
                assert last_post(url).get("size") == size, "curl upload incomplete"
                reset(url)
                got = client_upload(url, path, root)
                if not got["success"]:
                    raise SystemExit(f"client upload failed: {got['error']}")
                assert last_post(url).get("size") == size, "client upload incomplete"
                best_client = min(best_client, got["seconds"])
                rss = max(rss, got["peak_rss_mb"])
                base = max(base, got["peak_rss_before_upload_mb"])
            reset(url)
            path.unlink()
            mb = size / 1e6
            rows.append((size_gb, mb / best_curl, mb / best_client, rss, base))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)

    print(
        f"{'file':>6} {'curl MB/s':>10} {'client MB/s':>12} {'client/curl':>12} {'peak RSS MB':>12}"
        f" {'RSS before upload':>18}"
    )
    ok = True
    for size_gb, curl_rate, client_rate, rss, base in rows:
        ratio = client_rate / curl_rate
        ok &= ratio >= 0.8 and rss < 100
        print(
            f"{size_gb:>5g}G {curl_rate:>10.1f} {client_rate:>12.1f} {ratio:>11.0%}"
            f" {rss:>12.1f} {base:>18.1f}"
        )
    print(f"goals (RSS < 100 MB, >= 80% of curl): {'met' if ok else 'NOT met'}; cpus={os.cpu_count()}")


if __name__ == "__main__":
    main()
