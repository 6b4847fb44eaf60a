"""sysfs reading and NQN + NSID -> block device resolution (NVME_HOST.md §1.5, §1.7) on trees built here.

``FakeSysfs`` lays trees out as the kernel does (controllers under ``devices/virtual/nvme-fabrics/ctl``
with ``class/nvme`` links, subsystems with ``nvmeN`` links, every attribute ending in a newline);
the other NVMe tests and the benchmark build on it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_config import NvmeHostConfig
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_sysfs import (
    Address,
    block_device_nqn,
    find_orphans,
    find_subsystem,
    node_problem,
    parse_address,
    read_controllers,
    read_subsystems,
    resolve,
    resolve_device,
)

HOSTNQN = "nqn.2014-08.org.nvmexpress:uuid:6c5fbd37-0d8b-4c9e-a2de-4c1bb0f1d3a7"
HOSTID = "6c5fbd37-0d8b-4c9e-a2de-4c1bb0f1d3a7"
PREFIX = "nqn.2000-02.com.mikrotik:pvc-"
VOLUME_NQN = PREFIX + "0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11"
OTHER_NQN = PREFIX + "7e0c2b14-5d3a-4f0e-8a61-93b2c4d5e6f7"
SYSTEM_NQN = "nqn.2000-02.com.mikrotik:diskless-node-1"
TARGET = "10.0.0.5"
GIB_SECTORS = 2 * 1024 * 1024


class FakeSysfs:
    """A sysfs tree with NVMe/TCP controllers, subsystems and namespace disks, plus a device directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sys = root / "sys"
        self.dev = root / "dev"
        self.config = NvmeHostConfig(sysfs_root=str(self.sys), dev_root=str(self.dev))
        for directory in (
            "class/nvme",
            "class/nvme-subsystem",
            "class/block",
            "devices/virtual/nvme-fabrics/ctl",
            "devices/virtual/nvme-subsystem",
            "dev/block",
        ):
            (self.sys / directory).mkdir(parents=True, exist_ok=True)
        self.dev.mkdir(exist_ok=True)

    def subsystem(self, instance: int, nqn: str, subsystype: str = "nvm") -> Path:
        directory = self.sys / "devices/virtual/nvme-subsystem" / ("nvme-subsys%d" % instance)
        directory.mkdir()
        _attributes(
            directory,
            subsysnqn=nqn,
            subsystype=subsystype,
            model="RDS".ljust(40),
            serial="1".ljust(20),
            firmware_rev="7.20".ljust(8),
            iopolicy="numa",
        )
        (self.sys / "class/nvme-subsystem" / directory.name).symlink_to(
            "../../devices/virtual/nvme-subsystem/%s" % directory.name
        )
        return directory

    def controller(
        self,
        instance: int,
        subsystem: int,
        *,
        state: str = "live",
        traddr: str = TARGET,
        trsvcid: str = "4420",
        hostnqn: str = HOSTNQN,
    ) -> Path:
        subsystem_dir = self.sys / "devices/virtual/nvme-subsystem" / ("nvme-subsys%d" % subsystem)
        name = "nvme%d" % instance
        directory = self.sys / "devices/virtual/nvme-fabrics/ctl" / name
        directory.mkdir()
        address = "traddr=%s,trsvcid=%s" % (traddr, trsvcid)
        if state == "live":
            address += ",src_addr=10.0.0.21"
        _attributes(
            directory,
            subsysnqn=(subsystem_dir / "subsysnqn").read_text().strip(),
            state=state,
            transport="tcp",
            address=address,
            hostnqn=hostnqn,
            hostid=HOSTID,
            cntlid="1",
            ctrl_loss_tmo="off",
            reconnect_delay="5",
            kato="5",
            dev="241:%d" % instance,
            model="RDS".ljust(40),
        )
        (self.sys / "class/nvme" / name).symlink_to("../../devices/virtual/nvme-fabrics/ctl/%s" % name)
        (subsystem_dir / name).symlink_to("../../nvme-fabrics/ctl/%s" % name)
        return directory

    def disk(self, parent: Path, name: str, nsid: int, dev: str = "", sectors: int = GIB_SECTORS) -> Path:
        """A namespace disk under a subsystem (head) or a controller; no ``dev`` makes it a hidden path."""
        directory = parent / name
        directory.mkdir()
        _attributes(directory, nsid=str(nsid), size=str(sectors), hidden="0" if dev else "1")
        (directory / "device").symlink_to("../../%s" % parent.name)
        (self.sys / "class/block" / name).symlink_to(os.path.relpath(directory, self.sys / "class/block"))
        if dev:
            (directory / "dev").write_text(dev + "\n")
            (self.sys / "dev/block" / dev).symlink_to(os.path.relpath(directory, self.sys / "dev/block"))
        return directory

    def node(self, name: str, dev: str) -> Path:
        """The ``/dev`` node of a disk: a real block device node with that MAJ:MIN (needs root)."""
        major, minor = (int(part) for part in dev.split(":"))
        path = self.dev / name
        os.mknod(path, stat.S_IFBLK | 0o600, os.makedev(major, minor))
        return path

    def set_state(self, controller: int, state: str) -> None:
        directory = self.sys / "devices/virtual/nvme-fabrics/ctl" / ("nvme%d" % controller)
        (directory / "state").write_text(state + "\n")


