# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RouterOS versions and the one table of disk field names per version range (ROUTEROS.md R-3, R-7).

Every name the library sends or reads comes from this table. What each range lacks is written
here too, so a command that needs a missing field is refused with a sentence naming the field
and the version before anything is sent. A version newer than the table is not refused: the
client confirms the names on the appliance (``/console inspect``, R-7.4) and warns once. Reads
never depend on the gate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from typing import Dict, FrozenSet, Iterable, List, Optional, Tuple

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

    @property
    def release(self) -> Tuple[int, int]:
        return (self.major, self.minor)

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

    def arguments(self) -> FrozenSet[str]:
        """The names the library sends as ``/disk add`` or ``/disk set`` arguments (``size`` is only printed)."""
        return frozenset(getattr(self, entry.name) for entry in dataclass_fields(self) if entry.name != "size")


@dataclass(frozen=True)
class VersionRange:
    first: Tuple[int, int]
    last: Tuple[int, int]
    fields: DiskFields
    absent: FrozenSet[str]
    """Names of ``fields`` this range does not have; a command that sends one is refused."""
    why_absent: str
    """The refusal, formatted with ``version`` and ``field``."""
    note: str


FIRST_FILE_DISKS = (7, 17)
FIRST_FULLY_SUPPORTED = (7, 21)
_UPGRADE = (
    "RouterOS 7.21 is the first version the srvlab.rds collection and the CSI driver fully support; upgrade the RDS."
)

# From RouterOS's own command schemas: file disks arrived in 7.17; up to 7.20 an export has
# nvme-tcp-name and an NQN derived from the slot; 7.21 brought nvme-tcp-server-nqn (and
# nvme-tcp-nqn for the initiator side); no /disk add argument changed from 7.21 to 7.24.
FIELD_TABLE: Tuple[VersionRange, ...] = (
    VersionRange(
        (0, 0),
        (7, 16),
        DiskFields(),
        frozenset({"file-path", "file-size", "copy-from", "nvme-tcp-server-nqn"}),
        "The RDS runs RouterOS {version}, which has no file-backed disks ({field} and the other file-disk "
        "fields came with RouterOS 7.17). " + _UPGRADE,
        "no file disks",
    ),
    VersionRange(
        FIRST_FILE_DISKS,
        (7, 20),
        DiskFields(),
        frozenset({"nvme-tcp-server-nqn"}),
        "The RDS runs RouterOS {version}, which has no {field} (it came with RouterOS 7.21; before it the "
        "export's NQN is derived from the slot), so the collection cannot give an NVMe/TCP export the NQN "
        "it asks for. " + _UPGRADE,
        "file disks; exports named by nvme-tcp-name, NQN derived from the slot",
    ),
    VersionRange(
        FIRST_FULLY_SUPPORTED,
        (7, 24),
        DiskFields(),
        frozenset(),
        "",
        "nvme-tcp-server-nqn (target) and nvme-tcp-nqn (initiator) replace nvme-tcp-name",
    ),
)
NEWEST_KNOWN = FIELD_TABLE[-1]
KNOWN_SPAN = "%d.%d to %d.%d" % (FIRST_FILE_DISKS + NEWEST_KNOWN.last)


