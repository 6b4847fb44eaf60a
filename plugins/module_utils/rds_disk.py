# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed model of RDS disks, files and pool capacity: what the RDS reports (built from parsed
``print detail`` items) and what a caller asks for (``DiskSpec``, ``ExportSpec``, validated here)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import InvalidValueError, ParseError
from ansible_collections.srvlab.rds.plugins.module_utils.rds_host_list import parse_host_list
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import (
    DEFAULT_BASE_PATH,
    DEFAULT_NQN_PREFIX,
    DEFAULT_NVME_PORT,
    IMAGE_SUFFIX,
    VOLUME_SLOT_PREFIX,
    is_under,
    nqn_problem,
    path_problem,
    port_problem,
    prefix_problem,
    size_problem,
    slot_problem,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_sizes import (
    parse_grouped_integer,
    parse_human_size,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_versions import DiskFields
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_output import Item


@dataclass(frozen=True)
class ExportSpec:
    """Desired NVMe/TCP export of a disk. ``None`` leaves a field as the RDS has it."""

    enabled: bool = True
    port: int = DEFAULT_NVME_PORT
    nqn: str = ""
    allowed_host_nqns: Optional[Tuple[str, ...]] = None
    password: Optional[str] = None


@dataclass(frozen=True)
class DiskSpec:
    """Desired file-backed disk."""

    slot: str
    file_path: str
    size: int
    export: Optional[ExportSpec] = None
    comment: str = ""


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
    """Which disks the driver owns (P-4.7): a slot under the slot prefix, exported (if at all) under the NQN
    prefix; and where backing files may live without ``force`` (the managed base paths)."""

    slot_prefix: str = VOLUME_SLOT_PREFIX
    nqn_prefix: str = DEFAULT_NQN_PREFIX
    base_paths: Tuple[str, ...] = (DEFAULT_BASE_PATH,)

    def is_managed(self, disk: Disk) -> bool:
        if not disk.is_file_disk or not disk.slot.startswith(self.slot_prefix):
            return False
        return not disk.export.nqn or disk.export.nqn.startswith(self.nqn_prefix)

    def holds_file(self, path: str) -> bool:
        """Whether a backing file at ``path`` lies under one of the managed base paths."""
        return any(is_under(path, base) for base in self.base_paths)


def check_policy(policy: ManagedPolicy) -> None:
    """Raise InvalidValueError unless the prefixes and base paths can tell managed disks from the rest."""
    for option, prefix in (("managed_slot_prefix", policy.slot_prefix), ("managed_nqn_prefix", policy.nqn_prefix)):
        problem = prefix_problem(prefix)
        if problem:
            raise InvalidValueError("%s %r is refused: %s. Set it to the driver's prefix." % (option, prefix, problem))
    problem = nqn_problem(policy.nqn_prefix)
    if problem:
        raise InvalidValueError(
            "managed_nqn_prefix %r is not the start of an NVMe qualified name: %s." % (policy.nqn_prefix, problem)
        )
    if not policy.base_paths:
        raise InvalidValueError(
            "managed_base_paths is empty; list at least one directory for backing files, such as %s."
            % DEFAULT_BASE_PATH
        )
    for base in policy.base_paths:
        problem = path_problem(base)
        if problem or base.strip("/").count("/") < 1:
            raise InvalidValueError(
                "managed_base_paths entry %r is not a directory inside a storage pool: %s."
                % (base, problem or "use a directory below the pool, such as %s" % DEFAULT_BASE_PATH)
            )


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
            allowed_host_nqns=parse_host_list(fields.get(names.allowed_hosts, "")),
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


def check_slot(slot: str) -> None:
    problem = slot_problem(slot)
    if problem:
        raise InvalidValueError("%s, got %r; set slot to the disk's name on the RDS." % (problem.capitalize(), slot))


def check_path(path: str) -> None:
    problem = path_problem(path)
    if problem:
        raise InvalidValueError("%r is not an absolute RDS path: %s." % (path, problem))


def check_disk_spec(spec: DiskSpec) -> None:
    """Raise InvalidValueError unless ``spec`` can be sent to the RDS as it is."""
    check_slot(spec.slot)
    check_path(spec.file_path)
    if not spec.file_path.endswith(IMAGE_SUFFIX):
        raise InvalidValueError(
            "The backing file of disk %r must end in %s, got %s." % (spec.slot, IMAGE_SUFFIX, spec.file_path)
        )
    problem = size_problem(spec.size)
    if problem:
        raise InvalidValueError("Disk %r: %s, got %d bytes." % (spec.slot, problem, spec.size))
    if spec.export is not None:
        check_export(spec.slot, spec.export)


def check_export(slot: str, export: ExportSpec) -> None:
    if not export.enabled:
        return
    problem = port_problem(export.port)
    if problem:
        raise InvalidValueError("The NVMe/TCP port %d of disk %r is out of range; %s." % (export.port, slot, problem))
    problem = nqn_problem(export.nqn)
    if problem:
        raise InvalidValueError(
            "The NQN %r of disk %r is not a valid NVMe qualified name: %s." % (export.nqn, slot, problem)
        )
