# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node side: the NVMe state of a Linux host as sysfs shows it (NVME_HOST.md §1).

Everything is read fresh on every call and never cached: controller and disk names change across
reconnects (§3.3). Resolution of a subsystem NQN and NSID to its block device follows §1.7 and
handles the three naming cases of §1.5:

- A, native multipath head: ``nvme-subsys<S>/nvme<S>n<I>`` (hidden per-path ``nvme<S>c<C>n<I>``
  disks under the controllers are never used: they have no ``/dev`` node);
- B, multipath on but a single-controller subsystem: ``nvme<C>/nvme<S>n<I>`` under the controller;
- C, multipath off: ``nvme<C>/nvme<C>n<I>`` under the controller.

The ``n<I>`` suffix is not the NSID; the ``nsid`` attribute is. A lookup lists
``class/nvme-subsystem`` once and reads only the ``subsysnqn`` files until it finds the NQN, so it
stays fast with hundreds of controllers and runs no subprocess.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from typing import List, Optional, Tuple

from ansible_collections.srvlab.rds.plugins.module_utils.nvme_config import NvmeHostConfig

SECTOR_BYTES = 512
# A controller in one of these states is going away and no longer counts as a connection (§3.2).
TERMINAL_STATES = frozenset({"deleting", "deleting (no IO)", "dead"})
_SUBSYSTEM_NAME = re.compile(r"nvme-subsys\d+\Z")
_SUBSYSTEM_PREFIX = "nvme-subsys"
_CONTROLLER_NAME = re.compile(r"nvme\d+\Z")
# Anchored, so a hidden per-path disk (nvme1c1n1) or a char device (ng1n1) never matches (§1.7).
_DISK_NAME = re.compile(r"nvme\d+n\d+\Z")
_VANISHED = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ENODEV, errno.ENXIO})
_NUMBERS = re.compile(r"\d+")
_PAGE = 4096


@dataclass(frozen=True)
class Address:
    """A controller's ``address`` attribute (§1.3); missing fields are empty strings."""

    traddr: str = ""
    trsvcid: str = ""
    host_traddr: str = ""
    host_iface: str = ""
    src_addr: str = ""

    def matches(self, traddr: str, trsvcid: str) -> bool:
        return self.traddr.lower() == traddr.lower() and self.trsvcid == trsvcid

    def describe(self) -> str:
        return "%s:%s" % (self.traddr, self.trsvcid) if self.traddr else "no address"


@dataclass(frozen=True)
class Controller:
    """One NVMe controller (a path to a subsystem), ``class/nvme/nvmeN``."""

    name: str
    subsystem_nqn: str
    state: str
    transport: str
    address: Address
    host_nqn: str
    host_id: str

    @property
    def live(self) -> bool:
        return self.state == "live"

    @property
    def active(self) -> bool:
        """Live, or on its way there (new, connecting, resetting): nvme-cli counts it as connected."""
        return self.state not in TERMINAL_STATES and self.state != ""

    def describe(self) -> str:
        return "%s %s (%s %s)" % (self.name, self.state or "without state", self.transport, self.address.describe())


@dataclass(frozen=True)
class Subsystem:
    """One NVMe subsystem the host knows, ``class/nvme-subsystem/nvme-subsysM``, with its controllers."""

    name: str
    nqn: str
    controllers: Tuple[Controller, ...]

    @property
    def connected(self) -> bool:
        """At least one controller that is not being deleted; zero controllers is a leftover (§1.4)."""
        return any(controller.active for controller in self.controllers)

    def path_to(self, traddr: str, trsvcid: str) -> Optional[Controller]:
        """The active controller to that target address, if any."""
        for controller in self.controllers:
            if controller.active and controller.address.matches(traddr, trsvcid):
                return controller
        return None


@dataclass(frozen=True)
class BlockDevice:
    """A namespace's visible block device; ``path`` is ``<dev_root>/<name>``."""

    name: str
    path: str
    major: int
    minor: int
    size_bytes: int
    nsid: int

    @property
    def dev(self) -> str:
        return "%d:%d" % (self.major, self.minor)


@dataclass(frozen=True)
class Namespace:
    """A namespace disk as sysfs shows it; ``dev`` is empty on a disk without a device number."""

    name: str
    nsid: Optional[int]
    dev: str
    size_sectors: int

    def describe(self) -> str:
        return "%s (nsid %s)" % (self.name, "unknown" if self.nsid is None else self.nsid)


