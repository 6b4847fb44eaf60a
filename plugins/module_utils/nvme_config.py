# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node side: where the NVMe host library finds nvme-cli, sysfs and /dev (the test seam, A-3).

Every path the library touches is derived from one :class:`NvmeHostConfig`, so tests point it at
a test fabric (a stand-in ``nvme`` executable, a sysfs tree and a device directory).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

from ansible_collections.srvlab.rds.plugins.module_utils.node_commands import DEFAULT_TIMEOUT

HOSTNQN_FILE = "/etc/nvme/hostnqn"
HOSTID_FILE = "/etc/nvme/hostid"


@dataclass(frozen=True)
class NvmeHostConfig:
    nvme_binary: str = "nvme"
    sysfs_root: str = "/sys"
    dev_root: str = "/dev"
    command_timeout: float = DEFAULT_TIMEOUT

    @property
    def controllers_dir(self) -> str:
        """``class/nvme``: one entry per controller (``nvmeN``)."""
        return os.path.join(self.sysfs_root, "class", "nvme")

    @property
    def subsystems_dir(self) -> str:
        """``class/nvme-subsystem``: one entry per subsystem (``nvme-subsysM``)."""
        return os.path.join(self.sysfs_root, "class", "nvme-subsystem")

    def controller_dir(self, controller: str) -> str:
        return os.path.join(self.controllers_dir, controller)

    def subsystem_dir(self, subsystem: str) -> str:
        return os.path.join(self.subsystems_dir, subsystem)

    def device_path(self, name: str) -> str:
        """The device node of a disk (``nvme1n1``) or of a controller's character device (``nvme1``)."""
        return os.path.join(self.dev_root, name)


def read_host_file(path: str = HOSTNQN_FILE) -> Optional[str]:
    """The first line of ``/etc/nvme/hostnqn`` (or ``hostid``), as nvme-cli reads it; None if missing or empty."""
    try:
        with open(path, encoding="utf-8") as handle:
            first = handle.readline().strip()
    except FileNotFoundError:
        return None
    return first or None
