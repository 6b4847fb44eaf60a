"""Atomic replacement of small state files (write a temporary file, then rename over)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .jsontypes import JsonValue


def write_json_atomically(path: Path, document: JsonValue, *, durable: bool = True) -> None:
    """Readers see the old or the new document, never a partial one.

    `durable` also flushes the data to disk before the rename (state worth keeping across a crash
    of the host); counters that change with every command skip that cost."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(document, stream, indent=2, ensure_ascii=False)
            stream.write("\n")
            stream.flush()
            if durable:
                os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
