"""Structured logs: one JSON object a line on stderr, quiet (WARNING) by default.

Modules log with the standard library and pass fields through ``extra``::

    log.info("message sent", extra={"message_id": mid, "device_id": did})

Field names that look like secrets are never written, whatever a caller
passes: a leaked key in a log is a leaked key.

Under systemd, with stderr going to the journal, each line starts with its
syslog priority (``<4>`` for a warning), which journald reads and strips:
``journalctl -p warning`` then finds the warnings.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

from zimsend_common.config import LoggingSettings

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_SECRET_WORDS = ("password", "api_key", "secret", "pin", "token", "signature")


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line with its ``extra`` fields."""

    converter = time.gmtime  # type: ignore[assignment]  # called with the record's time, as the base's is

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name in _STANDARD_ATTRS or name.startswith("_"):
                continue
            document[name] = "[redacted]" if _is_secret(name) else value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str, ensure_ascii=False)


class JournalPriority(logging.Formatter):
    """Another formatter's line, after the record's syslog priority as journald reads it."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self._inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return f"<{_syslog_priority(record.levelno)}>{self._inner.format(record)}"


def _syslog_priority(level: int) -> int:
    """RFC 5424's severity for a logging level: 7 debug, 6 info, 4 warning, 3 error, 2 critical."""
    for bound, priority in ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6)):
        if level >= bound:
            return priority
    return 7


def _stderr_is_the_journal() -> bool:
    """Whether stderr is the stream systemd connected to the journal (``JOURNAL_STREAM`` names its device and inode)."""
    try:
        named = tuple(int(part) for part in os.environ.get("JOURNAL_STREAM", "").split(":"))
        status = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError):
        return False
    return named == (status.st_dev, status.st_ino)


def configure_logging(settings: LoggingSettings) -> None:
    """Send the process's logs to stderr at the configured level and format."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = (
        JsonFormatter()
        if settings.log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.setFormatter(JournalPriority(formatter) if _stderr_is_the_journal() else formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
