"""CSI snapshots (P-5.6): a snapshot is a non-exported ``copy-from`` disk of its source volume.

RouterOS does not print the source of a copy, so the snapshot disk's comment records it with the
creation time (``rds-csi snapshot source=pvc-... created=<unix seconds>``); a disk under the
snapshot prefix without that comment is not this driver's and is never listed or deleted.
"""

from __future__ import annotations

import posixpath
import time
from typing import Any, Optional

import grpc
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import Disk, DiskSpec
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import backing_file
from google.protobuf.timestamp_pb2 import Timestamp

from rds_csi import naming, pagination
from rds_csi.errors import CsiError, invalid, not_found
from rds_csi.naming import SnapshotRecord
from rds_csi.proto import csi_pb2
from rds_csi.volumes import Backend


class Snapshots:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.client = backend.client

    def create(self, request: Any) -> Any:
        if not request.name:
            raise invalid("CreateSnapshot: name is required.")
        if not request.source_volume_id:
            raise invalid("CreateSnapshot %s: source_volume_id is required." % request.name)
        snapshot_id = naming.snapshot_id_for(request.name)
        source_id = request.source_volume_id
        with self.backend.inflight.hold(snapshot_id, source_id):
            existing = self.client.get_disk(snapshot_id)
            if existing is not None:
                return csi_pb2.CreateSnapshotResponse(snapshot=self._existing(existing, source_id, request.name))
            source = self.backend.volume_disk(source_id)
            if source is None or not self.backend.policy.is_managed(source):
                raise not_found(
                    "CreateSnapshot %s: source volume %s does not exist on the RDS." % (request.name, source_id)
                )
            record = SnapshotRecord(source_volume_id=source_id, created=int(time.time()))
            spec = DiskSpec(
                slot=snapshot_id,
                file_path=backing_file(posixpath.dirname(source.file_path), snapshot_id),
                size=source.size or 0,
                comment=naming.snapshot_comment(record),
            )
            disk = self.client.copy_disk(source_id, spec)
        return csi_pb2.CreateSnapshotResponse(snapshot=_message(disk, record))

    def delete(self, request: Any) -> Any:
        snapshot_id = request.snapshot_id
        if not snapshot_id:
            raise invalid("DeleteSnapshot: snapshot_id is required.")
        if not naming.is_snapshot_id(snapshot_id):
            return csi_pb2.DeleteSnapshotResponse()
        with self.backend.inflight.hold(snapshot_id):
            disk = self.client.get_disk(snapshot_id)
            if disk is not None and naming.snapshot_from_comment(disk.comment) is None:
                raise CsiError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    "DeleteSnapshot: disk %s on the RDS is not a snapshot made by this driver; remove it by hand "
                    "if it is no longer needed." % snapshot_id,
                )
            self.backend.remove(snapshot_id, disk)
        return csi_pb2.DeleteSnapshotResponse()

    def listing(self, request: Any) -> Any:
        if request.starting_token:
            pagination.decode(request.starting_token)
        if request.snapshot_id:
            disk = self.snapshot_disk(request.snapshot_id)
            found = [disk] if disk is not None else []
        else:
            found = self._all()
        if request.source_volume_id:
            found = [disk for disk in found if _record(disk).source_volume_id == request.source_volume_id]
        disks, next_token = pagination.page(found, lambda disk: disk.slot, request.max_entries, request.starting_token)
        entries = [csi_pb2.ListSnapshotsResponse.Entry(snapshot=_message(disk, _record(disk))) for disk in disks]
        return csi_pb2.ListSnapshotsResponse(entries=entries, next_token=next_token)

    def snapshot_disk(self, snapshot_id: str) -> Optional[Disk]:
        """This driver's snapshot disk for an ID, or None."""
        if not naming.is_snapshot_id(snapshot_id):
            return None
        disk = self.client.get_disk(snapshot_id)
        if disk is None or naming.snapshot_from_comment(disk.comment) is None:
            return None
        return disk

    def _all(self) -> list[Disk]:
        disks = self.client.list_disks(slot_regex="^" + naming.SNAPSHOT_PREFIX)
        return [disk for disk in disks if naming.snapshot_from_comment(disk.comment) is not None]

    def _existing(self, disk: Disk, source_id: str, name: str) -> Any:
        record = naming.snapshot_from_comment(disk.comment)
        if record is None or record.source_volume_id != source_id:
            raise CsiError(
                grpc.StatusCode.ALREADY_EXISTS,
                "CreateSnapshot %s: snapshot %s already exists for another source (%s), not %s; use another name."
                % (name, disk.slot, record.source_volume_id if record else "not a snapshot of this driver", source_id),
            )
        return _message(disk, record)


def _record(disk: Disk) -> SnapshotRecord:
    record = naming.snapshot_from_comment(disk.comment)
    assert record is not None, "only snapshot disks with a record are listed"
    return record


def _message(disk: Disk, record: SnapshotRecord) -> Any:
    return csi_pb2.Snapshot(
        size_bytes=disk.size or 0,
        snapshot_id=disk.slot,
        source_volume_id=record.source_volume_id,
        creation_time=Timestamp(seconds=record.created),
        ready_to_use=True,
    )