@dataclass(frozen=True)
class Resolution:
    """What sysfs and the device directory show for one NQN and NSID, for waiting and for errors."""

    nqn: str
    nsid: int
    subsystems: Tuple[Subsystem, ...]
    namespaces: Tuple[Namespace, ...]
    device: Optional[BlockDevice]
    node_problem: Optional[str]

    @property
    def ready(self) -> bool:
        """The disk exists in sysfs and its ``/dev`` node is the same block device."""
        return self.device is not None and self.node_problem is None

    def describe(self) -> str:
        """What was seen, as a sentence fragment naming controllers, states and disks."""
        if not self.subsystems:
            return "no subsystem with this NQN is connected"
        controllers = [controller for subsystem in self.subsystems for controller in subsystem.controllers]
        names = ", ".join(subsystem.name for subsystem in self.subsystems)
        if not controllers:
            return "subsystem %s has no controllers left (a leftover that nvme disconnect cannot remove)" % names
        seen = "controllers %s" % ", ".join(controller.describe() for controller in controllers)
        if self.device is not None:
            return "%s; disk %s found, but %s" % (seen, self.device.name, self.node_problem)
        if not self.namespaces:
            return "%s; no namespace disk yet" % seen
        return "%s; no disk with nsid %d among %s" % (
            seen,
            self.nsid,
            ", ".join(namespace.describe() for namespace in self.namespaces),
        )


def parse_address(text: str) -> Address:
    """Comma-separated ``key=value`` pairs; unknown keys are ignored, as libnvme does."""
    fields = {}
    for part in text.strip().split(","):
        key, separator, value = part.partition("=")
        if separator:
            fields[key.strip()] = value.strip()
    return Address(
        traddr=fields.get("traddr", ""),
        trsvcid=fields.get("trsvcid", ""),
        host_traddr=fields.get("host_traddr", ""),
        host_iface=fields.get("host_iface", ""),
        src_addr=fields.get("src_addr", ""),
    )


def read_attribute(directory: str, name: str) -> str:
    """An attribute without its trailing newline and padding; empty if it (or its device) is gone."""
    data = _read_raw(directory + "/" + name)
    return "" if data is None else data.decode("utf-8", "replace").strip()


def read_controller(config: NvmeHostConfig, name: str) -> Controller:
    directory = config.controller_dir(name)
    return Controller(
        name=name,
        subsystem_nqn=read_attribute(directory, "subsysnqn"),
        state=read_attribute(directory, "state"),
        transport=read_attribute(directory, "transport"),
        address=parse_address(read_attribute(directory, "address")),
        host_nqn=read_attribute(directory, "hostnqn"),
        host_id=read_attribute(directory, "hostid"),
    )


def read_controllers(config: NvmeHostConfig) -> List[Controller]:
    """Every controller in ``class/nvme``, in instance order."""
    return [read_controller(config, name) for name in _entries(config.controllers_dir, _CONTROLLER_NAME)]


def find_subsystems(config: NvmeHostConfig, nqn: str) -> List[Subsystem]:
    """The I/O subsystems with exactly this NQN (normally one), with their controllers."""
    return [
        _read_subsystem(config, name, nqn)
        for name, _nqn in _subsystems_matching(config, nqn.encode("utf-8"), exact=True)
        if _is_io_subsystem(config, name)
    ]


def find_subsystem(config: NvmeHostConfig, nqn: str) -> Optional[Subsystem]:
    """The subsystem with this NQN, preferring one with controllers over a leftover."""
    found = find_subsystems(config, nqn)
    found.sort(key=lambda subsystem: not subsystem.connected)
    return found[0] if found else None


def read_subsystems(config: NvmeHostConfig, prefix: str = "") -> List[Subsystem]:
    """Every I/O subsystem whose NQN starts with ``prefix``; nothing else of the others is read."""
    return [
        _read_subsystem(config, name, found.decode("utf-8", "replace"))
        for name, found in _subsystems_matching(config, prefix.encode("utf-8"), exact=False)
        if _is_io_subsystem(config, name)
    ]


def namespaces_of(config: NvmeHostConfig, subsystem: Subsystem) -> List[Namespace]:
    """The visible namespace disks of a subsystem: heads (case A), then per-controller disks (B, C)."""
    directories = [config.subsystem_dir(subsystem.name)]
    directories.extend(config.controller_dir(controller.name) for controller in subsystem.controllers)
    found = []
    for directory in directories:
        for name in _entries(directory, _DISK_NAME):
            found.append(_read_namespace(os.path.join(directory, name), name))
    return found


def resolve(config: NvmeHostConfig, nqn: str, nsid: int = 1) -> Resolution:
    """Where NQN + NSID is now (§1.7 steps 1-5), and what stands in the way if it is not usable yet."""
    subsystems = find_subsystems(config, nqn)
    namespaces: List[Namespace] = []
    for subsystem in subsystems:
        namespaces.extend(namespaces_of(config, subsystem))
    device = None
    for namespace in namespaces:
        candidate = _block_device(config, namespace) if namespace.nsid == nsid else None
        if candidate is not None:
            device = candidate
            break
    problem = node_problem(device) if device is not None else None
    return Resolution(nqn, nsid, tuple(subsystems), tuple(namespaces), device, problem)


def resolve_device(config: NvmeHostConfig, nqn: str, nsid: int = 1) -> Optional[BlockDevice]:
    """The block device sysfs shows for NQN + NSID now, whether or not its ``/dev`` node exists yet."""
    return resolve(config, nqn, nsid).device


