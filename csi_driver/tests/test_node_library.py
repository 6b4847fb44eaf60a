"""The mount side of the node library on real loop devices (root): mountinfo, probe, mkfs, mount,
bind, mknod, grow, check, in-use. Pure rules (mountinfo parsing, mount option policy) table-driven."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils import (
    mount_policy,
    node_devices,
    node_filesystems,
    node_mounts,
)
from ansible_collections.srvlab.rds.plugins.module_utils.node_mounts import DeviceNumber, Mounter
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import InvalidValueError

MIB = 1024**2
CAP_SYS_RESOURCE = 24


def has_sys_resource() -> bool:
    """ext4's online resize ioctl needs CAP_SYS_RESOURCE, which some sandboxes drop even for root."""
    status = Path("/proc/self/status").read_text()
    effective = int(status.split("CapEff:")[1].split()[0], 16)
    return bool(effective >> CAP_SYS_RESOURCE & 1)


# Pure rules


def test_mountinfo_line_with_optional_fields_and_escapes() -> None:
    line = r"36 35 259:2 /sub /mnt/mi\040test/tab\011dir rw,noatime shared:1 master:2 - ext4 my\040src\134x rw,errors=c"
    entry = node_mounts.parse_line(line)
    assert entry == node_mounts.MountEntry(
        mount_id=36,
        parent_id=35,
        device=DeviceNumber(259, 2),
        root="/sub",
        mount_point="/mnt/mi test/tab\tdir",
        options=("rw", "noatime"),
        fstype="ext4",
        source="my src\\x",
        super_options=("rw", "errors=c"),
    )
    assert not entry.read_only


def test_mountinfo_without_optional_fields_and_garbage() -> None:
    entry = node_mounts.parse_line("40 1 0:6 /null /t/file ro,relatime - devtmpfs devtmpfs rw,size=10k")
    assert entry.read_only and entry.fstype == "devtmpfs" and entry.root == "/null"
    assert node_mounts.device_node_binds([entry], "null") == [entry]
    with pytest.raises(node_mounts.MountError, match="Cannot parse"):
        node_mounts.parse_line("40 1 0:6 /null /t/file ro no-separator")


def test_mountinfo_deadline_is_enforced() -> None:
    with pytest.raises(node_mounts.MountTableTimeout, match="mount storm"):
        node_mounts.read_mountinfo(timeout=0.0)
    assert node_mounts.read_mountinfo(), "the real table of this namespace parses"


def test_mount_storm_limit() -> None:
    device = DeviceNumber(259, 7)
    entries = [node_mounts.parse_line("%d 1 259:7 / /m%d rw - ext4 /dev/x rw" % (n, n)) for n in range(99)]
    node_mounts.check_storm(entries, device, "stage")
    entries.append(node_mounts.parse_line("999 1 259:7 / /m999 rw - ext4 /dev/x rw"))
    with pytest.raises(node_mounts.MountStormError, match="100 mount entries"):
        node_mounts.check_storm(entries, device, "stage")
    node_mounts.check_storm(entries, DeviceNumber(259, 8), "stage")


@pytest.mark.parametrize(
    ("fstype", "requested", "expected"),
    [
        (
            "ext4",
            ["discard", "noatime,nodiratime", "errors=remount-ro"],
            ["discard", "noatime", "nodiratime", "errors=remount-ro"],
        ),
        ("ext4", ["noatime", "noatime"], ["noatime"]),
        ("xfs", ["discard"], ["discard", "nouuid"]),
        ("xfs", ["nouuid", "logbsize=256k"], ["nouuid", "logbsize=256k"]),
        ("ext4", [], []),
    ],
)
def test_mount_policy_accepts_safe_options(fstype: str, requested: list[str], expected: list[str]) -> None:
    assert mount_policy.check_options(fstype, requested) == expected


@pytest.mark.parametrize(
    ("fstype", "option"),
    [
        ("ext4", "suid"),
        ("ext4", "dev"),
        ("ext4", "defaults"),
        ("ext4", "remount"),
        ("ext4", "bind"),
        ("ext4", "rshared"),
        ("ext4", "make-private"),
        ("ext4", "x-systemd.automount"),
        ("ext4", "loop"),
        ("ext4", "nobarrier"),
        ("ext4", "barrier=0"),
        ("ext4", "errors=panic"),
        ("ext4", "data=writeback"),
        ("xfs", "nobarrier"),
        ("xfs", "user"),
        ("xfs", "errors=remount-ro"),
    ],
)
def test_mount_policy_refuses_dangerous_options(fstype: str, option: str) -> None:
    with pytest.raises(InvalidValueError, match="Mount option %r is not allowed" % option):
        mount_policy.check_options(fstype, ["noatime", option])


