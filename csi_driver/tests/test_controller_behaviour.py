"""C-3 controller behaviour and P-5 details, through the driver's unix socket against the emulator."""

from __future__ import annotations

import re
import threading
import time
from functools import partial
from typing import Any

import grpc
import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import DiskSpec, ExportSpec
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshTransport
from csi_helpers import BASE, GIB, RWX, Csi, block, create_request, error_of, mount, publish_request, status_of
from rds_csi.proto import csi_pb2
from rds_emulator.faults import Fault, FaultKind

GRPC_NAME = re.compile(r"^[a-zA-Z][A-Za-z0-9-._]{0,61}[a-zA-Z]$")
PVC = "pvc-3f2504e0-4f89-41d3-9a0c-0305e82c3301"


def listed(csi: Csi) -> list[str]:
    return [entry.volume.volume_id for entry in csi.controller.ListVolumes(csi_pb2.ListVolumesRequest()).entries]


def test_identity(csi: Csi) -> None:
    info = csi.identity.GetPluginInfo(csi_pb2.GetPluginInfoRequest())
    assert info.name == "rds.csi.srvlab.io" and GRPC_NAME.match(info.name)
    assert info.vendor_version
    services = {
        cap.service.type
        for cap in csi.identity.GetPluginCapabilities(csi_pb2.GetPluginCapabilitiesRequest()).capabilities
    }
    Service = csi_pb2.PluginCapability.Service
    assert {Service.CONTROLLER_SERVICE, Service.VOLUME_ACCESSIBILITY_CONSTRAINTS} <= services
    assert csi.identity.Probe(csi_pb2.ProbeRequest()).ready.value is True
    node = csi.node.NodeGetInfo(csi_pb2.NodeGetInfoRequest())
    assert node.node_id == "node-a"
    assert dict(node.accessible_topology.segments) == {"topology.rds.csi.srvlab.io/zone": "default"}


def test_health_service(csi: Csi) -> None:
    from rds_csi.proto import health_pb2

    for service in ("", "csi.v1.Controller", "csi.v1.Identity", "csi.v1.Node"):
        answer = csi.health.Check(health_pb2.HealthCheckRequest(service=service))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    assert (
        status_of(lambda: csi.health.Check(health_pb2.HealthCheckRequest(service="nope"))) == grpc.StatusCode.NOT_FOUND
    )


def test_create_returns_the_p3_volume(csi: Csi) -> None:
    volume = csi.controller.CreateVolume(create_request(PVC, size=5 * GIB)).volume
    assert volume.volume_id == PVC, "pvc-<uuid> names are the volume ID unchanged"
    assert volume.capacity_bytes == 5 * GIB
    assert dict(volume.volume_context) == {
        "nvmeAddress": "10.0.0.5",
        "nvmePort": "4420",
        "nqn": "nqn.2000-02.com.mikrotik:" + PVC,
        "volumePath": BASE,
        "ctrlLossTmo": "-1",
        "reconnectDelay": "5",
        "migrationTimeoutSeconds": "300",
    }
    assert [dict(t.segments) for t in volume.accessible_topology] == [{"topology.rds.csi.srvlab.io/zone": "default"}]
    export = csi.exports()["nqn.2000-02.com.mikrotik:" + PVC]
    assert export["slot"] == PVC and export["port"] == 4420
    assert csi.backing_file(PVC).stat().st_size == 5 * GIB


def test_sizes(csi: Csi) -> None:
    assert csi.controller.CreateVolume(create_request("pvc-default", size=0)).volume.capacity_bytes == GIB
    assert csi.controller.CreateVolume(create_request("pvc-small", size=1000)).volume.capacity_bytes == GIB
    odd = GIB + 4096 * 3
    assert csi.controller.CreateVolume(create_request("pvc-odd", size=odd)).volume.capacity_bytes == odd


