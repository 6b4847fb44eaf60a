"""What every node operation works with: the NVMe host, the command runner, the mounter and the
settings, built once from the configuration (the seam tests fill with the test fabric's paths)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Optional

from ansible_collections.srvlab.rds.plugins.module_utils import node_mounts
from ansible_collections.srvlab.rds.plugins.module_utils.node_commands import CommandRunner, SubprocessRunner
from ansible_collections.srvlab.rds.plugins.module_utils.node_mounts import DeviceNumber, MountEntry, Mounter
from ansible_collections.srvlab.rds.plugins.module_utils.nqn_filter import read_text
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_config import NvmeHostConfig
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_host import NvmeHost
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_sysfs import BlockDevice

from rds_csi.config import Config

LOG = logging.getLogger("rds_csi.node")


@dataclass(frozen=True)
class NodeRuntime:
    host: NvmeHost
    runner: CommandRunner
    mounter: Mounter
    host_nqn: str
    sysfs_root: str
    device_wait_timeout: float

    @classmethod
    def from_config(cls, config: Config, runner: Optional[CommandRunner] = None) -> NodeRuntime:
        runner = runner or SubprocessRunner()
        nvme = NvmeHostConfig(
            nvme_binary=config.nvme_binary,
            sysfs_root=config.sysfs_root,
            dev_root=config.dev_root,
            command_timeout=config.nvme_command_timeout,
        )
        return cls(
            host=NvmeHost(nvme, config.managed_nqn_prefix, runner),
            runner=runner,
            mounter=Mounter(runner, timeout=config.mount_timeout),
            host_nqn=(read_text(config.host_nqn_file) or "").strip(),
            sysfs_root=config.sysfs_root,
            device_wait_timeout=config.device_wait_timeout,
        )

    def mounts(self) -> list[MountEntry]:
        return node_mounts.read_mountinfo()

    def device(self, nqn: str) -> Optional[BlockDevice]:
        """The volume's block device now, resolved from the NQN through sysfs (never remembered)."""
        device = self.host.device(nqn)
        return device if device is not None and os.path.exists(device.path) else None

    def clean_orphans(self) -> list[str]:
        """Disconnect managed subsystems that have no block device (P-8.6); returns their NQNs."""
        cleaned = []
        for subsystem in self.host.orphans():
            try:
                self.host.disconnect(subsystem.nqn)
            except Exception as error:  # one stuck orphan must not stop the node from starting
                LOG.warning("orphan not cleaned", extra={"fields": {"nqn": subsystem.nqn, "error": str(error)}})
                continue
            cleaned.append(subsystem.nqn)
            LOG.info("orphan cleaned", extra={"fields": {"nqn": subsystem.nqn}})
        return cleaned


def number_of(device: BlockDevice) -> DeviceNumber:
    return DeviceNumber(device.major, device.minor)


def stale_reason(runtime: NodeRuntime, nqn: str, mounted: DeviceNumber) -> str:
    """Why a mount of ``mounted`` is stale for the volume with this NQN (P-8.2), or "" when it is not."""
    device = runtime.device(nqn)
    if device is None:
        return "the volume's device is gone (NQN %s has no block device on this node)" % nqn
    if number_of(device) != mounted:
        return "it is mounted from device %s, but NQN %s now resolves to %s (%s)" % (
            mounted,
            nqn,
            device.name,
            number_of(device),
        )
    return ""
