# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node side: what is on a block device, formatting only a positively blank one, growing, checking.

P-11.4: the system this replaces read a ``blkid`` exit code as "unformatted" and formatted a volume
that held data. ``blkid -p`` exits 2 both for "no signature found" and for a device it could not
open (checked: a node of a missing device, ENXIO). So :func:`probe` first reads the device itself
(start and end); only a readable device of non-zero size on which ``blkid -p`` then finds no
signature at all (no filesystem, no partition table, no RAID or crypto header) is BLANK. Every
other outcome raises :class:`ProbeError`, and nothing formats a device without a BLANK answer.

Stays compatible with Python 3.9 and the standard library: it runs on nodes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, Optional

from ansible_collections.srvlab.rds.plugins.module_utils.library_errors import ErrorFamily, LibraryError
from ansible_collections.srvlab.rds.plugins.module_utils.node_commands import CommandResult, CommandRunner

SUPPORTED = ("ext4", "xfs")
PROBE_TIMEOUT = 30.0
MKFS_TIMEOUT = 600.0
GROW_TIMEOUT = 600.0
CHECK_TIMEOUT = 300.0
_PROBE_BYTES = 64 * 1024
_BLKID_NOTHING_FOUND = 2


class FilesystemError(LibraryError):
    """mkfs, grow or a filesystem check failed."""


class ProbeError(FilesystemError):
    """The device's content could not be determined: it is never formatted."""

    family = ErrorFamily.UNAVAILABLE


class CorruptFilesystemError(FilesystemError):
    """A read-only check found errors (P-8.5): the volume is not mounted until repaired."""

    family = ErrorFamily.PRECONDITION


@dataclass(frozen=True)
class Content:
    """What a probe found. ``fstype`` is empty on a blank device; ``signature`` names any other
    signature (``PTTYPE=gpt``, ``TYPE=LVM2_member``...) that makes a device not blank."""

    fstype: str
    signature: str
    size: int

    @property
    def blank(self) -> bool:
        return not self.signature