def test_storage_class_parameters(csi: Csi) -> None:
    params = {
        "volumePath": "/storage-pool/other",
        "nvmePort": "4421",
        "keepAliveTmo": "7",
        "migrationTimeoutSeconds": "600",
    }
    volume = csi.controller.CreateVolume(create_request("pvc-params", parameters=params)).volume
    context = dict(volume.volume_context)
    assert context["volumePath"] == "/storage-pool/other" and context["nvmePort"] == "4421"
    assert context["keepAliveTmo"] == "7" and context["migrationTimeoutSeconds"] == "600"
    assert (csi.files() / "storage-pool/other" / (volume.volume_id + ".img")).exists()
    for bad in ({"migrationTimeoutSeconds": "10"}, {"nvmePort": "x"}, {"volumePath": "relative"}, {"colour": "blue"}):
        request = create_request("pvc-bad-params", parameters=bad)
        assert status_of(partial(csi.controller.CreateVolume, request)) == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    "name",
    [
        "x" * 128,
        "sanity-CreateVolume-7F3A 'quoted' \"double\" $var ?q [find] ;/disk remove",
        "Ünïcødé-名前-\N{SNOWMAN}",
        "pvc-3F2504E0-4F89-41D3-9A0C-0305E82C3301",
    ],
)
def test_strange_names_map_to_safe_deterministic_ids(csi: Csi, name: str) -> None:
    first = csi.controller.CreateVolume(create_request(name)).volume
    assert re.fullmatch(r"pvc-[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", first.volume_id)
    again = csi.controller.CreateVolume(create_request(name)).volume
    assert again.volume_id == first.volume_id
    nqn = first.volume_context["nqn"]
    assert nqn == "nqn.2000-02.com.mikrotik:" + first.volume_id and len(nqn.encode()) <= 223
    assert csi.exports()[nqn]["slot"] == first.volume_id
    assert csi.backing_file(first.volume_id).exists()
    assert listed(csi) == [first.volume_id]


def test_every_rpc_is_idempotent(csi: Csi) -> None:
    for _repeat in range(10):
        volume = csi.controller.CreateVolume(create_request("pvc-idem", size=2 * GIB)).volume
    volume_id = volume.volume_id
    for _repeat in range(10):
        response = csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-b"))
        assert response.publish_context["nqn"] == "nqn.2000-02.com.mikrotik:" + volume_id
        assert response.publish_context["nvmeAddress"] == "10.0.0.5"
    validate = csi_pb2.ValidateVolumeCapabilitiesRequest(volume_id=volume_id, volume_capabilities=[mount()])
    expand = csi_pb2.ControllerExpandVolumeRequest(
        volume_id=volume_id, capacity_range=csi_pb2.CapacityRange(required_bytes=3 * GIB)
    )
    snapshot = csi_pb2.CreateSnapshotRequest(name="snap-idem", source_volume_id=volume_id)
    for _repeat in range(10):
        assert csi.controller.ValidateVolumeCapabilities(validate).confirmed.volume_capabilities
        assert csi.controller.ControllerExpandVolume(expand).capacity_bytes == 3 * GIB
        taken = csi.controller.CreateSnapshot(snapshot).snapshot
        assert taken.ready_to_use and taken.source_volume_id == volume_id
    for _repeat in range(10):
        csi.controller.ControllerUnpublishVolume(
            csi_pb2.ControllerUnpublishVolumeRequest(volume_id=volume_id, node_id="node-b")
        )
        csi.controller.DeleteSnapshot(csi_pb2.DeleteSnapshotRequest(snapshot_id=taken.snapshot_id))
        csi.controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=volume_id))
    assert listed(csi) == []
    assert not list(csi.files().rglob("*.img"))
    assert csi.emulator.stats.sessions_refused == 0


def test_whole_lifecycle_repeated(csi: Csi) -> None:
    for round_ in range(10):
        volume_id = csi.controller.CreateVolume(create_request("pvc-cycle", capability=block())).volume.volume_id
        csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-c", capability=block()))
        csi.controller.ControllerUnpublishVolume(
            csi_pb2.ControllerUnpublishVolumeRequest(volume_id=volume_id, node_id="node-c")
        )
        csi.controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=volume_id))
        assert listed(csi) == [], "round %d left a volume" % round_


def test_expand_is_exact_and_never_shrinks(csi: Csi) -> None:
    volume_id = csi.controller.CreateVolume(create_request("pvc-grow", size=GIB)).volume.volume_id
    exact = 3 * GIB + 512 * 1024
    grown = csi.controller.ControllerExpandVolume(
        csi_pb2.ControllerExpandVolumeRequest(
            volume_id=volume_id, capacity_range=csi_pb2.CapacityRange(required_bytes=exact)
        )
    )
    assert grown.capacity_bytes == exact and grown.node_expansion_required
    assert csi.backing_file(volume_id).stat().st_size == exact
    smaller = csi.controller.ControllerExpandVolume(
        csi_pb2.ControllerExpandVolumeRequest(
            volume_id=volume_id, capacity_range=csi_pb2.CapacityRange(required_bytes=2 * GIB), volume_capability=block()
        )
    )
    assert smaller.capacity_bytes == exact and not smaller.node_expansion_required
    too_big = csi_pb2.ControllerExpandVolumeRequest(
        volume_id=volume_id, capacity_range=csi_pb2.CapacityRange(required_bytes=17 * 1024**4)
    )
    assert status_of(lambda: csi.controller.ControllerExpandVolume(too_big)) == grpc.StatusCode.OUT_OF_RANGE


