"""Local emulators of upload-post.com, the YouTube Data API and Google's OAuth token endpoint.

They speak the services' wire protocols (``shared`` nothing with the production clients), remember
what was published (``GET /_sandbox/posts``) and inject faults on request (``POST /_sandbox/faults``).
Run them with ``multipublish sandbox`` or, from Python, ``SandboxServer``.

Control endpoints (tests use them; none exists on the real services):

- ``GET /_sandbox/posts[?platform=]``: posts received (platform, user/channel, title, options,
  size, sha256, request_id, video_id, status, created); ``DELETE /_sandbox/posts`` resets all.
- ``POST /_sandbox/faults`` ``{"platform", "fault", "times": 1, "on"?, "seconds"?}``; faults:
  http_500, rate_limit (Retry-After = seconds), drop_connection, slow (seconds), expired_token,
  quota_exceeded, lose_response, reject (upload-post: that platform's result fails, with ``code``
  as its ``error_code``; a scheduled post fails at its time, as does one armed ``on: "due"``),
  rate_limit_reset (429 with only X-RateLimit-Reset), hard_cap (429 "Post verification failed").
  ``on`` narrows which requests it hits (see ``state.FAULT_TARGETS``); ``GET``/``DELETE`` too.
- ``GET|POST /_sandbox/config``: ``SandboxConfig`` knobs (plan_limit, token_lifetime,
  accept_any_token, async_pending_polls, sync_timeout, youtube_quota, ...).
- ``POST /_sandbox/tokens/expire``: every issued access token expires now.
- ``GET /_sandbox/youtube``: videos, playlist items, thumbnails, quota used, sessions.
"""

from __future__ import annotations

from multipublish.sandbox.server import SandboxServer, create_app, free_port
from multipublish.sandbox.state import Fault, SandboxConfig, SandboxState

__all__ = ["Fault", "SandboxConfig", "SandboxServer", "SandboxState", "create_app", "free_port"]
