"""Controller-side volume health (ControllerGetVolume with VOLUME_CONDITION) and NodeGetInfo's volume limit,
through the CSI socket against the emulator; each abnormal volume is made by changing the emulator's disks
over SSH or its files on disk, as an operator's mistake or a failure would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import grpc
import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import Disk, DiskSpec, ExportSpec, NvmeExport, RdsFile
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import DEFAULT_NQN_PREFIX, nqn_for
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_command import build, equals
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshTransport
from csi_helpers import BASE, GIB, Csi, create_request, error_of, publish_request
from rds_csi.proto import csi_pb2
from rds_csi.volume_health import HEALTHY, VolumeFacts, problems

PORT = 4420
_RPC = csi_pb2.ControllerServiceCapability.RPC


@pytest.fixture
def rds(driver_config: Any) -> Iterator[RdsClient]:
    """A second client of the emulator: the operator who changes things behind the driver's back."""
    transport = SshTransport(driver_config.ssh_settings())
    try:
        yield RdsClient(transport)
    finally:
        transport.close()


def get_volume(csi: Csi, volume_id: str) -> Any:
    return csi.controller.ControllerGetVolume(csi_pb2.ControllerGetVolumeRequest(volume_id=volume_id))


def condition(csi: Csi, volume_id: str) -> Any:
    return get_volume(csi, volume_id).status.volume_condition


def new_volume(csi: Csi, name: str, **parameters: str) -> str:
    return str(csi.controller.CreateVolume(create_request(name, parameters=parameters)).volume.volume_id)


def set_disabled(rds: RdsClient, slot: str) -> None:
    rds.transport.run(build("/disk", "set", target=[equals("slot", slot)], args={"disabled": True}).render())


def test_controller_advertises_get_volume_and_volume_condition(csi: Csi) -> None:
    response = csi.controller.ControllerGetCapabilities(csi_pb2.ControllerGetCapabilitiesRequest())
    advertised = {capability.rpc.type for capability in response.capabilities}
    assert {_RPC.GET_VOLUME, _RPC.VOLUME_CONDITION} <= advertised


def test_a_healthy_volume_with_its_nodes_in_one_read(csi: Csi) -> None:
    volume_id = new_volume(csi, "pvc-healthy")
    csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-b"))
    before = csi.emulator.stats.exec_requests
    response = get_volume(csi, volume_id)
    assert csi.emulator.stats.exec_requests - before == 1, "one read of the RDS"
    assert response.volume.volume_id == volume_id and response.volume.capacity_bytes == GIB
    assert response.volume.volume_context["nqn"] == nqn_for(volume_id)
    assert list(response.status.published_node_ids) == ["node-b"]
    assert not response.status.volume_condition.abnormal
    assert response.status.volume_condition.message == HEALTHY


def test_a_volume_outside_the_base_path_costs_a_second_read(csi: Csi) -> None:
    volume_id = new_volume(csi, "pvc-elsewhere", volumePath="/storage-pool/other-class")
    before = csi.emulator.stats.exec_requests
    assert not condition(csi, volume_id).abnormal
    assert csi.emulator.stats.exec_requests - before == 2
    (csi.files() / "storage-pool" / "other-class" / (volume_id + ".img")).unlink()
    lost = condition(csi, volume_id)
    assert lost.abnormal and "/storage-pool/other-class/%s.img" % volume_id in lost.message


@pytest.mark.parametrize("volume_id", ["", "pvc-never-created", "not-a-volume-id", "snapshot-x"])
def test_unknown_or_missing_ids(csi: Csi, volume_id: str) -> None:
    code, message = error_of(lambda: get_volume(csi, volume_id))
    if volume_id:
        assert code == grpc.StatusCode.NOT_FOUND and volume_id in message
    else:
        assert code == grpc.StatusCode.INVALID_ARGUMENT and "volume_id is required" in message


def test_backing_file_gone_while_the_disk_remains(csi: Csi) -> None:
    volume_id = new_volume(csi, "pvc-no-file")
    csi.backing_file(volume_id).unlink()
    found = condition(csi, volume_id)
    assert found.abnormal
    assert "backing file %s/%s.img of volume %s is missing" % (BASE, volume_id, volume_id) in found.message
    assert "Restore the file" in found.message


