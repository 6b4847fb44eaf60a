# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node side: connect, find, rescan and disconnect NVMe/TCP subsystems on one host.

:class:`NvmeHost` is what the CSI node service and the ``nvme_connection`` module use. It reads
sysfs afresh for every decision (nothing is cached) and runs nvme-cli through an injectable
node_commands runner. Contracts:

- ``connect`` is idempotent: an active path to the same address is success without running
  nvme-cli, and nvme-cli's "already connected" counts as success once sysfs confirms it.
- ``disconnect`` is **the one function that disconnects** (P-11.2). It refuses an NQN outside the
  managed prefix before reading or running anything, unless ``force=True`` (the repair module).
- Connects and disconnects of one NQN are serialised within the process (§2.4: concurrent
  connects can create duplicate controllers).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

from ansible_collections.srvlab.rds.plugins.module_utils.node_commands import CommandRunner, SubprocessRunner
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_cli import (
    ConnectTarget,
    check_target,
    connect_argv,
    connect_failure,
    disconnect_argv,
    is_already_connected,
    parse_disconnected,
    redacted_command,
    rescan_argv,
    run_nvme,
)
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_config import NvmeHostConfig
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_errors import (
    ConnectError,
    DeviceNotReadyError,
    NotConnectedError,
    NvmeCliError,
    UnmanagedNqnError,
    describe_output,
)
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_nqn import check_prefix, is_managed
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_sysfs import (
    BlockDevice,
    Resolution,
    Subsystem,
    find_orphans,
    find_subsystem,
    resolve,
)

DEFAULT_DEVICE_TIMEOUT = 30.0
POLL_INTERVAL = 0.05
MAX_POLL_INTERVAL = 0.5
# How long a disconnected controller may stay in sysfs while the kernel finishes deleting it.
DELETION_GRACE = 5.0


@dataclass(frozen=True)
class ConnectResult:
    """The subsystem after ``connect``; ``created`` is False when the path existed already."""

    subsystem: Subsystem
    created: bool


