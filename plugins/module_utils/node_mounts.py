# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node side: the mount table and the mount operations of the node service (P-6, P-8.3).

``/proc/self/mountinfo`` is read and parsed within a deadline (10 s by default): with thousands of
mounts (a mount storm) reading it can take long, and a stage must fail rather than hang. Mounts of a
block device are found by ``MAJ:MIN`` (field 3), which catches every path and bind mount of it;
source paths are never trusted (NVME_HOST.md §4).

Every program runs through a :class:`CommandRunner` (timeouts). Stays compatible with Python 3.9
and the standard library: it runs on nodes.
"""

from __future__ import annotations

import os
import re
import stat
import time
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from ansible_collections.srvlab.rds.plugins.module_utils.library_errors import ErrorFamily, LibraryError
from ansible_collections.srvlab.rds.plugins.module_utils.node_commands import CommandRunner

MOUNTINFO = "/proc/self/mountinfo"
MOUNTINFO_DEADLINE = 10.0
# P-8.3: more mounts than this of one source is a storm; the driver refuses to add to it.
MOUNT_STORM_LIMIT = 100
MOUNT_TIMEOUT = 60.0
_OCTAL = re.compile(r"\\([0-7]{3})")
_CHUNK = 1 << 16


class MountError(LibraryError):
    """A mount, bind mount, remount, unmount or device node operation failed."""


class MountTableTimeout(MountError):
    """The mount table could not be read and parsed within the deadline."""

    family = ErrorFamily.UNAVAILABLE


class MountStormError(MountError):
    """A source already has too many mount entries (P-8.3); nothing more is mounted on it."""

    family = ErrorFamily.LIMIT


@dataclass(frozen=True)
class DeviceNumber:
    major: int
    minor: int

    def __str__(self) -> str:
        return "%d:%d" % (self.major, self.minor)

    @classmethod
    def parse(cls, text: str) -> DeviceNumber:
        major, minor = text.strip().split(":")
        return cls(int(major), int(minor))

    @classmethod
    def of_node(cls, path: str) -> DeviceNumber:
        """The number of a block device node; MountError when ``path`` is not one."""
        try:
            status = os.stat(path)
        except OSError as error:
            raise MountError("Cannot stat the device node %s: %s." % (path, error.strerror)) from error
        if not stat.S_ISBLK(status.st_mode):
            raise MountError("%s is not a block device node." % path)
        return cls(os.major(status.st_rdev), os.minor(status.st_rdev))


@dataclass(frozen=True)
class MountEntry:
    """One line of mountinfo, with the escaped fields decoded."""

    mount_id: int
    parent_id: int
    device: DeviceNumber
    root: str
    mount_point: str
    options: Tuple[str, ...]
    fstype: str
    source: str
    super_options: Tuple[str, ...]

    @property
    def read_only(self) -> bool:
        return "ro" in self.options


def unescape(field: str) -> str:
    """Decode mountinfo's ``\\NNN`` octal escapes (space, tab, newline, backslash)."""
    return _OCTAL.sub(lambda match: chr(int(match.group(1), 8)), field)


def parse_line(line: str) -> MountEntry:
    fields = line.split(" ")
    try:
        separator = fields.index("-", 6)
        return MountEntry(
            mount_id=int(fields[0]),
            parent_id=int(fields[1]),
            device=DeviceNumber.parse(fields[2]),
            root=unescape(fields[3]),
            mount_point=unescape(fields[4]),
            options=tuple(fields[5].split(",")),
            fstype=unescape(fields[separator + 1]),
            source=unescape(fields[separator + 2]),
            super_options=tuple(fields[separator + 3].split(",")) if len(fields) > separator + 3 else (),
        )
    except (ValueError, IndexError) as error:
        raise MountError("Cannot parse the mountinfo line %r: %s." % (line, error)) from error


def parse_mountinfo(text: str, deadline: Optional[float] = None) -> List[MountEntry]:
    """Parse mountinfo text; ``deadline`` is a ``time.monotonic()`` value checked as lines are parsed."""
    entries: List[MountEntry] = []
    for number, line in enumerate(text.splitlines()):
        if deadline is not None and number % 1024 == 0 and time.monotonic() > deadline:
            raise MountTableTimeout(_timeout_message(len(entries)))
        if line:
            entries.append(parse_line(line))
    return entries


