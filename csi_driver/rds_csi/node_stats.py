"""NodeGetVolumeStats and NodeExpandVolume (P-6.7, P-8.2).

Both answer NotFound first for a volume this node does not have, whatever the path (C-2): it has
the volume when it holds its stage record, or (a volume staged before records existed) when the
NQN derived from the volume ID is connected.

Stats: bytes and inodes of a mounted filesystem, the size of a published block node, and a
VolumeCondition that is abnormal, with the reason, when the mount or node no longer matches the
device the volume's NQN resolves to (stale) or the device is gone. A path that is neither a mount
nor a block node is not this volume: NotFound (C-3).

Expand: rescan the controllers (the namespace size is re-read asynchronously, so the new size is
waited for with a deadline), then grow the filesystem online; block volumes need only the rescan.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from typing import Optional

from ansible_collections.srvlab.rds.plugins.module_utils import node_filesystems
from ansible_collections.srvlab.rds.plugins.module_utils.node_mounts import DeviceNumber, mounts_at
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_nqn import nqn_for
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_sysfs import BlockDevice

from rds_csi.errors import not_found
from rds_csi.node_runtime import NodeRuntime, stale_reason
from rds_csi.node_stage import failed_precondition

RESIZE_WAIT = 10.0
_POLL = 0.05


@dataclass(frozen=True)
class Usage:
    block: bool
    total_bytes: int = 0
    available_bytes: int = 0
    used_bytes: int = 0
    total_inodes: int = 0
    available_inodes: int = 0
    used_inodes: int = 0
    abnormal: str = ""


def staged_nqn(runtime: NodeRuntime, rpc_name: str, volume_id: str) -> str:
    """The NQN the volume is staged with on this node; NotFound when the node does not have it."""
    nqn = runtime.staged_nqn(volume_id)
    if nqn is None:
        raise not_found(
            "%s %s: the volume is not staged on this node (no stage record in %s, and NQN %s is not connected); "
            "ask the node it is staged on, or stage it here first."
            % (rpc_name, volume_id, runtime.records.directory, nqn_for(volume_id))
        )
    return nqn


def volume_stats(runtime: NodeRuntime, volume_id: str, nqn: str, path: str) -> Usage:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise not_found("NodeGetVolumeStats %s: %s does not exist." % (volume_id, path)) from None
    if stat.S_ISBLK(status.st_mode):
        stale = stale_reason(runtime, volume_id, nqn, DeviceNumber(os.major(status.st_rdev), os.minor(status.st_rdev)))
        if stale:
            return Usage(block=True, abnormal=stale)
        return Usage(block=True, total_bytes=node_filesystems.device_size(path))
    mounted = mounts_at(runtime.mounts(), path)
    if not mounted:
        raise not_found("NodeGetVolumeStats %s: %s is not a mount of this volume." % (volume_id, path))
    stale = stale_reason(runtime, volume_id, nqn, mounted[-1].device)
    if stale:
        return Usage(block=False, abnormal=stale)
    space = os.statvfs(path)
    return Usage(
        block=False,
        total_bytes=space.f_blocks * space.f_frsize,
        available_bytes=space.f_bavail * space.f_frsize,
        used_bytes=(space.f_blocks - space.f_bfree) * space.f_frsize,
        total_inodes=space.f_files,
        available_inodes=space.f_favail,
        used_inodes=space.f_files - space.f_ffree,
    )


def expand(runtime: NodeRuntime, volume_id: str, nqn: str, path: str, *, required: int, block: bool) -> int:
    """Rescan and grow; returns the device size in bytes."""
    if not os.path.lexists(path):
        raise not_found("NodeExpandVolume %s: %s does not exist." % (volume_id, path))
    if runtime.device(nqn) is None:
        raise not_found("NodeExpandVolume %s: the volume is not attached to this node (NQN %s)." % (volume_id, nqn))
    runtime.host.rescan(nqn)
    device = _wait_for_size(runtime, nqn, required)
    if block or stat.S_ISBLK(os.stat(path).st_mode):
        return device.size_bytes
    mounted = mounts_at(runtime.mounts(), path)
    if not mounted:
        raise not_found("NodeExpandVolume %s: %s is not a mount of this volume." % (volume_id, path))
    node_filesystems.grow(device.path, path, mounted[-1].fstype, runtime.runner)
    return device.size_bytes


def _wait_for_size(runtime: NodeRuntime, nqn: str, required: int) -> BlockDevice:
    deadline = time.monotonic() + RESIZE_WAIT
    while True:
        device: Optional[BlockDevice] = runtime.device(nqn)
        if device is not None and device.size_bytes >= required:
            return device
        if time.monotonic() > deadline:
            seen = "gone" if device is None else "%d bytes" % device.size_bytes
            raise failed_precondition(
                "NodeExpandVolume: after a rescan the device of %s is %s, less than the %d bytes asked for; "
                "check that ControllerExpandVolume succeeded." % (nqn, seen, required)
            )
        time.sleep(_POLL)
