"""Controller-side volume health: ControllerGetVolume's VolumeCondition, judged from one read of the RDS.

The driver creates every volume as a file disk in slot ``<id>`` backed by ``<volume path>/<id>.img``,
exported over NVMe/TCP as ``nqn_for(id)`` (P-3). ``problems`` compares what the RDS shows with that
and says, for each difference, what is broken and how to repair it. The RDS keeps no record of the
StorageClass a volume came from: any volume path the driver accepts is taken as the volume's own,
and the export's port is compared with the driver's ``nvme_port``, the port of a StorageClass
that sets no ``nvmePort``.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Optional

from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import Disk, RdsFile
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import IMAGE_SUFFIX, nqn_for

from rds_csi.params import is_volume_path

HEALTHY = "volume is healthy: its disk, backing file and NVMe/TCP export are as the driver created them"


@dataclass(frozen=True)
class VolumeFacts:
    """What the RDS and this controller show of one volume ID."""

    volume_id: str
    disk: Optional[Disk]
    file_path: str  # where the backing file was looked for: the disk's file, else where the driver keeps it
    backing_file: Optional[RdsFile]
    published_nodes: tuple[str, ...]

    @property
    def known(self) -> bool:
        """Whether anything of the volume exists; an unknown volume is NotFound, not abnormal."""
        return self.disk is not None or self.backing_file is not None or bool(self.published_nodes)


def problems(facts: VolumeFacts, nqn_prefix: str, port: int) -> list[str]:
    """Each way the volume differs from what the driver created, as a sentence naming the cause and the fix;
    empty when the volume is healthy."""
    disk = facts.disk
    if disk is None:
        return [_missing_disk(facts)]
    volume_id = facts.volume_id
    if not disk.is_file_disk:
        return [
            "Disk %s on the RDS is a %s disk, not the file disk the driver created for this volume, so no node "
            "can use it as the volume. Remove or rename that disk and restore the volume's file disk, or delete the "
            "PersistentVolume." % (volume_id, disk.type or "typeless")
        ]
    found = _file_problems(facts, disk)
    if disk.disabled:
        found.append(
            "Disk %s is disabled on the RDS, so it serves no I/O. Enable it: /disk set [find slot=%s] disabled=no."
            % (volume_id, volume_id)
        )
    return found + _export_problems(volume_id, disk, nqn_prefix, port)


def _missing_disk(facts: VolumeFacts) -> str:
    where = (
        "its backing file %s is still there" % facts.file_path
        if facts.backing_file is not None
        else "no backing file is at %s either" % facts.file_path
    )
    published = (
        "; it is still published to node(s) %s, which lost it" % ", ".join(facts.published_nodes)
        if facts.published_nodes
        else ""
    )
    return (
        "Volume %s has no disk on the RDS (%s%s). Re-create the disk over its backing file with srvlab.rds.disk "
        "(slot=%s, file_path=<the file>, NVMe/TCP export as NQN %s), or delete the PersistentVolume if its data is "
        "not needed." % (facts.volume_id, where, published, facts.volume_id, nqn_for(facts.volume_id))
    )


def _file_problems(facts: VolumeFacts, disk: Disk) -> list[str]:
    volume_id = disk.slot
    directory, name = posixpath.split(disk.file_path)
    if name != volume_id + IMAGE_SUFFIX or not is_volume_path(directory):
        return [
            "Disk %s is backed by %r, not by <volume path>/%s%s where the driver put it: the disk was re-pointed "
            "or re-created by hand. Point it back at the volume's own file, or delete the PersistentVolume."
            % (volume_id, disk.file_path, volume_id, IMAGE_SUFFIX)
        ]
    if facts.backing_file is None:
        return [
            "The backing file %s of volume %s is missing on the RDS while its disk entry remains, so the volume has "
            "no data. Restore the file from a backup (or the PersistentVolume from a VolumeSnapshot), or delete the "
            "PersistentVolume." % (disk.file_path, volume_id)
        ]
    return []


def _export_problems(volume_id: str, disk: Disk, nqn_prefix: str, port: int) -> list[str]:
    export = disk.export
    nqn = nqn_for(volume_id)
    restore = "srvlab.rds.nvme_export (slot=%s, enabled=true, nvme_nqn=%s, nvme_port=%d)" % (volume_id, nqn, port)
    if not export.enabled:
        return [
            "Volume %s is not exported over NVMe/TCP (nvme-tcp-export=no on the RDS), so no node can connect to it. "
            "Export it again with %s." % (volume_id, restore)
        ]
    found = []
    refused = "so the driver treats the disk as not its own and refuses to publish, expand or delete it"
    if export.nqn != nqn:
        outside = (
            " It is also outside the driver's managed prefix %s, %s." % (nqn_prefix, refused)
            if export.nqn and not export.nqn.startswith(nqn_prefix)
            else ""
        )
        found.append(
            "Volume %s is exported as NQN %r, not %s, the NQN nodes connect to.%s Restore it with %s."
            % (volume_id, export.nqn, nqn, outside, restore)
        )
    elif not nqn.startswith(nqn_prefix):
        found.append(
            "NQN %s of volume %s is outside the driver's managed prefix %s, %s. Set the driver's managed_nqn_prefix "
            "to the prefix of its volumes' NQNs." % (nqn, volume_id, nqn_prefix, refused)
        )
    if export.port != port:
        shown = "port %d" % export.port if export.port is not None else "no port"
        found.append(
            "Volume %s is exported on %s, not on the driver's NVMe/TCP port %d (nvme_port, the port of a "
            "StorageClass without nvmePort): nodes connected on %d lost it. Restore the port with %s."
            % (volume_id, shown, port, port, restore)
        )
    return found