def read_mountinfo(path: str = MOUNTINFO, timeout: float = MOUNTINFO_DEADLINE) -> List[MountEntry]:
    """The mount table of this process's mount namespace, read and parsed within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    chunks = []
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                break
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise MountTableTimeout(_timeout_message(None))
    return parse_mountinfo(b"".join(chunks).decode("utf-8", "surrogateescape"), deadline)


def _timeout_message(parsed: Optional[int]) -> str:
    seen = "" if parsed is None else " (%d entries parsed)" % parsed
    return (
        "The mount table was not read within %g s%s; the node may have a mount storm. Check the number of "
        "lines in /proc/self/mountinfo and remove duplicate mounts by hand." % (MOUNTINFO_DEADLINE, seen)
    )


def mounts_of_device(entries: Sequence[MountEntry], device: DeviceNumber) -> List[MountEntry]:
    """Every mount of the filesystem on ``device``: the staging mount and every bind mount of it."""
    return [entry for entry in entries if entry.device == device]


def mounts_at(entries: Sequence[MountEntry], mount_point: str) -> List[MountEntry]:
    """Entries mounted exactly at ``mount_point`` (stacked mounts give several)."""
    wanted = os.path.normpath(mount_point)
    return [entry for entry in entries if entry.mount_point == wanted]


def device_node_binds(entries: Sequence[MountEntry], device_name: str) -> List[MountEntry]:
    """Bind mounts of the ``/dev/<device_name>`` node itself (how other drivers publish raw block)."""
    return [entry for entry in entries if entry.fstype == "devtmpfs" and entry.root == "/" + device_name]


def check_storm(entries: Sequence[MountEntry], device: DeviceNumber, what: str) -> None:
    """Refuse to add a mount of ``device`` when it already has MOUNT_STORM_LIMIT entries (P-8.3)."""
    count = len(mounts_of_device(entries, device))
    if count >= MOUNT_STORM_LIMIT:
        raise MountStormError(
            "%s: device %s already has %d mount entries (limit %d), a mount storm; nothing more is mounted. "
            "Inspect /proc/self/mountinfo and unmount the duplicates by hand."
            % (what, device, count, MOUNT_STORM_LIMIT)
        )


class Mounter:
    """mount(8) and umount(8) through the command runner; device nodes with mknod(2)."""

    def __init__(self, runner: CommandRunner, timeout: float = MOUNT_TIMEOUT) -> None:
        self.runner = runner
        self.timeout = timeout

    def mount(self, source: str, target: str, fstype: str, options: Sequence[str]) -> None:
        argv = ["mount", "-t", fstype]
        if options:
            argv += ["-o", ",".join(options)]
        self._run([*argv, source, target], "mount %s at %s" % (source, target))

    def bind(self, source: str, target: str, read_only: bool) -> None:
        """Bind ``source`` at ``target``; a read-only bind is remounted ``ro`` (a bind ignores ``-o ro``
        on older util-linux and kernels, so the remount is what makes it read-only)."""
        self._run(["mount", "--bind", source, target], "bind mount %s at %s" % (source, target))
        if read_only:
            try:
                self._run(["mount", "-o", "remount,bind,ro", target], "remount %s read-only" % target)
            except MountError:
                self.unmount(target)
                raise

    def unmount(self, target: str) -> None:
        self._run(["umount", target], "unmount %s" % target)

    def _run(self, argv: List[str], what: str) -> None:
        result = self.runner.run(argv, timeout=self.timeout)
        if not result.ok:
            raise MountError("Cannot %s: %s." % (what, result.describe()))


def make_block_node(path: str, device: DeviceNumber, mode: int = 0o660) -> None:
    """Create a block device node at ``path`` (raw block publish, never a bind mount: P-11.1).

    An existing node of the same device is kept; anything else at ``path`` is an error the caller
    reports, never replaced (it may be a CO's file).
    """
    try:
        os.mknod(path, stat.S_IFBLK | mode, os.makedev(device.major, device.minor))
        return
    except FileExistsError:
        pass
    except OSError as error:
        raise MountError("Cannot create the block device node %s (%s): %s." % (path, device, error.strerror)) from error
    existing = os.lstat(path)
    if stat.S_ISBLK(existing.st_mode) and existing.st_rdev == os.makedev(device.major, device.minor):
        return
    if stat.S_ISREG(existing.st_mode) and existing.st_size == 0:
        # The CO (or csi-sanity) may create the target file itself: replace an empty regular file.
        os.unlink(path)
        make_block_node(path, device, mode)
        return
    raise MountError(
        "%s already exists and is not the block device node of %s; remove it or use another target path."
        % (path, device)
    )
