"""Every decision of the controller and snapshot services, against the in-memory RDS.

The services reach the RDS only through ``VolumeStore``; here that is ``FakeRds``, so each test
runs in microseconds and counts the round trips the real client would make. The same behaviour
over the real socket and the emulator is covered by test_controller_behaviour.py.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import RdsFile
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import AlreadyExistsError
from csi_helpers import GIB, create_request, from_snapshot, from_volume, mount
from rds_csi.attachment_file import FileLedger
from rds_csi.attachments import AttachmentManager
from rds_csi.config import Config
from rds_csi.controller import Controller
from rds_csi.events import Recorder
from rds_csi.nodes import StaticNodes
from rds_csi.proto import csi_pb2
from rds_csi.volumes import Backend

from tests.unit.plugins.fake_rds import FakeRds, disk

VOLUME = "pvc-3f2504e0-4f89-41d3-9a0c-0305e82c3301"
OTHER = "pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11"
SNAPSHOT = "snapshot-5b1d7f3e-2c8a-4e6b-9a41-7d0c3f6e8b52"
BASE = "/storage-pool/metal-csi"


class Refused(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class AbortingContext:
    """The part of grpc.ServicerContext the services use: abort raises like grpc's does."""

    def abort(self, code: grpc.StatusCode, message: str) -> None:
        raise Refused(code, message)


def controller_for(rds: FakeRds, state: Path) -> Controller:
    config = Config(mode="controller", nvme_address="10.0.0.5", node_ids=("node-a", "node-b"))
    nodes = StaticNodes(frozenset(config.node_ids))
    attachments = AttachmentManager(
        FileLedger(state / "attachments.json"),
        nodes,
        Recorder(None, host="test"),
        handoff_grace=30,
        deleted_node_grace=300,
    )
    backend = Backend(config=config, store=rds, attachments=attachments, nodes=nodes)
    return Controller(backend)


def refusal(call: Any, request: Any) -> Refused:
    with pytest.raises(Refused) as raised:
        call(request, AbortingContext())
    return raised.value


@pytest.fixture()
def rds() -> FakeRds:
    return FakeRds()


@pytest.fixture()
def controller(rds: FakeRds, tmp_path: Path) -> Controller:
    return controller_for(rds, tmp_path)


def test_create_is_two_round_trips_then_one_survey_for_a_repeat(rds: FakeRds, controller: Controller) -> None:
    volume = controller.CreateVolume(create_request(VOLUME, size=2 * GIB), AbortingContext()).volume
    assert volume.capacity_bytes == 2 * GIB
    assert rds.disks[VOLUME].export.nqn == "nqn.2000-02.com.mikrotik:" + VOLUME
    assert rds.round_trips == 2
    rds.read_only = True
    again = controller.CreateVolume(create_request(VOLUME, size=2 * GIB), AbortingContext()).volume
    assert again.volume_id == VOLUME
    assert rds.round_trips == 3, "a repeated create only surveys"


def test_create_makes_a_missing_directory_once(rds: FakeRds, controller: Controller) -> None:
    rds.directories.clear()
    controller.CreateVolume(create_request(VOLUME), AbortingContext())
    assert rds.writes == ["create directory " + BASE, "create " + VOLUME]
    rds.round_trips = 0
    controller.CreateVolume(create_request(OTHER), AbortingContext())
    assert rds.round_trips == 2, "the directory is remembered, so the survey no longer asks for it"


def test_create_with_another_size_is_already_exists(rds: FakeRds, controller: Controller) -> None:
    controller.CreateVolume(create_request(VOLUME, size=GIB), AbortingContext())
    refused = refusal(controller.CreateVolume, create_request(VOLUME, size=3 * GIB))
    assert refused.code == grpc.StatusCode.ALREADY_EXISTS
    assert VOLUME in str(refused)


def test_create_that_loses_a_race_returns_the_winners_volume(rds: FakeRds, controller: Controller) -> None:
    winner = replace(disk(VOLUME, GIB, exported=True), comment="")

    def race(spec: Any, source: Any = None) -> Any:
        rds.disks[VOLUME] = winner
        raise AlreadyExistsError("failure: disk with such slot already exists")

    rds.create_disk = race  # type: ignore[method-assign]
    volume = controller.CreateVolume(create_request(VOLUME, size=GIB), AbortingContext()).volume
    assert volume.volume_id == VOLUME


