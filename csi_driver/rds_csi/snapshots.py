"""CSI snapshots (P-5.6): a snapshot is a non-exported ``copy-from`` disk of its source volume.

RouterOS does not print the source of a copy, so the snapshot disk's comment records it with the
creation time (``rds-csi snapshot source=pvc-... created=<unix seconds>``); a disk under the
snapshot prefix without that comment is not this driver's and is never listed or deleted.
CreateSnapshot and DeleteSnapshot each cost two round trips to the RDS: one survey, one change.
"""

from __future__ import annotations

import posixpath
import time
from typing import Any, Optional

import grpc
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import check_room, pool_of
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import Disk, DiskSpec
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import backing_file
from google.protobuf.timestamp_pb2 import Timestamp

from rds_csi import naming, pagination
from rds_csi.errors import CsiError, invalid, not_found
from rds_csi.naming import SnapshotRecord
from rds_csi.proto import csi_pb2
from rds_csi.volumes import Backend, file_disk


class Snapshots:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.store = backend.store

    def create(self, request: Any) -> Any:
        if not request.name:
            raise invalid("CreateSnapshot: name is required.")
        if not request.source_volume_id:
            raise invalid("CreateSnapshot %s: source_volume_id is required." % request.name)
        snapshot_id = naming.snapshot_id_for(request.name)
        source_id = request.source_volume_id
        with self.backend.inflight.hold(snapshot_id, source_id):
            disk, record = self._create(snapshot_id, source_id, request.name)
        return csi_pb2.CreateSnapshotResponse(snapshot=_message(disk, record))

    def delete(self, request: Any) -> Any:
        snapshot_id = request.snapshot_id
        if not snapshot_id:
            raise invalid("DeleteSnapshot: snapshot_id is required.")
        if not naming.is_snapshot_id(snapshot_id):
            return csi_pb2.DeleteSnapshotResponse()
        with self.backend.inflight.hold(snapshot_id):
            hint = self.backend.removal_hint(snapshot_id)
            found = self.store.survey(slots=[snapshot_id], files=[hint])
            disk = found.disks.get(snapshot_id)
            if disk is not None and naming.snapshot_from_comment(disk.comment) is None:
                raise CsiError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    "DeleteSnapshot: disk %s on the RDS is not a snapshot made by this driver; remove it by hand "
                    "if it is no longer needed." % snapshot_id,
                )
            self.backend.remove(disk, found, hint)
        return csi_pb2.DeleteSnapshotResponse()

    def listing(self, request: Any) -> Any:
        if request.starting_token:
            pagination.decode(request.starting_token)
        if request.snapshot_id:
            disk = self._snapshot_disk(request.snapshot_id)
            found = [disk] if disk is not None else []
        else:
            found = self._all()
        if request.source_volume_id:
            found = [disk for disk in found if _record(disk).source_volume_id == request.source_volume_id]
        disks, next_token = pagination.page(found, lambda disk: disk.slot, request.max_entries, request.starting_token)
        entries = [csi_pb2.ListSnapshotsResponse.Entry(snapshot=_message(disk, _record(disk))) for disk in disks]
        return csi_pb2.ListSnapshotsResponse(entries=entries, next_token=next_token)

    def _create(self, snapshot_id: str, source_id: str, name: str) -> tuple[Disk, SnapshotRecord]:
        """One survey (the snapshot, its source, the pool of the base path), then one copy."""
        usual_pool = pool_of(self.backend.config.base_path)
        found = self.store.survey(slots=[snapshot_id, source_id], pool=usual_pool)
        existing = found.disks.get(snapshot_id)
        if existing is not None:
            return existing, _same_snapshot(existing, source_id, name)
        source = file_disk(found.disks.get(source_id))
        if source is None or not naming.is_volume_id(source_id) or not self.backend.policy.is_managed(source):
            raise not_found("CreateSnapshot %s: source volume %s does not exist on the RDS." % (name, source_id))
        record = SnapshotRecord(source_volume_id=source_id, created=int(time.time()))
        spec = DiskSpec(
            slot=snapshot_id,
            file_path=backing_file(posixpath.dirname(source.file_path), snapshot_id),
            size=source.size or 0,
            comment=naming.snapshot_comment(record),
        )
        pool = pool_of(spec.file_path)
        capacity = found.capacity if pool == usual_pool and found.capacity else self.store.pool_capacity(pool)
        check_room(capacity, spec)
        return self.store.create_disk(spec, source), record

    def _snapshot_disk(self, snapshot_id: str) -> Optional[Disk]:
        if not naming.is_snapshot_id(snapshot_id):
            return None
        return driver_snapshot(self.store.survey(slots=[snapshot_id]).disks.get(snapshot_id))

    def _all(self) -> list[Disk]:
        disks = self.store.list_disks(slot_regex="^" + naming.SNAPSHOT_PREFIX)
        return [disk for disk in disks if naming.snapshot_from_comment(disk.comment) is not None]


def driver_snapshot(disk: Optional[Disk]) -> Optional[Disk]:
    """``disk`` when it is a snapshot this driver made (its ID form and the comment that records the source)."""
    if disk is None or not naming.is_snapshot_id(disk.slot) or naming.snapshot_from_comment(disk.comment) is None:
        return None
    return disk


def _same_snapshot(disk: Disk, source_id: str, name: str) -> SnapshotRecord:
    record = naming.snapshot_from_comment(disk.comment)
    if record is None or record.source_volume_id != source_id:
        raise CsiError(
            grpc.StatusCode.ALREADY_EXISTS,
            "CreateSnapshot %s: snapshot %s already exists for another source (%s), not %s; use another name."
            % (name, disk.slot, record.source_volume_id if record else "not a snapshot of this driver", source_id),
        )
    return record


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
