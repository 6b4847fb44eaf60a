"""C-1 paths and C-2 codes for the node RPCs, NodeGetInfo and NodeGetCapabilities, through the socket."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from csi_helpers import (
    NodeHarness,
    NodeVolume,
    block,
    error_of,
    mount,
    node_publish,
    node_stage,
    node_unpublish,
    node_unstage,
    status_of,
)
from rds_csi.proto import csi_pb2
from rds_csi.topology import HOST_UUID_KEY, host_nqn_from_segments

UNKNOWN_VOLUME = "pvc-00000000-0000-4000-8000-000000000000"
CAPABILITY = mount()
PATH = "/tmp/rds-csi-conformance-path"

MISSING_FIELDS: list[tuple[str, str, Any]] = [
    (
        "NodeStageVolume",
        "volume_id",
        csi_pb2.NodeStageVolumeRequest(staging_target_path=PATH, volume_capability=CAPABILITY),
    ),
    (
        "NodeStageVolume",
        "staging_target_path",
        csi_pb2.NodeStageVolumeRequest(volume_id=UNKNOWN_VOLUME, volume_capability=CAPABILITY),
    ),
    (
        "NodeStageVolume",
        "volume_capability",
        csi_pb2.NodeStageVolumeRequest(volume_id=UNKNOWN_VOLUME, staging_target_path=PATH),
    ),
    ("NodeUnstageVolume", "volume_id", csi_pb2.NodeUnstageVolumeRequest(staging_target_path=PATH)),
    ("NodeUnstageVolume", "staging_target_path", csi_pb2.NodeUnstageVolumeRequest(volume_id=UNKNOWN_VOLUME)),
    (
        "NodePublishVolume",
        "volume_id",
        csi_pb2.NodePublishVolumeRequest(
            staging_target_path=PATH, target_path=PATH + "/t", volume_capability=CAPABILITY
        ),
    ),
    (
        "NodePublishVolume",
        "staging_target_path",
        csi_pb2.NodePublishVolumeRequest(
            volume_id=UNKNOWN_VOLUME, target_path=PATH + "/t", volume_capability=CAPABILITY
        ),
    ),
    (
        "NodePublishVolume",
        "target_path",
        csi_pb2.NodePublishVolumeRequest(
            volume_id=UNKNOWN_VOLUME, staging_target_path=PATH, volume_capability=CAPABILITY
        ),
    ),
    (
        "NodePublishVolume",
        "volume_capability",
        csi_pb2.NodePublishVolumeRequest(volume_id=UNKNOWN_VOLUME, staging_target_path=PATH, target_path=PATH + "/t"),
    ),
    ("NodeUnpublishVolume", "volume_id", csi_pb2.NodeUnpublishVolumeRequest(target_path=PATH)),
    ("NodeUnpublishVolume", "target_path", csi_pb2.NodeUnpublishVolumeRequest(volume_id=UNKNOWN_VOLUME)),
    ("NodeGetVolumeStats", "volume_id", csi_pb2.NodeGetVolumeStatsRequest(volume_path=PATH)),
    ("NodeGetVolumeStats", "volume_path", csi_pb2.NodeGetVolumeStatsRequest(volume_id=UNKNOWN_VOLUME)),
    ("NodeExpandVolume", "volume_id", csi_pb2.NodeExpandVolumeRequest(volume_path=PATH)),
    ("NodeExpandVolume", "volume_path", csi_pb2.NodeExpandVolumeRequest(volume_id=UNKNOWN_VOLUME)),
]


@pytest.fixture
def harness(start_node_driver: Callable[..., NodeHarness]) -> NodeHarness:
    return start_node_driver()


def test_missing_fields_are_invalid_argument(harness: NodeHarness) -> None:
    for method, field, request in MISSING_FIELDS:
        code, message = error_of(lambda: getattr(harness.csi.node, method)(request))  # noqa: B023
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (method, field)
        assert field in message, (method, field, message)


def test_unknown_volume_is_not_found_whatever_the_path(harness: NodeHarness, tmp_path: Any) -> None:
    """C-2: existence is decided before the path's form, for any volume ID (one that is no safe file name too)."""
    node = harness.csi.node
    plain = tmp_path / "plain-directory"
    plain.mkdir()
    paths = (str(tmp_path / "missing"), str(plain), "/no/such/dir", "some/path", ".", " ", "../up", "/tmp/../x/..")
    for volume_id in (UNKNOWN_VOLUME, "../not a/volume"):
        for path in paths:
            stats = csi_pb2.NodeGetVolumeStatsRequest(volume_id=volume_id, volume_path=path)
            code, message = error_of(lambda: node.NodeGetVolumeStats(stats))  # noqa: B023
            assert code == grpc.StatusCode.NOT_FOUND and "not staged on this node" in message, (volume_id, path)
            expand = csi_pb2.NodeExpandVolumeRequest(volume_id=volume_id, volume_path=path)
            code, message = error_of(lambda: node.NodeExpandVolume(expand))  # noqa: B023
            assert code == grpc.StatusCode.NOT_FOUND and "not staged on this node" in message, (volume_id, path)