def device_size(device: str) -> int:
    """Size in bytes of a readable block device (or file); ProbeError when it cannot be opened."""
    try:
        handle = os.open(device, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as error:
        raise ProbeError("Cannot open %s to probe it: %s; it is not formatted." % (device, error.strerror)) from error
    try:
        return os.lseek(handle, 0, os.SEEK_END)
    finally:
        os.close(handle)


def _read_both_ends(device: str) -> int:
    """Read the first and last bytes of the device; the size, or ProbeError."""
    try:
        handle = os.open(device, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as error:
        raise ProbeError("Cannot open %s to probe it: %s; it is not formatted." % (device, error.strerror)) from error
    try:
        size = os.lseek(handle, 0, os.SEEK_END)
        if size <= 0:
            raise ProbeError("%s reports size 0 (namespace not ready or gone); it is not formatted." % device)
        for offset in (0, max(0, size - _PROBE_BYTES)):
            if not os.pread(handle, min(_PROBE_BYTES, size), offset):
                raise ProbeError("Reading %s at offset %d returned nothing; it is not formatted." % (device, offset))
        return size
    except OSError as error:
        raise ProbeError("Cannot read %s: %s; it is not formatted." % (device, error.strerror)) from error
    finally:
        os.close(handle)


def probe(device: str, runner: CommandRunner) -> Content:
    """What is on ``device``; ProbeError unless the answer is certain."""
    size = _read_both_ends(device)
    result = runner.run(["blkid", "-p", "-o", "export", device], timeout=PROBE_TIMEOUT)
    if result.returncode == _BLKID_NOTHING_FOUND and not result.stdout.strip():
        # Re-read: a device that vanished during blkid must not pass as blank.
        _read_both_ends(device)
        return Content(fstype="", signature="", size=size)
    if not result.ok:
        raise ProbeError("Cannot probe %s (%s); it is not formatted." % (device, _output(result)))
    found = _export_values(result.stdout)
    fstype = found.get("TYPE", "")
    if fstype and found.get("USAGE", "filesystem") == "filesystem":
        return Content(fstype=fstype, signature="TYPE=" + fstype, size=size)
    signature = ", ".join("%s=%s" % (key, found[key]) for key in ("TYPE", "PTTYPE", "USAGE") if key in found)
    if not signature:
        raise ProbeError("blkid found something on %s it did not name: %r; it is not formatted." % (device, found))
    return Content(fstype="", signature=signature, size=size)


def _output(result: CommandResult) -> str:
    """The command and everything it printed, on one line (the first line is often only a banner)."""
    lines = [line.strip() for line in (result.stderr + "\n" + result.stdout).splitlines() if line.strip()]
    return "%s exited %d: %s" % (" ".join(result.argv), result.returncode, "; ".join(lines) or "no output")


def _export_values(text: str) -> Dict[str, str]:
    values = {}
    for line in text.splitlines():
        key, separator, value = line.partition("=")
        if separator:
            values[key.strip()] = value.strip()
    return values


def format_blank(device: str, fstype: str, content: Content, runner: CommandRunner) -> None:
    """mkfs on a device that :func:`probe` found blank; refuses anything else."""
    if fstype not in SUPPORTED:
        raise FilesystemError("Filesystem %r is not supported; use one of %s." % (fstype, ", ".join(SUPPORTED)))
    if not content.blank:
        raise FilesystemError("%s holds %s; it is never formatted over." % (device, content.signature))
    # No force flag: mkfs.xfs then refuses a device that holds any signature, a second guard.
    argv = ["mkfs.ext4", "-q", device] if fstype == "ext4" else ["mkfs.xfs", "-q", device]
    result = runner.run(argv, timeout=MKFS_TIMEOUT)
    if not result.ok:
        raise FilesystemError("Cannot create %s on %s: %s." % (fstype, device, _output(result)))


def grow(device: str, mount_point: str, fstype: str, runner: CommandRunner) -> None:
    """Grow a mounted filesystem to the size of its device (online)."""
    if fstype == "ext4":
        argv = ["resize2fs", device]
    elif fstype == "xfs":
        argv = ["xfs_growfs", "-d", mount_point]
    else:
        raise FilesystemError("Cannot grow filesystem %r on %s; only ext4 and xfs are supported." % (fstype, device))
    result = runner.run(argv, timeout=GROW_TIMEOUT)
    if not result.ok:
        advice = ""
        if "Permission denied to resize" in result.stderr:
            advice = (
                " The kernel refused the online resize: the node plugin needs CAP_SYS_RESOURCE (run its container "
                "privileged)."
            )
        raise FilesystemError("Cannot grow %s on %s: %s.%s" % (fstype, device, _output(result), advice))


def check_read_only(device: str, fstype: str, runner: CommandRunner) -> Optional[str]:
    """A read-only consistency check of an unmounted filesystem before mounting it (P-8.5).

    Returns None when clean, or a note when the check was skipped because the journal/log needs
    replay (after a crash: the mount replays it, so it is not corruption). Raises
    CorruptFilesystemError when the check finds errors. The caller makes sure nothing mounts the
    device: a check of a mounted filesystem reports false errors.
    """
    if fstype == "ext4":
        result = runner.run(["e2fsck", "-n", "-f", device], timeout=CHECK_TIMEOUT)
        output = result.stdout + result.stderr
        if result.ok:
            return None
        if "recovery" in output and "journal" in output:
            return "ext4 journal needs recovery; the mount replays it"
    elif fstype == "xfs":
        result = runner.run(["xfs_repair", "-n", device], timeout=CHECK_TIMEOUT)
        output = result.stdout + result.stderr
        if result.ok:
            return None
        if result.returncode == 2 and "log" in output:
            return "xfs log needs replay; the mount replays it"
    else:
        return "no read-only check for %s" % fstype
    raise CorruptFilesystemError(
        "The %s filesystem on %s has errors (%s); it is not mounted. Repair it with %s, then retry."
        % (fstype, device, _output(result), "e2fsck" if fstype == "ext4" else "xfs_repair")
    )