def _attributes(directory: Path, **values: str) -> None:
    for name, value in values.items():
        (directory / name).write_text(value + "\n")


@pytest.fixture
def sysfs(tmp_path: Path) -> FakeSysfs:
    return FakeSysfs(tmp_path)


def test_case_a_native_multipath_resolves_to_the_head_never_a_hidden_path(sysfs: FakeSysfs) -> None:
    subsystem = sysfs.subsystem(1, VOLUME_NQN)
    first = sysfs.controller(1, 1)
    second = sysfs.controller(2, 1, traddr="10.0.1.5")
    sysfs.disk(first, "nvme1c1n1", 1)
    sysfs.disk(second, "nvme1c2n1", 1)
    sysfs.disk(subsystem, "nvme1n1", 1, "259:2")
    device = resolve_device(sysfs.config, VOLUME_NQN)
    assert device is not None
    assert (device.name, device.path, device.major, device.minor) == ("nvme1n1", str(sysfs.dev / "nvme1n1"), 259, 2)
    assert device.size_bytes == 1024**3
    assert device.nsid == 1
    assert [namespace.name for namespace in resolve(sysfs.config, VOLUME_NQN).namespaces] == ["nvme1n1"]


def test_case_b_single_controller_subsystem_has_its_disk_under_the_controller(sysfs: FakeSysfs) -> None:
    # LIBTEST layout with renumbering: controller nvme0 in subsystem 1, disk named after the subsystem.
    sysfs.subsystem(1, VOLUME_NQN)
    controller = sysfs.controller(0, 1)
    sysfs.disk(controller, "nvme1n1", 1, "259:3")
    device = resolve_device(sysfs.config, VOLUME_NQN)
    assert device is not None and (device.name, device.dev) == ("nvme1n1", "259:3")


def test_case_c_multipath_off_names_the_disk_after_the_controller(sysfs: FakeSysfs) -> None:
    sysfs.subsystem(2, VOLUME_NQN)
    controller = sysfs.controller(3, 2)
    sysfs.disk(controller, "nvme3n1", 1, "259:7")
    device = resolve_device(sysfs.config, VOLUME_NQN)
    assert device is not None and (device.name, device.dev) == ("nvme3n1", "259:7")


def test_the_nsid_attribute_decides_not_the_name_suffix(sysfs: FakeSysfs) -> None:
    sysfs.subsystem(0, VOLUME_NQN)
    controller = sysfs.controller(0, 0)
    sysfs.disk(controller, "nvme0n1", 5, "259:0")
    sysfs.disk(controller, "nvme0n2", 1, "259:1")
    first = resolve_device(sysfs.config, VOLUME_NQN, nsid=1)
    fifth = resolve_device(sysfs.config, VOLUME_NQN, nsid=5)
    assert first is not None and first.name == "nvme0n2"
    assert fifth is not None and fifth.name == "nvme0n1"
    assert resolve_device(sysfs.config, VOLUME_NQN, nsid=2) is None


