"""Volume facts shared by the controller and snapshot services: the RDS client, the policy of
what the driver owns, and the translation of RDS disks into CSI messages."""

from __future__ import annotations

import posixpath
import threading
from dataclasses import dataclass, field
from typing import Any, Optional

import grpc
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import Disk, ManagedPolicy

from rds_csi.attachments import Attachments
from rds_csi.config import Config
from rds_csi.errors import CsiError, not_found
from rds_csi.inflight import InFlight
from rds_csi.naming import SNAPSHOT_PREFIX, VOLUME_PREFIX, Source, is_volume_id, source_from_comment
from rds_csi.nodes import NodeRegistry
from rds_csi.params import VolumeParams
from rds_csi.proto import csi_pb2
from rds_csi.topology import ZONE_KEY


@dataclass
class Backend:
    config: Config
    client: RdsClient
    attachments: Attachments
    nodes: NodeRegistry
    inflight: InFlight = field(default_factory=InFlight)
    _directories: set[str] = field(default_factory=set)
    _directories_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def policy(self) -> ManagedPolicy:
        return ManagedPolicy(slot_prefix=VOLUME_PREFIX, nqn_prefix=self.config.managed_nqn_prefix)

    def topology(self) -> Any:
        return csi_pb2.Topology(segments={ZONE_KEY: self.config.zone})

    def ensure_directory(self, path: str, again: bool = False) -> None:
        """Create the volume directory once per process (RouterOS needs the parent of a backing file)."""
        with self._directories_lock:
            if again:
                self._directories.discard(path)
            elif path in self._directories:
                return
        self.client.ensure_directory(path)
        with self._directories_lock:
            self._directories.add(path)

    def volume_disk(self, volume_id: str) -> Optional[Disk]:
        """This driver's disk for a volume ID, or None when there is none."""
        if not is_volume_id(volume_id):
            return None
        disk = self.client.get_disk(volume_id)
        return disk if disk is not None and disk.is_file_disk else None

    def require_volume(self, volume_id: str, what: str) -> Disk:
        disk = self.volume_disk(volume_id)
        if disk is None:
            raise not_found("%s: volume %s does not exist on the RDS." % (what, volume_id))
        self.require_managed(disk, what)
        return disk

    def require_managed(self, disk: Disk, what: str) -> None:
        """Disks outside the managed prefixes are read-only to the driver (P-4.7)."""
        volume_id = disk.slot
        if not self.policy.is_managed(disk):
            raise CsiError(
                grpc.StatusCode.FAILED_PRECONDITION,
                "%s: disk %s on the RDS is not managed by this driver (its NQN %r is outside the managed prefix %s)."
                % (what, volume_id, disk.export.nqn, self.config.managed_nqn_prefix),
            )

    def managed_volumes(self) -> list[Disk]:
        disks = self.client.list_disks(slot_regex="^" + VOLUME_PREFIX)
        return [disk for disk in disks if self.policy.is_managed(disk) and not disk.slot.startswith(SNAPSHOT_PREFIX)]

    def params_of(self, disk: Disk) -> VolumeParams:
        return VolumeParams(
            volume_path=posixpath.dirname(disk.file_path) or self.config.base_path,
            nvme_address=self.config.nvme_address,
            nvme_port=disk.export.port or self.config.nvme_port,
        )

    def volume_message(self, disk: Disk, params: VolumeParams) -> Any:
        volume = csi_pb2.Volume(
            capacity_bytes=disk.size or 0,
            volume_id=disk.slot,
            volume_context=params.context(disk.export.nqn),
            accessible_topology=[self.topology()],
        )
        source = source_from_comment(disk.comment)
        if source is not None:
            volume.content_source.CopyFrom(content_source(source))
        return volume

    def remove(self, object_id: str, disk: Optional[Disk]) -> None:
        """Remove a disk and its backing file; with the entry gone, remove a file left by an interrupted delete."""
        hint = disk.file_path if disk is not None else "%s/%s.img" % (self.config.base_path, object_id)
        self.client.remove_disk(object_id, file_path=hint)


def content_source(source: Source) -> Any:
    if source.kind == "snapshot":
        return csi_pb2.VolumeContentSource(
            snapshot=csi_pb2.VolumeContentSource.SnapshotSource(snapshot_id=source.object_id)
        )
    return csi_pb2.VolumeContentSource(volume=csi_pb2.VolumeContentSource.VolumeSource(volume_id=source.object_id))
