"""Saved drafts: the composer's form as the user left it, to finish later (or on another device).

Every save bumps the draft's ``version``; a save that names the version it started from is refused
when another tab or device saved since, so a stale tab never silently overwrites newer words.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from multipublish.db import utcnow
from multipublish.errors import ConflictError, InputError, NotFoundError
from multipublish.workspace.tables import drafts

#: A draft is a form, not a file store: refuse anything larger.
MAX_DRAFT_BYTES = 64 * 1024


def _row(r: Any) -> dict[str, Any]:
    return {"id": r.id, "title": r.title, "data": r.data, "created_at": r.created_at,
            "updated_at": r.updated_at, "version": r.version}


class DraftStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def list(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(drafts).order_by(drafts.c.updated_at.desc()).limit(limit)
            ).all()
        return [_row(r) for r in rows]

    def get(self, draft_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(drafts).where(drafts.c.id == draft_id)).first()
        if row is None:
            raise NotFoundError("draft", draft_id)
        return _row(row)

    def save(
        self, data: dict[str, Any], draft_id: str | None = None, version: int | None = None
    ) -> dict[str, Any]:
        """Create a draft (no id) or replace one; the title is the form's own title.

        With ``version``, the replace happens only if the draft is still at that version (one
        conditional UPDATE, so two saves at once cannot both pass); ``ConflictError`` otherwise.
        """
        if len(json.dumps(data)) > MAX_DRAFT_BYTES:
            raise InputError("data", f"a draft holds at most {MAX_DRAFT_BYTES // 1024} KiB of form data")
        title = str(data.get("title") or "")[:500]
        now = utcnow()
        with self.engine.begin() as conn:
            if draft_id is None:
                draft_id = "draft_" + secrets.token_hex(8)
                conn.execute(insert(drafts).values(id=draft_id, title=title, data=data,
                                                   created_at=now, updated_at=now, version=1))
            else:
                query = update(drafts).where(drafts.c.id == draft_id)
                if version is not None:
                    query = query.where(drafts.c.version == version)
                done = conn.execute(query.values(title=title, data=data, updated_at=now,
                                                 version=drafts.c.version + 1))
                if done.rowcount == 0:
                    current = conn.execute(
                        select(drafts.c.version).where(drafts.c.id == draft_id)
                    ).scalar()
                    if current is None:
                        raise NotFoundError("draft", draft_id)
                    raise ConflictError(
                        f"draft {draft_id} changed in another tab or device since version {version} "
                        f"was opened (it is at version {current} now): reload it, or overwrite it "
                        "with this version"
                    )
        return self.get(draft_id)

    def delete(self, draft_id: str) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(delete(drafts).where(drafts.c.id == draft_id))
        if done.rowcount == 0:
            raise NotFoundError("draft", draft_id)
