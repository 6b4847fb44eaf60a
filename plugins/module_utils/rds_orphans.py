# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure detection of orphaned RDS disks and backing files (the ``orphans`` module).

An orphaned disk is a managed disk (slot and NQN prefixes, P-4.7) that no PersistentVolume of
the driver names. An orphaned file is a ``.img`` file under the managed base path that no disk
on the RDS uses and no PersistentVolume names. Snapshot disks (``snapshot-`` slot or the driver's
snapshot comment), the files any disk uses, and unmanaged disks are never orphans. Something is
removable only when its backing file is older than the grace period; an unknown age is never old.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional, Set

from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import Disk, ManagedPolicy, RdsFile

SNAPSHOT_SLOT_PREFIX = "snapshot-"
SNAPSHOT_COMMENT_PREFIX = "rds-csi snapshot "
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})\Z")
_OLD = re.compile(r"([a-z]{3})/(\d{2})/(\d{4}) (\d{2}):(\d{2}):(\d{2})\Z")


@dataclass(frozen=True)
class Orphan:
    kind: str  # "disk" or "file"
    slot: str
    file_path: str
    size: Optional[int]
    created: Optional[datetime]
    age_seconds: Optional[int]
    removable: bool
    reason: str

    def as_dict(self) -> Dict[str, Any]:
        return {
            "kind": self.kind,
            "slot": self.slot,
            "file_path": self.file_path,
            "size": self.size,
            "created": self.created.isoformat() if self.created is not None else None,
            "age_seconds": self.age_seconds,
            "removable": self.removable,
            "reason": self.reason,
        }


def parse_creation_time(text: str) -> Optional[datetime]:
    """RouterOS' ``2025-11-11 14:32:41`` or older ``nov/11/2025 14:32:41``, read as UTC; ``None`` if neither."""
    text = text.strip()
    match = _ISO.match(text)
    if match:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
    else:
        old = _OLD.match(text.lower())
        if not old or old.group(1) not in _MONTHS:
            return None
        month = _MONTHS.index(old.group(1)) + 1
        day, year, hour, minute, second = (int(part) for part in old.groups()[1:])
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError:
        return None


def is_snapshot_disk(disk: Disk) -> bool:
    return disk.slot.startswith(SNAPSHOT_SLOT_PREFIX) or disk.comment.startswith(SNAPSHOT_COMMENT_PREFIX)


def under(path: str, base_path: str) -> bool:
    return path.startswith(base_path.rstrip("/") + "/")


def find_orphans(
    disks: Iterable[Disk],
    files: Iterable[RdsFile],
    volume_handles: Set[str],
    *,
    policy: ManagedPolicy,
    base_path: str,
    now: datetime,
    grace_seconds: int,
) -> List[Orphan]:
    """Orphaned disks first, then orphaned files, each sorted by name."""
    disks = list(disks)
    by_path = {entry.path: entry for entry in files}
    used_paths = {disk.file_path for disk in disks if disk.file_path}
    found = []
    for disk in sorted(disks, key=lambda item: item.slot):
        if not policy.is_managed(disk) or is_snapshot_disk(disk) or disk.slot in volume_handles:
            continue
        found.append(
            _orphan(
                "disk",
                disk.slot,
                disk.file_path,
                disk.size,
                entry=by_path.get(disk.file_path),
                now=now,
                grace=grace_seconds,
            )
        )
    for entry in sorted(by_path.values(), key=lambda item: item.path):
        if not entry.is_disk_image or not under(entry.path, base_path) or entry.path in used_paths:
            continue
        if _stem(entry.path) in volume_handles:
            continue  # a PersistentVolume whose disk entry is gone: the file holds its data
        found.append(_orphan("file", "", entry.path, entry.size, entry=entry, now=now, grace=grace_seconds))
    return found


def _orphan(
    kind: str, slot: str, path: str, size: Optional[int], *, entry: Optional[RdsFile], now: datetime, grace: int
) -> Orphan:
    created = parse_creation_time(entry.creation_time) if entry is not None else None
    if created is None:
        return Orphan(kind, slot, path, size, None, None, False, "age unknown (no readable creation time)")
    age = int((now - created).total_seconds())
    if age < grace:
        return Orphan(kind, slot, path, size, created, age, False, "younger than the grace period")
    return Orphan(kind, slot, path, size, created, age, True, "")


def _stem(path: str) -> str:
    name = posixpath.basename(path)
    return name[: -len(".img")] if name.endswith(".img") else name
