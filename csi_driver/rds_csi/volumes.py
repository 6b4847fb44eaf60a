"""Volume facts shared by the controller and snapshot services: the RDS behind its one door
(``VolumeStore``), the policy of what the driver owns, and the translation of RDS disks into CSI
messages."""

from __future__ import annotations

import posixpath
import threading
from dataclasses import dataclass, field
from typing import Any, Optional

import grpc
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import Survey
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import Disk, ManagedPolicy
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import backing_file, path_problem

from rds_csi.attachments import Attachments
from rds_csi.config import Config
from rds_csi.errors import CsiError, not_found
from rds_csi.inflight import InFlight
from rds_csi.naming import SNAPSHOT_PREFIX, VOLUME_PREFIX, Source, is_volume_id, source_from_comment
from rds_csi.nodes import NodeRegistry
from rds_csi.params import VolumeParams
from rds_csi.proto import csi_pb2
from rds_csi.store import VolumeStore
from rds_csi.topology import ZONE_KEY
from rds_csi.volume_health import VolumeFacts


@dataclass
class Backend:
    config: Config
    store: VolumeStore
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

    def directory_known(self, path: str) -> bool:
        """Whether this process has seen the volume directory exist (RouterOS needs the parent of a backing file)."""
        with self._directories_lock:
            return path in self._directories

    def remember_directory(self, path: str, exists: bool) -> None:
        with self._directories_lock:
            if exists:
                self._directories.add(path)
            else:
                self._directories.discard(path)

    def ensure_directory(self, path: str) -> None:
        self.store.ensure_directory(path)
        self.remember_directory(path, exists=True)

    def volume_disk(self, volume_id: str) -> Optional[Disk]:
        """This driver's disk for a volume ID, or None when there is none."""
        if not is_volume_id(volume_id):
            return None
        return file_disk(self.store.survey(slots=[volume_id]).disks.get(volume_id))

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
        disks = self.store.list_disks(slot_regex="^" + VOLUME_PREFIX)
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

    def volume_facts(self, volume_id: str) -> VolumeFacts:
        """What the RDS shows of a volume in one read: its disk and its backing file where the driver keeps it
        under the base path; a disk whose file lies elsewhere (a StorageClass volumePath) costs a second read."""
        nodes = tuple(self.attachments.published_nodes(volume_id))
        if not is_volume_id(volume_id):
            return VolumeFacts(volume_id, None, "", None, nodes)
        hint = self.removal_hint(volume_id)
        found = self.store.survey(slots=[volume_id], files=[hint])
        disk = found.disks.get(volume_id)
        path = disk.file_path if disk is not None and disk.is_file_disk else hint
        if path == hint:
            files = found.files
        else:
            files = self.store.survey(files=[path]).files if path_problem(path) is None else {}
        return VolumeFacts(volume_id, disk, path, files.get(path), nodes)

    def facts_message(self, facts: VolumeFacts) -> Any:
        """The CSI Volume for ControllerGetVolume, also when the disk is gone (then sized by its backing file)."""
        if facts.disk is not None:
            return self.volume_message(facts.disk, self.params_of(facts.disk))
        size = facts.backing_file.size if facts.backing_file is not None else None
        return csi_pb2.Volume(
            volume_id=facts.volume_id, capacity_bytes=size or 0, accessible_topology=[self.topology()]
        )

    def removal_hint(self, object_id: str) -> str:
        """Where an object's backing file is when its disk entry is already gone (an interrupted delete)."""
        return backing_file(self.config.base_path, object_id)

    def remove(self, disk: Optional[Disk], found: Survey, hint: str) -> None:
        """Remove a disk read in ``found`` and its backing file; with the entry gone, a file left at ``hint``."""
        if disk is not None:
            self.store.remove_known_disk(disk)
        elif hint in found.files:
            self.store.remove_known_file(hint)


def file_disk(disk: Optional[Disk]) -> Optional[Disk]:
    return disk if disk is not None and disk.is_file_disk else None


def content_source(source: Source) -> Any:
    if source.kind == "snapshot":
        return csi_pb2.VolumeContentSource(
            snapshot=csi_pb2.VolumeContentSource.SnapshotSource(snapshot_id=source.object_id)
        )
    return csi_pb2.VolumeContentSource(volume=csi_pb2.VolumeContentSource.VolumeSource(volume_id=source.object_id))