def test_staged_volume_on_a_path_that_is_not_it(harness: NodeHarness, tmp_path: Any) -> None:
    """C-3: a volume this node has, on a path that is not this volume: NotFound; a relative path is malformed."""
    volume = NodeVolume.create(harness, "pvc-wrong-path", block())
    node = harness.csi.node
    node.NodeStageVolume(node_stage(volume, block()))
    for path in (str(tmp_path / "missing"), volume.staging):
        stats = csi_pb2.NodeGetVolumeStatsRequest(volume_id=volume.id, volume_path=path)
        assert status_of(lambda: node.NodeGetVolumeStats(stats)) == grpc.StatusCode.NOT_FOUND  # noqa: B023
    relative = csi_pb2.NodeGetVolumeStatsRequest(volume_id=volume.id, volume_path="some/path")
    assert status_of(lambda: node.NodeGetVolumeStats(relative)) == grpc.StatusCode.INVALID_ARGUMENT
    node.NodeUnstageVolume(node_unstage(volume))
    volume.delete()


def test_refused_options_capabilities_and_contexts(harness: NodeHarness) -> None:
    volume = NodeVolume.create(harness, "pvc-refusals", mount())
    node = harness.csi.node
    dangerous = csi_pb2.VolumeCapability(
        mount=csi_pb2.VolumeCapability.MountVolume(fs_type="ext4", mount_flags=["noatime", "suid"]),
        access_mode=csi_pb2.VolumeCapability.AccessMode(mode=csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER),
    )
    code, message = error_of(lambda: node.NodeStageVolume(node_stage(volume, dangerous)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "'suid'" in message
    rwx_filesystem = mount(mode=csi_pb2.VolumeCapability.AccessMode.MULTI_NODE_MULTI_WRITER)
    assert (
        status_of(lambda: node.NodeStageVolume(node_stage(volume, rwx_filesystem))) == grpc.StatusCode.INVALID_ARGUMENT
    )
    unsupported = mount(fs_type="btrfs")
    assert status_of(lambda: node.NodeStageVolume(node_stage(volume, unsupported))) == grpc.StatusCode.INVALID_ARGUMENT

    no_address = node_stage(volume, mount())
    del no_address.publish_context["nvmeAddress"]
    del no_address.volume_context["nvmeAddress"]
    code, message = error_of(lambda: node.NodeStageVolume(no_address))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "nvmeAddress" in message

    foreign = node_stage(volume, mount())
    foreign.publish_context["nqn"] = "nqn.2000-02.com.mikrotik:system-root"
    code, message = error_of(lambda: node.NodeStageVolume(foreign))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "managed prefix" in message

    code, message = error_of(lambda: node.NodePublishVolume(node_publish(volume, mount())))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "stage the volume first" in message
    assert not os.path.exists(volume.target)
    volume.delete()


def test_never_staged_or_published_is_ok(harness: NodeHarness, tmp_path: Any) -> None:
    """C-1: cleanup of something never staged or published succeeds and touches nothing else."""
    node = harness.csi.node
    staging = tmp_path / "staging"
    staging.mkdir()
    node.NodeUnstageVolume(csi_pb2.NodeUnstageVolumeRequest(volume_id=UNKNOWN_VOLUME, staging_target_path=str(staging)))
    node.NodeUnstageVolume(
        csi_pb2.NodeUnstageVolumeRequest(volume_id="some-other-id", staging_target_path=str(staging))
    )
    assert staging.is_dir(), "the CO's staging directory is the CO's"
    node.NodeUnpublishVolume(
        csi_pb2.NodeUnpublishVolumeRequest(volume_id=UNKNOWN_VOLUME, target_path=str(tmp_path / "never"))
    )


@pytest.mark.parametrize("capability", [mount(), block()], ids=["mount", "block"])
def test_target_paths(harness: NodeHarness, capability: Any) -> None:
    """C-1: the driver creates the target (directory or device node) and removes it; nothing is
    left in the staging directory."""
    kind = capability.WhichOneof("access_type")
    volume = NodeVolume.create(harness, "pvc-paths-" + kind, capability)
    node = harness.csi.node
    node.NodeStageVolume(node_stage(volume, capability))
    assert not os.path.exists(volume.target)
    node.NodePublishVolume(node_publish(volume, capability))
    assert os.path.isdir(volume.target) if kind == "mount" else os.path.exists(volume.target)
    node.NodeUnpublishVolume(node_unpublish(volume))
    assert not os.path.lexists(volume.target)
    node.NodeUnstageVolume(node_unstage(volume))
    assert os.listdir(volume.staging) == []
    os.rmdir(volume.staging)  # what csi-sanity does between tests: a non-recursive remove
    volume.delete()


def test_info_and_capabilities(harness: NodeHarness) -> None:
    info = harness.csi.node.NodeGetInfo(csi_pb2.NodeGetInfoRequest())
    segments = dict(info.accessible_topology.segments)
    assert info.node_id == "node-a"
    assert segments["topology.rds.csi.srvlab.io/zone"] == "default"
    assert host_nqn_from_segments(segments) == harness.fabric.config.hostnqn
    assert len(segments[HOST_UUID_KEY]) <= 63, "a topology value becomes a Node label value"
    rpc = csi_pb2.NodeServiceCapability.RPC
    advertised = {
        item.rpc.type
        for item in harness.csi.node.NodeGetCapabilities(csi_pb2.NodeGetCapabilitiesRequest()).capabilities
    }
    assert advertised == {rpc.STAGE_UNSTAGE_VOLUME, rpc.EXPAND_VOLUME, rpc.GET_VOLUME_STATS, rpc.VOLUME_CONDITION}


def test_busy_volume_is_aborted_and_a_missing_device_unavailable(
    start_node_driver: Callable[..., NodeHarness],
) -> None:
    """A second RPC on a volume whose stage is still waiting for its device gets Aborted at once;
    the waiting stage ends at the device deadline with Unavailable and formats nothing."""
    harness = start_node_driver(device_wait_timeout=3.0)
    volume = NodeVolume.create(harness, "pvc-busy", mount())
    harness.csi.node.NodeStageVolume(node_stage(volume, block()))
    harness.fabric.remove_device(volume.nqn)  # connected, but the namespace's disk is gone
    outcome: list[tuple[grpc.StatusCode, str]] = []
    waiting = threading.Thread(
        target=lambda: outcome.append(error_of(lambda: harness.csi.node.NodeStageVolume(node_stage(volume, mount()))))
    )
    waiting.start()
    time.sleep(1.0)
    code, message = error_of(lambda: harness.csi.node.NodeUnstageVolume(node_unstage(volume)))
    waiting.join(timeout=30)
    assert code == grpc.StatusCode.ABORTED and volume.id in message
    assert outcome and outcome[0][0] == grpc.StatusCode.UNAVAILABLE and "did not appear" in outcome[0][1]
    assert not os.listdir(volume.staging)
    harness.csi.node.NodeUnstageVolume(node_unstage(volume))
    assert volume.nqn not in {subsystem.nqn for subsystem in harness.fabric.snapshot().subsystems}