def test_list_volumes_lists_exactly_this_drivers_volumes(csi: Csi, driver_config: Any) -> None:
    transport = SshTransport(driver_config.ssh_settings())
    rds = RdsClient(transport)
    try:
        rds.ensure_directory("/storage-pool/system")
        rds.add_disk(
            DiskSpec(
                "nixos-var",
                "/storage-pool/system/nixos-var.img",
                GIB,
                ExportSpec(nqn="nqn.2000-02.com.mikrotik:nixos-var"),
            )
        )
        rds.add_disk(
            DiskSpec(
                "pvc-hand-made", "/storage-pool/system/pvc-hand.img", GIB, ExportSpec(nqn="nqn.2024-01.org.example:x")
            )
        )
        before = listed(csi)
        volume_id = csi.controller.CreateVolume(create_request("pvc-count")).volume.volume_id
        assert listed(csi) == sorted([*before, volume_id])
        csi.controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=volume_id))
        assert listed(csi) == before == []
        foreign = csi_pb2.DeleteVolumeRequest(volume_id="pvc-hand-made")
        assert status_of(lambda: csi.controller.DeleteVolume(foreign)) == grpc.StatusCode.FAILED_PRECONDITION
        assert rds.get_disk("pvc-hand-made") is not None and rds.get_disk("nixos-var") is not None
    finally:
        transport.close()


def test_list_volumes_pagination_is_stable(csi: Csi) -> None:
    ids = [csi.controller.CreateVolume(create_request("pvc-page-%d" % n)).volume.volume_id for n in range(7)]
    first = csi.controller.ListVolumes(csi_pb2.ListVolumesRequest(max_entries=3))
    assert len(first.entries) == 3 and first.next_token
    page_ids = [entry.volume.volume_id for entry in first.entries]
    # A volume deleted from the first page and a new one between pages change nothing already handed out.
    csi.controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=page_ids[0]))
    extra = csi.controller.CreateVolume(create_request("pvc-page-extra")).volume.volume_id
    rest = csi.controller.ListVolumes(csi_pb2.ListVolumesRequest(starting_token=first.next_token))
    assert not rest.next_token
    rest_ids = [entry.volume.volume_id for entry in rest.entries]
    assert not set(page_ids) & set(rest_ids)
    assert set(page_ids) | set(rest_ids) | {extra} >= set(ids)
    assert len(listed(csi)) == 7


def test_list_volumes_shows_published_nodes(csi: Csi) -> None:
    volume_id = csi.controller.CreateVolume(create_request("pvc-shown", capability=block(RWX))).volume.volume_id
    csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-a", capability=block(RWX)))
    csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-b", capability=block(RWX)))
    entry = csi.controller.ListVolumes(csi_pb2.ListVolumesRequest()).entries[0]
    assert sorted(entry.status.published_node_ids) == ["node-a", "node-b"]


def test_rwx_only_for_block_and_at_most_two_nodes(csi: Csi) -> None:
    code, message = error_of(lambda: csi.controller.CreateVolume(create_request("pvc-rwx-fs", capability=mount(RWX))))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "corrupt" in message
    volume_id = csi.controller.CreateVolume(create_request("pvc-rwx", capability=block(RWX))).volume.volume_id
    fs_publish = publish_request(volume_id, "node-a", capability=mount(RWX))
    assert status_of(lambda: csi.controller.ControllerPublishVolume(fs_publish)) == grpc.StatusCode.INVALID_ARGUMENT
    csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-a", capability=block(RWX)))
    csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-b", capability=block(RWX)))
    code, message = error_of(
        lambda: csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-c", capability=block(RWX)))
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "node-c" in message
    assert status_of(lambda: csi.controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=volume_id))) == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    validate = csi_pb2.ValidateVolumeCapabilitiesRequest(volume_id=volume_id, volume_capabilities=[mount(RWX)])
    answer = csi.controller.ValidateVolumeCapabilities(validate)
    assert not answer.HasField("confirmed") and answer.message


