"""Structured logs: one line per event, ``key=value`` text or one JSON object (P-9.2). Secrets never
reach a log line.

Callers pass fields with ``extra={"fields": {...}}``. ``is_secret_name`` is the driver's one rule of
which names carry secrets: both formats mask such fields here, as a last line of defence, and the
configuration's start-up summary masks its settings with the same rule. RouterOS commands arrive
already masked: the library renders each command for the log with its secret arguments replaced.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Mapping
from typing import Any

SECRET_MASK = "*****"
# Passwords, passphrases, NVMe DH-CHAP secrets, tokens, private keys, in any naming style
# (rds_password, nvme-tcp-server-password, dhchapCtrlSecret, private_key, ssh-key). A name ending in
# "file" holds the path of a secret file (rds_key_passphrase_file), which is shown.
_SECRET_NAME = re.compile(r"pass|secret|token|chap|credential|(private|ssh|api)[-_]?key", re.I)
_PATH_NAME = re.compile(r"[-_]file\Z", re.I)
_BARE = re.compile(r"[A-Za-z0-9_./:@+-]+\Z")
_CORE_KEYS = ("ts", "level", "logger", "msg")


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name)) and not _PATH_NAME.search(name)


def masked(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` with the value of every secret-named key (at any depth) replaced; empty values stay empty."""
    shown: dict[str, Any] = {}
    for key, value in fields.items():
        if is_secret_name(str(key)) and value:
            shown[key] = SECRET_MASK
        elif isinstance(value, Mapping):
            shown[key] = masked(value)
        else:
            shown[key] = value
    return shown


def format_value(value: object) -> str:
    text = str(value)
    if text and _BARE.match(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def fields_text(fields: Mapping[str, Any]) -> str:
    return " ".join("%s=%s" % (key, format_value(value)) for key, value in masked(fields).items())


def _timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + ".%03dZ" % record.msecs


def _fields(record: logging.LogRecord) -> Mapping[str, Any]:
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, Mapping) else {}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = "ts=%s level=%s logger=%s msg=%s" % (
            _timestamp(record),
            record.levelname.lower(),
            record.name,
            format_value(record.getMessage()),
        )
        fields = _fields(record)
        if fields:
            line += " " + fields_text(fields)
        if record.exc_info:
            line += " exception=" + format_value(self.formatException(record.exc_info))
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``msg``, then the fields (a field named like
    one of those four is written as ``field_<name>``) and ``exception`` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in masked(_fields(record)).items():
            entry["field_" + key if key in _CORE_KEYS else key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


_FORMATTERS: dict[str, type[logging.Formatter]] = {"text": KeyValueFormatter, "json": JsonFormatter}
LOG_FORMATS = tuple(_FORMATTERS)


def setup_logging(level: str, log_format: str) -> None:
    """Log every record of the process to stderr in ``log_format`` (one of LOG_FORMATS)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_FORMATTERS[log_format]())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # Python warnings become records in the same format, not bare stderr text
    # paramiko's own transport chatter is not useful at info level.
    logging.getLogger("paramiko").setLevel(max(logging.WARNING, root.level))
