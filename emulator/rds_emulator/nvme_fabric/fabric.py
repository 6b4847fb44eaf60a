"""The test fabric: connects the emulator's exports as loop-backed NVMe namespaces and keeps the
sysfs tree and /dev nodes a real host would show (NVME_HOST.md), for one naming case per fabric.

Every operation takes the fabric lock, reads `state.json`, changes sysfs, /dev and loop devices,
and writes the state back, so the `nvme` stand-in and a test may act on one fabric concurrently."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from . import loopdev
from .devnodes import DevNodes
from .dhchap import secret_error
from .errors import AlreadyConnected, ConnectRefused, UnknownDevice
from .exports import Export, read_exports
from .naming import (
    ModuleParameters,
    Naming,
    controller_name,
    generic_name,
    lowest_free,
    path_disk_name,
    visible_disk_name,
)
from .state import (
    CONFIG_FILE,
    Controller,
    Disk,
    FabricConfig,
    FabricState,
    LoopAttachment,
    LostSubsystem,
    Subsystem,
    fabric_lock,
    read_config,
    read_state,
    write_config,
    write_state,
)
from .sysfs_tree import DiskAttributes, SysfsTree, namespace_uuid, state_strings

DEFAULT_TRSVCID = "4420"
BACKGROUND_SCAN_COMMAND = "_background-scan"
"""Internal CLI command of the process `_start_background_scan` starts."""
SYNTHETIC_MAJOR = 259
SYNTHETIC_SECTORS = 2 * 1024 * 1024
"""Synthetic namespaces claim 1 GiB; nothing backs them."""


@dataclass(frozen=True)
class ConnectRequest:
    """`nvme connect` options; 0 for reconnect_delay and kato means "not sent" (kernel default)."""

    nqn: str
    traddr: str
    trsvcid: str = DEFAULT_TRSVCID
    transport: str = "tcp"
    hostnqn: str | None = None
    hostid: str | None = None
    ctrl_loss_tmo: int = 600
    reconnect_delay: int = 0
    kato: int = 0
    dhchap_secret: str = ""
    dhchap_ctrl_secret: str = ""
    host_traddr: str = ""
    host_iface: str = ""


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
        """What happened since the last operation: subsystems whose stale users let go, and what
        node code wrote into `delete_controller` or `rescan_controller` (the kernel acts at once,
        the fabric acts now)."""
        for subsystem in [item for item in state.subsystems if item.held_loops]:
            self._drop_subsystem_if_unused(state, subsystem)
        for controller in list(state.controllers):
            directory = self._sysfs.controller_dir(controller.instance)
            if _written(directory / "delete_controller"):
                self._remove_controller(state, controller)
            elif _written(directory / "rescan_controller"):
                (directory / "rescan_controller").write_bytes(b"")
                self._scan(state, controller)

    def snapshot(self) -> FabricState:
        """The state as of now (for listings and tests)."""
        with self._transaction() as state:
            return state

    # nvme-cli operations

    def connect(self, request: ConnectRequest) -> str:
        """`nvme connect`: validated against the emulator's exports; returns the controller name."""
        with self._transaction() as state:
            request = self._resolve_host(request)
            self._check_not_connected(state, request)
            self._check_host_options(state, request)
            export = self._find_export(request)
            scan_later = self.config.scan_delay > 0
            controller = self._add_controller(
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
                self._remove_controller(state, controller)
            return len(controllers)

    def disconnect_controller(self, name: str) -> None:
        """`nvme disconnect -d nvmeN`."""
        with self._transaction() as state:
            controller = state.controller_named(name)
            if controller is None:
                raise UnknownDevice(name)
            self._remove_controller(state, controller)

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
            self._scan(state, controller)

    def _scan(self, state: FabricState, controller: Controller) -> None:
        subsystem = state.subsystem(controller.subsystem)
        self._refresh_size(state, subsystem)
        subsystem.namespace_present = True
        for each in state.controllers_of(subsystem.instance):
            self._add_namespace_disks(state, subsystem, each)

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
            self._check_not_connected(state, request)
            controller = self._add_controller(state, request, "system", backing_file.absolute(), avoid=set())
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
                self._remove_controller(state, controller)

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
                controller = self._add_controller(state, request, lost.kind, Path(lost.backing_file), avoid=avoid)
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
                self._remove_namespace_disks(state, subsystem, controller)
                controller.state = controller_state
                self._sysfs.update_controller_state(controller)
            self._remove_head(state, subsystem)
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
                controller = self._add_controller(state, request, "synthetic", Path("/nonexistent"), avoid=set())
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
                self._detach(attachment)
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
    def _check_not_connected(state: FabricState, request: ConnectRequest) -> None:
        """nvme-cli 2.3's pre-check: same subsystem and address under any host NQN, any state."""
        for controller in state.controllers:
            subsystem = state.subsystem(controller.subsystem)
            if (
                subsystem.nqn == request.nqn
                and controller.transport == request.transport
                and controller.traddr.lower() == request.traddr.lower()
                and controller.trsvcid == request.trsvcid
                and controller.host_traddr == request.host_traddr
                and controller.host_iface == request.host_iface
            ):
                raise AlreadyConnected

    @staticmethod
    def _check_host_options(state: FabricState, request: ConnectRequest) -> None:
        """What the kernel refuses with EINVAL before talking to the target."""
        if request.transport != "tcp":
            raise ConnectRefused(errno.EINVAL, f"no handler found for transport {request.transport}")
        if request.reconnect_delay < 0:
            raise ConnectRefused(errno.EINVAL, "Invalid reconnect_delay")
        try:
            hostid = str(uuid.UUID(request.hostid or ""))
        except ValueError:
            raise ConnectRefused(errno.EINVAL, f"unable to parse UUID {request.hostid!r}") from None
        for controller in state.controllers:
            if controller.hostnqn == request.hostnqn and controller.hostid != hostid:
                raise ConnectRefused(errno.EINVAL, f"found same hostnqn {request.hostnqn} but different hostid")
            if controller.hostid == hostid and controller.hostnqn != request.hostnqn:
                raise ConnectRefused(errno.EINVAL, f"found same hostid {hostid} but different hostnqn")
        for secret in (request.dhchap_secret, request.dhchap_ctrl_secret):
            problem = secret_error(secret) if secret else None
            if problem == errno.EINVAL:
                raise ConnectRefused(problem, "Invalid DH-CHAP secret")

    def _find_export(self, request: ConnectRequest) -> Export:
        """What the target answers: refused port, unknown NQN or host, failed authentication."""
        exports = read_exports(self.config.emulator_state_dir)
        if request.trsvcid not in {str(item.port) for item in exports.values()}:
            raise ConnectRefused(errno.ECONNREFUSED, "failed to connect socket: -111")
        export = exports.get(request.nqn)
        if export is None or str(export.port) != request.trsvcid:
            raise ConnectRefused(errno.EIO, f'Connect Invalid Data Parameter, subsysnqn "{request.nqn}"')
        if not export.allows_host(request.hostnqn or ""):
            raise ConnectRefused(
                errno.EIO, f"Connect for subsystem {request.nqn} is not allowed, hostnqn: {request.hostnqn}"
            )
        if export.dh_chap_secret:
            if request.dhchap_secret and secret_error(request.dhchap_secret) == errno.EKEYREJECTED:
                raise ConnectRefused(errno.EKEYREJECTED, "qid 0: authentication failed")
            if request.dhchap_secret != export.dh_chap_secret:
                raise ConnectRefused(errno.EIO, "qid 0: authentication failed, error 1")
        return export

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

    # topology changes

    def _add_controller(
        self,
        state: FabricState,
        request: ConnectRequest,
        kind: str,
        backing_file: Path,
        *,
        avoid: set[int],
        scan: bool = True,
    ) -> Controller:
        instance = lowest_free(state.instances_in_use() | avoid)
        subsystem = state.subsystem_by_nqn(request.nqn)
        if subsystem is not None and not state.disks_of(subsystem.instance):
            # a new head/namespace instance: the old one may still be held by a stale user
            subsystem.namespace_instance = lowest_free(subsystem.held_instances, start=1)
        if subsystem is None:
            subsystem = Subsystem(
                instance=instance,
                nqn=request.nqn,
                kind=kind,
                backing_file=str(backing_file),
                nsid=self.config.nsid,
                namespace_instance=1,
                serial=uuid.uuid5(uuid.NAMESPACE_URL, request.nqn).hex[:20],
            )
            state.subsystems.append(subsystem)
            self._sysfs.add_subsystem(subsystem, self.config.naming)
        controller = Controller(
            instance=instance,
            subsystem=subsystem.instance,
            cntlid=1 + max((item.cntlid for item in state.controllers_of(subsystem.instance)), default=0),
            traddr=request.traddr,
            trsvcid=request.trsvcid,
            hostnqn=request.hostnqn or self.config.hostnqn,
            hostid=str(uuid.UUID(request.hostid or self.config.hostid)),
            transport=request.transport,
            host_traddr=request.host_traddr,
            host_iface=request.host_iface,
            ctrl_loss_tmo=request.ctrl_loss_tmo,
            reconnect_delay=request.reconnect_delay or 10,
            kato=request.kato or 5,
            dhchap_secret=request.dhchap_secret,
            dhchap_ctrl_secret=request.dhchap_ctrl_secret,
            src_addr=_source_address(request.traddr) or "",
        )
        state.controllers.append(controller)
        self._sysfs.add_controller(controller, subsystem)
        self._dev.add_placeholder(controller_name(controller.instance))
        if scan and subsystem.namespace_present:
            try:
                self._add_namespace_disks(state, subsystem, controller)
            except BaseException:
                self._remove_controller(state, controller)
                raise
        return controller

    def _remove_controller(self, state: FabricState, controller: Controller) -> None:
        """Delete a controller; the last one takes its subsystem along unless a stale user of one
        of the subsystem's disks holds it (then it stays, with zero controllers, §1.4)."""
        subsystem = state.subsystem(controller.subsystem)
        loops = {disk.loop for disk in state.disks_of(subsystem.instance) if disk.loop is not None}
        self._remove_namespace_disks(state, subsystem, controller)
        self._sysfs.remove_controller(controller)
        self._dev.remove(controller_name(controller.instance))
        state.controllers.remove(controller)
        if not state.controllers_of(subsystem.instance):
            self._remove_head(state, subsystem)
        for loop in sorted(loops - {disk.loop for disk in state.disks}):
            if loopdev.attached_file(loop) == str(Path(subsystem.backing_file).resolve()):
                subsystem.held_loops.append(loop)
                subsystem.held_instances = sorted({*subsystem.held_instances, subsystem.namespace_instance})
        self._drop_subsystem_if_unused(state, subsystem)

    def _drop_subsystem_if_unused(self, state: FabricState, subsystem: Subsystem) -> None:
        subsystem.held_loops = [
            loop
            for loop in subsystem.held_loops
            if loopdev.attached_file(loop) == str(Path(subsystem.backing_file).resolve())
        ]
        if not subsystem.held_loops:
            subsystem.held_instances = []
        if not state.controllers_of(subsystem.instance) and not subsystem.held_loops:
            self._sysfs.remove_subsystem(subsystem.instance)
            state.subsystems.remove(subsystem)

    def _add_namespace_disks(self, state: FabricState, subsystem: Subsystem, controller: Controller) -> None:
        """The disks the kernel's namespace scan creates for this controller in the fabric's case;
        disks that exist already are left alone (a rescan adds only what is missing)."""
        naming = self.config.naming
        ns = subsystem.namespace_instance
        controller_dir = self._sysfs.controller_dir(controller.instance)
        subsystem_dir = self._sysfs.subsystem_dir(subsystem.instance)
        if naming is Naming.MULTIPATH:
            head_name = visible_disk_name(naming, subsystem.instance, controller.instance, ns)
            if not any(disk.name == head_name for disk in state.disks):
                self._add_visible_disk(state, subsystem, None, head_name, subsystem_dir)
                self._add_generic(subsystem_dir, generic_name(subsystem.instance, ns), subsystem.instance)
            path_name = path_disk_name(subsystem.instance, controller.instance, ns)
            if not (controller_dir / path_name).exists():
                path_disk = self._sysfs.add_disk(
                    controller_dir, self._attributes(subsystem, path_name, None), controller_dir
                )
                self._sysfs.link_path_to_head(subsystem_dir / head_name, path_disk)
            return  # hidden paths get no generic char device; the head has one
        if naming is Naming.MULTIPATH_SINGLE_CONTROLLER and state.disks_of(subsystem.instance):
            return  # "Duplicate unshared namespace": without CMIC a second path gets no disk
        if any(disk.controller == controller.instance for disk in state.disks):
            return
        name = visible_disk_name(naming, subsystem.instance, controller.instance, ns)
        self._add_visible_disk(state, subsystem, controller.instance, name, controller_dir)
        self._add_generic(controller_dir, generic_name(controller.instance, ns), controller.instance)

    def _remove_namespace_disks(self, state: FabricState, subsystem: Subsystem, controller: Controller) -> None:
        ns = subsystem.namespace_instance
        controller_dir = self._sysfs.controller_dir(controller.instance)
        for disk in [item for item in state.disks if item.controller == controller.instance]:
            self._remove_visible_disk(state, disk, controller_dir)
        if self.config.naming is Naming.MULTIPATH:
            path_name = path_disk_name(subsystem.instance, controller.instance, ns)
            head = self._sysfs.subsystem_dir(subsystem.instance) / visible_disk_name(
                self.config.naming, subsystem.instance, controller.instance, ns
            )
            (head / "multipath" / path_name).unlink(missing_ok=True)
            self._sysfs.remove_disk(controller_dir, path_name)
            return  # the generic device belongs to the head, which may outlive this path
        self._remove_generic(controller_dir, generic_name(controller.instance, ns))

    def _remove_head(self, state: FabricState, subsystem: Subsystem) -> None:
        subsystem_dir = self._sysfs.subsystem_dir(subsystem.instance)
        for disk in [item for item in state.disks_of(subsystem.instance) if item.controller is None]:
            self._remove_visible_disk(state, disk, subsystem_dir)
            self._remove_generic(subsystem_dir, generic_name(subsystem.instance, subsystem.namespace_instance))

    def _add_visible_disk(
        self, state: FabricState, subsystem: Subsystem, controller: int | None, name: str, parent: Path
    ) -> None:
        if subsystem.kind == "synthetic":
            major, minor, loop = SYNTHETIC_MAJOR, 100000 + subsystem.instance, None
        else:
            device = self._attach(state, Path(subsystem.backing_file))
            major, minor, loop = device.major, device.minor, device.path
        disk = Disk(name=name, subsystem=subsystem.instance, controller=controller, major=major, minor=minor, loop=loop)
        state.disks.append(disk)
        if loop is not None:  # the node first: code that found the disk in sysfs finds the node too
            self._dev.add_block(name, major, minor)
        self._sysfs.add_disk(parent, self._attributes(subsystem, name, (major, minor)), parent)

    def _remove_visible_disk(self, state: FabricState, disk: Disk, parent: Path) -> None:
        self._sysfs.remove_disk(parent, disk.name)
        self._dev.remove(disk.name)
        state.disks.remove(disk)
        for attachment in [item for item in state.loops if item.device is not None and item.device == disk.loop]:
            self._detach(attachment)
            state.loops.remove(attachment)

    def _add_generic(self, parent: Path, name: str, minor: int) -> None:
        self._sysfs.add_generic(parent, name, minor)
        self._dev.add_placeholder(name)

    def _remove_generic(self, parent: Path, name: str) -> None:
        self._sysfs.remove_generic(parent, name)
        self._dev.remove(name)

    def _attributes(self, subsystem: Subsystem, name: str, dev: tuple[int, int] | None) -> DiskAttributes:
        return DiskAttributes(
            name=name,
            nsid=subsystem.nsid,
            size_sectors=self._size_sectors(subsystem),
            namespace_uuid=namespace_uuid(subsystem.nqn, subsystem.nsid),
            dev=dev,
        )

    @staticmethod
    def _size_sectors(subsystem: Subsystem) -> int:
        if subsystem.kind == "synthetic":
            return SYNTHETIC_SECTORS
        return Path(subsystem.backing_file).stat().st_size // 512

    def _refresh_size(self, state: FabricState, subsystem: Subsystem) -> None:
        sectors = self._size_sectors(subsystem)
        ns = subsystem.namespace_instance
        for disk in state.disks_of(subsystem.instance):
            if disk.loop is not None:
                loopdev.refresh_capacity(disk.loop)
            parent = (
                self._sysfs.subsystem_dir(subsystem.instance)
                if disk.controller is None
                else self._sysfs.controller_dir(disk.controller)
            )
            self._sysfs.set_disk_size(parent, disk.name, sectors)
        if self.config.naming is Naming.MULTIPATH:
            for controller in state.controllers_of(subsystem.instance):
                path_name = path_disk_name(subsystem.instance, controller.instance, ns)
                self._sysfs.set_disk_size(self._sysfs.controller_dir(controller.instance), path_name, sectors)

    # loop devices

    def _attach(self, state: FabricState, backing_file: Path) -> loopdev.LoopDevice:
        """Record the attachment first, so teardown finds the device even if we die right after."""
        attachment = LoopAttachment(backing_file=str(backing_file.resolve()))
        state.loops.append(attachment)
        write_state(self.fabric_dir, state)
        try:
            device = loopdev.attach(backing_file)
        except loopdev.LoopError as error:
            state.loops.remove(attachment)
            raise ConnectRefused(errno.EIO, str(error)) from error
        attachment.device = device.path
        write_state(self.fabric_dir, state)
        return device

    @staticmethod
    def _detach(attachment: LoopAttachment) -> None:
        if attachment.device is None:
            for device in loopdev.devices_on(Path(attachment.backing_file)):
                loopdev.detach(device)
        elif loopdev.attached_file(attachment.device) == attachment.backing_file:
            loopdev.detach(attachment.device)


def _written(attribute: Path) -> bool:
    """A write-only sysfs attribute that something wrote to (it is created empty)."""
    try:
        return attribute.stat().st_size > 0
    except FileNotFoundError:
        return False


def _source_address(traddr: str) -> str | None:
    """The local address the host would use towards the target (`src_addr`), None if unroutable."""
    try:
        family = socket.AF_INET6 if ":" in traddr else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((traddr, 4420))
            address: str = probe.getsockname()[0]
            return address
    except OSError:
        return None
