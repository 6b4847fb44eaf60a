"""The fabric directory: its configuration (`fabric.json`), its state (`state.json`) and the lock
that serialises every change, so concurrent `nvme` calls from a driver are safe.

The state is the single source of truth; the sysfs tree and the /dev nodes are written from it."""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..atomicio import write_json_atomically
from .naming import ModuleParameters, Naming
from .profiles import CliProfile

CONFIG_FILE = "fabric.json"
STATE_FILE = "state.json"
LOCK_FILE = "lock"


@dataclass(frozen=True)
class FabricConfig:
    emulator_state_dir: Path
    sysfs_root: Path
    dev_root: Path
    naming: Naming
    hostnqn: str
    """What /etc/nvme/hostnqn would hold: used when `connect` has no `-q`."""
    hostid: str
    """What /etc/nvme/hostid would hold: used when `connect` has no `-I`."""
    nsid: int = 1
    """The NSID every exported file is served as (set it to 5 to prove `n<I>` is not the NSID)."""
    module_parameters: ModuleParameters = ModuleParameters.STANDARD
    cli_profile: CliProfile = CliProfile.DEBIAN_12
    scan_delay: float = 0.0
    """Seconds before the namespace scan after a connect or rescan completes; 0 means at once.
    The kernel scans asynchronously (NVME_HOST.md §2.6, §6.5), so code must poll for the disk."""

    def to_json(self) -> dict[str, Any]:
        return {
            "emulator_state_dir": str(self.emulator_state_dir),
            "sysfs_root": str(self.sysfs_root),
            "dev_root": str(self.dev_root),
            "naming": self.naming.value,
            "hostnqn": self.hostnqn,
            "hostid": self.hostid,
            "nsid": self.nsid,
            "scan_delay": self.scan_delay,
            "module_parameters": self.module_parameters.value,
            "cli_profile": self.cli_profile.value,
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> FabricConfig:
        return cls(
            emulator_state_dir=Path(document["emulator_state_dir"]),
            sysfs_root=Path(document["sysfs_root"]),
            dev_root=Path(document["dev_root"]),
            naming=Naming(document["naming"]),
            hostnqn=document["hostnqn"],
            hostid=document["hostid"],
            nsid=int(document["nsid"]),
            scan_delay=float(document.get("scan_delay", 0.0)),
            module_parameters=ModuleParameters(document.get("module_parameters", ModuleParameters.STANDARD.value)),
            cli_profile=CliProfile(document.get("cli_profile", CliProfile.DEBIAN_12.value)),
        )


@dataclass
class Controller:
    instance: int
    subsystem: int
    cntlid: int
    traddr: str
    trsvcid: str
    hostnqn: str
    hostid: str
    state: str = "live"
    transport: str = "tcp"
    host_traddr: str = ""
    host_iface: str = ""
    ctrl_loss_tmo: int = 600
    reconnect_delay: int = 10
    kato: int = 5
    dhchap_secret: str = ""
    dhchap_ctrl_secret: str = ""
    src_addr: str = ""
    """The host's local address towards the target; shown in `address` only while live."""
    fenced: bool = False
    """The export stopped admitting this host: the kernel keeps reconnecting (`connecting`) and the
    target keeps refusing, until the host is admitted again."""


@dataclass
class Subsystem:
    """A subsystem with its one namespace (an RDS export serves one file)."""

    instance: int
    nqn: str
    kind: str
    """`export` (from the emulator), `system` (not a CSI volume) or `synthetic` (sysfs only)."""
    backing_file: str
    nsid: int
    namespace_instance: int
    serial: str
    namespace_present: bool = True
    held_loops: list[str] = field(default_factory=list)
    """Loop devices of disks removed while something (a stale mount) still had them open; while
    any is still attached, the subsystem outlives its controllers and `held_instances` stay taken."""
    held_instances: list[int] = field(default_factory=list)


@dataclass
class Disk:
    """A visible namespace disk: a /dev node backed by a loop device (or a made-up dev_t)."""

    name: str
    subsystem: int
    controller: int | None
    """None for a case-A head, which belongs to the subsystem."""
    major: int
    minor: int
    loop: str | None


@dataclass
class LoopAttachment:
    """Recorded before `losetup` runs (device still None) so a crash never leaks a loop device."""

    backing_file: str
    device: str | None = None
    others: list[str] = field(default_factory=list)
    """Loop devices already on the file before ours (another fabric's): never ours to detach."""


@dataclass
class LostSubsystem:
    """What `lose_controller` removed, so `reconnect_controller` can redo the connect."""

    nqn: str
    kind: str
    backing_file: str
    controllers: list[Controller]
    subsystem_instance: int


@dataclass
class FabricState:
    controllers: list[Controller] = field(default_factory=list)
    subsystems: list[Subsystem] = field(default_factory=list)
    disks: list[Disk] = field(default_factory=list)
    loops: list[LoopAttachment] = field(default_factory=list)
    lost: list[LostSubsystem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> FabricState:
        return cls(
            controllers=[Controller(**item) for item in document["controllers"]],
            subsystems=[Subsystem(**item) for item in document["subsystems"]],
            disks=[Disk(**item) for item in document["disks"]],
            loops=[LoopAttachment(**item) for item in document["loops"]],
            lost=[
                LostSubsystem(**{**item, "controllers": [Controller(**c) for c in item["controllers"]]})
                for item in document["lost"]
            ],
        )

    def subsystem(self, instance: int) -> Subsystem:
        return next(item for item in self.subsystems if item.instance == instance)

    def subsystem_by_nqn(self, nqn: str) -> Subsystem | None:
        return next((item for item in self.subsystems if item.nqn == nqn), None)

    def controllers_of(self, subsystem: int) -> list[Controller]:
        return [item for item in self.controllers if item.subsystem == subsystem]

    def controller_named(self, name: str) -> Controller | None:
        return next((item for item in self.controllers if f"nvme{item.instance}" == name), None)

    def disks_of(self, subsystem: int) -> list[Disk]:
        return [item for item in self.disks if item.subsystem == subsystem]

    def instances_in_use(self) -> set[int]:
        """Controller and subsystem numbers share one IDA in the kernel."""
        return {item.instance for item in self.controllers} | {item.instance for item in self.subsystems}


def read_config(fabric_dir: Path) -> FabricConfig:
    path = fabric_dir / CONFIG_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{fabric_dir} is not a test NVMe fabric ({path} is missing); create it with TestFabric.create()."
        ) from None
    return FabricConfig.from_json(document)


def write_config(fabric_dir: Path, config: FabricConfig) -> None:
    write_json_atomically(fabric_dir / CONFIG_FILE, config.to_json())


def read_state(fabric_dir: Path) -> FabricState:
    path = fabric_dir / STATE_FILE
    if not path.exists():
        return FabricState()
    return FabricState.from_json(json.loads(path.read_text(encoding="utf-8")))


def write_state(fabric_dir: Path, state: FabricState) -> None:
    write_json_atomically(fabric_dir / STATE_FILE, state.to_json(), durable=False)


@contextmanager
def fabric_lock(fabric_dir: Path) -> Iterator[None]:
    """Exclusive for the whole operation, across processes (flock on `<fabric>/lock`)."""
    with open(fabric_dir / LOCK_FILE, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
