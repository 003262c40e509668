"""Structured logging for the service: text or JSON lines, with secrets redacted.

``configure_logging(settings)`` installs one stderr handler on the root logger (uvicorn's loggers
propagate to it). ``RedactFilter`` rewrites any record whose text carries a token, an API key, a
webhook secret or an Authorization header, including the text of exceptions.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

from multipublish.settings import Settings

_REDACTED = "[REDACTED]"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"(?i)\b(authorization\s*[:=]\s*[\"']?)(bearer|apikey|basic|token)?\s*[^\s,;\"'}]+"),
        r"\1\2 " + _REDACTED,
    ),
    (re.compile(r"\b(mpt_)[A-Za-z0-9_-]{8,}"), r"\1" + _REDACTED),
    (re.compile(r"\b(whsec_)[A-Za-z0-9+/=_-]{8,}"), r"\1" + _REDACTED),
    (re.compile(r"\b(ya29\.)[A-Za-z0-9._-]{8,}"), r"\1" + _REDACTED),
    (re.compile(r"\b(1//)[A-Za-z0-9._-]{16,}"), r"\1" + _REDACTED),
    (
        re.compile(
            r"(?i)([\"']?\b(?:api_key|apikey|client_secret|refresh_token|access_token|id_token|"
            r"secret_key|webhook_secret|password|passwd|token|secret)\b[\"']?\s*[:=]\s*[\"']?)"
            r"([^\"'\s,;&}]+)"
        ),
        r"\1" + _REDACTED,
    ),
)


def redact(text: str) -> str:
    """``text`` with every recognisable secret replaced by ``[REDACTED]``."""
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


class RedactFilter(logging.Filter):
    """Redacts the message (with its arguments merged in) and the exception text of a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the record, unformatted
            message = str(record.msg)
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, extras, ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_text:
            data["exc"] = record.exc_text
        elif record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(data, ensure_ascii=False))


def configure_logging(settings: Settings) -> logging.Handler:
    """Install the project's handler on the root logger (replacing one installed before)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactFilter())
    if settings.log_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        )
    handler.set_name("multipublish")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "multipublish"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Alembic narrates every plugin and migration check at INFO on each start; keep its warnings.
    if root.level > logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.WARNING)
    return handler
