"""Settings of one emulator instance, shared by the CLI and in-process use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from .dialect import dialect_for
from .faults import Fault
from .files import name_parts
from .version import DEFAULT_VERSION, RouterOsVersion, parse_version

MIN_WIDTH = 40
MAX_WIDTH = 4096
HOST_KEY_NAME = "ssh_host_ed25519_key"


@dataclass(frozen=True)
class EmulatorConfig:
    state_dir: Path
    authorized_keys: Path | None = None
    """OpenSSH authorized_keys file of the user; None (or no keys in it) allows password login."""
    listen_host: str = "127.0.0.1"
    listen_port: int = 0
    """0 picks a free port; `EmulatorServer.address` tells which."""
    host_key: Path | None = None
    """Defaults to `state_dir/ssh_host_ed25519_key`, generated when missing."""
    user: str = "admin"
    password: str | None = None
    version: str = DEFAULT_VERSION
    field_names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    """Renamed `/disk` fields, canonical name -> new name (`{"nvme-tcp-server-port": "nvme-tcp-port"}`),
    to play a future version where a name changed; see `dialect.py`."""
    width: int = 80
    pool_name: str = "storage-pool"
    pool_size: int = 1024**4
    max_sessions: int = 8
    """Concurrent exec channels allowed per connection; more are refused as a resource shortage."""
    identity: str = "rds-emulator"
    faults: tuple[Fault, ...] = ()
    block_root: Path = Path("/sys/block")
    """The kernel's block devices, read for the traffic of loop devices on backing files (a test
    points it at a tree of its own)."""

    def __post_init__(self) -> None:
        dialect_for(parse_version(self.version), self.field_names)
        if not MIN_WIDTH <= self.width <= MAX_WIDTH:
            raise ValueError(f"console width {self.width} is outside {MIN_WIDTH}..{MAX_WIDTH}")
        if not 0 <= self.listen_port <= 65535:
            raise ValueError(f"listen port {self.listen_port} is outside 0..65535")
        if self.max_sessions < 1:
            raise ValueError("max sessions must be at least 1")
        if self.pool_size < 1:
            raise ValueError("pool size must be positive")
        if not _is_directory_name(self.pool_name):
            raise ValueError(f"pool name {self.pool_name!r} must be a single directory name")
        if not self.user or "+" in self.user:
            raise ValueError(f"user name {self.user!r} must be non-empty and without '+'")

    @property
    def routeros_version(self) -> RouterOsVersion:
        return parse_version(self.version)

    @property
    def host_key_path(self) -> Path:
        return self.host_key if self.host_key is not None else self.state_dir / HOST_KEY_NAME


def _is_directory_name(name: str) -> bool:
    try:
        return name_parts(name) == (name,)
    except ValueError:
        return False