def test_topology_and_capacity(csi: Csi) -> None:
    key = "topology.rds.csi.srvlab.io/zone"
    good = csi_pb2.TopologyRequirement(requisite=[csi_pb2.Topology(segments={key: "default"})])
    assert csi.controller.CreateVolume(
        create_request("pvc-topo", accessibility_requirements=good)
    ).volume.accessible_topology
    elsewhere = csi_pb2.TopologyRequirement(requisite=[csi_pb2.Topology(segments={key: "zone-b"})])
    request = create_request("pvc-elsewhere", accessibility_requirements=elsewhere)
    assert status_of(lambda: csi.controller.CreateVolume(request)) == grpc.StatusCode.RESOURCE_EXHAUSTED
    capacity = csi.controller.GetCapacity(csi_pb2.GetCapacityRequest(volume_capabilities=[mount()]))
    assert 0 < capacity.available_capacity <= 64 * GIB
    assert capacity.minimum_volume_size.value == GIB
    other_zone = csi_pb2.GetCapacityRequest(accessible_topology=csi_pb2.Topology(segments={key: "zone-b"}))
    assert csi.controller.GetCapacity(other_zone).available_capacity == 0
    Rpc = csi_pb2.ControllerServiceCapability.RPC
    kinds = {
        cap.rpc.type
        for cap in csi.controller.ControllerGetCapabilities(csi_pb2.ControllerGetCapabilitiesRequest()).capabilities
    }
    assert {Rpc.CREATE_DELETE_VOLUME, Rpc.PUBLISH_UNPUBLISH_VOLUME, Rpc.LIST_VOLUMES, Rpc.GET_CAPACITY,
            Rpc.CREATE_DELETE_SNAPSHOT, Rpc.LIST_SNAPSHOTS, Rpc.CLONE_VOLUME, Rpc.EXPAND_VOLUME,
            Rpc.LIST_VOLUMES_PUBLISHED_NODES} <= kinds  # fmt: skip


def test_busy_volume_gets_aborted(csi: Csi, emulator: Any) -> None:
    emulator.set_faults([Fault(FaultKind.LATENCY, seconds=2.0, match="^/disk add")])
    results: list[Any] = []
    slow = threading.Thread(target=lambda: results.append(csi.controller.CreateVolume(create_request("pvc-busy"))))
    slow.start()
    try:
        time.sleep(0.5)  # the first CreateVolume is now waiting on its /disk add
        code = status_of(lambda: csi.controller.CreateVolume(create_request("pvc-busy")))
        assert code == grpc.StatusCode.ABORTED, "a second CreateVolume of a busy volume is refused at once"
    finally:
        slow.join()
    emulator.set_faults([])
    assert results and results[0].volume.volume_id.startswith("pvc-")
    assert len(listed(csi)) == 1


def test_lost_replies_do_not_duplicate(csi: Csi, emulator: Any) -> None:
    emulator.set_faults(
        [
            Fault(FaultKind.LOSE_REPLY, count=1, match="^/disk add"),
            Fault(FaultKind.DROP, count=1, match="^/disk remove"),
        ]
    )
    volume_id = csi.controller.CreateVolume(create_request("pvc-lossy")).volume.volume_id
    assert listed(csi) == [volume_id]
    csi.controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=volume_id))
    assert listed(csi) == [] and not list(csi.files().rglob("*.img"))


def test_node_mode_serves_identity_and_node_only(start_driver: Any, socket_dir: Any) -> None:
    csi = start_driver(mode="node", endpoint="unix://%s/node.sock" % socket_dir)
    assert csi.identity.Probe(csi_pb2.ProbeRequest()).ready.value is True
    services = {
        cap.service.type
        for cap in csi.identity.GetPluginCapabilities(csi_pb2.GetPluginCapabilitiesRequest()).capabilities
    }
    assert csi_pb2.PluginCapability.Service.CONTROLLER_SERVICE not in services
    assert csi.node.NodeGetInfo(csi_pb2.NodeGetInfoRequest()).node_id == "node-a"
    capabilities = csi_pb2.ControllerGetCapabilitiesRequest()
    assert status_of(lambda: csi.controller.ControllerGetCapabilities(capabilities)) == grpc.StatusCode.UNIMPLEMENTED
