"""The nodes the kernel (devtmpfs) would show under the /dev root.

Namespace disks are real block device nodes (mknod) with the loop device's MAJ:MIN, so reading,
mkfs and mount work on them. The controller and generic char devices (`nvmeN`, `ngXnY`) and
`nvme-fabrics` are empty regular files: nothing can open a real NVMe char device here, and code
only checks that they exist."""

from __future__ import annotations

import os
import stat
from pathlib import Path


class DevNodes:
    def __init__(self, dev_root: Path) -> None:
        self.root = dev_root

    def add_block(self, name: str, major: int, minor: int) -> None:
        path = self.root / name
        path.unlink(missing_ok=True)
        os.mknod(path, stat.S_IFBLK | 0o660, os.makedev(major, minor))

    def add_placeholder(self, name: str) -> None:
        (self.root / name).touch(mode=0o600)

    def remove(self, name: str) -> None:
        (self.root / name).unlink(missing_ok=True)
