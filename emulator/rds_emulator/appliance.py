"""The emulated box: its settings, disk table and file tree, shared by every session."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from . import grammar
from .dialect import dialect_for
from .files import FileTree
from .health import SensorBoard
from .model import PoolUsage
from .store import DiskTable
from .traffic import TrafficBoard
from .user_table import UserTable
from .version import RouterOsVersion


@dataclass(frozen=True)
class ApplianceSettings:
    pool_name: str
    pool_size: int
    version: RouterOsVersion
    identity: str
    login_user: str = "admin"
    field_names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    """Renamed `/disk` fields (canonical name -> this appliance's name), to play a future version."""
    block_root: Path = Path("/sys/block")
    """Where the kernel lists block devices: the loop devices on backing files give the traffic."""


class Appliance:
    """Commands run one at a time under `lock`, so each sees and leaves a consistent state."""

    def __init__(self, settings: ApplianceSettings, state_dir: Path) -> None:
        self.settings = settings
        self.dialect = dialect_for(settings.version, settings.field_names)
        self.menus = grammar.menus_with(grammar.disk_menu(self.dialect.spelled))
        self.tree = FileTree(state_dir / "files")
        self.table = DiskTable(state_dir, self.tree)
        self.users = UserTable(state_dir / "users.json", settings.login_user)
        self.traffic = TrafficBoard(state_dir / "traffic.json", settings.block_root)
        self.sensors = SensorBoard(state_dir / "health.json")
        self.lock = threading.RLock()
        self._started = time.monotonic()

    def open(self) -> None:
        self.tree.host_path(self.settings.pool_name).mkdir(parents=True, exist_ok=True)
        self.table.load()
        self.users.load()
        self.sensors.open()

    def pool_usage(self) -> PoolUsage:
        return PoolUsage(
            name=self.settings.pool_name,
            size=self.settings.pool_size,
            allocated=self.tree.allocated_bytes(self.settings.pool_name),
        )

    def uptime_seconds(self) -> int:
        return int(time.monotonic() - self._started)