def test_disk_gone_while_the_file_remains_or_the_volume_is_published(csi: Csi, rds: RdsClient) -> None:
    volume_id = new_volume(csi, "pvc-no-disk")
    rds.remove_disk(volume_id, remove_file=False)
    response = get_volume(csi, volume_id)
    found = response.status.volume_condition
    assert found.abnormal and "has no disk on the RDS" in found.message and "is still there" in found.message
    assert "srvlab.rds.disk" in found.message
    assert response.volume.volume_id == volume_id and response.volume.capacity_bytes == GIB

    published = new_volume(csi, "pvc-no-disk-published")
    csi.controller.ControllerPublishVolume(publish_request(published, "node-a"))
    rds.remove_disk(published)
    response = get_volume(csi, published)
    assert list(response.status.published_node_ids) == ["node-a"]
    assert response.status.volume_condition.abnormal
    assert "no backing file" in response.status.volume_condition.message
    assert "published to node(s) node-a" in response.status.volume_condition.message


@pytest.mark.parametrize(
    ("alter", "expected"),
    [
        (lambda rds, slot: rds.set_export(slot, ExportSpec(enabled=False)), ["nvme-tcp-export=no"]),
        (
            lambda rds, slot: rds.set_export(slot, ExportSpec(nqn=DEFAULT_NQN_PREFIX + "renamed")),
            ["exported as NQN 'nqn.2000-02.com.mikrotik:pvc-renamed'"],
        ),
        (
            lambda rds, slot: rds.set_export(slot, ExportSpec(nqn="nqn.2024-01.org.example:stolen")),
            ["exported as NQN 'nqn.2024-01.org.example:stolen'", "outside the driver's managed prefix"],
        ),
        (
            lambda rds, slot: rds.set_export(slot, ExportSpec(port=4421, nqn=nqn_for(slot))),
            ["exported on port 4421, not on the driver's NVMe/TCP port 4420"],
        ),
        (set_disabled, ["is disabled on the RDS"]),
    ],
    ids=["export-off", "nqn-renamed", "nqn-outside-prefix", "port", "disabled"],
)
def test_export_missing_or_altered(
    csi: Csi, rds: RdsClient, alter: Callable[[RdsClient, str], Any], expected: list[str]
) -> None:
    volume_id = new_volume(csi, "pvc-altered")
    alter(rds, volume_id)
    found = condition(csi, volume_id)
    assert found.abnormal
    for text in expected:
        assert text in found.message
    assert "srvlab.rds.nvme_export" in found.message or "disabled=no" in found.message


def test_disk_re_pointed_at_another_file(csi: Csi, rds: RdsClient) -> None:
    volume_id = new_volume(csi, "pvc-moved")
    rds.remove_disk(volume_id, remove_file=False)
    moved = BASE + "/moved.img"
    rds.add_disk(DiskSpec(volume_id, moved, GIB, ExportSpec(nqn=nqn_for(volume_id))))
    found = condition(csi, volume_id)
    assert found.abnormal and "is backed by %r" % moved in found.message and "re-pointed" in found.message


def test_health_returns_when_the_operator_repairs_the_export(csi: Csi, rds: RdsClient) -> None:
    volume_id = new_volume(csi, "pvc-repaired")
    rds.set_export(volume_id, ExportSpec(enabled=False))
    assert condition(csi, volume_id).abnormal
    rds.set_export(volume_id, ExportSpec(port=PORT, nqn=nqn_for(volume_id)))
    assert not condition(csi, volume_id).abnormal


def test_rules_the_emulator_cannot_show() -> None:
    """The emulator makes only file disks, each with a port; a managed prefix that excludes the volume's own
    NQN is a driver setting."""
    path = BASE + "/pvc-x.img"
    export = NvmeExport(enabled=True, port=PORT, nqn=nqn_for("pvc-x"), allowed_host_nqns=(), has_password=False)
    present = RdsFile(path, "file", GIB, "")

    def judged(disk: Disk, prefix: str = DEFAULT_NQN_PREFIX) -> list[str]:
        return problems(VolumeFacts("pvc-x", disk, disk.file_path or path, present, ()), prefix, PORT)

    healthy = Disk("pvc-x", "file", path, GIB, True, "", False, export, "")
    assert judged(healthy) == []
    partition = replace(healthy, type="partition", file_path="")
    assert len(judged(partition)) == 1 and "is a partition disk, not the file disk" in judged(partition)[0]
    portless = replace(healthy, export=replace(export, port=None))
    assert "exported on no port" in " ".join(judged(portless))
    other_prefix = judged(healthy, prefix="nqn.2024-01.org.example:")
    assert len(other_prefix) == 1 and "Set the driver's managed_nqn_prefix" in other_prefix[0]


@pytest.mark.parametrize("limit", [0, 24], ids=["no-limit", "24"])
def test_node_get_info_reports_the_volume_limit(start_driver: Callable[..., Csi], limit: int) -> None:
    """0 is CSI's "no limit": the field is left unset, which reads as 0."""
    csi = start_driver(max_volumes_per_node=limit)
    info = csi.node.NodeGetInfo(csi_pb2.NodeGetInfoRequest())
    assert info.node_id == "node-a" and info.max_volumes_per_node == limit
