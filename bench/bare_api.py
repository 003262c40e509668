"""The reference for ``bench/api.py``: a minimal FastAPI app on the same database and uvicorn.

    python bench/bare_api.py --port PORT --database-url URL

``GET /jobs/{id}`` is one indexed SELECT of a row of ``jobs``; ``POST /jobs`` is one INSERT into a
table of its own. No auth, no validation, no queue: what FastAPI, uvicorn and the database cost.
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]  # bench/queue.py would shadow the standard library's queue

import argparse
import uuid
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException
from sqlalchemy import text

from multipublish.db import make_engine


def build(url: str) -> FastAPI:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS bare_posts (id VARCHAR(64) PRIMARY KEY, body TEXT)"))
    app = FastAPI()

    @app.get("/jobs/{job_id}")
    def get_job(job_id: str) -> dict[str, Any]:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT id, status, account_id, title FROM jobs WHERE id = :i"), {"i": job_id}
            ).mappings().first()
        if row is None:
            raise HTTPException(404)
        return dict(row)

    @app.post("/jobs", status_code=201)
    def add_job(body: dict[str, Any]) -> dict[str, Any]:
        new_id = f"bare_{uuid.uuid4().hex}"
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO bare_posts (id, body) VALUES (:i, :b)"), {"i": new_id, "b": str(body)}
            )
        return {"id": new_id}

    return app


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--database-url", required=True)
    args = ap.parse_args()
    uvicorn.run(build(args.database_url), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
