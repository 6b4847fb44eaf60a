"""The test fabric: connects the emulator's exports as loop-backed NVMe namespaces and keeps the
sysfs tree and /dev nodes a real host would show (NVME_HOST.md), for one naming case per fabric.

Every operation takes the fabric lock, reads `state.json`, changes sysfs, /dev and loop devices,
and writes the state back, so the `nvme` stand-in and a test may act on one fabric concurrently."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from .connect_checks import DEFAULT_TRSVCID, ConnectRequest, check_host_options, check_not_connected, find_export
from .devnodes import DevNodes
from .errors import UnknownDevice
from .exports import read_exports
from .naming import ModuleParameters, Naming, controller_name
from .profiles import CliProfile
from .state import (
    CONFIG_FILE,
    FabricConfig,
    FabricState,
    LostSubsystem,
    Subsystem,
    fabric_lock,
    read_config,
    read_state,
    write_config,
    write_state,
)
from .sysfs_tree import SysfsTree, state_strings
from .topology import Topology

BACKGROUND_SCAN_COMMAND = "_background-scan"
"""Internal CLI command of the process `_start_background_scan` starts."""


def new_hostnqn() -> str:
    """What `nvme gen-hostnqn` prints in a container without DMI: a random UUID NQN."""
    return f"nqn.2014-08.org.nvmexpress:uuid:{uuid.uuid4()}"


class TestFabric:
    __test__ = False  # a helper, not a pytest test class

    def __init__(self, fabric_dir: Path, config: FabricConfig) -> None:
        self.fabric_dir = fabric_dir
        self.config = config
        self._sysfs = SysfsTree(config.sysfs_root)
        self._dev = DevNodes(config.dev_root)
        self._topology = Topology(config, lambda state: write_state(self.fabric_dir, state))

    @classmethod
    def create(
        cls,
        fabric_dir: Path,
        emulator_state_dir: Path,
        sysfs_root: Path,
        dev_root: Path,
        naming: Naming = Naming.MULTIPATH,
        *,
        hostnqn: str | None = None,
        hostid: str | None = None,
        nsid: int = 1,
        scan_delay: float = 0.0,
        module_parameters: ModuleParameters = ModuleParameters.STANDARD,
        cli_profile: CliProfile = CliProfile.DEBIAN_12,
    ) -> TestFabric:
        """A new, empty fabric; `hostnqn`/`hostid` play /etc/nvme/hostnqn and /etc/nvme/hostid;
        with `scan_delay` namespace disks appear that many seconds after `connect`/`ns-rescan`."""
        host_uuid = str(uuid.uuid4())
        config = FabricConfig(
            emulator_state_dir=emulator_state_dir.absolute(),
            sysfs_root=sysfs_root.absolute(),
            dev_root=dev_root.absolute(),
            naming=Naming(naming),
            hostnqn=hostnqn or f"nqn.2014-08.org.nvmexpress:uuid:{host_uuid}",
            hostid=hostid or host_uuid,
            nsid=nsid,
            scan_delay=scan_delay,
            module_parameters=ModuleParameters(module_parameters),
            cli_profile=CliProfile(cli_profile),
        )
        fabric_dir.mkdir(parents=True, exist_ok=True)
        config.dev_root.mkdir(parents=True, exist_ok=True)
        fabric = cls(fabric_dir.absolute(), config)
        with fabric_lock(fabric.fabric_dir):
            write_config(fabric.fabric_dir, config)
            write_state(fabric.fabric_dir, FabricState())
            fabric._sysfs.create_base(config.naming, config.module_parameters)
            fabric._dev.add_placeholder("nvme-fabrics")
        return fabric

    @classmethod
    def open(cls, fabric_dir: Path) -> TestFabric:
        return cls(fabric_dir.absolute(), read_config(fabric_dir))

    def write_nvme_executable(self, path: Path) -> Path:
        """An executable `nvme` for this fabric, run by this interpreter; returns its path."""
        package_parent = Path(__file__).resolve().parents[2]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"#!{sys.executable}\n"
            "import sys\n"
            f"sys.path.insert(0, {str(package_parent)!r})\n"
            "from rds_emulator.nvme_fabric.cli import main\n"
            f"sys.exit(main(['--fabric-dir', {str(self.fabric_dir)!r}, *sys.argv[1:]]))\n",
            encoding="utf-8",
        )
        path.chmod(0o755)
        return path

    @contextmanager
    def _transaction(self) -> Iterator[FabricState]:
        with fabric_lock(self.fabric_dir):
            if not (self.fabric_dir / CONFIG_FILE).exists():
                raise FileNotFoundError(f"the test fabric {self.fabric_dir} was torn down")
            state = read_state(self.fabric_dir)
            try:
                self._catch_up(state)
                yield state
            finally:
                write_state(self.fabric_dir, state)

    def _catch_up(self, state: FabricState) -> None:
        """What happened since the last operation: subsystems whose stale users let go, exports whose
        allowed hosts changed, and what node code wrote into `delete_controller` or `rescan_controller`
        (the kernel acts at once, the fabric acts now)."""
        for subsystem in [item for item in state.subsystems if item.held_loops]:
            self._topology.drop_subsystem_if_unused(state, subsystem)
        self._follow_allowed_hosts(state)
        for controller in list(state.controllers):
            directory = self._sysfs.controller_dir(controller.instance)
            if _written(directory / "delete_controller"):
                self._topology.remove_controller(state, controller)
            elif _written(directory / "rescan_controller"):
                (directory / "rescan_controller").write_bytes(b"")
                self._topology.scan(state, controller)

    def _follow_allowed_hosts(self, state: FabricState) -> None:
        """A host the export no longer admits loses its controller: the target drops the association,
        the kernel's reconnects are refused, so the controller stays `connecting` (its disks stay, I/O
        waits or fails) until the export admits the host again and the next reconnect succeeds. An
        export that vanished meanwhile readmits no one."""
        exports = read_exports(self.config.emulator_state_dir)
        for controller in state.controllers:
            subsystem = state.subsystem(controller.subsystem)
            if subsystem.kind != "export":
                continue
            export = exports.get(subsystem.nqn)
            refused = export is not None and not export.allows_host(controller.hostnqn)
            admitted = export is not None and not refused
            if refused and not controller.fenced:
                controller.fenced, controller.state = True, "connecting"
            elif admitted and controller.fenced:
                controller.fenced, controller.state = False, "live"
            else:
                continue
            self._sysfs.update_controller_state(controller)

    def snapshot(self) -> FabricState:
        """The state as of now (for listings and tests)."""
        with self._transaction() as state:
            return state

    # nvme-cli operations

    def connect(self, request: ConnectRequest) -> str:
        """`nvme connect`: validated against the emulator's exports; returns the controller name."""
        with self._transaction() as state:
            request = self._resolve_host(request)
            check_not_connected(state, request, any_host=self.config.cli_profile.already_connected_across_hosts)
            check_host_options(state, request)
            export = find_export(read_exports(self.config.emulator_state_dir), request)
            scan_later = self.config.scan_delay > 0
            controller = self._topology.add_controller(
                state, request, "export", export.backing_file, avoid=set(), scan=not scan_later
            )
            name = controller_name(controller.instance)
        if scan_later:
            self._start_background_scan(name)
        return name

    def disconnect_nqn(self, nqn: str) -> int:
        """`nvme disconnect -n`: every controller of the subsystem; how many there were."""
        with self._transaction() as state:
            subsystem = state.subsystem_by_nqn(nqn)
            if subsystem is None:
                return 0
            controllers = state.controllers_of(subsystem.instance)
            for controller in controllers:
                self._topology.remove_controller(state, controller)
            return len(controllers)

    def disconnect_controller(self, name: str) -> None:
        """`nvme disconnect -d nvmeN`."""
        with self._transaction() as state:
            controller = state.controller_named(name)
            if controller is None:
                raise UnknownDevice(name)
            self._topology.remove_controller(state, controller)

    def rescan(self, name: str) -> None:
        """`nvme ns-rescan /dev/nvmeN`: a grown backing file shows its new size; a namespace
        removed by `remove_device` comes back (after `scan_delay`, in the background)."""
        if self.config.scan_delay > 0:
            if self.snapshot().controller_named(name) is None:
                raise UnknownDevice(name)
            self._start_background_scan(name)
            return
        self.scan_now(name)

    def scan_now(self, name: str) -> None:
        """The namespace scan of controller `name`, at once whatever `scan_delay` says."""
        with self._transaction() as state:
            controller = state.controller_named(name)
            if controller is None:
                raise UnknownDevice(name)
            self._topology.scan(state, controller)

    def _start_background_scan(self, name: str) -> None:
        """A detached process runs the scan after `scan_delay`; it gives up quietly if the
        controller or the fabric is gone by then."""
        package_parent = str(Path(__file__).resolve().parents[2])
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, environment.get("PYTHONPATH")]))
        command = [sys.executable, "-m", "rds_emulator.nvme_fabric", "--fabric-dir", str(self.fabric_dir)]
        command += [BACKGROUND_SCAN_COMMAND, name, str(self.config.scan_delay)]
        # setsid --fork returns at once and leaves the scan to init: no child for us to reap.
        subprocess.run(
            ["setsid", "--fork", *command],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
            check=True,
        )

    # test controls

    def add_system_subsystem(
        self, nqn: str, backing_file: Path, *, traddr: str = "127.0.0.1", trsvcid: str = DEFAULT_TRSVCID
    ) -> str:
        """A connected subsystem that is no CSI volume (a diskless node's /var); no export needed."""
        with self._transaction() as state:
            request = self._resolve_host(ConnectRequest(nqn=nqn, traddr=traddr, trsvcid=trsvcid))
            check_not_connected(state, request)
            controller = self._topology.add_controller(state, request, "system", backing_file.absolute(), avoid=set())
            return controller_name(controller.instance)

    def lose_controller(self, nqn: str) -> None:
        """ctrl_loss_tmo expired: the controllers, the disks and their /dev nodes are gone; the
        loop device is detached once its last user lets go. While a stale user (a mount, an open
        file) holds it, the subsystem stays with zero controllers and keeps its number and the
        disk's instance, so a reconnect joins it and the disk comes back as `...n2` (§3.3)."""
        with self._transaction() as state:
            subsystem = self._connected(state, nqn)
            controllers = state.controllers_of(subsystem.instance)
            state.lost = [item for item in state.lost if item.nqn != nqn]
            state.lost.append(
                LostSubsystem(
                    nqn=nqn,
                    kind=subsystem.kind,
                    backing_file=subsystem.backing_file,
                    controllers=[replace(item) for item in controllers],
                    subsystem_instance=subsystem.instance,
                )
            )
            for controller in controllers:
                self._topology.remove_controller(state, controller)

    def reconnect_controller(self, nqn: str, new_name: bool = True) -> str:
        """Connect again what `lose_controller` removed; with `new_name` the controller, the
        subsystem and so the disk get numbers different from before (as when a stale mount still
        holds the old ones). Returns the (first) new controller name."""
        with self._transaction() as state:
            lost = next((item for item in state.lost if item.nqn == nqn), None)
            if lost is None:
                raise KeyError(f"{nqn} was not lost; call lose_controller({nqn!r}) first")
            avoid = {item.instance for item in lost.controllers} | {lost.subsystem_instance} if new_name else set()
            names = []
            for old in lost.controllers:
                request = ConnectRequest(
                    nqn=nqn,
                    traddr=old.traddr,
                    trsvcid=old.trsvcid,
                    hostnqn=old.hostnqn,
                    hostid=old.hostid,
                    ctrl_loss_tmo=old.ctrl_loss_tmo,
                    reconnect_delay=old.reconnect_delay,
                    kato=old.kato,
                    dhchap_secret=old.dhchap_secret,
                    dhchap_ctrl_secret=old.dhchap_ctrl_secret,
                    host_traddr=old.host_traddr,
                    host_iface=old.host_iface,
                )
                controller = self._topology.add_controller(
                    state, request, lost.kind, Path(lost.backing_file), avoid=avoid
                )
                names.append(controller_name(controller.instance))
            state.lost.remove(lost)
            return names[0]

    def remove_device(self, nqn: str, controller_state: str = "live") -> None:
        """The namespace disk and its /dev node disappear (namespace gone from the target) while
        the controllers stay, in `controller_state`; `ns-rescan` brings the disk back."""
        self._check_state(controller_state)
        with self._transaction() as state:
            subsystem = self._connected(state, nqn)
            for controller in state.controllers_of(subsystem.instance):
                self._topology.remove_namespace_disks(state, subsystem, controller)
                controller.state = controller_state
                self._sysfs.update_controller_state(controller)
            self._topology.remove_head(state, subsystem)
            subsystem.namespace_present = False

    def set_state(self, nqn: str, controller_state: str) -> None:
        """Every controller of the subsystem shows `controller_state` (§1.2 strings); the address
        loses `src_addr` unless live. Disks stay (the reconnect window of §3.3)."""
        self._check_state(controller_state)
        with self._transaction() as state:
            subsystem = self._connected(state, nqn)
            for controller in state.controllers_of(subsystem.instance):
                controller.state = controller_state
                self._sysfs.update_controller_state(controller)

    def add_synthetic_controllers(
        self, count: int, nqn_prefix: str = "nqn.2000-02.com.mikrotik:synthetic-"
    ) -> list[str]:
        """`count` sysfs-only controllers, each with its subsystem and namespace disk (made-up dev_t,
        no loop device, no /dev node), for resolution benchmarks."""
        with self._transaction() as state:
            names = []
            first = len([item for item in state.subsystems if item.kind == "synthetic"])
            for number in range(first, first + count):
                request = self._resolve_host(ConnectRequest(nqn=f"{nqn_prefix}{number}", traddr="127.0.0.1"))
                controller = self._topology.add_controller(
                    state, request, "synthetic", Path("/nonexistent"), avoid=set()
                )
                names.append(controller_name(controller.instance))
            return names

    def device_path(self, nqn: str) -> Path | None:
        """The /dev node of the subsystem's visible disk (the first one), None when it has none."""
        with self._transaction() as state:
            subsystem = state.subsystem_by_nqn(nqn)
            if subsystem is None:
                return None
            disks = state.disks_of(subsystem.instance)
            return self.config.dev_root / disks[0].name if disks else None

    def teardown(self) -> None:
        """Detach every loop device this fabric attached and remove its trees. Idempotent, and safe
        after a crash: loop attachments are recorded before `losetup` runs."""
        if not self.fabric_dir.exists():
            return
        with fabric_lock(self.fabric_dir):
            state = read_state(self.fabric_dir)
            for attachment in state.loops:
                self._topology.detach(attachment)
            for disk in state.disks:
                self._dev.remove(disk.name)
            shutil.rmtree(self.config.sysfs_root, ignore_errors=True)
            for pattern in ("nvme*", "ng*"):
                for node in self.config.dev_root.glob(pattern):
                    node.unlink(missing_ok=True)
            if self.config.dev_root.exists() and not any(self.config.dev_root.iterdir()):
                self.config.dev_root.rmdir()
            shutil.rmtree(self.fabric_dir, ignore_errors=True)

    # validation

    def _resolve_host(self, request: ConnectRequest) -> ConnectRequest:
        return replace(
            request,
            hostnqn=request.hostnqn or self.config.hostnqn,
            hostid=request.hostid or self.config.hostid,
        )

    @staticmethod
    def _check_state(controller_state: str) -> None:
        if controller_state not in state_strings():
            raise ValueError(f"unknown controller state {controller_state!r}; use one of {', '.join(state_strings())}")

    @staticmethod
    def _connected(state: FabricState, nqn: str) -> Subsystem:
        subsystem = state.subsystem_by_nqn(nqn)
        if subsystem is None:
            raise KeyError(f"{nqn} is not connected on this fabric; connect it first")
        return subsystem


def _written(attribute: Path) -> bool:
    """A write-only sysfs attribute that something wrote to (it is created empty)."""
    try:
        return attribute.stat().st_size > 0
    except FileNotFoundError:
        return False