def test_create_when_the_directory_vanished_creates_it_again(rds: FakeRds, controller: Controller) -> None:
    controller.CreateVolume(create_request(OTHER), AbortingContext())
    rds.directories.clear()
    controller.CreateVolume(create_request(VOLUME), AbortingContext())
    assert VOLUME in rds.disks and BASE in rds.directories


def test_create_out_of_space_is_resource_exhausted(rds: FakeRds, controller: Controller) -> None:
    rds.pool_size = GIB
    refused = refusal(controller.CreateVolume, create_request(VOLUME, size=2 * GIB))
    assert refused.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert VOLUME not in rds.disks


def test_clone_checks_the_source_and_the_room_in_one_survey(rds: FakeRds, controller: Controller) -> None:
    controller.CreateVolume(create_request(OTHER, size=GIB), AbortingContext())
    rds.round_trips = 0
    request = create_request(VOLUME, size=GIB, volume_content_source=from_volume(OTHER))
    volume = controller.CreateVolume(request, AbortingContext()).volume
    assert volume.content_source.volume.volume_id == OTHER
    assert rds.round_trips == 2


def test_clone_of_a_missing_or_foreign_source_is_not_found(rds: FakeRds, controller: Controller) -> None:
    rds.disks["pvc-foreign"] = disk("pvc-foreign", exported=True, nqn="nqn.2000-02.com.mikrotik:system-var")
    for source in (OTHER, "pvc-foreign"):
        request = create_request(VOLUME, volume_content_source=from_volume(source))
        assert refusal(controller.CreateVolume, request).code == grpc.StatusCode.NOT_FOUND
    request = create_request(VOLUME, volume_content_source=from_snapshot(SNAPSHOT))
    assert refusal(controller.CreateVolume, request).code == grpc.StatusCode.NOT_FOUND


def test_clone_bigger_than_the_free_space_is_refused_before_copying(rds: FakeRds, controller: Controller) -> None:
    controller.CreateVolume(create_request(OTHER, size=GIB), AbortingContext())
    rds.pool_size = GIB + GIB // 2
    request = create_request(VOLUME, size=GIB, volume_content_source=from_volume(OTHER))
    assert refusal(controller.CreateVolume, request).code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert rds.writes == ["create " + OTHER]


def test_delete_is_two_round_trips_and_removes_the_file(rds: FakeRds, controller: Controller) -> None:
    controller.CreateVolume(create_request(VOLUME), AbortingContext())
    rds.round_trips = 0
    controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=VOLUME), AbortingContext())
    assert VOLUME not in rds.disks and BASE + "/" + VOLUME + ".img" not in rds.files
    assert rds.round_trips == 2


def test_delete_of_an_unknown_volume_is_one_read_and_success(rds: FakeRds, controller: Controller) -> None:
    rds.read_only = True
    controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=VOLUME), AbortingContext())
    assert rds.round_trips == 1


def test_delete_after_an_interrupted_delete_removes_the_orphaned_file(rds: FakeRds, controller: Controller) -> None:
    path = BASE + "/" + VOLUME + ".img"
    rds.files[path] = RdsFile(path, ".img file", GIB, "")
    controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=VOLUME), AbortingContext())
    assert path not in rds.files


def test_delete_of_an_unmanaged_disk_is_refused(rds: FakeRds, controller: Controller) -> None:
    rds.disks[VOLUME] = disk(VOLUME, exported=True, nqn="nqn.2000-02.com.mikrotik:nixos-var")
    refused = refusal(controller.DeleteVolume, csi_pb2.DeleteVolumeRequest(volume_id=VOLUME))
    assert refused.code == grpc.StatusCode.FAILED_PRECONDITION
    assert VOLUME in rds.disks


def test_delete_of_a_published_volume_is_refused(rds: FakeRds, controller: Controller) -> None:
    controller.CreateVolume(create_request(VOLUME), AbortingContext())
    publish = csi_pb2.ControllerPublishVolumeRequest(volume_id=VOLUME, node_id="node-a", volume_capability=mount())
    controller.ControllerPublishVolume(publish, AbortingContext())
    refused = refusal(controller.DeleteVolume, csi_pb2.DeleteVolumeRequest(volume_id=VOLUME))
    assert refused.code == grpc.StatusCode.FAILED_PRECONDITION and "node-a" in str(refused)