def test_other_subsystems_and_discovery_controllers_are_not_confused(sysfs: FakeSysfs) -> None:
    sysfs.subsystem(0, SYSTEM_NQN)
    sysfs.disk(sysfs.controller(0, 0), "nvme0n1", 1, "259:0")
    sysfs.subsystem(1, PREFIX)  # an NQN that is a prefix of the wanted one
    sysfs.disk(sysfs.controller(1, 1), "nvme1n1", 1, "259:1")
    sysfs.subsystem(2, VOLUME_NQN, subsystype="discovery")
    sysfs.controller(2, 2)
    assert resolve_device(sysfs.config, VOLUME_NQN) is None
    assert find_subsystem(sysfs.config, VOLUME_NQN) is None
    device = resolve_device(sysfs.config, SYSTEM_NQN)
    assert device is not None and device.name == "nvme0n1"


def test_controllers_and_addresses_are_read_as_the_kernel_writes_them(sysfs: FakeSysfs) -> None:
    sysfs.subsystem(0, VOLUME_NQN)
    sysfs.controller(0, 0)
    sysfs.controller(4, 0, state="connecting", traddr="fd00::5")
    subsystem = find_subsystem(sysfs.config, VOLUME_NQN)
    assert subsystem is not None and subsystem.name == "nvme-subsys0"
    live, connecting = subsystem.controllers
    assert (live.name, live.state, live.transport, live.host_nqn, live.host_id) == (
        "nvme0",
        "live",
        "tcp",
        HOSTNQN,
        HOSTID,
    )
    assert live.address == Address(traddr=TARGET, trsvcid="4420", src_addr="10.0.0.21")
    assert connecting.address == Address(traddr="fd00::5", trsvcid="4420")
    assert connecting.active and not connecting.live
    assert subsystem.path_to("FD00::5", "4420") == connecting
    assert subsystem.path_to(TARGET, "4421") is None
    assert [controller.name for controller in read_controllers(sysfs.config)] == ["nvme0", "nvme4"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("traddr=10.0.0.5,trsvcid=4420\n", Address("10.0.0.5", "4420")),
        (
            "traddr=10.131.0.225,trsvcid=4420,src_addr=10.131.0.2\n",
            Address("10.131.0.225", "4420", src_addr="10.131.0.2"),
        ),
        (
            "traddr=fe80::1,trsvcid=4420,host_traddr=fe80::2,host_iface=eth0,future=x,src_addr=fe80::2",
            Address("fe80::1", "4420", "fe80::2", "eth0", "fe80::2"),
        ),
        ("", Address()),
    ],
)
def test_addresses_parse_as_key_value_pairs_ignoring_unknown_keys(text: str, expected: Address) -> None:
    assert parse_address(text) == expected


def test_terminal_states_are_not_connections(sysfs: FakeSysfs) -> None:
    sysfs.subsystem(0, VOLUME_NQN)
    sysfs.controller(0, 0, state="deleting (no IO)")
    subsystem = find_subsystem(sysfs.config, VOLUME_NQN)
    assert subsystem is not None and not subsystem.connected
    assert subsystem.path_to(TARGET, "4420") is None


def test_resolution_is_never_cached_across_a_renumbering(sysfs: FakeSysfs) -> None:
    subsystem = sysfs.subsystem(0, VOLUME_NQN)
    old = sysfs.disk(sysfs.controller(0, 0), "nvme0n1", 1, "259:0")
    first = resolve_device(sysfs.config, VOLUME_NQN)
    (subsystem / "nvme0").unlink()
    for entry in old.iterdir():
        entry.unlink()
    old.rmdir()
    sysfs.disk(sysfs.controller(5, 0), "nvme0n2", 1, "259:9")
    second = resolve_device(sysfs.config, VOLUME_NQN)
    assert first is not None and first.name == "nvme0n1"
    assert second is not None and (second.name, second.dev) == ("nvme0n2", "259:9")


