"""NodeStageVolume and NodeUnstageVolume (P-6.2, P-6.3, P-6.6, P-8.3, P-8.5, P-11.4).

Stage, filesystem: connect, resolve the device from the NQN, wait for it, then either find the
staging path already mounted from that device (a repeat: nothing is done, nothing stacked, no fsck)
or probe it: a filesystem of the requested type is checked read-only and mounted, a positively
blank device is formatted and mounted, anything else is refused. Stage, block: connect and wait,
nothing at the staging path.

The NQN: stage records the one it connects, before connecting, and unstage disconnects the
recorded one (node_runtime's stage records).

Unstage: refuse while published bind mounts of the device remain; unmount the staging path; check
the device against kernel facts; disconnect (the library refuses NQNs outside the managed prefix);
forget the record.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import grpc
from ansible_collections.srvlab.rds.plugins.module_utils import mount_policy, node_devices, node_filesystems
from ansible_collections.srvlab.rds.plugins.module_utils.node_mounts import (
    MountEntry,
    check_storm,
    mounts_at,
    mounts_of_device,
)
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_cli import ConnectTarget
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_nqn import nqn_for
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_sysfs import BlockDevice

from rds_csi import events, metrics
from rds_csi.errors import CsiError
from rds_csi.node_runtime import LOG, NodeRuntime, number_of

# Unmounting one staging path more times than this means something keeps mounting on it.
MAX_STACKED_UNMOUNTS = 8
EXCLUSIVE_OPEN_GRACE = 2.0


def failed_precondition(message: str) -> CsiError:
    return CsiError(grpc.StatusCode.FAILED_PRECONDITION, message)


@dataclass(frozen=True)
class FilesystemStage:
    volume_id: str
    staging_path: str
    fstype: str
    options: list[str]


def connect(runtime: NodeRuntime, target: ConnectTarget, volume_id: str) -> BlockDevice:
    """Record the volume's NQN, connect (idempotent) and wait for the namespace's block device; refuse
    unmanaged NQNs, which this node could never disconnect again. A failure is reported on the volume's
    claim, and so is the next success after one."""
    if not runtime.host.is_managed(target.nqn):
        raise failed_precondition(
            "NodeStageVolume %s: NQN %s is not under this node's managed prefix %s; the node only attaches "
            "volumes it may also detach. Fix the prefix (CSI_MANAGED_NQN_PREFIX or srvlab.rds.nqn_filter)."
            % (volume_id, target.nqn, runtime.host.managed_prefix)
        )
    _record(runtime, volume_id, target.nqn)
    started = time.monotonic()
    try:
        if runtime.host.connect(target).created:
            runtime.count_connections()
        device = runtime.host.wait_for_device(target.nqn, timeout=runtime.device_wait_timeout)
    except Exception as error:
        runtime.count_connections()
        metrics.NVME_CONNECTS.labels(metrics.FAILURE).inc()
        runtime.failed_connects.add(volume_id)
        runtime.events.on_volume(
            volume_id,
            events.CONNECTION_FAILURE,
            "Connecting %s failed: %s" % (target.describe(), error),
        )
        raise
    metrics.NVME_CONNECTS.labels(metrics.SUCCESS).inc()
    metrics.NVME_CONNECT_DURATION.observe(time.monotonic() - started)
    if volume_id in runtime.failed_connects:
        runtime.failed_connects.discard(volume_id)
        runtime.events.on_volume(
            volume_id,
            events.CONNECTION_RECOVERY,
            "Connected %s after an earlier attempt failed; device %s." % (target.describe(), device.path),
        )
    return device


def _record(runtime: NodeRuntime, volume_id: str, nqn: str) -> None:
    """Record ``nqn`` as the volume's; a record of another NQN that is still connected is refused,
    since unstage would then leave that connection behind."""
    recorded = runtime.records.read(volume_id)
    if recorded == nqn:
        return
    if recorded is not None and runtime.host.subsystem(recorded) is not None:
        raise failed_precondition(
            "NodeStageVolume %s: the volume is staged on this node with NQN %s, but this request carries %s. "
            "Unstage it first (that disconnects %s), then stage it again." % (volume_id, recorded, nqn, recorded)
        )
    runtime.records.write(volume_id, nqn)


def stage_filesystem(runtime: NodeRuntime, stage: FilesystemStage, device: BlockDevice) -> None:
    os.makedirs(stage.staging_path, exist_ok=True)
    entries = runtime.mounts()
    number = number_of(device)
    here = mounts_at(entries, stage.staging_path)
    if here:
        if all(entry.device == number for entry in here):
            return  # staged already: a repeat is a no-op
        raise failed_precondition(
            "NodeStageVolume %s: %s is mounted from device %s, but the volume's NQN now resolves to %s (%s): a "
            "stale mount. Unstage the volume (or unmount the path) and stage it again."
            % (stage.volume_id, stage.staging_path, here[-1].device, device.name, number)
        )
    elsewhere = mounts_of_device(entries, number)
    if elsewhere:
        raise failed_precondition(
            "NodeStageVolume %s: device %s is already mounted at %s; it is never checked or mounted twice. Unmount "
            "it there first." % (stage.volume_id, device.path, ", ".join(entry.mount_point for entry in elsewhere))
        )
    check_storm(entries, number, "NodeStageVolume %s" % stage.volume_id)
    _prepare_filesystem(runtime, stage, device)
    try:
        runtime.mounter.mount(device.path, stage.staging_path, stage.fstype, stage.options)
    except Exception as error:
        runtime.events.on_volume(stage.volume_id, events.MOUNT_FAILURE, "NodeStageVolume: %s" % error)
        raise
    LOG.info("staged", extra={"fields": {"volume_id": stage.volume_id, "device": device.path}})


def _prepare_filesystem(runtime: NodeRuntime, stage: FilesystemStage, device: BlockDevice) -> None:
    """Format a positively blank device; check an existing filesystem read-only; refuse the rest."""
    content = node_filesystems.probe(device.path, runtime.runner)
    if content.blank:
        node_filesystems.format_blank(device.path, stage.fstype, content, runtime.runner)
        LOG.info("formatted", extra={"fields": {"volume_id": stage.volume_id, "fstype": stage.fstype}})
        return
    if content.fstype != stage.fstype:
        raise failed_precondition(
            "NodeStageVolume %s: %s holds %s, but the volume asks for %s; it is neither formatted over nor mounted. "
            "Use the filesystem type the volume already has."
            % (stage.volume_id, device.path, content.signature, stage.fstype)
        )
    note = node_filesystems.check_read_only(device.path, stage.fstype, runtime.runner)
    if note:
        LOG.info("check skipped", extra={"fields": {"volume_id": stage.volume_id, "reason": note}})


def mount_options(fstype: str, flags: list[str]) -> list[str]:
    return mount_policy.check_options(fstype, flags)


def unstage(runtime: NodeRuntime, volume_id: str, staging_path: str) -> None:
    nqn = runtime.staged_nqn(volume_id) or nqn_for(volume_id)  # not connected: nothing to check or disconnect
    _refuse_foreign_connection(runtime, volume_id, nqn)
    _unmount_staging(runtime, volume_id, staging_path)
    device = runtime.device(nqn)
    if device is not None:
        usage = _settled_usage(runtime, device)
        if usage.in_use:
            raise failed_precondition(
                "NodeUnstageVolume %s: device %s is still in use (%s); it stays connected. Stop what uses it, then "
                "retry." % (volume_id, device.path, usage.describe())
            )
    if runtime.host.is_managed(nqn) and runtime.host.disconnect(nqn):
        runtime.count_connections()
        LOG.info("disconnected", extra={"fields": {"volume_id": volume_id, "nqn": nqn}})
    runtime.records.remove(volume_id)


def _refuse_foreign_connection(runtime: NodeRuntime, volume_id: str, nqn: str) -> None:
    """A connected NQN outside the managed prefix (the prefix changed since the stage, or the record
    was edited) could not be disconnected: refuse before anything changes rather than leave it behind."""
    if not runtime.host.is_managed(nqn) and runtime.host.subsystem(nqn) is not None:
        raise failed_precondition(
            "NodeUnstageVolume %s: the volume is connected with NQN %s, which is outside this node's managed "
            "prefix %s, so the node may not disconnect it; nothing was changed. Fix the prefix "
            "(CSI_MANAGED_NQN_PREFIX or srvlab.rds.nqn_filter) and retry, or disconnect it by hand (nvme disconnect "
            "-n %s) and retry." % (volume_id, nqn, runtime.host.managed_prefix, nqn)
        )


def _settled_usage(runtime: NodeRuntime, device: BlockDevice) -> node_devices.Usage:
    """The device's usage; an exclusive open refused with no mount and no holder in sight is
    re-checked for up to EXCLUSIVE_OPEN_GRACE: the last reference of a just-unmounted filesystem
    can outlive umount briefly (a copy of the mount in a mount namespace being torn down)."""
    deadline = time.monotonic() + EXCLUSIVE_OPEN_GRACE
    checks = 0
    while True:
        usage = node_devices.usage(device.path, number_of(device), runtime.mounts(), [runtime.sysfs_root])
        checks += 1
        if usage.holders or usage.mount_points or not usage.in_use or time.monotonic() > deadline:
            if checks > 1:
                LOG.info("exclusive open re-checked", extra={"fields": {"device": device.path, "checks": checks}})
            return usage
        time.sleep(0.05)


def _unmount_staging(runtime: NodeRuntime, volume_id: str, staging_path: str) -> None:
    for _attempt in range(MAX_STACKED_UNMOUNTS):
        entries = runtime.mounts()
        here = mounts_at(entries, staging_path)
        if not here:
            return
        _refuse_if_published(volume_id, staging_path, here[-1], entries)
        runtime.mounter.unmount(staging_path)
    raise failed_precondition(
        "NodeUnstageVolume %s: %s is still a mount point after %d unmounts; something keeps mounting on it."
        % (volume_id, staging_path, MAX_STACKED_UNMOUNTS)
    )


def _refuse_if_published(volume_id: str, staging_path: str, staged: MountEntry, entries: list[MountEntry]) -> None:
    others = [
        entry.mount_point for entry in mounts_of_device(entries, staged.device) if entry.mount_point != staging_path
    ]
    if others:
        raise failed_precondition(
            "NodeUnstageVolume %s: the volume is still mounted at %s; unpublish it there first. Nothing was unmounted."
            % (volume_id, ", ".join(others))
        )
