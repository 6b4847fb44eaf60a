"""C-2: every status-code row of CONFORMANCE.md, through the driver's unix socket."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import grpc
import pytest
from csi_helpers import (
    GIB,
    Csi,
    block,
    create_request,
    error_of,
    from_snapshot,
    from_volume,
    mount,
    publish_request,
    status_of,
)
from rds_csi.proto import csi_pb2
from rds_emulator.faults import Fault, FaultKind

TIB = 1024**4
UNKNOWN_VOLUME = "pvc-00000000-0000-4000-8000-000000000000"


@pytest.fixture
def volume_id(csi: Csi) -> str:
    return str(csi.controller.CreateVolume(create_request("pvc-status-codes")).volume.volume_id)


MISSING_FIELDS: list[tuple[str, str, Callable[[], Any]]] = [
    ("CreateVolume", "name", lambda: create_request("")),
    (
        "CreateVolume",
        "volume_capabilities",
        lambda: csi_pb2.CreateVolumeRequest(name="x", capacity_range=csi_pb2.CapacityRange(required_bytes=GIB)),
    ),
    ("DeleteVolume", "volume_id", csi_pb2.DeleteVolumeRequest),
    ("ControllerPublishVolume", "volume_id", lambda: publish_request("", "node-a")),
    ("ControllerPublishVolume", "node_id", lambda: publish_request(UNKNOWN_VOLUME, "")),
    (
        "ControllerPublishVolume",
        "volume_capability",
        lambda: csi_pb2.ControllerPublishVolumeRequest(volume_id=UNKNOWN_VOLUME, node_id="node-a"),
    ),
    ("ControllerUnpublishVolume", "volume_id", lambda: csi_pb2.ControllerUnpublishVolumeRequest(node_id="node-a")),
    (
        "ValidateVolumeCapabilities",
        "volume_id",
        lambda: csi_pb2.ValidateVolumeCapabilitiesRequest(volume_capabilities=[mount()]),
    ),
    (
        "ValidateVolumeCapabilities",
        "volume_capabilities",
        lambda: csi_pb2.ValidateVolumeCapabilitiesRequest(volume_id=UNKNOWN_VOLUME),
    ),
    (
        "ControllerExpandVolume",
        "volume_id",
        lambda: csi_pb2.ControllerExpandVolumeRequest(capacity_range=csi_pb2.CapacityRange(required_bytes=GIB)),
    ),
    (
        "ControllerExpandVolume",
        "capacity_range",
        lambda: csi_pb2.ControllerExpandVolumeRequest(volume_id=UNKNOWN_VOLUME),
    ),
    ("CreateSnapshot", "name", lambda: csi_pb2.CreateSnapshotRequest(source_volume_id=UNKNOWN_VOLUME)),
    ("CreateSnapshot", "source_volume_id", lambda: csi_pb2.CreateSnapshotRequest(name="snap")),
    ("DeleteSnapshot", "snapshot_id", csi_pb2.DeleteSnapshotRequest),
]


@pytest.mark.parametrize(
    ("method", "field", "request_of"), MISSING_FIELDS, ids=[f"{row[0]}-{row[1]}" for row in MISSING_FIELDS]
)
def test_missing_required_field_is_invalid_argument(
    csi: Csi, method: str, field: str, request_of: Callable[[], Any]
) -> None:
    code, message = error_of(lambda: getattr(csi.controller, method)(request_of()))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert field in message


def test_unknown_volume_is_not_found(csi: Csi) -> None:
    assert status_of(lambda: csi.controller.ControllerPublishVolume(publish_request(UNKNOWN_VOLUME, "node-a"))) == (
        grpc.StatusCode.NOT_FOUND
    )
    validate = csi_pb2.ValidateVolumeCapabilitiesRequest(volume_id=UNKNOWN_VOLUME, volume_capabilities=[mount()])
    assert status_of(lambda: csi.controller.ValidateVolumeCapabilities(validate)) == grpc.StatusCode.NOT_FOUND
    expand = csi_pb2.ControllerExpandVolumeRequest(
        volume_id=UNKNOWN_VOLUME, capacity_range=csi_pb2.CapacityRange(required_bytes=2 * GIB)
    )
    assert status_of(lambda: csi.controller.ControllerExpandVolume(expand)) == grpc.StatusCode.NOT_FOUND
    odd = csi_pb2.ValidateVolumeCapabilitiesRequest(volume_id="some-other-id", volume_capabilities=[mount()])
    assert status_of(lambda: csi.controller.ValidateVolumeCapabilities(odd)) == grpc.StatusCode.NOT_FOUND


def test_unknown_node_is_not_found(csi: Csi, volume_id: str) -> None:
    code, message = error_of(lambda: csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-z")))
    assert code == grpc.StatusCode.NOT_FOUND
    assert "node-z" in message


def test_delete_of_unknown_ids_is_ok(csi: Csi) -> None:
    csi.controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=UNKNOWN_VOLUME))
    csi.controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id="not-ours"))
    csi.controller.DeleteSnapshot(csi_pb2.DeleteSnapshotRequest(snapshot_id="snapshot-0000"))
    csi.controller.DeleteSnapshot(csi_pb2.DeleteSnapshotRequest(snapshot_id="whatever"))


def test_existing_name_with_other_size_is_already_exists(csi: Csi, volume_id: str) -> None:
    code, message = error_of(lambda: csi.controller.CreateVolume(create_request("pvc-status-codes", size=2 * GIB)))
    assert code == grpc.StatusCode.ALREADY_EXISTS
    assert "pvc-status-codes" in message or volume_id in message


def test_existing_snapshot_name_with_other_source_is_already_exists(csi: Csi, volume_id: str) -> None:
    other = csi.controller.CreateVolume(create_request("pvc-status-other")).volume.volume_id
    csi.controller.CreateSnapshot(csi_pb2.CreateSnapshotRequest(name="snap-1", source_volume_id=volume_id))
    again = csi_pb2.CreateSnapshotRequest(name="snap-1", source_volume_id=other)
    assert status_of(lambda: csi.controller.CreateSnapshot(again)) == grpc.StatusCode.ALREADY_EXISTS


def test_create_from_missing_source_is_not_found(csi: Csi) -> None:
    missing_snapshot = create_request("pvc-from-missing-snap", volume_content_source=from_snapshot("snapshot-nope"))
    assert status_of(lambda: csi.controller.CreateVolume(missing_snapshot)) == grpc.StatusCode.NOT_FOUND
    missing_volume = create_request("pvc-from-missing-vol", volume_content_source=from_volume(UNKNOWN_VOLUME))
    assert status_of(lambda: csi.controller.CreateVolume(missing_volume)) == grpc.StatusCode.NOT_FOUND
    assert not csi.exports(), "nothing was created"


def test_size_above_the_limit_is_out_of_range(csi: Csi) -> None:
    assert status_of(lambda: csi.controller.CreateVolume(create_request("pvc-huge", size=17 * TIB))) == (
        grpc.StatusCode.OUT_OF_RANGE
    )
    tiny_limit = create_request("pvc-tiny", size=0)
    tiny_limit.capacity_range.limit_bytes = 1024**2
    assert status_of(lambda: csi.controller.CreateVolume(tiny_limit)) == grpc.StatusCode.OUT_OF_RANGE


def test_bad_starting_token_is_aborted(csi: Csi) -> None:
    for token in ("invalid-token", "abcdefg", "cnBzOg"):
        volumes = csi_pb2.ListVolumesRequest(starting_token=token)
        assert status_of(partial(csi.controller.ListVolumes, volumes)) == grpc.StatusCode.ABORTED
        listing = csi_pb2.ListSnapshotsRequest(starting_token=token)
        assert status_of(partial(csi.controller.ListSnapshots, listing)) == grpc.StatusCode.ABORTED


def test_rwo_volume_published_elsewhere_is_failed_precondition(csi: Csi, volume_id: str) -> None:
    csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-a"))
    code, message = error_of(lambda: csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-b")))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert "node-a" in message and "node-b" in message


def test_published_elsewhere_incompatibly_is_already_exists(csi: Csi, volume_id: str) -> None:
    csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-a", readonly=False))
    incompatible = publish_request(volume_id, "node-a", readonly=True)
    assert status_of(lambda: csi.controller.ControllerPublishVolume(incompatible)) == grpc.StatusCode.ALREADY_EXISTS


def test_unreachable_backend_is_unavailable(start_driver: Any, emulator: Any) -> None:
    from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RetryPolicy

    csi = start_driver(retry=RetryPolicy(attempts=2, initial_delay=0.05, max_delay=0.1))
    csi.controller.CreateVolume(create_request("pvc-before-reboot"))
    emulator.set_faults([Fault(FaultKind.REBOOT, seconds=6.0)])
    code, message = error_of(lambda: csi.controller.CreateVolume(create_request("pvc-during-reboot")))
    assert code == grpc.StatusCode.UNAVAILABLE
    assert "unreachable" in message.lower() or "connect" in message.lower()
    assert status_of(lambda: csi.controller.ListVolumes(csi_pb2.ListVolumesRequest())) == grpc.StatusCode.UNAVAILABLE
    probe = csi.identity.Probe(csi_pb2.ProbeRequest())
    assert probe.ready.value is True, "Probe is the plugin's own health: an RDS outage must not restart it"
    # Once the RDS is back, the same request succeeds and nothing half-made is left from the failures.
    deadline = time.monotonic() + 30
    while True:
        try:
            csi.controller.CreateVolume(create_request("pvc-during-reboot"))
            break
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE and time.monotonic() < deadline
            time.sleep(0.5)
    assert len(csi.controller.ListVolumes(csi_pb2.ListVolumesRequest()).entries) == 2
    assert len(list(csi.files().rglob("*.img"))) == 2 and len(csi.exports()) == 2
    assert csi.identity.Probe(csi_pb2.ProbeRequest()).ready.value is True


def test_out_of_space_is_resource_exhausted_and_leaves_nothing(csi: Csi, emulator: Any) -> None:
    too_big = create_request("pvc-too-big", size=100 * GIB)
    code, message = error_of(lambda: csi.controller.CreateVolume(too_big))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "space" in message
    emulator.set_faults([Fault(FaultKind.NO_SPACE)])
    assert (
        status_of(lambda: csi.controller.CreateVolume(create_request("pvc-no-space")))
        == grpc.StatusCode.RESOURCE_EXHAUSTED
    )
    emulator.set_faults([])
    assert not csi.exports()
    leftovers = [path.name for path in csi.files().rglob("*.img")]
    assert leftovers == []
    assert list(csi.controller.ListVolumes(csi_pb2.ListVolumesRequest()).entries) == []


def test_block_volumes_use_the_same_codes(csi: Csi) -> None:
    volume = csi.controller.CreateVolume(create_request("pvc-block-codes", capability=block())).volume
    csi.controller.ControllerPublishVolume(publish_request(volume.volume_id, "node-a", capability=block()))
    other = publish_request(volume.volume_id, "node-b", capability=block())
    assert status_of(lambda: csi.controller.ControllerPublishVolume(other)) == grpc.StatusCode.FAILED_PRECONDITION
