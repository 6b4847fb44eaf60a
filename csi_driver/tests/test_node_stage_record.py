"""Issue 11 through the socket on the test fabric: the NQN a volume was staged with is the one every
later node RPC uses. A PV whose contexts carry another NQN than the one derived from its volume ID
(a volume of the old driver, a PV edited by hand) stages, publishes, reports stats, expands,
survives a restart of the node service and unstages, disconnecting exactly that NQN."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_nqn import nqn_for
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import ExportSpec
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshTransport
from csi_helpers import (
    GIB,
    NodeHarness,
    NodeVolume,
    block,
    error_of,
    mount,
    node_publish,
    node_stage,
    node_unpublish,
    node_unstage,
    publish_request,
)
from rds_csi.proto import csi_pb2

# Under the node's managed prefix (nqn.2000-02.com.mikrotik:pvc-), but not nqn_for(volume ID).
OTHER_NQN = "nqn.2000-02.com.mikrotik:pvc-old-driver-%s"


@pytest.fixture
def rds(driver_config: Any) -> Iterator[RdsClient]:
    transport = SshTransport(driver_config.ssh_settings())
    try:
        yield RdsClient(transport)
    finally:
        transport.close()


def records(socket_dir: Path) -> Path:
    """Where the node keeps its stage records: beside its socket."""
    return socket_dir / "staged"


def connected_nqns(harness: NodeHarness) -> set[str]:
    return {subsystem.nqn for subsystem in harness.fabric.snapshot().subsystems}


def volume_with_other_nqn(harness: NodeHarness, rds: RdsClient, name: str, capability: Any) -> NodeVolume:
    """A volume whose disk the RDS exports under OTHER_NQN; its PV and its publish context carry that NQN."""
    volume = NodeVolume.create(harness, name, capability)
    nqn = OTHER_NQN % name
    rds.set_export(volume.id, ExportSpec(nqn=nqn))
    published = harness.csi.controller.ControllerPublishVolume(publish_request(volume.id, "node-a", capability))
    volume.publish_context = dict(published.publish_context)
    volume.volume_context["nqn"] = nqn
    assert volume.nqn == nqn != nqn_for(volume.id)
    return volume


def stats(harness: NodeHarness, volume: NodeVolume, path: str = "") -> Any:
    request = csi_pb2.NodeGetVolumeStatsRequest(volume_id=volume.id, volume_path=path or volume.target)
    return harness.csi.node.NodeGetVolumeStats(request)


def total_bytes(response: Any) -> int:
    return int(next(entry.total for entry in response.usage if entry.unit == csi_pb2.VolumeUsage.BYTES))


@pytest.mark.parametrize("capability", [mount(fs_type="xfs"), block()], ids=["mount", "block"])
def test_every_rpc_uses_the_nqn_the_volume_was_staged_with(
    start_node_driver: Callable[..., NodeHarness], rds: RdsClient, socket_dir: Path, capability: Any
) -> None:
    harness = start_node_driver()
    kind = capability.WhichOneof("access_type")
    volume = volume_with_other_nqn(harness, rds, "pvc-other-nqn-" + kind, capability)

    harness.csi.node.NodeStageVolume(node_stage(volume, capability))
    record = records(socket_dir) / (volume.id + ".json")
    assert json.loads(record.read_text()) == {"volume_id": volume.id, "nqn": volume.nqn}
    assert connected_nqns(harness) == {volume.nqn}
    harness.csi.node.NodePublishVolume(node_publish(volume, capability))
    first = stats(harness, volume)
    assert not first.volume_condition.abnormal, first.volume_condition.message
    assert 0.8 * GIB < total_bytes(first) <= GIB

    harness.csi.controller.ControllerExpandVolume(
        csi_pb2.ControllerExpandVolumeRequest(
            volume_id=volume.id, capacity_range=csi_pb2.CapacityRange(required_bytes=2 * GIB)
        )
    )
    expand = csi_pb2.NodeExpandVolumeRequest(
        volume_id=volume.id,
        volume_path=volume.target,
        staging_target_path=volume.staging,
        capacity_range=csi_pb2.CapacityRange(required_bytes=2 * GIB),
        volume_capability=capability,
    )
    assert harness.csi.node.NodeExpandVolume(expand).capacity_bytes == 2 * GIB

    harness = start_node_driver()  # the plugin restarts while its volumes stay staged
    grown = stats(harness, volume)
    assert not grown.volume_condition.abnormal, grown.volume_condition.message
    assert 1.8 * GIB < total_bytes(grown) <= 2 * GIB
    harness.csi.node.NodeUnpublishVolume(node_unpublish(volume))
    harness.csi.node.NodeUnstageVolume(node_unstage(volume))
    assert volume.nqn not in connected_nqns(harness), "unstage disconnects the NQN the volume was staged with"
    assert list(records(socket_dir).iterdir()) == [], "unstage removes the record"
    volume.delete()


def test_the_record_decides_and_is_checked(
    start_node_driver: Callable[..., NodeHarness], rds: RdsClient, socket_dir: Path
) -> None:
    """A stage that carries another NQN than the recorded, still connected one is refused; a record
    that is not valid is refused naming its file; a recorded NQN outside the managed prefix (changed
    since the stage) is never disconnected: unstage refuses and changes nothing."""
    harness = start_node_driver()
    volume = volume_with_other_nqn(harness, rds, "pvc-record-rules", block())
    harness.csi.node.NodeStageVolume(node_stage(volume, block()))

    derived = node_stage(volume, block())
    derived.publish_context["nqn"] = derived.volume_context["nqn"] = nqn_for(volume.id)
    code, message = error_of(lambda: harness.csi.node.NodeStageVolume(derived))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "staged on this node with NQN %s" % volume.nqn in message

    record = records(socket_dir) / (volume.id + ".json")
    kept = record.read_text()
    record.write_text('{"volume_id": "%s", "nqn": "not an nqn"}' % volume.id)
    code, message = error_of(lambda: stats(harness, volume, volume.staging))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and str(record) in message
    record.write_text(kept)

    narrower = start_node_driver(managed_nqn_prefix="nqn.2000-02.com.mikrotik:pvc-new-")
    code, message = error_of(lambda: narrower.csi.node.NodeUnstageVolume(node_unstage(volume)))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "nothing was changed" in message
    assert volume.nqn in connected_nqns(harness) and record.exists()

    harness = start_node_driver()
    harness.csi.node.NodeUnstageVolume(node_unstage(volume))
    assert volume.nqn not in connected_nqns(harness) and not record.exists()
    volume.delete()