def block_device_nqn(config: NvmeHostConfig, major: int, minor: int) -> Optional[str]:
    """The subsystem NQN of the disk with this MAJ:MIN (§1.7 step 6); None if no NVMe disk has it.

    ``dev/block/MAJ:MIN`` leads to the disk, its ``device`` link to the subsystem (a head) or to the
    controller; both carry ``subsysnqn``. A mount whose MAJ:MIN gives None has lost its device.
    """
    disk = os.path.join(config.sysfs_root, "dev", "block", "%d:%d" % (major, minor))
    nqn = read_attribute(os.path.join(disk, "device"), "subsysnqn")
    return nqn or None


def node_problem(device: BlockDevice) -> Optional[str]:
    """Why ``device.path`` is not (yet) the disk's block device node, or None when it is."""
    try:
        status = os.stat(device.path)
    except FileNotFoundError:
        return "%s does not exist yet" % device.path
    if not stat.S_ISBLK(status.st_mode):
        return "%s is not a block device" % device.path
    found = "%d:%d" % (os.major(status.st_rdev), os.minor(status.st_rdev))
    if found != device.dev:
        return "%s is block device %s, not the disk's %s (a stale node)" % (device.path, found, device.dev)
    return None


def find_orphans(config: NvmeHostConfig, prefix: str) -> List[Subsystem]:
    """Connected subsystems under ``prefix`` with no namespace disk at all (P-8.6).

    Subsystems outside the prefix are only matched by NQN, never read further. A subsystem whose
    controller is still connecting for the first time has no disk either: callers skip volumes
    with an operation in flight.
    """
    return [
        subsystem
        for subsystem in read_subsystems(config, prefix)
        if subsystem.connected and not namespaces_of(config, subsystem)
    ]


def _read_subsystem(config: NvmeHostConfig, name: str, nqn: str) -> Subsystem:
    controllers = _entries(config.subsystem_dir(name), _CONTROLLER_NAME)
    return Subsystem(name, nqn, tuple(read_controller(config, controller) for controller in controllers))


def _read_namespace(directory: str, name: str) -> Namespace:
    nsid = read_attribute(directory, "nsid")
    size = read_attribute(directory, "size")
    return Namespace(
        name=name,
        nsid=int(nsid) if nsid.isdigit() else None,
        dev=read_attribute(directory, "dev"),
        size_sectors=int(size) if size.isdigit() else 0,
    )


def _block_device(config: NvmeHostConfig, namespace: Namespace) -> Optional[BlockDevice]:
    major, separator, minor = namespace.dev.partition(":")
    if not (separator and major.isdigit() and minor.isdigit()) or namespace.nsid is None:
        return None
    return BlockDevice(
        name=namespace.name,
        path=config.device_path(namespace.name),
        major=int(major),
        minor=int(minor),
        size_bytes=namespace.size_sectors * SECTOR_BYTES,
        nsid=namespace.nsid,
    )


def _subsystems_matching(config: NvmeHostConfig, wanted: bytes, exact: bool) -> List[Tuple[str, bytes]]:
    """(subsystem, NQN) whose NQN equals ``wanted`` or, unless ``exact``, starts with it.

    The hot path of every lookup: one directory descriptor, raw reads, a cheap prefix test first.
    """
    try:
        directory = os.open(config.subsystems_dir, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as error:
        if error.errno in _VANISHED:
            return []
        raise
    found = []
    try:
        for name in os.listdir(directory):
            if not name.startswith(_SUBSYSTEM_PREFIX):
                continue
            data = _read_raw(name + "/subsysnqn", directory)
            if data is None or not data.startswith(wanted):
                continue
            nqn = data.strip()
            if nqn and (nqn == wanted or not exact) and _SUBSYSTEM_NAME.match(name):
                found.append((name, nqn))
    finally:
        os.close(directory)
    found.sort(key=lambda match: _number_key(match[0]))
    return found


def _is_io_subsystem(config: NvmeHostConfig, name: str) -> bool:
    return read_attribute(config.subsystem_dir(name), "subsystype") != "discovery"


def _read_raw(path: str, directory: Optional[int] = None) -> Optional[bytes]:
    """The bytes of a sysfs attribute (at most a page), or None if it or its device is gone.

    ``directory`` is a descriptor ``path`` is relative to.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY, dir_fd=directory)
    except OSError as error:
        if error.errno in _VANISHED:
            return None
        raise
    try:
        return os.read(descriptor, _PAGE)
    except OSError as error:
        if error.errno in _VANISHED:
            return None
        raise
    finally:
        os.close(descriptor)


def _entries(directory: str, pattern: re.Pattern[str]) -> List[str]:
    """Names in ``directory`` matching ``pattern``, in numeric order; none if the directory is gone."""
    return sorted(_matching(directory, pattern), key=_number_key)


def _matching(directory: str, pattern: re.Pattern[str]) -> List[str]:
    try:
        names = os.listdir(directory)
    except OSError as error:
        if error.errno in _VANISHED:
            return []
        raise
    return [name for name in names if pattern.match(name)]


def _number_key(name: str) -> Tuple[int, ...]:
    """``nvme12n3`` sorts as (12, 3): instance order, not text order."""
    return tuple(int(number) for number in _NUMBERS.findall(name))