class NvmeHost:
    """The node's NVMe/TCP host side, configured by paths (tests point them at a test fabric)."""

    def __init__(
        self,
        config: NvmeHostConfig,
        managed_prefix: str,
        runner: Optional[CommandRunner] = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_prefix(managed_prefix)
        self.config = config
        self.managed_prefix = managed_prefix
        self._runner: CommandRunner = runner if runner is not None else SubprocessRunner()
        self._sleep = sleep
        self._clock = clock
        self._locks: Dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def is_managed(self, nqn: str) -> bool:
        return is_managed(nqn, self.managed_prefix)

    def subsystem(self, nqn: str) -> Optional[Subsystem]:
        """The subsystem with this NQN as sysfs shows it now, or None."""
        return find_subsystem(self.config, nqn)

    def resolve(self, nqn: str, nsid: int = 1) -> Resolution:
        """Where NQN + NSID is now: subsystem, controllers, disks and the block device if any."""
        return resolve(self.config, nqn, nsid)

    def device(self, nqn: str, nsid: int = 1) -> Optional[BlockDevice]:
        """The block device sysfs shows for NQN + NSID now (its ``/dev`` node may not exist yet)."""
        return resolve(self.config, nqn, nsid).device

    def wait_for_device(self, nqn: str, nsid: int = 1, timeout: float = DEFAULT_DEVICE_TIMEOUT) -> BlockDevice:
        """Polls sysfs and the device node until the disk is usable; DeviceNotReadyError at the deadline."""
        deadline = self._clock() + timeout
        interval = POLL_INTERVAL
        while True:
            found = resolve(self.config, nqn, nsid)
            if found.ready and found.device is not None:
                return found.device
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise DeviceNotReadyError(nqn, nsid, timeout, found.describe())
            self._sleep(min(interval, remaining))
            interval = min(interval * 2, MAX_POLL_INTERVAL)

    def connect(self, target: ConnectTarget) -> ConnectResult:
        """Connects the target unless an active path to its address exists; returns the subsystem."""
        check_target(target)
        with self._lock(target.nqn):
            existing = self._path(target)
            if existing is not None:
                return ConnectResult(existing, created=False)
            result = run_nvme(self._runner, self.config, connect_argv(self.config.nvme_binary, target), target.secrets)
            already = not result.ok and is_already_connected(result)
            if not result.ok and not already:
                raise connect_failure(result, target)
            connected = self._path(target)
            if connected is None:
                raise ConnectError(
                    "%s for %s, but sysfs under %s shows no active controller to that address (%s). If an old "
                    "controller is still being deleted, retry once it is gone."
                    % (
                        "nvme-cli reported the path as already connected" if already else "nvme connect succeeded",
                        target.describe(),
                        self.config.sysfs_root,
                        describe_output(result.stdout, result.stderr),
                    ),
                    redacted_command(result.argv),
                )
            return ConnectResult(connected, created=not already)

    def rescan(self, nqn: str) -> List[str]:
        """Asks every active controller of the subsystem to rescan its namespaces (asynchronous, §2.6)."""
        subsystem = self.subsystem(nqn)
        controllers = (
            [controller.name for controller in subsystem.controllers if controller.active] if subsystem else []
        )
        if not controllers:
            raise NotConnectedError(nqn, "rescan")
        for name in controllers:
            argv = rescan_argv(self.config.nvme_binary, self.config.device_path(name))
            result = run_nvme(self._runner, self.config, argv)
            if not result.ok:
                raise NvmeCliError(
                    "Cannot rescan the namespaces of %s on controller %s: %s." % (nqn, name, result.describe()),
                    redacted_command(argv),
                    describe_output(result.stdout, result.stderr),
                )
        return controllers

    def disconnect(self, nqn: str, force: bool = False) -> int:
        """Disconnects every controller of the subsystem; returns how many there were (0: not connected).

        Refuses an NQN outside the managed prefix unless ``force`` (P-8.6, P-11.2).
        """
        if not force and not self.is_managed(nqn):
            raise UnmanagedNqnError(nqn, self.managed_prefix)
        with self._lock(nqn):
            before = self.subsystem(nqn)
            if before is None or not before.controllers:
                return 0
            argv = disconnect_argv(self.config.nvme_binary, nqn)
            result = run_nvme(self._runner, self.config, argv)
            if not result.ok or parse_disconnected(result.stdout) is None:
                raise NvmeCliError(
                    "Cannot disconnect %s: %s." % (nqn, result.describe()),
                    redacted_command(argv),
                    describe_output(result.stdout, result.stderr),
                )
            self._wait_until_gone(nqn)
            return len(before.controllers)

    def orphans(self) -> List[Subsystem]:
        """Connected subsystems under the managed prefix without any block device (P-8.6)."""
        return find_orphans(self.config, self.managed_prefix)

    def _path(self, target: ConnectTarget) -> Optional[Subsystem]:
        subsystem = self.subsystem(target.nqn)
        if subsystem is not None and subsystem.path_to(target.traddr, str(target.trsvcid)) is not None:
            return subsystem
        return None

    def _wait_until_gone(self, nqn: str) -> None:
        deadline = self._clock() + min(DELETION_GRACE, self.config.command_timeout)
        while True:
            left = self.subsystem(nqn)
            if left is None or not left.controllers:
                return
            if self._clock() >= deadline:
                raise NvmeCliError(
                    "nvme disconnect of %s returned, but controllers %s remain. A controller that never went live "
                    "may need 'echo 1 > %s/<controller>/delete_controller'."
                    % (
                        nqn,
                        ", ".join(controller.describe() for controller in left.controllers),
                        self.config.controllers_dir,
                    )
                )
            self._sleep(POLL_INTERVAL)

    def _lock(self, nqn: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(nqn, threading.Lock())
