"""Snapshots (P-5.6): copy-from disks that are not exported, the source recorded on the RDS,
restore and clone round trips checked on the emulator's backing files, pagination."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
from csi_helpers import GIB, Csi, block, create_request, from_snapshot, from_volume, status_of
from rds_csi.proto import csi_pb2

MIB = 1024**2


def write_pattern(path: Path, offset: int, data: bytes) -> None:
    with path.open("r+b") as handle:
        handle.seek(offset)
        handle.write(data)


def read_at(path: Path, offset: int, length: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read(length)


def allocated(path: Path) -> int:
    return os.stat(path).st_blocks * 512


def test_snapshot_restore_clone_round_trip(csi: Csi) -> None:
    source = csi.controller.CreateVolume(create_request("pvc-source", size=2 * GIB)).volume
    source_file = csi.backing_file(source.volume_id)
    write_pattern(source_file, 0, b"head" * 1024)
    write_pattern(source_file, GIB + 7 * MIB, b"tail-data" * 100)
    snapshot = csi.controller.CreateSnapshot(
        csi_pb2.CreateSnapshotRequest(name="snap-a", source_volume_id=source.volume_id)
    ).snapshot
    assert snapshot.size_bytes == 2 * GIB and snapshot.ready_to_use and snapshot.creation_time.seconds > 0
    assert snapshot.snapshot_id.startswith("snapshot-")
    snapshot_file = csi.backing_file(snapshot.snapshot_id)
    assert snapshot_file.stat().st_size == 2 * GIB
    assert all(entry["slot"] != snapshot.snapshot_id for entry in csi.exports().values()), "snapshots are not exported"
    write_pattern(source_file, 0, b"CHANGED!")  # the snapshot is an independent copy

    restored = csi.controller.CreateVolume(
        create_request("pvc-restored", size=3 * GIB, volume_content_source=from_snapshot(snapshot.snapshot_id))
    ).volume
    assert restored.capacity_bytes == 3 * GIB
    assert restored.content_source.snapshot.snapshot_id == snapshot.snapshot_id
    restored_file = csi.backing_file(restored.volume_id)
    assert restored_file.stat().st_size == 3 * GIB
    assert read_at(restored_file, 0, 8) == b"headhead"
    assert read_at(restored_file, GIB + 7 * MIB, 9) == b"tail-data"
    assert allocated(restored_file) < 64 * MIB, "holes stay holes"

    clone = csi.controller.CreateVolume(
        create_request("pvc-clone", size=0, volume_content_source=from_volume(restored.volume_id))
    ).volume
    assert clone.capacity_bytes == 3 * GIB, "a clone without a size gets its source's size"
    assert clone.content_source.volume.volume_id == restored.volume_id
    clone_file = csi.backing_file(clone.volume_id)
    assert read_at(clone_file, GIB + 7 * MIB, 9) == b"tail-data"
    assert "nqn.2000-02.com.mikrotik:" + clone.volume_id in csi.exports()

    again = create_request("pvc-clone", size=0, volume_content_source=from_volume(source.volume_id))
    assert status_of(lambda: csi.controller.CreateVolume(again)) == grpc.StatusCode.ALREADY_EXISTS
    smaller = create_request("pvc-too-small", size=GIB, volume_content_source=from_snapshot(snapshot.snapshot_id))
    smaller.capacity_range.limit_bytes = GIB
    assert status_of(lambda: csi.controller.CreateVolume(smaller)) == grpc.StatusCode.OUT_OF_RANGE

    # The source survives its volume's deletion: the mapping lives on the RDS.
    csi.controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=source.volume_id))
    found = csi.controller.ListSnapshots(csi_pb2.ListSnapshotsRequest(snapshot_id=snapshot.snapshot_id)).entries
    assert [entry.snapshot.source_volume_id for entry in found] == [source.volume_id]
    csi.controller.DeleteSnapshot(csi_pb2.DeleteSnapshotRequest(snapshot_id=snapshot.snapshot_id))
    assert not snapshot_file.exists()
    assert read_at(restored_file, 0, 8) == b"headhead"


def test_list_snapshots_by_id_source_and_pages(start_driver: object, csi: Csi) -> None:
    volumes = [
        csi.controller.CreateVolume(create_request("pvc-snapsrc-%d" % n, capability=block())).volume.volume_id
        for n in range(2)
    ]
    ids = []
    for n in range(5):
        request = csi_pb2.CreateSnapshotRequest(name="snap-%d" % n, source_volume_id=volumes[n % 2])
        ids.append(csi.controller.CreateSnapshot(request).snapshot.snapshot_id)
    everything = csi.controller.ListSnapshots(csi_pb2.ListSnapshotsRequest())
    assert sorted(entry.snapshot.snapshot_id for entry in everything.entries) == sorted(ids)
    assert not everything.next_token
    first = csi.controller.ListSnapshots(csi_pb2.ListSnapshotsRequest(max_entries=2))
    assert len(first.entries) == 2 and first.next_token
    rest = csi.controller.ListSnapshots(csi_pb2.ListSnapshotsRequest(starting_token=first.next_token))
    assert len(rest.entries) == 3 and not rest.next_token
    paged = [entry.snapshot.snapshot_id for entry in [*first.entries, *rest.entries]]
    assert sorted(paged) == sorted(ids) and len(set(paged)) == 5
    by_source = csi.controller.ListSnapshots(csi_pb2.ListSnapshotsRequest(source_volume_id=volumes[0]))
    assert len(by_source.entries) == 3
    by_id = csi.controller.ListSnapshots(csi_pb2.ListSnapshotsRequest(snapshot_id=ids[3]))
    assert [entry.snapshot.snapshot_id for entry in by_id.entries] == [ids[3]]
    missing = csi.controller.ListSnapshots(csi_pb2.ListSnapshotsRequest(snapshot_id="snapshot-missing"))
    assert list(missing.entries) == []
    volumes_listed = csi.controller.ListVolumes(csi_pb2.ListVolumesRequest()).entries
    assert sorted(entry.volume.volume_id for entry in volumes_listed) == sorted(volumes), "snapshots are not volumes"


def test_snapshot_of_missing_volume_is_not_found(csi: Csi) -> None:
    request = csi_pb2.CreateSnapshotRequest(name="snap-x", source_volume_id="pvc-00000000-0000-4000-8000-000000000001")
    assert status_of(lambda: csi.controller.CreateSnapshot(request)) == grpc.StatusCode.NOT_FOUND