@dataclass(frozen=True)
class FieldSupport:
    """What the library may send to one appliance: the names to use and those it lacks.

    ``newer`` marks a version past the table; its ``absent`` names come from the appliance's own
    schema, and ``confirmed`` says whether that schema could be read at all.
    """

    version: RouterOsVersion
    fields: DiskFields
    absent: FrozenSet[str] = frozenset()
    why_absent: str = ""
    newer: bool = False
    confirmed: bool = True
    unconfirmed_reason: str = ""

    def check_arguments(self, names: Iterable[str]) -> None:
        """Raise ``UnsupportedVersionError`` naming the first of ``names`` this appliance lacks."""
        for name in names:
            if name in self.absent:
                raise UnsupportedVersionError(self.why_absent.format(version=self.version, field=name))

    def check_filters(self, names: Iterable[str]) -> None:
        """Like ``check_arguments`` for fields a ``find`` or ``where`` compares, but only where the table
        knows the field is missing: the appliance would refuse that read with a bare syntax error. The
        schema of a newer version lists arguments, not every printed field, so it refuses no read."""
        if not self.newer:
            self.check_arguments(names)

    @property
    def warning(self) -> Optional[str]:
        """The one warning a version newer than the table deserves; None for a known version."""
        if not self.newer:
            return None
        lead = "The RDS runs RouterOS %s, newer than the versions the srvlab.rds collection knows (%s); " % (
            self.version,
            KNOWN_SPAN,
        )
        if not self.confirmed:
            names = "%d.%d" % NEWEST_KNOWN.last
            return lead + "its disk field names could not be confirmed on the RDS (%s), so the %s names are used." % (
                self.unconfirmed_reason,
                names,
            )
        if self.absent:
            return lead + "/console inspect on the RDS shows no %s, so changes that need it fail; reads work." % (
                ", ".join(sorted(self.absent))
            )
        return lead + "/console inspect on the RDS confirmed every disk field name the collection uses."


def range_for(version: RouterOsVersion) -> Optional[VersionRange]:
    """The table's range holding ``version``; None for a version newer than the table."""
    for entry in FIELD_TABLE:
        if entry.first <= version.release <= entry.last:
            return entry
    return None


def fields_for(version: RouterOsVersion) -> DiskFields:
    """The names to use on ``version``: a newer version starts from the newest known names."""
    entry = range_for(version)
    return (entry or NEWEST_KNOWN).fields


def known_support(version: RouterOsVersion) -> Optional[FieldSupport]:
    """The support of a version in the table, or None when it must be confirmed on the appliance."""
    entry = range_for(version)
    if entry is None:
        return None
    return FieldSupport(version, entry.fields, entry.absent, entry.why_absent)


def confirmed_support(version: RouterOsVersion, arguments: FrozenSet[str]) -> FieldSupport:
    """Support of a newer version whose ``/disk add`` takes ``arguments`` (from ``/console inspect``)."""
    names = NEWEST_KNOWN.fields
    why = (
        "The RDS runs RouterOS {version}, newer than the versions the srvlab.rds collection knows (%s), and its "
        "/disk add has no argument {field}, which the collection needs for this operation. Upgrade the srvlab.rds "
        "collection, or run RouterOS %d.%d or older on the RDS." % (KNOWN_SPAN, *NEWEST_KNOWN.last)
    )
    return FieldSupport(version, names, names.arguments() - arguments, why, newer=True)


def unconfirmed_support(version: RouterOsVersion, reason: str) -> FieldSupport:
    """Support of a newer version whose schema could not be read: nothing is refused up front."""
    return FieldSupport(version, NEWEST_KNOWN.fields, newer=True, confirmed=False, unconfirmed_reason=reason)


def inspected_arguments(output: str) -> FrozenSet[str]:
    """Argument names from ``:put [/console inspect as-value request=child path=...]`` (R-7.4).

    The output is one run of ``key=value`` pairs separated by ``;``, each node starting with
    ``name=``: ``name=add;node-type=cmd;type=self;name=comment;node-type=arg;type=child;...``.
    """
    nodes: List[Dict[str, str]] = []
    for pair in re.split(r";\s*", output.strip()):
        key, equals, value = pair.partition("=")
        if not equals:
            continue
        if key == "name":
            nodes.append({key: value})
        elif nodes:
            nodes[-1][key] = value
    found = frozenset(node["name"] for node in nodes if node.get("type") == "child" and node.get("node-type") == "arg")
    if not found:
        raise ParseError("/console inspect printed no arguments: %r" % output[:200])
    return found
