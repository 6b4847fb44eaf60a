"""The nvme-cli versions the stand-in can play (NVME_HOST.md §2, §6.7 "output drift")."""

from __future__ import annotations

from enum import Enum


class CliProfile(str, Enum):
    DEBIAN_12 = "2.3"
    """nvme-cli 2.3 with libnvme 1.3 (Debian 12): silent connect, no IOPolicy, no GenericPath,
    "already connected" checked across every host NQN."""

    UBUNTU_24_04 = "2.8"
    """nvme-cli 2.8 with libnvme 1.8 (Ubuntu 24.04): `connecting to device: nvmeN`, `IOPolicy`
    per subsystem, `GenericPath` in `list`, "already connected" only for the connecting host."""

    @property
    def version_text(self) -> str:
        libnvme = {CliProfile.DEBIAN_12: "1.3", CliProfile.UBUNTU_24_04: "1.8"}[self]
        return f"nvme version {self.value} (git {self.value})\nlibnvme version {libnvme} (git {libnvme})\n"

    @property
    def announces_connect(self) -> bool:
        return self is not CliProfile.DEBIAN_12

    @property
    def already_connected_across_hosts(self) -> bool:
        return self is CliProfile.DEBIAN_12

    @property
    def lists_iopolicy(self) -> bool:
        return self is not CliProfile.DEBIAN_12

    @property
    def lists_generic_path(self) -> bool:
        return self is not CliProfile.DEBIAN_12
