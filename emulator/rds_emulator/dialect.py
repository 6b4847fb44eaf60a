"""Which `/disk` field names an emulated RouterOS version has, and what it calls them.

Handlers work with canonical names (RouterOS 7.21 to 7.24). A dialect says which canonical names
a version has and under which name each is typed and printed: the version rules below (from
RouterOS's own command schemas, ROUTEROS.md R-3 and R-7), then the renames a test asks for, to
play a future version where a field was renamed. Commands are translated to canonical names after
parsing, print output back to the dialect's names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .commandline import ArgValue, Command, Condition, Filter
from .version import DEFAULT_VERSION, RouterOsVersion, parse_version

FIRST_FILE_DISKS_MINOR = 17
FIRST_SERVER_NQN_MINOR = 21

FILE_DISK_NAMES = frozenset({"file-path", "file-size", "file-offset", "copy-from"})
SERVER_NQN = "nvme-tcp-server-nqn"
OLD_EXPORT_NAME = "nvme-tcp-name"
"""7.17 to 7.20: the export's name field; the NQN is derived from the slot. Gone from 7.21."""

COMMON_NAMES = frozenset(
    {
        "type",
        "slot",
        "slot-default",
        "parent",
        "fs",
        "model",
        "size",
        "mount-filesystem",
        "mount-read-only",
        "compress",
        "sector-size",
        "iscsi-export",
        "nfs-sharing",
        "smb-sharing",
        "comment",
        "disabled",
        "mount-point",
        "file-system",
        "free",
        "use",
        "nvme-tcp-export",
        "nvme-tcp-server-port",
        "nvme-tcp-server-allow-host-name",
        "nvme-tcp-server-password",
    }
)
_NAME = re.compile(r"[a-z][a-z0-9-]*\Z")


def canonical_names(version: RouterOsVersion) -> frozenset[str]:
    """Every `/disk` argument or field name `version` has, by its canonical name."""
    names = set(COMMON_NAMES)
    if version.minor >= FIRST_FILE_DISKS_MINOR:
        names |= FILE_DISK_NAMES
        names.add(SERVER_NQN if version.minor >= FIRST_SERVER_NQN_MINOR else OLD_EXPORT_NAME)
    return frozenset(names)


@dataclass(frozen=True)
class DiskDialect:
    shown: Mapping[str, str] = field(hash=False)
    """Canonical name -> the name this appliance types and prints; absent names are missing."""

    @property
    def has_file_disks(self) -> bool:
        return "file-path" in self.shown

    @property
    def names(self) -> frozenset[str]:
        """The names as this appliance spells them."""
        return frozenset(self.shown.values())

    def spelled(self, names: frozenset[str]) -> frozenset[str]:
        """The appliance's spelling of those canonical `names` it has."""
        return frozenset(self.shown[name] for name in names if name in self.shown)

    def canonical(self, command: Command) -> Command:
        """`command` with argument and condition names translated back to canonical names."""
        back = {shown: name for name, shown in self.shown.items()}
        if all(back.get(name, name) == name for name in self.names):
            return command
        return Command(
            menu=command.menu,
            verb=command.verb,
            args=MappingProxyType(
                {back.get(name, name): _canonical_value(value, back) for name, value in command.args.items()}
            ),
            items=tuple(_canonical_value(item, back) for item in command.items),
            flags=command.flags,
            where=_canonical_filter(command.where, back) if command.where is not None else None,
        )

    def printed(self, properties: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        """Print properties under this appliance's names, without the ones it lacks."""
        return tuple((self.shown[key], value) for key, value in properties if key in self.shown)


def dialect_for(version: RouterOsVersion, renames: Mapping[str, str]) -> DiskDialect:
    """The dialect of `version` with `renames` (canonical name -> new name) applied; ValueError when a
    rename names a field the version lacks, is not a RouterOS name, or clashes with another name."""
    names = canonical_names(version)
    shown = {name: name for name in names}
    for name, new in renames.items():
        if name not in names:
            raise ValueError(f"field {name!r} cannot be renamed: RouterOS {version.text} has no such /disk field")
        if not _NAME.match(new):
            raise ValueError(f"new field name {new!r} is not a RouterOS name (lower-case letters, digits, '-')")
        shown[name] = new
    if len(set(shown.values())) != len(shown):
        raise ValueError(f"renamed /disk fields clash: {dict(renames)!r}")
    return DiskDialect(MappingProxyType(shown))


NEWEST = dialect_for(parse_version(DEFAULT_VERSION), {})
"""The names of the default version: canonical names, nothing renamed."""


def _canonical_value(value: ArgValue, back: Mapping[str, str]) -> ArgValue:
    return _canonical_filter(value, back) if isinstance(value, Filter) else value


def _canonical_filter(where: Filter, back: Mapping[str, str]) -> Filter:
    return Filter(
        tuple(
            Condition(back.get(condition.field, condition.field), condition.operator, condition.value)
            for condition in where.conditions
        )
    )
