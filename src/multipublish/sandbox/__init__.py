"""Local emulators of upload-post.com, the YouTube Data API and Google's OAuth token endpoint.

They speak the services' wire protocols (``shared`` nothing with the production clients), remember
what was published (``GET /_sandbox/posts``) and inject faults on request (``POST /_sandbox/faults``).
Run them with ``multipublish sandbox`` or, from Python, ``SandboxServer``.
"""

from __future__ import annotations

from multipublish.sandbox.server import SandboxServer, create_app, free_port
from multipublish.sandbox.state import Fault, SandboxConfig, SandboxState

__all__ = ["Fault", "SandboxConfig", "SandboxServer", "SandboxState", "create_app", "free_port"]
