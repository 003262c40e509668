"""Validate a video against platform rules before publishing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from multipublish.api.auth import TokenDep
from multipublish.api.deps import StateDep
from multipublish.api.paths import resolve_video
from multipublish.api.routes.common import errors, to_json
from multipublish.api.schemas import PlatformValidationPublic, ValidateCreate
from multipublish.platforms.base import PublishConfig

router = APIRouter(prefix="/api/publishing", tags=["validation"])


@router.post(
    "/validate", response_model=dict[str, PlatformValidationPublic], responses=errors()
)
def validate(body: ValidateCreate, state: StateDep, _token: TokenDep) -> Any:
    """Per platform: ``valid``, ``errors``, ``warnings`` and what the file is."""
    video = resolve_video(body.video_path, state.settings.media_root_paths())
    config = None
    if body.title is not None or body.description is not None or body.tags is not None:
        config = PublishConfig(
            title=body.title or "", description=body.description or "", tags=body.tags or []
        )
    return to_json(state.manager.validate_video_for_platforms(video, list(body.platforms), config))
