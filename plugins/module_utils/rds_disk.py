# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed model of RDS disks, files and pool capacity, built from parsed ``print detail`` items."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import ParseError
from ansible_collections.srvlab.rds.plugins.module_utils.rds_sizes import (
    parse_grouped_integer,
    parse_human_size,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_versions import DiskFields
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_output import Item

DEFAULT_SLOT_PREFIX = "pvc-"
DEFAULT_NQN_PREFIX = "nqn.2000-02.com.mikrotik:pvc-"
MAX_NQN_BYTES = 223


@dataclass(frozen=True)
class NvmeExport:
    enabled: bool
    port: Optional[int]
    nqn: str
    allowed_host_nqns: Tuple[str, ...]
    has_password: bool


@dataclass(frozen=True)
class Disk:
    """A disk as the RDS reports it. ``size`` is exact when ``size_exact`` is true."""

    slot: str
    type: str
    file_path: str
    size: Optional[int]
    size_exact: bool
    comment: str
    disabled: bool
    export: NvmeExport
    flags: str

    @property
    def is_file_disk(self) -> bool:
        return self.type == "file"


@dataclass(frozen=True)
class ManagedPolicy:
    """Which disks the driver owns (P-4.7): a slot under the slot prefix, exported (if at all) under the NQN prefix."""

    slot_prefix: str = DEFAULT_SLOT_PREFIX
    nqn_prefix: str = DEFAULT_NQN_PREFIX

    def is_managed(self, disk: Disk) -> bool:
        if not disk.is_file_disk or not disk.slot.startswith(self.slot_prefix):
            return False
        return not disk.export.nqn or disk.export.nqn.startswith(self.nqn_prefix)


@dataclass(frozen=True)
class RdsFile:
    """An entry of ``/file print``. ``path`` has the leading slash RouterOS omits."""

    path: str
    type: str
    size: Optional[int]
    creation_time: str

    @property
    def is_disk_image(self) -> bool:
        return self.type == ".img file" or self.path.endswith(".img")


@dataclass(frozen=True)
class PoolCapacity:
    pool: str
    size: int
    free: int

    @property
    def used(self) -> int:
        return self.size - self.free


def disk_from_item(item: Item, names: DiskFields) -> Disk:
    fields = item.fields
    size, exact = _disk_size(fields, names)
    return Disk(
        slot=fields.get(names.slot, ""),
        type=fields.get(names.type, ""),
        file_path=fields.get(names.file_path, ""),
        size=size,
        size_exact=exact,
        comment=item.comment or fields.get(names.comment, ""),
        disabled="X" in item.flags or _yes(fields.get(names.disabled, "no")),
        export=NvmeExport(
            enabled=_yes(fields.get(names.export, "no")),
            port=_optional_int(fields.get(names.port, "")),
            nqn=fields.get(names.nqn, ""),
            allowed_host_nqns=tuple(host for host in re.split(r"[,\s]+", fields.get(names.allowed_hosts, "")) if host),
            has_password=bool(fields.get(names.password, "")),
        ),
        flags=item.flags,
    )


def file_from_item(item: Item) -> RdsFile:
    fields = item.fields
    size_text = fields.get("size", "")
    return RdsFile(
        path="/" + fields.get("name", "").lstrip("/"),
        type=fields.get("type", ""),
        size=_size_value(size_text),
        creation_time=fields.get("creation-time", ""),
    )


def capacity_from_item(item: Item, pool: str) -> PoolCapacity:
    fields = item.fields
    try:
        return PoolCapacity(pool, parse_grouped_integer(fields["size"]), parse_grouped_integer(fields["free"]))
    except KeyError as missing:
        raise ParseError("The RDS printed no %s for pool %r: %r" % (missing, pool, fields)) from None


def _disk_size(fields: Dict[str, str], names: DiskFields) -> Tuple[Optional[int], bool]:
    """The exact byte count from ``size``; the rounded ``file-size`` only when that is missing."""
    exact_text = fields.get(names.size, "")
    if exact_text and re.match(r"\d[\d ]*\Z", exact_text):
        return parse_grouped_integer(exact_text), True
    human = fields.get(names.file_size, "")
    if human:
        value = _size_value(human)
        return value, value is not None and re.match(r"\d[\d ]*\Z", human) is not None
    return None, False


def _size_value(text: str) -> Optional[int]:
    text = text.strip()
    if not text:
        return None
    if re.match(r"\d[\d ]*\Z", text):
        return parse_grouped_integer(text)
    return parse_human_size(text)


def _optional_int(text: str) -> Optional[int]:
    return parse_grouped_integer(text) if text.strip() else None


def _yes(text: str) -> bool:
    return text.strip().lower() in ("yes", "true")
