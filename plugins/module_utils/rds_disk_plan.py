# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for the ``disk`` and ``nvme_export`` modules, and the one place that applies a plan.

A plan is computed from what the RDS reported (one read) and what the task asks for; it lists
the actions in the order they run and predicts the disk after them, so check mode can report
the outcome without touching the RDS. Sizes are compared as exact byte counts, booleans as
booleans and host NQN lists as sets, so a second run plans nothing.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple, Union

from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import (
    Disk,
    DiskSpec,
    ExportSpec,
    ManagedPolicy,
    NvmeExport,
    check_export,
    check_slot,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import InvalidValueError, RdsError
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import (
    DEFAULT_BASE_PATH,
    DEFAULT_NVME_PORT,
    NQN_BASE,
    backing_file,
    nqn_problem,
    size_problem,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_sizes import format_size


class DiskOperations(Protocol):
    """The part of ``RdsClient`` that applying a plan uses (the unit tests' fake RDS implements it)."""

    def add_disk(self, spec: DiskSpec) -> Disk: ...

    def resize_disk(self, slot: str, size: int) -> Disk: ...

    def set_comment(self, slot: str, comment: str) -> Disk: ...

    def set_export(self, slot: str, export: ExportSpec) -> Disk: ...

    def remove_disk(self, slot: str, remove_file: bool = True, file_path: Optional[str] = None) -> bool: ...

    def ensure_directory(self, path: str) -> bool: ...


class ApplyError(RdsError):
    """Applying the plan of one disk failed; ``done`` lists the disks changed before it, ``cause`` the error."""

    def __init__(self, slot: str, done: Sequence[str], cause: RdsError) -> None:
        earlier = "; disks changed before it: %s" % ", ".join(done) if done else ""
        super().__init__("Error while changing disk %r%s: %s" % (slot, earlier, cause))
        self.slot = slot
        self.done = tuple(done)
        self.cause = cause


@dataclass(frozen=True)
class DesiredDisk:
    """What a task asks for one slot. ``None`` leaves a field as the RDS has it."""

    slot: str
    present: bool = True
    file_path: Optional[str] = None
    size: Optional[int] = None
    comment: Optional[str] = None
    nvme_export: Optional[bool] = None
    nvme_port: Optional[int] = None
    nvme_nqn: Optional[str] = None


@dataclass(frozen=True)
class PlanOptions:
    policy: ManagedPolicy = field(default_factory=ManagedPolicy)
    force: bool = False
    remove_file: bool = True
    base_path: str = DEFAULT_BASE_PATH
    nqn_base: str = NQN_BASE


@dataclass(frozen=True)
class DesiredExport:
    """What a task asks for one disk's export (``nvme_export`` module)."""

    slot: str
    enabled: bool = True
    port: Optional[int] = None
    nqn: Optional[str] = None
    allowed_host_nqns: Optional[Tuple[str, ...]] = None
    password: Optional[str] = None
    update_password: bool = False


@dataclass(frozen=True)
class CreateDisk:
    spec: DiskSpec


@dataclass(frozen=True)
class GrowDisk:
    size: int


@dataclass(frozen=True)
class SetComment:
    comment: str


@dataclass(frozen=True)
class SetExport:
    export: ExportSpec


@dataclass(frozen=True)
class RemoveDisk:
    remove_file: bool
    file_path: str


Action = Union[CreateDisk, GrowDisk, SetComment, SetExport, RemoveDisk]


@dataclass(frozen=True)
class DiskPlan:
    slot: str
    actions: Tuple[Action, ...]
    before: Optional[Disk]
    after: Optional[Disk]

    @property
    def changed(self) -> bool:
        return bool(self.actions)


def plan_disk(current: Optional[Disk], desired: DesiredDisk, options: PlanOptions) -> DiskPlan:
    """The actions that take ``current`` (``None``: no such disk) to ``desired``."""
    check_slot(desired.slot)
    if not desired.present:
        return _plan_removal(current, desired, options)
    if current is None:
        return _plan_creation(desired, options)
    return _plan_modification(current, desired, options)


def plan_disks(current: Mapping[str, Disk], desired: Sequence[DesiredDisk], options: PlanOptions) -> List[DiskPlan]:
    """Plans for many slots from one read of the RDS (``current`` by slot). Slots must be unique."""
    seen = set()
    for entry in desired:
        if entry.slot in seen:
            raise InvalidValueError("Slot %r is declared more than once in disks; declare each disk once." % entry.slot)
        seen.add(entry.slot)
    return [plan_disk(current.get(entry.slot), entry, options) for entry in desired]


def plan_export(current: Optional[Disk], desired: DesiredExport, options: PlanOptions) -> DiskPlan:
    """The ``set`` that makes an existing disk's export match ``desired``."""
    check_slot(desired.slot)
    if current is None:
        raise InvalidValueError(
            "Disk %r does not exist on the RDS; create it with srvlab.rds.disk before exporting it." % desired.slot
        )
    now = current.export
    port = desired.port or now.port or DEFAULT_NVME_PORT
    nqn = desired.nqn or now.nqn or options.nqn_base + desired.slot
    if desired.enabled:
        check_export(desired.slot, ExportSpec(enabled=True, port=port, nqn=nqn))
        _check_nqn_change(current, nqn, options)
    hosts = desired.allowed_host_nqns
    if hosts is not None:
        for host in hosts:
            check_host_nqn(host, desired.slot)
    password = _password_change(now, desired.password, desired.update_password)
    changes: Dict[str, Any] = {}
    if desired.enabled != now.enabled or (desired.enabled and (port != now.port or nqn != now.nqn)):
        changes.update(enabled=desired.enabled, port=port if desired.enabled else now.port)
        changes.update(nqn=nqn if desired.enabled else now.nqn)
    if hosts is not None and set(hosts) != set(now.allowed_host_nqns):
        changes["allowed_host_nqns"] = tuple(sorted(set(hosts)))
    if password is not None:
        changes["has_password"] = bool(password)
    if not changes:
        return DiskPlan(desired.slot, (), current, current)
    spec = ExportSpec(
        enabled=desired.enabled,
        port=port,
        nqn=nqn,
        allowed_host_nqns=changes.get("allowed_host_nqns"),
        password=password,
    )
    after = replace(current, export=replace(now, **changes))
    return DiskPlan(desired.slot, (SetExport(spec),), current, after)


def apply_plan(client: DiskOperations, plan: DiskPlan) -> Optional[Disk]:
    """Run the plan's actions in order and return the disk as the RDS reports it afterwards."""
    disk = plan.before
    for action in plan.actions:
        if isinstance(action, CreateDisk):
            disk = client.add_disk(action.spec)
        elif isinstance(action, GrowDisk):
            disk = client.resize_disk(plan.slot, action.size)
        elif isinstance(action, SetComment):
            disk = client.set_comment(plan.slot, action.comment)
        elif isinstance(action, SetExport):
            disk = client.set_export(plan.slot, action.export)
        else:
            client.remove_disk(plan.slot, remove_file=action.remove_file, file_path=action.file_path or None)
            disk = None
    return disk


def directories_for(plans: Sequence[DiskPlan]) -> List[str]:
    """Directories the backing files of the disks to create live in, each once, in order."""
    found: List[str] = []
    for plan in plans:
        for action in plan.actions:
            if isinstance(action, CreateDisk):
                directory = posixpath.dirname(action.spec.file_path)
                if directory not in found:
                    found.append(directory)
    return found


def describe(action: Action) -> str:
    """A short, secret-free line for the ``actions`` return value."""
    if isinstance(action, CreateDisk):
        spec = action.spec
        exported = " exported as %s on port %d" % (spec.export.nqn, spec.export.port) if spec.export else ""
        return "create %s of %s at %s%s" % (spec.slot, format_size(spec.size), spec.file_path, exported)
    if isinstance(action, GrowDisk):
        return "grow to %s" % format_size(action.size)
    if isinstance(action, SetComment):
        return "set comment"
    if isinstance(action, SetExport):
        export = action.export
        if not export.enabled:
            return "stop exporting"
        return "export as %s on port %d" % (export.nqn, export.port)
    return "remove disk and backing file %s" % action.file_path if action.remove_file else "remove disk, keep file"


def disk_to_dict(disk: Optional[Disk], policy: ManagedPolicy) -> Dict[str, Any]:
    """The return form of a disk: exact sizes in bytes, booleans, and whether the driver manages it."""
    if disk is None:
        return {}
    export = disk.export
    return {
        "slot": disk.slot,
        "type": disk.type,
        "file_path": disk.file_path,
        "size": disk.size,
        "size_exact": disk.size_exact,
        "comment": disk.comment,
        "disabled": disk.disabled,
        "nvme_export": export.enabled,
        "nvme_port": export.port,
        "nvme_nqn": export.nqn,
        "nvme_allowed_host_nqns": sorted(export.allowed_host_nqns),
        "nvme_has_password": export.has_password,
        "managed": policy.is_managed(disk),
    }


def check_host_nqn(nqn: str, slot: str) -> None:
    problem = nqn_problem(nqn)
    if problem:
        raise InvalidValueError(
            "The allowed host NQN %r for disk %r is not a valid NVMe qualified name: %s." % (nqn, slot, problem)
        )


# Internals: may change without notice.


def _plan_removal(current: Optional[Disk], desired: DesiredDisk, options: PlanOptions) -> DiskPlan:
    if current is None:
        return DiskPlan(desired.slot, (), None, None)
    if not options.policy.is_managed(current) and not options.force:
        raise InvalidValueError(
            "Refusing to remove disk %r: it is not managed by the CSI driver (slot prefix %r, NQN prefix %r), so it "
            "may be a node's system volume or a hand-made disk. Set force: true to remove it anyway."
            % (current.slot, options.policy.slot_prefix, options.policy.nqn_prefix)
        )
    action = RemoveDisk(remove_file=options.remove_file, file_path=current.file_path)
    return DiskPlan(desired.slot, (action,), current, None)


def _plan_creation(desired: DesiredDisk, options: PlanOptions) -> DiskPlan:
    slot = desired.slot
    if desired.size is None:
        raise InvalidValueError("Disk %r does not exist on the RDS; give size to create it." % slot)
    problem = size_problem(desired.size)
    if problem:
        raise InvalidValueError("Disk %r: %s, got %d bytes." % (slot, problem, desired.size))
    file_path = desired.file_path or backing_file(options.base_path, slot)
    export: Optional[ExportSpec] = None
    if desired.nvme_export:
        port = desired.nvme_port or DEFAULT_NVME_PORT
        nqn = desired.nvme_nqn or options.nqn_base + slot
        check_export(slot, ExportSpec(enabled=True, port=port, nqn=nqn))
        export = ExportSpec(enabled=True, port=port, nqn=nqn)
    comment = desired.comment or ""
    spec = DiskSpec(slot=slot, file_path=file_path, size=desired.size, export=export, comment=comment)
    after = Disk(
        slot=slot,
        type="file",
        file_path=file_path,
        size=desired.size,
        size_exact=True,
        comment=spec.comment,
        disabled=False,
        export=NvmeExport(
            enabled=export is not None,
            port=export.port if export else None,
            nqn=export.nqn if export else "",
            allowed_host_nqns=(),
            has_password=False,
        ),
        flags="",
    )
    return DiskPlan(slot, (CreateDisk(spec),), None, after)


def _plan_modification(current: Disk, desired: DesiredDisk, options: PlanOptions) -> DiskPlan:
    slot = current.slot
    if desired.file_path is not None and desired.file_path != current.file_path:
        raise InvalidValueError(
            "Disk %r already exists with backing file %s, not %s; a disk cannot be moved. Use another slot, or "
            "remove the disk first." % (slot, current.file_path, desired.file_path)
        )
    actions: List[Action] = []
    after = current
    size = _size_change(current, desired.size, options)
    if size is not None:
        actions.append(GrowDisk(size))
        after = replace(after, size=size, size_exact=True)
    comment = desired.comment
    if comment is not None and comment != current.comment:
        actions.append(SetComment(comment))
        after = replace(after, comment=comment)
    export = _export_change(current, desired, options)
    if export is not None:
        actions.append(SetExport(export))
        new_export = replace(current.export, enabled=export.enabled)
        if export.enabled:
            new_export = replace(new_export, port=export.port, nqn=export.nqn)
        after = replace(after, export=new_export)
    return DiskPlan(slot, tuple(actions), current, after)


def _size_change(current: Disk, size: Optional[int], options: PlanOptions) -> Optional[int]:
    if size is None or current.size == size:
        return None
    if current.size is not None and not current.size_exact and abs(current.size - size) <= size // 20:
        return None  # only RouterOS' rounded size is known, and it agrees within its rounding
    if current.size is None or size > current.size:
        return size
    shrink = "from %s to %s" % (format_size(current.size), format_size(size))
    if not options.force:
        raise InvalidValueError(
            "Refusing to shrink disk %r %s: data past the new end would be lost. Set force: true if that is intended."
            % (current.slot, shrink)
        )
    if current.export.enabled:
        raise InvalidValueError(
            "Refusing to shrink exported disk %r %s even with force: hosts using it would see data vanish. Stop "
            "exporting it first." % (current.slot, shrink)
        )
    raise InvalidValueError(
        "The RDS cannot shrink file disk %r in place (%s); create a smaller disk and copy the data into it."
        % (current.slot, shrink)
    )


def _export_change(current: Disk, desired: DesiredDisk, options: PlanOptions) -> Optional[ExportSpec]:
    now = current.export
    enabled = now.enabled if desired.nvme_export is None else desired.nvme_export
    if not enabled:
        return ExportSpec(enabled=False) if now.enabled else None
    port = desired.nvme_port or now.port or DEFAULT_NVME_PORT
    nqn = desired.nvme_nqn or now.nqn or options.nqn_base + current.slot
    check_export(current.slot, ExportSpec(enabled=True, port=port, nqn=nqn))
    if now.enabled and port == now.port and nqn == now.nqn:
        return None
    _check_nqn_change(current, nqn, options)
    return ExportSpec(enabled=True, port=port, nqn=nqn)


def _check_nqn_change(current: Disk, nqn: str, options: PlanOptions) -> None:
    now = current.export
    if now.enabled and now.nqn and nqn != now.nqn and not options.force:
        raise InvalidValueError(
            "Refusing to change the NQN of exported disk %r from %s to %s: connected hosts would lose it. Set "
            "force: true to change it anyway." % (current.slot, now.nqn, nqn)
        )


def _password_change(now: NvmeExport, password: Optional[str], update: bool) -> Optional[str]:
    """The password to send, or ``None``. The RDS never prints it, so an existing one is replaced only on request."""
    if password is None:
        return None
    if password == "":
        return "" if now.has_password else None
    if now.has_password and not update:
        return None
    return password
