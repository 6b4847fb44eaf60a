"""Names of CSI objects on the RDS (C-3, P-3): slots, backing files, NQNs and the comments that
record what a disk is.

- A CSI volume name of the external-provisioner's form ``pvc-<uuid>`` is the volume ID and the
  disk slot unchanged (existing PersistentVolumes of the old driver keep working).
- Any other name (up to 128 characters of anything) is hashed into ``pvc-<uuid5>``: deterministic,
  so a repeated CreateVolume finds the same disk, safe for every RouterOS field, bounded in length.
- Snapshots follow the same rule with ``snapshot-`` (the external-snapshotter's form).
- The backing file is ``<volume path>/<id>.img``, the NQN ``nqn.2000-02.com.mikrotik:<id>``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Optional

from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import VOLUME_SLOT_PREFIX

VOLUME_PREFIX = VOLUME_SLOT_PREFIX
SNAPSHOT_PREFIX = "snapshot-"
# A fixed namespace so every controller derives the same ID from the same name.
_NAMESPACE = uuid.UUID("5b1d7f3e-2c8a-4e6b-9a41-7d0c3f6e8b52")
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_VOLUME_NAME = re.compile(VOLUME_PREFIX + _UUID + r"\Z")
_SNAPSHOT_NAME = re.compile("snapshot-" + _UUID + r"\Z")
# IDs this driver accepts back from the CO: its own form, plus any short lower-case pvc- slot.
_VOLUME_ID = re.compile(VOLUME_PREFIX + r"[a-z0-9][a-z0-9-]{0,62}\Z")
_SNAPSHOT_ID = re.compile(r"snapshot-[a-z0-9][a-z0-9-]{0,62}\Z")
_SOURCE = re.compile(r"rds-csi source=(?P<kind>snapshot|volume):(?P<id>\S+)")
_SNAPSHOT_COMMENT = re.compile(r"rds-csi snapshot source=(?P<source>\S+) created=(?P<created>\d+)\Z")


def volume_id_for(name: str) -> str:
    return name if _VOLUME_NAME.match(name) else VOLUME_PREFIX + str(uuid.uuid5(_NAMESPACE, "volume:" + name))


def snapshot_id_for(name: str) -> str:
    return name if _SNAPSHOT_NAME.match(name) else SNAPSHOT_PREFIX + str(uuid.uuid5(_NAMESPACE, "snapshot:" + name))


def is_volume_id(volume_id: str) -> bool:
    return bool(_VOLUME_ID.match(volume_id))


def is_snapshot_id(snapshot_id: str) -> bool:
    return bool(_SNAPSHOT_ID.match(snapshot_id))


@dataclass(frozen=True)
class Source:
    """Where a volume's content came from: ``kind`` is ``snapshot`` or ``volume``."""

    kind: str
    object_id: str


def source_comment(source: Optional[Source]) -> str:
    return "" if source is None else "rds-csi source=%s:%s" % (source.kind, source.object_id)


def source_from_comment(comment: str) -> Optional[Source]:
    found = _SOURCE.match(comment)
    return Source(found["kind"], found["id"]) if found else None


@dataclass(frozen=True)
class SnapshotRecord:
    """What the snapshot disk's comment records: RouterOS does not print the source of a copy (P-5.6)."""

    source_volume_id: str
    created: int


def snapshot_comment(record: SnapshotRecord) -> str:
    return "rds-csi snapshot source=%s created=%d" % (record.source_volume_id, record.created)


def snapshot_from_comment(comment: str) -> Optional[SnapshotRecord]:
    found = _SNAPSHOT_COMMENT.match(comment)
    return SnapshotRecord(found["source"], int(found["created"])) if found else None
