"""P-6 end to end through the driver's socket (mode all) on the emulator and the test fabric, as root
with real loop devices, mkfs and mounts: create, controller publish, stage, publish, write, stats,
expand, unpublish, unstage, stage again and read the data back, delete; every node RPC repeated."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.node_mounts import read_mountinfo
from csi_helpers import (
    GIB,
    NodeHarness,
    NodeVolume,
    block,
    mount,
    mount_points,
    node_publish,
    node_stage,
    node_unpublish,
    node_unstage,
)
from rds_csi.proto import csi_pb2

REPEATS = 10
DATA = b"written through the published target\n"


def connected_nqns(harness: NodeHarness) -> set[str]:
    return {subsystem.nqn for subsystem in harness.fabric.snapshot().subsystems}


def has_sys_resource() -> bool:
    status = Path("/proc/self/status").read_text()
    return bool(int(status.split("CapEff:")[1].split()[0], 16) >> 24 & 1)


@pytest.mark.parametrize("fstype", ["ext4", "xfs"])
def test_filesystem_lifecycle(fstype: str, start_node_driver: Callable[..., NodeHarness]) -> None:
    harness = start_node_driver()
    csi = harness.csi
    capability = mount(fs_type=fstype)
    volume = NodeVolume.create(harness, "pvc-lifecycle-" + fstype, capability)

    for _repeat in range(REPEATS):
        csi.node.NodeStageVolume(node_stage(volume, capability))
    staged = mount_points(volume.staging)
    assert len(staged) == 1, "a repeated stage never stacks mounts: %s" % staged
    assert staged[0].fstype == fstype

    for _repeat in range(REPEATS):
        csi.node.NodePublishVolume(node_publish(volume, capability))
    assert len(mount_points(volume.target)) == 1
    Path(volume.target, "data").write_bytes(DATA)
    os.sync()

    stats = csi.node.NodeGetVolumeStats(
        csi_pb2.NodeGetVolumeStatsRequest(volume_id=volume.id, volume_path=volume.target)
    )
    usage = {entry.unit: entry for entry in stats.usage}
    assert not stats.volume_condition.abnormal
    assert 0.8 * GIB < usage[csi_pb2.VolumeUsage.BYTES].total <= GIB
    assert usage[csi_pb2.VolumeUsage.INODES].used > 0

    csi.controller.ControllerExpandVolume(
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
    if fstype == "ext4" and not has_sys_resource():
        # ext4's online resize ioctl needs CAP_SYS_RESOURCE, which this sandbox withholds even from root.
        with pytest.raises(grpc.RpcError) as refused:
            csi.node.NodeExpandVolume(expand)
        assert "CAP_SYS_RESOURCE" in refused.value.details()
    else:
        for _repeat in range(2):
            assert csi.node.NodeExpandVolume(expand).capacity_bytes == 2 * GIB
        grown = csi.node.NodeGetVolumeStats(
            csi_pb2.NodeGetVolumeStatsRequest(volume_id=volume.id, volume_path=volume.target)
        )
        assert next(entry.total for entry in grown.usage if entry.unit == csi_pb2.VolumeUsage.BYTES) > 1.8 * GIB

    for _repeat in range(REPEATS):
        csi.node.NodeUnpublishVolume(node_unpublish(volume))
    assert not os.path.lexists(volume.target), "C-1: the target is gone after unpublish"
    for _repeat in range(REPEATS):
        csi.node.NodeUnstageVolume(node_unstage(volume))
    assert not mount_points(volume.staging) and os.listdir(volume.staging) == []
    assert volume.nqn not in connected_nqns(harness), "unstage disconnects"

    csi.node.NodeStageVolume(node_stage(volume, capability))
    csi.node.NodePublishVolume(node_publish(volume, capability))
    assert Path(volume.target, "data").read_bytes() == DATA, "the same data after a new stage (no re-format)"
    csi.node.NodeUnpublishVolume(node_unpublish(volume))
    csi.node.NodeUnstageVolume(node_unstage(volume))
    volume.delete()


def test_block_lifecycle(start_node_driver: Callable[..., NodeHarness]) -> None:
    harness = start_node_driver()
    csi = harness.csi
    capability = block()
    volume = NodeVolume.create(harness, "pvc-lifecycle-block", capability)

    for _repeat in range(REPEATS):
        csi.node.NodeStageVolume(node_stage(volume, capability))
    assert os.listdir(volume.staging) == [] and not mount_points(volume.staging), "P-6.3: nothing at staging"
    for _repeat in range(REPEATS):
        csi.node.NodePublishVolume(node_publish(volume, capability))
    status = os.lstat(volume.target)
    assert stat.S_ISBLK(status.st_mode), "P-6.4: a block device node made with mknod"
    mounted = {entry.mount_point for entry in read_mountinfo()}
    assert volume.target not in mounted, "P-11.1: never a bind mount of a /dev node"
    assert not [
        entry for entry in read_mountinfo() if entry.fstype == "devtmpfs" and entry.mount_point == volume.target
    ]

    with open(volume.target, "r+b") as device:
        device.seek(GIB // 2)
        device.write(DATA)
    os.sync()
    stats = csi.node.NodeGetVolumeStats(
        csi_pb2.NodeGetVolumeStatsRequest(volume_id=volume.id, volume_path=volume.target)
    )
    assert [entry.total for entry in stats.usage] == [GIB] and not stats.volume_condition.abnormal

    csi.controller.ControllerExpandVolume(
        csi_pb2.ControllerExpandVolumeRequest(
            volume_id=volume.id,
            capacity_range=csi_pb2.CapacityRange(required_bytes=2 * GIB),
            volume_capability=capability,
        )
    )
    expanded = csi.node.NodeExpandVolume(
        csi_pb2.NodeExpandVolumeRequest(
            volume_id=volume.id,
            volume_path=volume.target,
            capacity_range=csi_pb2.CapacityRange(required_bytes=2 * GIB),
            volume_capability=capability,
        )
    )
    assert expanded.capacity_bytes == 2 * GIB

    for _repeat in range(REPEATS):
        csi.node.NodeUnpublishVolume(node_unpublish(volume))
    assert not os.path.lexists(volume.target)
    for _repeat in range(REPEATS):
        csi.node.NodeUnstageVolume(node_unstage(volume))
    assert volume.nqn not in connected_nqns(harness)

    csi.node.NodeStageVolume(node_stage(volume, capability))
    csi.node.NodePublishVolume(node_publish(volume, capability))
    with open(volume.target, "rb") as device:
        device.seek(GIB // 2)
        assert device.read(len(DATA)) == DATA
    csi.node.NodeUnpublishVolume(node_unpublish(volume))
    csi.node.NodeUnstageVolume(node_unstage(volume))
    volume.delete()


def test_read_only_publish_cannot_be_written(start_node_driver: Callable[..., NodeHarness]) -> None:
    harness = start_node_driver()
    capability = mount()
    volume = NodeVolume.create(harness, "pvc-read-only", capability)
    harness.csi.node.NodeStageVolume(node_stage(volume, capability))
    Path(volume.staging, "kept").write_text("staged")
    for _repeat in range(3):
        harness.csi.node.NodePublishVolume(node_publish(volume, capability, readonly=True))
    assert Path(volume.target, "kept").read_text() == "staged"
    with pytest.raises(OSError) as refused:
        Path(volume.target, "new").write_text("x")
    assert refused.value.errno == errno.EROFS
    code = _code(lambda: harness.csi.node.NodePublishVolume(node_publish(volume, capability, readonly=False)))
    assert code == grpc.StatusCode.ALREADY_EXISTS, "the same target published read-write is incompatible"
    harness.csi.node.NodeUnpublishVolume(node_unpublish(volume))
    harness.csi.node.NodeUnstageVolume(node_unstage(volume))
    volume.delete()


def _code(call: Callable[[], Any]) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value.code()


def test_mount_options_reach_the_mount(start_node_driver: Callable[..., NodeHarness]) -> None:
    harness = start_node_driver()
    capability = csi_pb2.VolumeCapability(
        mount=csi_pb2.VolumeCapability.MountVolume(fs_type="ext4", mount_flags=["noatime", "discard"]),
        access_mode=csi_pb2.VolumeCapability.AccessMode(mode=csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER),
    )
    volume = NodeVolume.create(harness, "pvc-options", capability)
    harness.csi.node.NodeStageVolume(node_stage(volume, capability))
    staged = mount_points(volume.staging)[0]
    assert "noatime" in staged.options and "discard" in staged.super_options
    harness.csi.node.NodeUnstageVolume(node_unstage(volume))
    volume.delete()
