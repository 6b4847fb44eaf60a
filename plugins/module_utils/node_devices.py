# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node side: is a block device in use? Answered from kernel facts only (P-6.6).

``lsof`` cannot see processes in other PID namespaces (every pod), so the answer comes from
what the kernel itself records, in this order:

1. holders in sysfs (``/sys/dev/block/MAJ:MIN/holders``: device-mapper, LVM, md on top);
2. mounts of the device's ``MAJ:MIN`` anywhere in this mount namespace's mountinfo, and bind
   mounts of its ``/dev`` node;
3. an ``O_EXCL`` open: the kernel refuses it (EBUSY) while anything holds the device exclusively,
   which every mount in every mount namespace and every holder does.

Stays compatible with Python 3.9 and the standard library: it runs on nodes.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from typing import List, Sequence

from ansible_collections.srvlab.rds.plugins.module_utils.node_mounts import (
    DeviceNumber,
    MountEntry,
    device_node_binds,
    mounts_of_device,
)


@dataclass(frozen=True)
class Usage:
    """Why a device is in use; empty lists and ``exclusive_open_refused`` False mean free."""

    holders: List[str]
    mount_points: List[str]
    exclusive_open_refused: bool

    @property
    def in_use(self) -> bool:
        return bool(self.holders or self.mount_points or self.exclusive_open_refused)

    def describe(self) -> str:
        reasons = []
        if self.holders:
            reasons.append("held by %s" % ", ".join(self.holders))
        if self.mount_points:
            reasons.append("mounted at %s" % ", ".join(self.mount_points))
        if self.exclusive_open_refused:
            reasons.append("the kernel refuses an exclusive open (EBUSY): a mount in another namespace or a holder")
        return "; ".join(reasons) or "not in use"


def holders(sysfs_root: str, device: DeviceNumber) -> List[str]:
    """Names in ``<sysfs_root>/dev/block/MAJ:MIN/holders`` (empty when the directory is absent)."""
    directory = os.path.join(sysfs_root, "dev", "block", str(device), "holders")
    try:
        return sorted(os.listdir(directory))
    except FileNotFoundError:
        return []


def exclusive_open_refused(device_node: str) -> bool:
    """True when the kernel refuses ``O_EXCL`` on the node because something holds the device.

    A device that no longer exists behind its node (ENXIO, ENODEV) or a missing node cannot be
    held open by anyone; mounts and holders are checked separately. Other failures are raised.
    """
    try:
        handle = os.open(device_node, os.O_RDONLY | os.O_EXCL | os.O_CLOEXEC)
    except OSError as error:
        if error.errno == errno.EBUSY:
            return True
        if error.errno in (errno.ENXIO, errno.ENODEV, errno.ENOENT):
            return False
        raise
    os.close(handle)
    return False


def usage(device_node: str, device: DeviceNumber, entries: Sequence[MountEntry], sysfs_roots: Sequence[str]) -> Usage:
    """Everything the kernel says about who uses ``device`` (found at ``device_node``).

    ``sysfs_roots`` lists the sysfs trees to read holders from (the host's ``/sys``; tests add the
    fabric's tree).
    """
    name = os.path.basename(os.path.realpath(device_node))
    points = [entry.mount_point for entry in mounts_of_device(entries, device)]
    points += [entry.mount_point for entry in device_node_binds(entries, name)]
    found: List[str] = []
    for root in sysfs_roots:
        found += [holder for holder in holders(root, device) if holder not in found]
    return Usage(holders=found, mount_points=points, exclusive_open_refused=exclusive_open_refused(device_node))