def test_the_device_node_must_be_the_same_block_device(sysfs: FakeSysfs) -> None:
    sysfs.subsystem(0, VOLUME_NQN)
    sysfs.disk(sysfs.controller(0, 0), "nvme0n1", 1, "259:0")
    waiting = resolve(sysfs.config, VOLUME_NQN)
    assert not waiting.ready
    assert waiting.node_problem == "%s does not exist yet" % (sysfs.dev / "nvme0n1")
    sysfs.node("nvme0n1", "259:4")
    stale = resolve(sysfs.config, VOLUME_NQN)
    assert stale.node_problem is not None and "is block device 259:4, not the disk's 259:0" in stale.node_problem
    (sysfs.dev / "nvme0n1").unlink()
    sysfs.node("nvme0n1", "259:0")
    ready = resolve(sysfs.config, VOLUME_NQN)
    assert ready.ready and ready.device is not None
    assert node_problem(replace(ready.device, path=str(sysfs.root))) == "%s is not a block device" % sysfs.root


@pytest.mark.parametrize(
    ("build", "seen"),
    [
        (lambda sysfs: None, "no subsystem with this NQN is connected"),
        (lambda sysfs: sysfs.subsystem(0, VOLUME_NQN), "subsystem nvme-subsys0 has no controllers left"),
        (
            lambda sysfs: (sysfs.subsystem(0, VOLUME_NQN), sysfs.controller(3, 0, state="connecting")),
            "controllers nvme3 connecting (tcp 10.0.0.5:4420); no namespace disk yet",
        ),
        (
            lambda sysfs: (
                sysfs.subsystem(0, VOLUME_NQN),
                sysfs.disk(sysfs.controller(0, 0), "nvme0n1", 2, "259:0"),
            ),
            "no disk with nsid 1 among nvme0n1 (nsid 2)",
        ),
    ],
)
def test_what_was_seen_is_described_for_errors(sysfs: FakeSysfs, build: object, seen: str) -> None:
    assert callable(build)
    build(sysfs)
    assert seen in resolve(sysfs.config, VOLUME_NQN).describe()


def test_orphans_are_managed_connected_subsystems_without_a_disk(sysfs: FakeSysfs) -> None:
    sysfs.subsystem(0, SYSTEM_NQN)
    sysfs.controller(0, 0)  # a system volume without a disk: outside the prefix, never an orphan
    sysfs.subsystem(1, VOLUME_NQN)
    sysfs.controller(1, 1)
    sysfs.subsystem(2, OTHER_NQN)
    sysfs.disk(sysfs.controller(2, 2), "nvme2n1", 1, "259:2")
    sysfs.subsystem(3, PREFIX + "leftover")  # no controllers: nothing to disconnect
    orphans = find_orphans(sysfs.config, PREFIX)
    assert [(orphan.name, orphan.nqn) for orphan in orphans] == [("nvme-subsys1", VOLUME_NQN)]
    assert [subsystem.nqn for subsystem in read_subsystems(sysfs.config, PREFIX)] == [
        VOLUME_NQN,
        OTHER_NQN,
        PREFIX + "leftover",
    ]


def test_a_host_without_nvme_modules_has_nothing_connected(tmp_path: Path) -> None:
    config = NvmeHostConfig(sysfs_root=str(tmp_path))
    assert read_controllers(config) == []
    assert resolve(config, VOLUME_NQN).describe() == "no subsystem with this NQN is connected"
    assert find_orphans(config, PREFIX) == []


def test_a_device_number_leads_back_to_its_nqn_through_heads_and_controllers(sysfs: FakeSysfs) -> None:
    head_subsystem = sysfs.subsystem(1, VOLUME_NQN)
    sysfs.disk(sysfs.controller(1, 1), "nvme1c1n1", 1)
    sysfs.disk(head_subsystem, "nvme1n1", 1, "259:2")
    sysfs.subsystem(0, OTHER_NQN)
    sysfs.disk(sysfs.controller(0, 0), "nvme0n1", 1, "259:3")
    assert block_device_nqn(sysfs.config, 259, 2) == VOLUME_NQN
    assert block_device_nqn(sysfs.config, 259, 3) == OTHER_NQN
    assert block_device_nqn(sysfs.config, 259, 9) is None  # the device of a stale mount is gone
