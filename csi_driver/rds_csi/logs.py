"""Structured logs: one line per event, ``key=value`` (P-9.2). Secrets never reach a log line.

Callers pass fields with ``extra={"fields": {...}}``; keys named like secrets are masked here as
a last line of defence, values with spaces or quotes are quoted.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any

_SECRET_KEY = re.compile(r"pass|secret|token|key_passphrase|chap", re.I)
_BARE = re.compile(r"[A-Za-z0-9_./:@+-]+\Z")


def format_value(value: object) -> str:
    text = str(value)
    if text and _BARE.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def fields_text(fields: dict[str, Any]) -> str:
    parts = []
    for key, value in fields.items():
        shown = "*****" if _SECRET_KEY.search(key) and value else value
        parts.append("%s=%s" % (key, format_value(shown)))
    return " ".join(parts)


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + ".%03dZ" % record.msecs
        line = "ts=%s level=%s logger=%s msg=%s" % (
            stamp,
            record.levelname.lower(),
            record.name,
            format_value(record.getMessage()),
        )
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict) and fields:
            line += " " + fields_text(fields)
        if record.exc_info:
            line += " exception=" + format_value(self.formatException(record.exc_info))
        return line


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # paramiko's own transport chatter is not useful at info level.
    logging.getLogger("paramiko").setLevel(max(logging.WARNING, root.level))
