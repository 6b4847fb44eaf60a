"""Storage-side fencing (P-7.7) through the driver's socket, against the emulator and the test fabric:
each export admits exactly the published nodes' host NQNs, and the appliance refuses everyone else."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_host_list import NO_HOST_NQN
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshTransport
from conftest import HOST_NQNS
from csi_helpers import (
    RWX,
    Csi,
    NodeHarness,
    NodeVolume,
    block,
    create_request,
    node_stage,
    node_unstage,
    publish_request,
)
from rds_csi import metrics
from rds_csi.fencing import OFF_WARNING
from rds_csi.proto import csi_pb2
from rds_emulator.nvme_fabric.fabric import TestFabric

IO_ERROR = (
    "Failed to write to /dev/nvme-fabrics: Input/output error\n"
    "could not add new controller: failed to write to nvme-fabrics device\n"
)


def allowed(csi: Csi, volume_id: str) -> list[str]:
    return sorted(csi.exports()["nqn.2000-02.com.mikrotik:" + volume_id]["allowed_host_nqns"])


def unpublish(csi: Csi, volume_id: str, node_id: str) -> None:
    csi.controller.ControllerUnpublishVolume(
        csi_pb2.ControllerUnpublishVolumeRequest(volume_id=volume_id, node_id=node_id)
    )


def fence_updates() -> float:
    return metrics.REGISTRY.get_sample_value("rds_csi_storage_fence_updates_total", {"status": "success"}) or 0.0


def test_publish_sets_the_list_and_unpublish_narrows_it(csi: Csi) -> None:
    capability = block(RWX)
    volume_id = csi.controller.CreateVolume(create_request("pvc-fenced", capability=capability)).volume.volume_id
    assert allowed(csi, volume_id) == [NO_HOST_NQN], "a new volume admits no one"
    before = fence_updates()

    csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-b", capability))
    assert allowed(csi, volume_id) == [HOST_NQNS["node-b"]]
    csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-c", capability))
    assert allowed(csi, volume_id) == sorted([HOST_NQNS["node-b"], HOST_NQNS["node-c"]]), "a migration: both"
    csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-c", capability))

    unpublish(csi, volume_id, "node-b")
    assert allowed(csi, volume_id) == [HOST_NQNS["node-c"]]
    unpublish(csi, volume_id, "node-c")
    assert allowed(csi, volume_id) == [NO_HOST_NQN], "no node left: no one, never an empty list"
    unpublish(csi, volume_id, "node-c")
    assert fence_updates() - before >= 4


def test_a_volume_of_the_old_driver_gets_its_list_at_its_next_publish(csi: Csi, driver_config: Any) -> None:
    volume_id = csi.controller.CreateVolume(create_request("pvc-old")).volume.volume_id
    transport = SshTransport(driver_config.ssh_settings())
    try:
        old = RdsClient(transport).set_allowed_hosts(volume_id, [])  # what the old driver left: ""
    finally:
        transport.close()
    assert old.export.allowed_host_nqns == () and allowed(csi, volume_id) == []
    csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-b"))
    assert allowed(csi, volume_id) == [HOST_NQNS["node-b"]]


def test_a_node_without_a_known_host_nqn_is_refused_with_the_fix(start_driver: Callable[..., Csi]) -> None:
    csi = start_driver(node_host_nqns=())
    volume_id = csi.controller.CreateVolume(create_request("pvc-unknown-host")).volume.volume_id
    with pytest.raises(grpc.RpcError) as refused:
        csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-b"))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "node-b" in refused.value.details() and "node_host_nqns" in refused.value.details()
    assert allowed(csi, volume_id) == [NO_HOST_NQN]


def test_turning_fencing_off_warns_at_start_and_leaves_the_list(
    start_driver: Callable[..., Csi], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="rds_csi.fencing")
    csi = start_driver(storage_fencing=False)
    assert [record.getMessage() for record in caplog.records if record.name == "rds_csi.fencing"] == [OFF_WARNING]
    volume_id = csi.controller.CreateVolume(create_request("pvc-unfenced")).volume.volume_id
    csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-b"))
    assert allowed(csi, volume_id) == []


def test_the_appliance_refuses_a_node_the_volume_is_not_published_to(
    start_node_driver: Callable[..., NodeHarness], tmp_path: Path
) -> None:
    harness = start_node_driver()
    capability = block()
    volume = NodeVolume.create(harness, "pvc-node-a-only", capability)
    assert allowed(harness.csi, volume.id) == [harness.fabric.config.hostnqn], "node-a's own host NQN file"
    harness.csi.node.NodeStageVolume(node_stage(volume, capability))

    node_b = TestFabric.create(
        tmp_path / "fabric-b",
        tmp_path / "state",
        tmp_path / "node-b" / "sys",
        tmp_path / "node-b" / "dev",
        hostnqn=HOST_NQNS["node-b"],
    )
    try:
        nvme_b = node_b.write_nvme_executable(tmp_path / "node-b" / "bin" / "nvme")
        connect = [str(nvme_b), "connect", "-t", "tcp", "-a", "10.0.0.5", "-s", "4420", "-n", volume.nqn]
        attempt = subprocess.run(connect, capture_output=True, text=True, timeout=60, check=False)
        assert (attempt.returncode, attempt.stderr) == (1, IO_ERROR), "node-b tries anyway; the RDS refuses it"
        assert node_b.snapshot().controllers == []
    finally:
        node_b.teardown()

    controller = harness.fabric.snapshot().controllers[0]
    assert controller.state == "live"
    unpublish(harness.csi, volume.id, "node-a")  # released while still connected (a fenced-off node)
    assert [item.state for item in harness.fabric.snapshot().controllers] == ["connecting"], "it lost its controller"
    harness.csi.node.NodeUnstageVolume(node_unstage(volume))
    harness.csi.controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=volume.id))
