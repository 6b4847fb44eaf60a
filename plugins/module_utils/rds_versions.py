# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RouterOS versions and the one table of disk field names per version range (ROUTEROS.md R-3).

Field names of file disks and NVMe/TCP exports moved between releases and the public sources
disagree, so every name the library sends or reads comes from this table, and a version
outside it is refused with a message instead of guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Tuple

from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import ParseError, UnsupportedVersionError

_VERSION = re.compile(r"\s*(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<patch>\d+))?(?:\s*\((?P<channel>[a-z]+)\))?")


@dataclass(frozen=True, order=True)
class RouterOsVersion:
    major: int
    minor: int
    patch: int = 0
    channel: str = ""

    @classmethod
    def parse(cls, text: str) -> RouterOsVersion:
        match = _VERSION.match(text)
        if not match:
            raise ParseError("Cannot read a RouterOS version from %r." % text)
        return cls(
            int(match.group("major")),
            int(match.group("minor")),
            int(match.group("patch") or 0),
            match.group("channel") or "",
        )

    def __str__(self) -> str:
        text = "%d.%d" % (self.major, self.minor)
        if self.patch:
            text += ".%d" % self.patch
        return text + (" (%s)" % self.channel if self.channel else "")


@dataclass(frozen=True)
class DiskFields:
    """RouterOS names of the disk fields the library uses."""

    slot: str = "slot"
    type: str = "type"
    comment: str = "comment"
    disabled: str = "disabled"
    size: str = "size"
    file_path: str = "file-path"
    file_size: str = "file-size"
    copy_from: str = "copy-from"
    export: str = "nvme-tcp-export"
    port: str = "nvme-tcp-server-port"
    nqn: str = "nvme-tcp-server-nqn"
    allowed_hosts: str = "nvme-tcp-server-allow-host-name"
    password: str = "nvme-tcp-server-password"


@dataclass(frozen=True)
class VersionRange:
    first: Tuple[int, int]
    last: Tuple[int, int]
    fields: DiskFields
    note: str


# 7.16 printed the file-disk fields although they are documented from 7.17. The 7.21 renames
# reported in public sources concern the initiator side (nvme-tcp-name -> nvme-tcp-nqn); the
# export side keeps nvme-tcp-server-*. Extend this table only with output seen on an appliance.
FIELD_TABLE: Tuple[VersionRange, ...] = (
    VersionRange((7, 16), (7, 20), DiskFields(), "file disks with NVMe/TCP export"),
    VersionRange((7, 21), (7, 22), DiskFields(), "NVMe/TCP initiator fields renamed; export fields unchanged"),
)


def fields_for(version: RouterOsVersion) -> DiskFields:
    key = (version.major, version.minor)
    for entry in FIELD_TABLE:
        if entry.first <= key <= entry.last:
            return entry.fields
    known = "%d.%d to %d.%d" % (FIELD_TABLE[0].first + FIELD_TABLE[-1].last)
    raise UnsupportedVersionError(
        "The RDS runs RouterOS %s, which this collection does not know (it knows %s). "
        "Upgrade or downgrade the RDS to a known version, or upgrade the srvlab.rds collection." % (version, known)
    )
