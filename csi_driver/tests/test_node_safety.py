"""P-11 lessons on the node, through the socket on the test fabric: a device whose probe fails is
never formatted, a system NQN survives start-up cleanup and every unstage, a device in use is
never disconnected, a stale mount is reported, foreign content is never formatted over."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.node_mounts import read_mountinfo
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_config import NvmeHostConfig
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_errors import UnmanagedNqnError
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_host import NvmeHost
from csi_helpers import (
    NodeHarness,
    NodeVolume,
    block,
    error_of,
    mount,
    mount_points,
    node_publish,
    node_stage,
    node_unpublish,
    node_unstage,
)
from rds_csi.proto import csi_pb2

MIB = 1024**2
SYSTEM_NQN = "nqn.2000-02.com.mikrotik:system-var-node-a"
EXT4_MAGIC_OFFSET = 1024 + 0x38
UNSERVED = (8, 250)  # a SCSI partition number; this machine has no SCSI disks


def has_ext4_magic(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(EXT4_MAGIC_OFFSET)
        return handle.read(2) == b"\x53\xef"


def connected(harness: NodeHarness) -> set[str]:
    return {subsystem.nqn for subsystem in harness.fabric.snapshot().subsystems}


def make_unreadable(harness: NodeHarness, nqn: str) -> str:
    """Point the namespace's disk (sysfs ``dev`` and its /dev node) at a device number nothing
    serves, as when a namespace vanishes behind its node: opening it fails with ENXIO. (Detaching
    the loop device instead would race with other users of loop devices on this machine.)"""
    node = harness.fabric.device_path(nqn)
    assert node is not None, "%s has a disk" % nqn
    assert not os.path.exists("/sys/dev/block/%d:%d" % UNSERVED), "this machine serves the test's device number"
    for directory, _subdirectories, files in os.walk(harness.fabric.config.sysfs_root):
        if os.path.basename(directory) == node.name and "dev" in files:
            Path(directory, "dev").write_text("%d:%d\n" % UNSERVED)
    node.unlink()
    os.mknod(node, stat.S_IFBLK | 0o600, os.makedev(*UNSERVED))
    return str(node)


def test_unreadable_device_is_never_formatted(start_node_driver: Callable[..., NodeHarness]) -> None:
    """P-11.4: the namespace's device node opens with ENXIO and blkid -p exits 2 ("nothing found");
    stage must refuse, not format; unstage then disconnects the broken namespace."""
    harness = start_node_driver()
    volume = NodeVolume.create(harness, "pvc-unreadable", mount())
    harness.csi.node.NodeStageVolume(node_stage(volume, block()))  # connect only
    node = make_unreadable(harness, volume.nqn)
    blkid = subprocess.run(["blkid", "-p", node], capture_output=True, check=False, timeout=30)
    assert blkid.returncode == 2, "the trap: blkid reports an unreadable device as empty"

    for _attempt in range(3):
        code, message = error_of(lambda: harness.csi.node.NodeStageVolume(node_stage(volume, mount())))
        assert code == grpc.StatusCode.UNAVAILABLE and "not formatted" in message
    assert not mount_points(volume.staging)
    assert not has_ext4_magic(harness.csi.backing_file(volume.id)), "nothing was written to the volume"
    harness.csi.node.NodeUnstageVolume(node_unstage(volume))
    assert volume.nqn not in connected(harness)


def test_foreign_content_is_never_formatted(start_node_driver: Callable[..., NodeHarness]) -> None:
    harness = start_node_driver()
    volume = NodeVolume.create(harness, "pvc-partitioned", mount())
    backing = harness.csi.backing_file(volume.id)
    with open(backing, "r+b") as handle:  # an MBR with one partition: data of someone else
        entry = bytes([0, 0, 0, 0, 0x83, 0, 0, 0]) + (2048).to_bytes(4, "little") + (8192).to_bytes(4, "little")
        handle.seek(446)
        handle.write(entry)
        handle.seek(510)
        handle.write(b"\x55\xaa")
    code, message = error_of(lambda: harness.csi.node.NodeStageVolume(node_stage(volume, mount())))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "PTTYPE=dos" in message
    assert not has_ext4_magic(backing)

    other = NodeVolume.create(harness, "pvc-other-type", mount(fs_type="xfs"))
    harness.csi.node.NodeStageVolume(node_stage(other, mount(fs_type="xfs")))
    harness.csi.node.NodeUnstageVolume(node_unstage(other))
    code, message = error_of(lambda: harness.csi.node.NodeStageVolume(node_stage(other, mount(fs_type="ext4"))))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "TYPE=xfs" in message
    harness.csi.node.NodeUnstageVolume(node_unstage(volume))
    harness.csi.node.NodeUnstageVolume(node_unstage(other))
    assert volume.nqn not in connected(harness) and other.nqn not in connected(harness)


def test_system_nqn_survives_cleanup_and_unstage(
    start_node_driver: Callable[..., NodeHarness], node_fabric: Any, tmp_path: Path
) -> None:
    """P-8.6, P-11.2: a diskless node's /var (an NQN outside the managed prefix) is never touched,
    neither by the orphan cleanup at start nor by unstage; a managed orphan is cleaned."""
    system_file = tmp_path / "system-var.img"
    system_file.write_bytes(b"")
    os.truncate(system_file, 64 * MIB)
    fabric = node_fabric
    fabric.add_system_subsystem(SYSTEM_NQN, system_file)
    system_node = fabric.device_path(SYSTEM_NQN)

    harness = start_node_driver()
    orphan = NodeVolume.create(harness, "pvc-orphan", mount())
    # Connected but its namespace is gone: an orphan under the managed prefix.
    harness.csi.node.NodeStageVolume(node_stage(orphan, block()))
    harness.fabric.remove_device(orphan.nqn)
    assert orphan.nqn in connected(harness)
    harness = start_node_driver()  # a node start cleans managed orphans only
    assert connected(harness) == {SYSTEM_NQN}

    volume = NodeVolume.create(harness, "pvc-beside-system", mount())
    for _cycle in range(3):
        harness.csi.node.NodeStageVolume(node_stage(volume, mount()))
        harness.csi.node.NodePublishVolume(node_publish(volume, mount()))
        harness.csi.node.NodeUnpublishVolume(node_unpublish(volume))
        harness.csi.node.NodeUnstageVolume(node_unstage(volume))
    assert connected(harness) == {SYSTEM_NQN}
    assert harness.fabric.device_path(SYSTEM_NQN) == system_node and os.path.exists(system_node)

    host = NvmeHost(
        NvmeHostConfig(sysfs_root=str(fabric.config.sysfs_root), dev_root=str(fabric.config.dev_root)),
        "nqn.2000-02.com.mikrotik:pvc-",
    )
    with pytest.raises(UnmanagedNqnError):
        host.disconnect(SYSTEM_NQN)  # the library's one disconnect function is the guard
    assert connected(harness) == {SYSTEM_NQN}


def test_in_use_device_is_not_unstaged(start_node_driver: Callable[..., NodeHarness]) -> None:
    harness = start_node_driver()
    volume = NodeVolume.create(harness, "pvc-in-use", mount())
    harness.csi.node.NodeStageVolume(node_stage(volume, mount()))
    harness.csi.node.NodePublishVolume(node_publish(volume, mount()))
    code, message = error_of(lambda: harness.csi.node.NodeUnstageVolume(node_unstage(volume)))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and volume.target in message
    assert len(mount_points(volume.staging)) == 1, "nothing was unmounted"
    assert volume.nqn in connected(harness)
    harness.csi.node.NodeUnpublishVolume(node_unpublish(volume))
    harness.csi.node.NodeUnstageVolume(node_unstage(volume))

    raw = NodeVolume.create(harness, "pvc-in-use-block", block())
    harness.csi.node.NodeStageVolume(node_stage(raw, block()))
    device = str(harness.fabric.device_path(raw.nqn))
    holder = os.open(device, os.O_RDONLY | os.O_EXCL)  # what a mount in another namespace does
    try:
        code, message = error_of(lambda: harness.csi.node.NodeUnstageVolume(node_unstage(raw)))
        assert code == grpc.StatusCode.FAILED_PRECONDITION and "exclusive open" in message
        assert raw.nqn in connected(harness), "a device in use stays connected"
    finally:
        os.close(holder)
    harness.csi.node.NodeUnstageVolume(node_unstage(raw))
    assert raw.nqn not in connected(harness)


def test_stale_mount_is_reported(start_node_driver: Callable[..., NodeHarness]) -> None:
    """P-8.2 detection: the controller is lost and comes back under new names while the staging
    mount still holds the old device."""
    harness = start_node_driver()
    volume = NodeVolume.create(harness, "pvc-stale", mount())
    harness.csi.node.NodeStageVolume(node_stage(volume, mount()))
    harness.csi.node.NodePublishVolume(node_publish(volume, mount()))
    stats = csi_pb2.NodeGetVolumeStatsRequest(volume_id=volume.id, volume_path=volume.staging)
    assert not harness.csi.node.NodeGetVolumeStats(stats).volume_condition.abnormal

    harness.fabric.lose_controller(volume.nqn)
    gone = harness.csi.node.NodeGetVolumeStats(stats).volume_condition
    assert gone.abnormal and "gone" in gone.message

    harness.fabric.reconnect_controller(volume.nqn, new_name=True)
    stale = harness.csi.node.NodeGetVolumeStats(stats).volume_condition
    assert stale.abnormal and "now resolves to" in stale.message
    other_target = str(Path(volume.target).parent / "second")
    code, message = error_of(
        lambda: harness.csi.node.NodePublishVolume(node_publish(volume, mount(), target=other_target))
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "stale" in message
    assert not os.path.exists(other_target)
    harness.csi.node.NodeUnpublishVolume(node_unpublish(volume))
    harness.csi.node.NodeUnstageVolume(node_unstage(volume))
    assert not mount_points(volume.staging)


def test_mounted_device_is_never_checked_or_mounted_again(start_node_driver: Callable[..., NodeHarness]) -> None:
    """A stage of the same volume at a second staging path finds the device mounted at the first:
    refused before any fsck or mount, so the mount table keeps one entry of the device."""
    harness = start_node_driver()
    volume = NodeVolume.create(harness, "pvc-twice", mount())
    harness.csi.node.NodeStageVolume(node_stage(volume, mount()))
    device = mount_points(volume.staging)[0].device
    second = Path(volume.staging).parent / "second"
    second.mkdir()
    code, message = error_of(lambda: harness.csi.node.NodeStageVolume(node_stage(volume, mount(), str(second))))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and volume.staging in message
    assert not mount_points(str(second))
    assert [entry.mount_point for entry in read_mountinfo() if entry.device == device] == [volume.staging]
    harness.csi.node.NodeUnstageVolume(node_unstage(volume))