def test_expand_is_two_round_trips_and_never_shrinks(rds: FakeRds, controller: Controller) -> None:
    controller.CreateVolume(create_request(VOLUME, size=2 * GIB), AbortingContext())
    rds.round_trips = 0
    request = csi_pb2.ControllerExpandVolumeRequest(
        volume_id=VOLUME, capacity_range=csi_pb2.CapacityRange(required_bytes=3 * GIB)
    )
    answer = controller.ControllerExpandVolume(request, AbortingContext())
    assert answer.capacity_bytes == 3 * GIB and answer.node_expansion_required
    assert rds.round_trips == 2
    rds.read_only = True
    smaller = csi_pb2.ControllerExpandVolumeRequest(
        volume_id=VOLUME, capacity_range=csi_pb2.CapacityRange(required_bytes=GIB)
    )
    assert controller.ControllerExpandVolume(smaller, AbortingContext()).capacity_bytes == 3 * GIB


def test_snapshot_is_two_round_trips_and_idempotent(rds: FakeRds, controller: Controller) -> None:
    controller.CreateVolume(create_request(VOLUME), AbortingContext())
    rds.round_trips = 0
    request = csi_pb2.CreateSnapshotRequest(name=SNAPSHOT, source_volume_id=VOLUME)
    snapshot = controller.CreateSnapshot(request, AbortingContext()).snapshot
    assert snapshot.source_volume_id == VOLUME and snapshot.ready_to_use
    assert rds.round_trips == 2
    rds.read_only = True
    assert controller.CreateSnapshot(request, AbortingContext()).snapshot.snapshot_id == SNAPSHOT
    other = csi_pb2.CreateSnapshotRequest(name=SNAPSHOT, source_volume_id=OTHER)
    assert refusal(controller.CreateSnapshot, other).code == grpc.StatusCode.ALREADY_EXISTS


def test_snapshot_of_a_missing_volume_is_not_found(rds: FakeRds, controller: Controller) -> None:
    request = csi_pb2.CreateSnapshotRequest(name=SNAPSHOT, source_volume_id=VOLUME)
    assert refusal(controller.CreateSnapshot, request).code == grpc.StatusCode.NOT_FOUND


def test_restore_from_a_snapshot_and_delete_it(rds: FakeRds, controller: Controller) -> None:
    controller.CreateVolume(create_request(OTHER), AbortingContext())
    controller.CreateSnapshot(csi_pb2.CreateSnapshotRequest(name=SNAPSHOT, source_volume_id=OTHER), AbortingContext())
    request = create_request(VOLUME, volume_content_source=from_snapshot(SNAPSHOT))
    restored = controller.CreateVolume(request, AbortingContext()).volume
    assert restored.content_source.snapshot.snapshot_id == SNAPSHOT
    rds.round_trips = 0
    controller.DeleteSnapshot(csi_pb2.DeleteSnapshotRequest(snapshot_id=SNAPSHOT), AbortingContext())
    assert SNAPSHOT not in rds.disks and rds.round_trips == 2


def test_a_hand_made_disk_under_the_snapshot_prefix_is_never_deleted(rds: FakeRds, controller: Controller) -> None:
    rds.disks[SNAPSHOT] = disk(SNAPSHOT, comment="made by hand")
    refused = refusal(controller.DeleteSnapshot, csi_pb2.DeleteSnapshotRequest(snapshot_id=SNAPSHOT))
    assert refused.code == grpc.StatusCode.FAILED_PRECONDITION and SNAPSHOT in rds.disks


def test_capacity_is_the_pools_free_space(rds: FakeRds, controller: Controller) -> None:
    controller.CreateVolume(create_request(VOLUME, size=4 * GIB), AbortingContext())
    answer = controller.GetCapacity(csi_pb2.GetCapacityRequest(volume_capabilities=[mount()]), AbortingContext())
    assert answer.available_capacity == rds.pool_size - 4 * GIB


def test_publish_to_an_unknown_node_is_not_found(rds: FakeRds, controller: Controller) -> None:
    controller.CreateVolume(create_request(VOLUME), AbortingContext())
    publish = csi_pb2.ControllerPublishVolumeRequest(volume_id=VOLUME, node_id="node-z", volume_capability=mount())
    assert refusal(controller.ControllerPublishVolume, publish).code == grpc.StatusCode.NOT_FOUND