def test_mount_policy_refuses_ro_and_rw() -> None:
    with pytest.raises(InvalidValueError, match="both ro and rw"):
        mount_policy.check_options("ext4", ["ro", "rw"])


# Real devices


@pytest.fixture
def mount_dirs(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    made: list[Path] = []

    def make(name: str) -> str:
        path = tmp_path / name
        path.mkdir()
        made.append(path)
        return str(path)

    yield make


def test_probe_blank_then_format_then_found(loop_device: Callable[[int], str], runner: Any) -> None:
    device = loop_device(64 * MIB)
    content = node_filesystems.probe(device, runner)
    assert content.blank and content.size == 64 * MIB
    node_filesystems.format_blank(device, "ext4", content, runner)
    found = node_filesystems.probe(device, runner)
    assert (found.fstype, found.blank) == ("ext4", False)
    with pytest.raises(node_filesystems.FilesystemError, match="never formatted over"):
        node_filesystems.format_blank(device, "xfs", found, runner)


def test_probe_sees_partition_table_as_not_blank(loop_device: Callable[[int], str], runner: Any) -> None:
    device = loop_device(16 * MIB)
    with open(device, "r+b") as handle:
        entry = bytes([0, 0, 0, 0, 0x83, 0, 0, 0]) + (2048).to_bytes(4, "little") + (8192).to_bytes(4, "little")
        handle.seek(446)
        handle.write(entry)
        handle.seek(510)
        handle.write(b"\x55\xaa")
    content = node_filesystems.probe(device, runner)
    assert not content.blank and content.fstype == "" and "PTTYPE=dos" in content.signature


def test_unreadable_device_is_never_formatted(tmp_path: Path, runner: Any) -> None:
    """P-11.4: blkid -p exits 2 ("nothing found") for a node whose device does not exist; the probe
    must not read that as blank."""
    node = tmp_path / "gone"
    os.mknod(node, stat.S_IFBLK | 0o600, os.makedev(8, 250))  # a SCSI disk this machine does not have
    blkid = runner.run(["blkid", "-p", "-o", "export", str(node)])
    assert blkid.returncode == 2, "the trap this test guards against: blkid says 'nothing found'"
    with pytest.raises(node_filesystems.ProbeError, match="not formatted"):
        node_filesystems.probe(str(node), runner)


def test_empty_device_is_never_formatted(loop_device: Callable[[int], str], runner: Any) -> None:
    """A loop device of size 0 (a namespace not ready) also makes blkid -p exit 2."""
    device = loop_device(0)
    assert runner.run(["blkid", "-p", device]).returncode == 2
    with pytest.raises(node_filesystems.ProbeError, match="size 0"):
        node_filesystems.probe(device, runner)
    assert not node_devices.exclusive_open_refused(device)


def test_gone_device_is_not_held(tmp_path: Path) -> None:
    node = tmp_path / "gone"
    os.mknod(node, stat.S_IFBLK | 0o600, os.makedev(8, 250))
    assert not node_devices.exclusive_open_refused(str(node)), "ENXIO: nothing can hold a device that is gone"


@pytest.mark.parametrize("fstype", ["ext4", "xfs"])
def test_mount_bind_read_only_grow_and_in_use(
    fstype: str, loop_device: Callable[[int], str], runner: Any, mount_dirs: Callable[[str], str], tmp_path: Path
) -> None:
    device = loop_device(320 * MIB)
    number = DeviceNumber.of_node(device)
    node_filesystems.format_blank(device, fstype, node_filesystems.probe(device, runner), runner)
    assert node_filesystems.check_read_only(device, fstype, runner) is None
    staging, target = mount_dirs("staging"), mount_dirs("target")
    mounter = Mounter(runner)
    mounter.mount(device, staging, fstype, mount_policy.check_options(fstype, ["noatime"]))
    mounter.bind(staging, target, read_only=True)
    entries = node_mounts.read_mountinfo()
    assert sorted(entry.mount_point for entry in node_mounts.mounts_of_device(entries, number)) == [staging, target]
    assert node_mounts.mounts_at(entries, target)[0].read_only
    with pytest.raises(OSError) as refused:
        Path(target, "file").write_text("x")
    assert refused.value.errno == errno.EROFS
    Path(staging, "file").write_text("data")
    assert Path(target, "file").read_text() == "data"

    usage = node_devices.usage(device, number, entries, ["/sys"])
    assert usage.in_use and usage.exclusive_open_refused and staging in usage.mount_points

    backing = tmp_path / "loop-0.img"
    os.truncate(backing, 640 * MIB)
    subprocess.run(["losetup", "--set-capacity", device], check=True, timeout=30)
    before = os.statvfs(staging)
    if fstype == "ext4" and not has_sys_resource():
        with pytest.raises(node_filesystems.FilesystemError, match="needs CAP_SYS_RESOURCE"):
            node_filesystems.grow(device, staging, fstype, runner)
    else:
        node_filesystems.grow(device, staging, fstype, runner)
        after = os.statvfs(staging)
        assert after.f_blocks * after.f_frsize > 1.8 * before.f_blocks * before.f_frsize

    mounter.unmount(target)
    mounter.unmount(staging)
    free = node_devices.usage(device, number, node_mounts.read_mountinfo(), ["/sys"])
    assert not free.in_use, free.describe()
    assert node_filesystems.check_read_only(device, fstype, runner) is None


def test_corrupt_ext4_is_reported(loop_device: Callable[[int], str], runner: Any) -> None:
    device = loop_device(64 * MIB)
    node_filesystems.format_blank(device, "ext4", node_filesystems.probe(device, runner), runner)
    subprocess.run(["debugfs", "-w", "-R", "clri <2>", device], check=True, capture_output=True, timeout=30)
    with pytest.raises(node_filesystems.CorruptFilesystemError, match="e2fsck"):
        node_filesystems.check_read_only(device, "ext4", runner)


def test_unclean_journal_is_not_corruption(loop_device: Callable[[int], str], runner: Any) -> None:
    """P-8.5: after a crash the journal needs replay and e2fsck -n reports problems the replay fixes;
    that is left to the mount, not refused as corruption."""
    device = loop_device(64 * MIB)
    node_filesystems.format_blank(device, "ext4", node_filesystems.probe(device, runner), runner)
    for request in ("feature needs_recovery", "clri <2>"):
        subprocess.run(["debugfs", "-w", "-R", request, device], check=True, capture_output=True, timeout=30)
    assert not runner.run(["e2fsck", "-n", "-f", device]).ok
    note = node_filesystems.check_read_only(device, "ext4", runner)
    assert note is not None and "journal" in note


def test_holders_are_seen(loop_device: Callable[[int], str], tmp_path: Path) -> None:
    """This machine has no device-mapper, so the holder (a dm device stacked on the loop) is written
    into a sysfs tree the way the kernel shows it; the real /sys shows none."""
    device = loop_device(16 * MIB)
    number = DeviceNumber.of_node(device)
    sysfs = tmp_path / "sys"
    (sysfs / "dev" / "block" / str(number) / "holders").mkdir(parents=True)
    (sysfs / "dev" / "block" / str(number) / "holders" / "dm-3").symlink_to("../../../../devices/virtual/block/dm-3")
    entries = node_mounts.read_mountinfo()
    assert not node_devices.usage(device, number, entries, ["/sys"]).in_use
    usage = node_devices.usage(device, number, entries, ["/sys", str(sysfs)])
    assert usage.holders == ["dm-3"] and usage.describe() == "held by dm-3"


def test_block_node_is_made_and_kept(loop_device: Callable[[int], str], tmp_path: Path) -> None:
    device = loop_device(16 * MIB)
    number = DeviceNumber.of_node(device)
    target = tmp_path / "block-target"
    target.touch()  # the CO may create the file itself
    for _attempt in range(3):
        node_mounts.make_block_node(str(target), number)
        status = target.stat()
        assert stat.S_ISBLK(status.st_mode) and status.st_rdev == os.makedev(number.major, number.minor)
    assert not node_mounts.device_node_binds(node_mounts.read_mountinfo(), os.path.basename(device))
    other = tmp_path / "not-empty"
    other.write_text("keep me")
    with pytest.raises(node_mounts.MountError, match="already exists"):
        node_mounts.make_block_node(str(other), number)
    assert other.read_text() == "keep me"
