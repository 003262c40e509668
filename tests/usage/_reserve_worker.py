"""A worker process for the multi-process quota test: reserve, publish (pretend), settle.

Run as ``python -m tests.usage._reserve_worker URL NOW GO_FILE TRIES``; prints JSON
``{"account/platform": granted}``. It uses the real store against the shared database; only the
upload itself is left out (the test is about counting, not uploading).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path

from multipublish.db import make_engine
from multipublish.platforms.base import PublishResult, PublishStatus
from multipublish.settings import Settings
from multipublish.usage import QuotaGate, UsageStore


def main() -> None:
    url, now_s, go_file, tries = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    now = datetime.fromisoformat(now_s)
    settings = Settings(youtube_daily_units=16_000, youtube_daily_uploads=None, upload_post_monthly_limit=12)
    engine = make_engine(url)
    gate = QuotaGate(UsageStore(engine, settings, clock=lambda: now))
    granted: dict[str, int] = {}
    while not go_file.exists():
        time.sleep(0.005)
    for i in range(tries):
        for account in ("acme", "blue"):
            for platform in ("youtube", "tiktok", "instagram"):
                decision = gate.reserve(account, platform)
                key = f"{account}/{platform}"
                granted.setdefault(key, 0)
                if not decision.allowed:
                    continue
                granted[key] += 1
                result = PublishResult(
                    platform=platform,
                    success=True,
                    status=PublishStatus.PUBLISHED,
                    video_id=f"{i}",
                    bytes_sent=10,
                )
                gate.settle(decision.reservation, account, result, job_id=f"j{i}", duration_s=0.1)
    engine.dispose()
    print(json.dumps(granted))


if __name__ == "__main__":
    main()
