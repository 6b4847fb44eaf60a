"""NodePublishVolume and NodeUnpublishVolume (P-6.4, P-6.5, C-1, P-11.1, P-11.8).

The CO creates the parent of ``target_path``; the driver creates the target itself (a directory
for mount access, a block device node for block access) and removes it on unpublish,
non-recursively and only once nothing is mounted there.

Filesystem: a bind mount of the staging mount, remounted read-only when asked. Block: ``mknod`` of
the device's MAJ:MIN at the target, never a bind mount of a ``/dev`` node (P-11.1); a read-only
block publish gets a node without write permission (mode 0440), which keeps out a container
without CAP_DAC_OVERRIDE but not a privileged one.
"""

from __future__ import annotations

import errno
import os
import stat

import grpc
from ansible_collections.srvlab.rds.plugins.module_utils import node_mounts
from ansible_collections.srvlab.rds.plugins.module_utils.node_mounts import check_storm, mounts_at

from rds_csi import events
from rds_csi.errors import CsiError
from rds_csi.node_runtime import NodeRuntime, number_of, stale_reason
from rds_csi.node_stage import MAX_STACKED_UNMOUNTS, failed_precondition

READ_WRITE_NODE = 0o660
READ_ONLY_NODE = 0o440


def publish_filesystem(
    runtime: NodeRuntime, volume_id: str, nqn: str, staging_path: str, target: str, *, read_only: bool
) -> None:
    entries = runtime.mounts()
    staged = mounts_at(entries, staging_path)
    if not staged:
        raise failed_precondition(
            "NodePublishVolume %s: the staging path %s is not mounted; stage the volume first."
            % (volume_id, staging_path)
        )
    source = staged[-1].device
    stale = stale_reason(runtime, volume_id, nqn, source)
    if stale:
        raise failed_precondition(
            "NodePublishVolume %s: the staging mount %s is stale: %s. Unstage and stage the volume again."
            % (volume_id, staging_path, stale)
        )
    existing = mounts_at(entries, target)
    if existing:
        if existing[-1].device != source:
            raise CsiError(
                grpc.StatusCode.ALREADY_EXISTS,
                "NodePublishVolume %s: %s is already a mount of another device (%s); use another target path."
                % (volume_id, target, existing[-1].device),
            )
        if existing[-1].read_only != read_only:
            raise CsiError(
                grpc.StatusCode.ALREADY_EXISTS,
                "NodePublishVolume %s: %s is already published %s; unpublish it before publishing it %s."
                % (volume_id, target, _mode(existing[-1].read_only), _mode(read_only)),
            )
        return
    check_storm(entries, source, "NodePublishVolume %s" % volume_id)
    try:
        os.mkdir(target, 0o750)
    except FileExistsError:
        if not os.path.isdir(target):
            raise failed_precondition(
                "NodePublishVolume %s: %s exists and is not a directory; remove it or use another target path."
                % (volume_id, target)
            ) from None
    try:
        runtime.mounter.bind(staging_path, target, read_only)
    except Exception as error:
        runtime.events.on_volume(volume_id, events.MOUNT_FAILURE, "NodePublishVolume: %s" % error)
        raise


def _mode(read_only: bool) -> str:
    return "read-only" if read_only else "read-write"


def publish_block(runtime: NodeRuntime, volume_id: str, nqn: str, target: str, read_only: bool) -> None:
    device = runtime.device(nqn)
    if device is None:
        raise failed_precondition(
            "NodePublishVolume %s: NQN %s has no block device on this node; stage the volume first." % (volume_id, nqn)
        )
    node_mounts.make_block_node(target, number_of(device), READ_ONLY_NODE if read_only else READ_WRITE_NODE)


def unpublish(runtime: NodeRuntime, volume_id: str, target: str) -> None:
    """Unmount everything stacked at ``target``, then remove it with rmdir or unlink (never recursive)."""
    for _attempt in range(MAX_STACKED_UNMOUNTS):
        if not mounts_at(runtime.mounts(), target):
            break
        runtime.mounter.unmount(target)
    else:
        raise failed_precondition(
            "NodeUnpublishVolume %s: %s is still a mount point after %d unmounts; nothing was removed."
            % (volume_id, target, MAX_STACKED_UNMOUNTS)
        )
    try:
        status = os.lstat(target)
    except FileNotFoundError:
        return
    try:
        if stat.S_ISDIR(status.st_mode):
            os.rmdir(target)
        else:
            os.unlink(target)
    except OSError as error:
        if error.errno == errno.ENOENT:
            return
        raise failed_precondition(
            "NodeUnpublishVolume %s: cannot remove %s (%s); it is never removed recursively. Empty it by hand."
            % (volume_id, target, error.strerror)
        ) from error
