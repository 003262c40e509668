"""``/_sandbox/...``: what tests use to read the emulators' memory and to arm faults."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from multipublish.sandbox.common import json_response, state_of
from multipublish.sandbox.state import (
    FAULT_KINDS,
    FAULT_PLATFORMS,
    FAULT_TARGETS,
    Fault,
    default_target,
)


def _bad(message: str) -> Response:
    return json_response({"error": message}, 400)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"{}")
    except ValueError:
        return None


async def list_posts(request: Request) -> Response:
    """``GET /_sandbox/posts[?platform=]``: every post received, oldest first."""
    state = state_of(request)
    platform = request.query_params.get("platform")
    with state.lock:
        posts = [dict(p) for p in state.posts if platform is None or p["platform"] == platform]
    return json_response({"posts": posts, "count": len(posts)})


async def reset(request: Request) -> Response:
    """``DELETE /_sandbox/posts``: forget posts, faults, sessions, tokens, usage and config."""
    state_of(request).reset()
    return json_response({"reset": True})


async def arm_fault(request: Request) -> Response:
    """``POST /_sandbox/faults``: ``{"platform", "fault", "times"=1, "on"?, "seconds"?, "code"?}``."""
    body = await _json_body(request)
    if not isinstance(body, dict):
        return _bad("body must be a JSON object")
    platform = body.get("platform")
    kind = body.get("fault")
    times = body.get("times", 1)
    if platform not in FAULT_PLATFORMS:
        return _bad(f"platform must be one of {', '.join(FAULT_PLATFORMS)}")
    if kind not in FAULT_KINDS:
        return _bad(f"fault must be one of {', '.join(FAULT_KINDS)}")
    if isinstance(times, bool) or not isinstance(times, int) or times < 1:
        return _bad("times must be a positive integer")
    on = body.get("on") or default_target(platform, kind)
    if on not in FAULT_TARGETS:
        return _bad(f"on must be one of {', '.join(FAULT_TARGETS)}")
    seconds = body.get("seconds", 2.0 if kind == "slow" else 1.0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        return _bad("seconds must be a non-negative number")
    code = body.get("code", "")
    if not isinstance(code, str):
        return _bad("code must be a string")
    fault = Fault(
        platform=platform, fault=kind, times=times, on=on, seconds=float(seconds), code=code
    )
    state_of(request).arm(fault)
    return json_response(fault.as_dict(), 201)


async def list_faults(request: Request) -> Response:
    """``GET /_sandbox/faults``: the faults still armed."""
    state = state_of(request)
    with state.lock:
        faults = [f.as_dict() for f in state.faults]
    return json_response({"faults": faults})


async def clear_faults(request: Request) -> Response:
    """``DELETE /_sandbox/faults``: disarm every fault."""
    state = state_of(request)
    with state.lock:
        state.faults.clear()
    return json_response({"faults": []})


async def get_config(request: Request) -> Response:
    state = state_of(request)
    with state.lock:
        return json_response(vars(state.config))


async def set_config(request: Request) -> Response:
    """``POST /_sandbox/config``: e.g. ``{"token_lifetime": 5, "plan_limit": 2}``."""
    body = await _json_body(request)
    if not isinstance(body, dict):
        return _bad("body must be a JSON object")
    state = state_of(request)
    with state.lock:
        try:
            state.config.update(body)
        except ValueError as exc:
            return _bad(str(exc))
        return json_response(vars(state.config))


async def expire_tokens(request: Request) -> Response:
    """``POST /_sandbox/tokens/expire``: every access token issued so far is now expired."""
    state = state_of(request)
    with state.lock:
        for token in state.access_tokens:
            state.access_tokens[token] = 0.0
        count = len(state.access_tokens)
    return json_response({"expired": count})


async def youtube_state(request: Request) -> Response:
    """``GET /_sandbox/youtube``: videos, playlist items, thumbnails and quota used."""
    state = state_of(request)
    with state.lock:
        return json_response(
            {
                "videos": list(state.videos.values()),
                "playlist_items": list(state.playlist_items),
                "thumbnails": dict(state.thumbnails),
                "quota_used": state.youtube_quota_used,
                "inserts_used": state.youtube_inserts_used,
                "sessions": [
                    {"id": s.id, "received": s.sink.size, "total": s.total,
                     "video_id": s.video_id}
                    for s in state.sessions.values()
                ],
            }
        )


routes = [
    Route("/_sandbox/posts", list_posts, methods=["GET"]),
    Route("/_sandbox/posts", reset, methods=["DELETE"]),
    Route("/_sandbox/faults", arm_fault, methods=["POST"]),
    Route("/_sandbox/faults", list_faults, methods=["GET"]),
    Route("/_sandbox/faults", clear_faults, methods=["DELETE"]),
    Route("/_sandbox/config", get_config, methods=["GET"]),
    Route("/_sandbox/config", set_config, methods=["POST"]),
    Route("/_sandbox/tokens/expire", expire_tokens, methods=["POST"]),
    Route("/_sandbox/youtube", youtube_state, methods=["GET"]),
]
