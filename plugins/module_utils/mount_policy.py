# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node side: which mount options a volume may ask for (P-6.9). Pure functions, no I/O.

An allow-list, not a deny-list: an option nobody reviewed is refused with its name, so a new
dangerous one cannot slip through. Refused on purpose:

- ``suid``, ``dev``, ``defaults`` (implies both), ``user``/``users``/``owner``/``group``: a volume
  must not bring set-uid programs or device nodes into the node, nor let users mount it;
- ``remount``, ``bind``/``rbind``, ``move``, and the propagation flags (``shared``, ``private``,
  ``slave``, ``unbindable`` and their ``r``/``make-`` forms): they change other mounts;
- ``x-*`` (userspace options that helpers act on), ``loop``, ``offset``, ``sizelimit``;
- ``nobarrier`` / ``barrier=0``: data loss on power failure, and xfs refuses it since Linux 4.19;
- ``errors=panic``: a volume's corruption would take the whole node down;
- ``data=writeback``: may expose stale data of other files after a crash.

xfs mounts always get ``nouuid``: a restored snapshot or a clone carries its source's UUID, and xfs
refuses to mount a second filesystem with the same UUID on one node.

Stays compatible with Python 3.9 and the standard library: it runs on nodes.
"""

from __future__ import annotations

import re
from typing import Dict, FrozenSet, List, Pattern, Sequence

from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import InvalidValueError

COMMON_FLAGS = frozenset(
    {
        "ro",
        "rw",
        "discard",
        "nodiscard",
        "noatime",
        "nodiratime",
        "relatime",
        "norelatime",
        "strictatime",
        "lazytime",
        "nolazytime",
        "nosuid",
        "nodev",
        "noexec",
        "exec",
        "sync",
        "async",
        "dirsync",
    }
)
FS_FLAGS: Dict[str, FrozenSet[str]] = {
    "ext4": frozenset({"acl", "noacl", "user_xattr", "nouser_xattr", "barrier", "noload", "nodelalloc", "delalloc"}),
    "xfs": frozenset({"nouuid", "inode64", "inode32", "largeio", "nolargeio", "noquota", "attr2", "noattr2"})
    | frozenset({"usrquota", "grpquota", "prjquota", "uquota", "gquota", "pquota"}),
}
_NUMBER = re.compile(r"[0-9]{1,9}\Z")
_SIZE = re.compile(r"[0-9]{1,9}[kmgKMG]?\Z")
FS_VALUES: Dict[str, Dict[str, Pattern[str]]] = {
    "ext4": {
        "errors": re.compile(r"(remount-ro|continue)\Z"),
        "data": re.compile(r"(ordered|journal)\Z"),
        "commit": _NUMBER,
        "stripe": _NUMBER,
        "barrier": re.compile(r"1\Z"),
        "max_batch_time": _NUMBER,
        "min_batch_time": _NUMBER,
        "journal_ioprio": re.compile(r"[0-7]\Z"),
    },
    "xfs": {
        "allocsize": _SIZE,
        "logbufs": _NUMBER,
        "logbsize": _SIZE,
        "sunit": _NUMBER,
        "swidth": _NUMBER,
    },
}
ALWAYS: Dict[str, Sequence[str]] = {"xfs": ("nouuid",)}


def check_options(fstype: str, options: Sequence[str]) -> List[str]:
    """The options to mount with: the requested ones, checked, in order, plus the ones this
    filesystem always gets. InvalidValueError names the first refused option and why."""
    allowed_flags = COMMON_FLAGS | FS_FLAGS.get(fstype, frozenset())
    allowed_values = FS_VALUES.get(fstype, {})
    accepted: List[str] = []
    for raw in options:
        for option in (part.strip() for part in raw.split(",")):
            if not option:
                continue
            name, has_value, value = option.partition("=")
            if has_value:
                pattern = allowed_values.get(name)
                if pattern is None or not pattern.match(value):
                    raise InvalidValueError(_refusal(option, fstype))
            elif option not in allowed_flags:
                raise InvalidValueError(_refusal(option, fstype))
            if option not in accepted:
                accepted.append(option)
    if "ro" in accepted and "rw" in accepted:
        raise InvalidValueError("Mount options ask for both ro and rw; use one of them.")
    for option in ALWAYS.get(fstype, ()):
        if option not in accepted:
            accepted.append(option)
    return accepted


def _refusal(option: str, fstype: str) -> str:
    return (
        "Mount option %r is not allowed for %s volumes: only reviewed safe options are accepted (such as "
        "discard, noatime, nodiratime, errors=remount-ro); options that change other mounts (remount, bind, "
        "propagation), allow set-uid programs or device nodes (suid, dev, defaults), weaken durability "
        "(nobarrier) or act outside the mount (x-*, loop) are refused. Remove it from the StorageClass "
        "mountOptions or the PersistentVolume." % (option, fstype or "block")
    )
