"""The attachment ledger without a Kubernetes API (standalone mode: the demo, rehearsals).

One JSON file holds every volume's attachments and migration timeout, rewritten whole on each change
(a temporary file, fsync, rename, fsync of the directory), so that a restart keeps fencing. A file
that cannot be read or written stops the controller's publishes (Unavailable) instead of forgetting.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional

import grpc

from rds_csi.attachments import Attachment
from rds_csi.errors import CsiError

FORMAT = 1


class FileLedger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._volumes: dict[str, list[Attachment]] = {}
        self._timeouts: dict[str, str] = {}
        self._load()

    def held(self, volume_id: str) -> tuple[Attachment, ...]:
        with self._lock:
            return tuple(self._volumes.get(volume_id, ()))

    def volumes(self) -> list[str]:
        with self._lock:
            return list(self._volumes)

    def timeout(self, volume_id: str) -> Optional[str]:
        with self._lock:
            return self._timeouts.get(volume_id)

    def confirmed(self, volume_id: str, node_id: str) -> Optional[bool]:
        with self._lock:
            return any(held.node_id == node_id for held in self._volumes.get(volume_id, ()))

    def attached(self, volume_id: str, attachment: Attachment, timeout: int) -> None:
        with self._lock:
            kept = [held for held in self._volumes.get(volume_id, []) if held.node_id != attachment.node_id]
            self._volumes[volume_id] = [*kept, attachment]
            self._timeouts[volume_id] = str(timeout)
            self._save()

    def detached(self, volume_id: str, node_id: str) -> None:
        with self._lock:
            kept = [held for held in self._volumes.get(volume_id, []) if held.node_id != node_id]
            if len(kept) == len(self._volumes.get(volume_id, [])):
                return
            if kept:
                self._volumes[volume_id] = kept
            else:
                self._volumes.pop(volume_id, None)
                self._timeouts.pop(volume_id, None)
            self._save()

    def _load(self) -> None:
        try:
            data: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as error:
            raise self._unusable("cannot be read", error) from error
        for volume_id, entries in data.get("volumes", {}).items():
            self._volumes[volume_id] = [Attachment(**entry) for entry in entries]
        self._timeouts = {key: str(value) for key, value in data.get("timeouts", {}).items()}

    def _save(self) -> None:
        data = {
            "format": FORMAT,
            "volumes": {volume: [asdict(held) for held in held_list] for volume, held_list in self._volumes.items()},
            "timeouts": self._timeouts,
        }
        partial = self.path.with_name(self.path.name + ".partial")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(partial, "w", encoding="utf-8") as handle:
                json.dump(data, handle, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, self.path)
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as error:
            raise self._unusable("cannot be written", error) from error

    def _unusable(self, what: str, error: Exception) -> CsiError:
        return CsiError(
            grpc.StatusCode.UNAVAILABLE,
            "The attachment state file %s %s (%s); publishes are refused until it can be: fix its directory's "
            "permissions or space, or point attachment_state_file elsewhere." % (self.path, what, error),
        )
