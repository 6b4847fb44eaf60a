"""Domain values: file-backed disks and the storage pool's usage."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_NVME_PORT = 4420
NQN_PREFIX = "nqn.2000-02.com.mikrotik:"
"""Prefix of the NQN the emulator assigns to an exported disk that was given none."""
PARTITION_ID = 1
"""Internal id of the pool partition; file disks are numbered after it."""


def format_item_id(number: int) -> str:
    """RouterOS prints internal ids as `*` and upper-case hex: `*1A`."""
    return f"*{number:X}"


@dataclass(frozen=True)
class Disk:
    """One `/disk` entry of type `file` (R-3). `file_path` is the RouterOS path, `/pool/...img`."""

    slot: str
    file_path: str
    file_size: int
    comment: str = ""
    disabled: bool = False
    nvme_tcp_export: bool = False
    nvme_tcp_server_port: int = DEFAULT_NVME_PORT
    nvme_tcp_server_nqn: str = ""
    nvme_tcp_server_allow_host_name: str = ""
    nvme_tcp_server_password: str = ""
    nvme_tcp_name: str = ""
    """7.17 to 7.20 only (`nvme-tcp-name`): kept and printed, it changes nothing else."""
    item_id: int = 0
    """Internal id (`*<hex>`): given by the disk table when the disk is added, never reused."""

    @property
    def file_name(self) -> str:
        """The `/file` name of the backing file: the path without its leading slash."""
        return self.file_path.lstrip("/")

    @property
    def serves_nvme(self) -> bool:
        """Exported and enabled: a disabled disk keeps its export settings but serves nothing."""
        return self.nvme_tcp_export and not self.disabled

    @property
    def allowed_host_nqns(self) -> tuple[str, ...]:
        """The allow-host-name list, read as comma-separated NQNs (R-3 calls the list unverified)."""
        return tuple(name.strip() for name in self.nvme_tcp_server_allow_host_name.split(",") if name.strip())


@dataclass(frozen=True)
class PoolUsage:
    name: str
    size: int
    allocated: int
    """Bytes the files under the pool really occupy (allocated blocks, not apparent sizes)."""

    @property
    def free(self) -> int:
        return max(0, self.size - self.allocated)

    @property
    def use_percent(self) -> int:
        """Used share rounded half up, like `use=5%` for 4.94 % in R-5."""
        return ((self.size - self.free) * 200 + self.size) // (2 * self.size)
