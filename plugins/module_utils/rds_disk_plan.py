# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure planning for the ``disk`` and ``nvme_export`` modules, and the one place that applies a plan.

A plan is computed from what one read of the RDS showed (a ``Survey``: the disks, the files and
directories at the paths involved, the disks using those files, the pools' free space) and what
the task asks for. It lists the actions in the order they run and predicts the disk after them,
so check mode reports the outcome without touching the RDS, and every failure that read can
foresee (no room, a taken or orphaned file, a path outside the managed base paths or outside
every pool) is raised before anything changes. Sizes are compared as exact byte counts,
booleans as booleans and host NQN lists as sets, so a second run plans nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Protocol, Sequence, Tuple, Union

from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import (
    Survey,
    disk_arguments,
    export_arguments,
    pool_of,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import (
    Disk,
    DiskSpec,
    ExportSpec,
    ManagedPolicy,
    NvmeExport,
    check_export,
    check_path,
    check_slot,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import (
    AlreadyExistsError,
    InvalidValueError,
    NoSpaceError,
    NotFoundError,
    RdsError,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import (
    DEFAULT_BASE_PATH,
    DEFAULT_NVME_PORT,
    IMAGE_SUFFIX,
    NQN_BASE,
    backing_file,
    is_under,
    nqn_problem,
    size_problem,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_sizes import format_size
from ansible_collections.srvlab.rds.plugins.module_utils.rds_versions import FieldSupport


class DiskOperations(Protocol):
    """The part of ``RdsClient`` that applying a plan uses (the unit tests' fake RDS implements it)."""

    def create_disk(self, spec: DiskSpec, source: Optional[Disk] = None) -> Disk: ...

    def resize_disk(self, slot: str, size: int, current: Optional[Disk] = None) -> Disk: ...

    def set_comment(self, slot: str, comment: str) -> Disk: ...

    def set_export(self, slot: str, export: ExportSpec) -> Disk: ...

    def remove_known_disk(self, disk: Disk, remove_file: bool = True) -> None: ...

    def remove_known_file(self, path: str) -> None: ...

    def create_directory(self, path: str) -> bool: ...

    def remove_directory_if_empty(self, path: str) -> bool: ...


class ApplyError(RdsError):
    """Applying a plan failed. ``applied`` describes what was changed before the failure (``slot: action``),
    so the task can report ``changed`` truthfully; ``cause`` is the error that stopped it."""

    def __init__(self, slot: str, applied: Sequence[str], cause: RdsError) -> None:
        earlier = " Applied before the failure: %s." % "; ".join(applied) if applied else " Nothing was changed."
        super().__init__("Error while changing disk %r: %s%s" % (slot, str(cause).rstrip("."), "." + earlier))
        self.slot = slot
        self.applied = tuple(applied)
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
    create: bool = True


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
class CreateDirectory:
    path: str


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


@dataclass(frozen=True)
class RemoveFile:
    """Remove a backing file that no disk uses (left behind by a removal that kept it)."""

    path: str


@dataclass(frozen=True)
class PruneDirectory:
    """Remove a directory a removal may have left empty (never a managed base path or one of its parents)."""

    path: str


Action = Union[CreateDirectory, CreateDisk, GrowDisk, SetComment, SetExport, RemoveDisk, RemoveFile, PruneDirectory]


@dataclass(frozen=True)
class DiskPlan:
    slot: str
    actions: Tuple[Action, ...]
    before: Optional[Disk]
    after: Optional[Disk]
    warnings: Tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.actions)


@dataclass(frozen=True)
class SurveyRequest:
    """What to read in one round trip to plan a list of disks (arguments of ``RdsClient.survey``)."""

    slots: Tuple[str, ...]
    files: Tuple[str, ...]
    users_of: Tuple[str, ...]
    pools: Tuple[str, ...]


def survey_request(desired: Sequence[DesiredDisk], options: PlanOptions) -> SurveyRequest:
    """The disks, files, directory levels, file users and pools that planning ``desired`` needs to see.

    Every value is checked first, so nothing invalid reaches the RDS even as a read.
    """
    slots: List[str] = []
    files: List[str] = []
    pools: List[str] = []
    for entry in desired:
        check_desired(entry, options)
        path = planned_path(entry, options)
        slots.append(entry.slot)
        for level in [*directory_levels(path), path]:
            if level not in files:
                files.append(level)
        if pool_of(path) not in pools:
            pools.append(pool_of(path))
    paths = tuple(dict.fromkeys(planned_path(entry, options) for entry in desired))
    return SurveyRequest(tuple(slots), tuple(files), paths, tuple(pools))


def check_desired(desired: DesiredDisk, options: PlanOptions) -> None:
    """Refuse values that no state of the RDS could make right, before reading it."""
    check_slot(desired.slot)
    path = planned_path(desired, options)
    check_path(path)
    if not path.endswith(IMAGE_SUFFIX):
        raise InvalidValueError(
            "The backing file %s of disk %r must end in %s; give a file_path such as %s."
            % (path, desired.slot, IMAGE_SUFFIX, backing_file(options.base_path, desired.slot))
        )
    if desired.size is not None:
        problem = size_problem(desired.size)
        if problem:
            raise InvalidValueError("Disk %r: %s, got %d bytes." % (desired.slot, problem, desired.size))
    if desired.nvme_export is False:
        for option, value in (("nvme_port", desired.nvme_port), ("nvme_nqn", desired.nvme_nqn)):
            if value is not None:
                raise InvalidValueError(
                    "%s of disk %r applies only to an exported disk, but nvme_export is false; set nvme_export: "
                    "true or drop %s." % (option, desired.slot, option)
                )
    if desired.present and (desired.nvme_port is not None or desired.nvme_nqn is not None):
        check_export(
            desired.slot,
            ExportSpec(
                enabled=True,
                port=DEFAULT_NVME_PORT if desired.nvme_port is None else desired.nvme_port,
                nqn=options.nqn_base + desired.slot if desired.nvme_nqn is None else desired.nvme_nqn,
            ),
        )


def planned_path(desired: DesiredDisk, options: PlanOptions) -> str:
    """The backing file the task means: the one it names, else ``<base_path>/<slot>.img``."""
    return desired.file_path if desired.file_path is not None else backing_file(options.base_path, desired.slot)


def directory_levels(path: str) -> List[str]:
    """The directories between the pool and ``path``'s parent, outermost first (the pool itself excluded)."""
    parts = path.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[:depth]) for depth in range(2, len(parts) + 1)]


def plan_disk(found: Survey, desired: DesiredDisk, options: PlanOptions) -> DiskPlan:
    """The actions that take the disk ``found`` shows (or its absence) to ``desired``."""
    return plan_disks(found, [desired], options)[0]


def plan_disks(found: Survey, desired: Sequence[DesiredDisk], options: PlanOptions) -> List[DiskPlan]:
    """Plans for many slots from one read of the RDS. Slots and backing files must be unique."""
    seen_slots: Dict[str, str] = {}
    for entry in desired:
        check_desired(entry, options)
        path = planned_path(entry, options)
        if entry.slot in seen_slots:
            raise InvalidValueError("Slot %r is declared more than once in disks; declare each disk once." % entry.slot)
        twin = [slot for slot, other in seen_slots.items() if other == path and entry.present]
        if twin:
            raise InvalidValueError(
                "Disks %r and %r would share the backing file %s; give each its own file_path."
                % (twin[0], entry.slot, path)
            )
        seen_slots[entry.slot] = path
    plans: List[DiskPlan] = []
    for entry in desired:
        current = found.disks.get(entry.slot)
        if not entry.present:
            plans.append(_plan_removal(found, current, entry, options))
        elif current is None:
            plans.append(_plan_creation(found, entry, options, plans))
        else:
            plans.append(_plan_modification(found, current, entry, options))
    _check_room(found, plans)
    return plans


def plan_export(current: Optional[Disk], desired: DesiredExport, options: PlanOptions) -> DiskPlan:
    """The ``set`` that makes an existing disk's export match ``desired``."""
    check_slot(desired.slot)
    if current is None:
        raise NotFoundError(
            "Disk %r does not exist on the RDS; create it with srvlab.rds.disk before exporting it." % desired.slot
        )
    now = current.export
    if not desired.enabled:
        for option, value in (("nvme_port", desired.port), ("nvme_nqn", desired.nqn)):
            if value is not None:
                raise InvalidValueError(
                    "%s of disk %r applies only to an exported disk, but enabled is false; set enabled: true or drop "
                    "%s." % (option, desired.slot, option)
                )
    port = _chosen(desired.port, now.port, DEFAULT_NVME_PORT)
    nqn = desired.nqn or now.nqn or options.nqn_base + desired.slot
    if desired.enabled:
        check_export(desired.slot, ExportSpec(enabled=True, port=port, nqn=nqn))
        _check_nqn_change(current, nqn, options)
    hosts = desired.allowed_host_nqns
    if hosts is not None:
        for host in hosts:
            check_host_nqn(host, desired.slot)
    password, warnings = _password_change(desired.slot, now, desired.password, desired.update_password)
    changes: Dict[str, Any] = {}
    if desired.enabled != now.enabled or (desired.enabled and (port != now.port or nqn != now.nqn)):
        changes.update(enabled=desired.enabled, port=port if desired.enabled else now.port)
        changes.update(nqn=nqn if desired.enabled else now.nqn)
    if hosts is not None and set(hosts) != set(now.allowed_host_nqns):
        changes["allowed_host_nqns"] = tuple(sorted(set(hosts)))
    if password is not None:
        changes["has_password"] = bool(password)
    if not changes:
        return DiskPlan(desired.slot, (), current, current, warnings)
    _check_export_change_allowed(current, options)
    spec = ExportSpec(
        enabled=desired.enabled,
        port=port,
        nqn=nqn,
        allowed_host_nqns=changes.get("allowed_host_nqns"),
        password=password,
    )
    after = replace(current, export=replace(now, **changes))
    return DiskPlan(desired.slot, (SetExport(spec),), current, after, warnings)


def check_supported(support: FieldSupport, plans: Sequence[DiskPlan]) -> None:
    """Refuse plans whose commands would send a field the appliance's RouterOS lacks (``UnsupportedVersionError``
    naming the field and the version), so check mode foresees what sending would be refused for."""
    names = support.fields
    sent: List[str] = []
    for plan in plans:
        for action in plan.actions:
            if isinstance(action, CreateDisk):
                sent.extend(disk_arguments(names, action.spec))
            elif isinstance(action, SetExport):
                sent.extend(export_arguments(names, action.export))
            elif isinstance(action, GrowDisk):
                sent.append(names.file_size)
            elif isinstance(action, SetComment):
                sent.append(names.comment)
    support.check_arguments(sent)


def apply_plan(client: DiskOperations, plan: DiskPlan) -> Optional[Disk]:
    """Run the plan's actions in order and return the disk as the RDS reports it afterwards.

    On a failure, directories this plan created for a disk that was not created are removed again,
    and ``ApplyError`` lists what stays applied.
    """
    disk = plan.before
    applied: List[Action] = []
    created_directories: List[str] = []
    try:
        for action in plan.actions:
            if isinstance(action, CreateDirectory):
                if client.create_directory(action.path):
                    created_directories.append(action.path)
                    applied.append(action)
                continue
            disk = _apply(client, plan.slot, action, disk)
            applied.append(action)
    except RdsError as error:
        if not any(isinstance(action, CreateDisk) for action in applied):
            applied = [action for action in applied if action not in _remove_directories(client, created_directories)]
        raise ApplyError(plan.slot, ["%s: %s" % (plan.slot, describe(action)) for action in applied], error) from error
    return disk


def describe(action: Action) -> str:
    """A short, secret-free line for the ``actions`` return value. Sizes carry their exact byte count."""
    if isinstance(action, CreateDisk):
        spec = action.spec
        exported = " exported as %s on port %d" % (spec.export.nqn, spec.export.port) if spec.export else ""
        return "create %s of %s at %s%s" % (spec.slot, _size_text(spec.size), spec.file_path, exported)
    if isinstance(action, SetExport):
        export = action.export
        return "export as %s on port %d" % (export.nqn, export.port) if export.enabled else "stop exporting"
    if isinstance(action, RemoveDisk):
        return "remove disk and backing file %s" % action.file_path if action.remove_file else "remove disk, keep file"
    if isinstance(action, (CreateDirectory, PruneDirectory, RemoveFile)):
        return _PATH_ACTIONS[type(action)] % action.path
    return "grow to %s" % _size_text(action.size) if isinstance(action, GrowDisk) else "set comment"


_PATH_ACTIONS = {
    CreateDirectory: "create directory %s",
    PruneDirectory: "remove directory %s if it is left empty",
    RemoveFile: "remove orphaned backing file %s",
}


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


def _apply(client: DiskOperations, slot: str, action: Action, disk: Optional[Disk]) -> Optional[Disk]:
    if isinstance(action, CreateDisk):
        return client.create_disk(action.spec)
    if isinstance(action, GrowDisk):
        return client.resize_disk(slot, action.size, disk)
    if isinstance(action, SetComment):
        return client.set_comment(slot, action.comment)
    if isinstance(action, SetExport):
        return client.set_export(slot, action.export)
    if isinstance(action, (RemoveFile, PruneDirectory)):
        _tidy(client, action)
        return None
    if isinstance(action, RemoveDisk) and disk is not None:
        client.remove_known_disk(disk, remove_file=action.remove_file)
    return None


def _tidy(client: DiskOperations, action: Union[RemoveFile, PruneDirectory]) -> None:
    if isinstance(action, RemoveFile):
        client.remove_known_file(action.path)
    else:
        client.remove_directory_if_empty(action.path)


def _remove_directories(client: DiskOperations, created: Sequence[str]) -> List[CreateDirectory]:
    """Remove directories a failed plan created, innermost first; returns the ones removed."""
    removed: List[CreateDirectory] = []
    for path in reversed(created):
        try:
            client.remove_known_file(path)
        except RdsError:
            break
        removed.append(CreateDirectory(path))
    return removed


def _plan_removal(found: Survey, current: Optional[Disk], desired: DesiredDisk, options: PlanOptions) -> DiskPlan:
    warnings = _ignored_on_removal(desired)
    if current is None:
        return _plan_orphan_removal(found, desired, options, warnings)
    if desired.file_path is not None and desired.file_path != current.file_path:
        raise InvalidValueError(
            "Disk %r uses the backing file %s, not %s; drop file_path or give the disk's own file."
            % (current.slot, current.file_path, desired.file_path)
        )
    if not options.policy.is_managed(current) and not options.force:
        raise InvalidValueError(
            "Refusing to remove disk %r: it is not managed by the CSI driver (slot prefix %r, NQN prefix %r), so it "
            "may be a node's system volume or a hand-made disk. Set force: true to remove it anyway."
            % (current.slot, options.policy.slot_prefix, options.policy.nqn_prefix)
        )
    action = RemoveDisk(remove_file=options.remove_file, file_path=current.file_path)
    pruned = _prunable(current.file_path, options) if options.remove_file else ()
    return DiskPlan(desired.slot, (action, *pruned), current, None, warnings)


def _prunable(path: str, options: PlanOptions) -> Tuple[PruneDirectory, ...]:
    """The directories around a removed file that may be left empty, innermost first: every level below the pool
    except the managed base paths and their parents, which stay for the next disk."""
    keep = options.policy.base_paths
    return tuple(
        PruneDirectory(level)
        for level in reversed(directory_levels(path))
        if not any(level == base or is_under(base, level) for base in keep)
    )


def _plan_orphan_removal(
    found: Survey, desired: DesiredDisk, options: PlanOptions, warnings: Tuple[str, ...]
) -> DiskPlan:
    """``state: absent`` for a disk that is gone: its backing file goes too, unless a disk still uses it."""
    path = planned_path(desired, options)
    leftover = found.files.get(path)
    if not options.remove_file or leftover is None or path in found.users:
        return DiskPlan(desired.slot, (), None, None, warnings)
    if leftover.type == "directory":
        raise InvalidValueError("%s is a directory, not the backing file of disk %r." % (path, desired.slot))
    if not options.policy.holds_file(path) and not options.force:
        raise InvalidValueError(
            "Refusing to remove the orphaned file %s: it lies outside the managed base paths (%s). Set force: true "
            "to remove it anyway." % (path, ", ".join(options.policy.base_paths))
        )
    return DiskPlan(desired.slot, (RemoveFile(path), *_prunable(path, options)), None, None, warnings)


def _ignored_on_removal(desired: DesiredDisk) -> Tuple[str, ...]:
    ignored = [
        name
        for name in ("size", "comment", "nvme_export", "nvme_port", "nvme_nqn")
        if getattr(desired, name) is not None
    ]
    if not ignored:
        return ()
    return ("Disk %r: %s ignored because state is absent." % (desired.slot, ", ".join(ignored)),)


def _plan_creation(found: Survey, desired: DesiredDisk, options: PlanOptions, earlier: Sequence[DiskPlan]) -> DiskPlan:
    slot = desired.slot
    if not options.create:
        raise NotFoundError(
            "Disk %r does not exist on the RDS, and create is false; check the slot (srvlab.rds.disk_info lists the "
            "disks)." % slot
        )
    if desired.size is None:
        raise InvalidValueError("Disk %r does not exist on the RDS; give size to create it." % slot)
    file_path = planned_path(desired, options)
    _check_placement(found, slot, file_path, options)
    actions: List[Action] = [
        CreateDirectory(level)
        for level in _missing_directories(found, slot, file_path)
        if not any(CreateDirectory(level) in plan.actions for plan in earlier)
    ]
    export: Optional[ExportSpec] = None
    if desired.nvme_export:
        port = _chosen(desired.nvme_port, None, DEFAULT_NVME_PORT)
        export = ExportSpec(enabled=True, port=port, nqn=desired.nvme_nqn or options.nqn_base + slot)
        check_export(slot, export)
    elif desired.nvme_port is not None or desired.nvme_nqn is not None:
        raise InvalidValueError(
            "nvme_port and nvme_nqn of disk %r apply only to an exported disk; set nvme_export: true or drop them."
            % slot
        )
    spec = DiskSpec(slot=slot, file_path=file_path, size=desired.size, export=export, comment=desired.comment or "")
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
    actions.append(CreateDisk(spec))
    return DiskPlan(slot, tuple(actions), None, after)


def _check_placement(found: Survey, slot: str, path: str, options: PlanOptions) -> None:
    """A new backing file lies in a pool, under a managed base path (or with force), and is not taken."""
    pool = pool_of(path)
    if pool not in found.capacities:
        raise InvalidValueError(
            "The backing file %s of disk %r is not in a storage pool of the RDS (no pool is mounted at /%s); "
            "backing files live in a pool, such as %s." % (path, slot, pool, DEFAULT_BASE_PATH)
        )
    if not options.policy.holds_file(path) and not options.force:
        raise InvalidValueError(
            "The backing file %s of disk %r lies outside the managed base paths (%s). Add its directory to "
            "managed_base_paths, or set force: true to place it there anyway."
            % (path, slot, ", ".join(options.policy.base_paths))
        )
    user = found.users.get(path)
    if user is not None:
        raise AlreadyExistsError(
            "The backing file %s asked for disk %r already belongs to disk %r; give another file_path."
            % (path, slot, user.slot)
        )
    existing = found.files.get(path)
    if existing is not None:
        raise AlreadyExistsError(
            "A file already exists at %s, where disk %r would keep its data, and no disk uses it (an earlier removal "
            "kept it). Remove it with srvlab.rds.disk slot=%s state=absent file_path=%s, or give another file_path."
            % (path, slot, slot, path)
        )


def _missing_directories(found: Survey, slot: str, path: str) -> List[str]:
    missing: List[str] = []
    for level in directory_levels(path):
        entry = found.files.get(level)
        if entry is None:
            missing.append(level)
        elif entry.type != "directory":
            raise AlreadyExistsError(
                "Cannot place the backing file of disk %r at %s: %s is a file, not a directory." % (slot, path, level)
            )
    return missing


def _check_room(found: Survey, plans: Sequence[DiskPlan]) -> None:
    """Refuse a list whose creations and growths do not fit the free space, applied in the declared order."""
    free = {pool: capacity.free for pool, capacity in found.capacities.items()}
    for plan in plans:
        for action in plan.actions:
            pool, delta = _space_delta(plan, action)
            if pool not in free:
                continue
            free[pool] -= delta
            if delta > 0 and free[pool] < 0:
                raise NoSpaceError(
                    "Not enough space in pool %s for disk %r: %s more needed, %s free at that point. Free space, add "
                    "disks to the pool or ask for less."
                    % (pool, plan.slot, _size_text(delta), format_size(free[pool] + delta))
                )


def _space_delta(plan: DiskPlan, action: Action) -> Tuple[str, int]:
    """The pool an action touches and the bytes it takes (negative: frees)."""
    if isinstance(action, CreateDisk):
        return pool_of(action.spec.file_path), action.spec.size
    before = plan.before
    if isinstance(action, GrowDisk) and before is not None:
        return pool_of(before.file_path), action.size - (before.size or 0)
    if isinstance(action, RemoveDisk) and action.remove_file and before is not None:
        return pool_of(before.file_path), -(before.size or 0)
    return "", 0


def _plan_modification(found: Survey, current: Disk, desired: DesiredDisk, options: PlanOptions) -> DiskPlan:
    slot = current.slot
    if desired.file_path is not None and desired.file_path != current.file_path:
        raise InvalidValueError(
            "Disk %r already exists with backing file %s, not %s; a disk cannot be moved. Use another slot, or "
            "remove the disk first." % (slot, current.file_path, desired.file_path)
        )
    actions: List[Action] = []
    after = current
    size = _size_change(current, desired.size)
    if size is not None:
        actions.append(GrowDisk(size))
        after = replace(after, size=size, size_exact=True)
    comment = desired.comment
    if comment is not None and comment != current.comment:
        actions.append(SetComment(comment))
        after = replace(after, comment=comment)
    export = _export_change(current, desired, options)
    if export is not None:
        _check_export_change_allowed(current, options)
        actions.append(SetExport(export))
        new_export = replace(current.export, enabled=export.enabled)
        if export.enabled:
            new_export = replace(new_export, port=export.port, nqn=export.nqn)
        after = replace(after, export=new_export)
    return DiskPlan(slot, tuple(actions), current, after)


def _size_change(current: Disk, size: Optional[int]) -> Optional[int]:
    if size is None or current.size == size:
        return None
    if current.size is not None and not current.size_exact and abs(current.size - size) <= size // 20:
        return None  # only RouterOS' rounded size is known, and it agrees within its rounding
    if current.size is None or size > current.size:
        return size
    raise InvalidValueError(
        "Disk %r is %s; the RDS cannot shrink a file disk to %s, and shrinking would cut off data. Keep size at %s "
        "or more, or create a smaller disk and copy the data into it."
        % (current.slot, _size_text(current.size), _size_text(size), format_size(current.size))
    )


def _export_change(current: Disk, desired: DesiredDisk, options: PlanOptions) -> Optional[ExportSpec]:
    now = current.export
    enabled = now.enabled if desired.nvme_export is None else desired.nvme_export
    if not enabled:
        if desired.nvme_port is not None or desired.nvme_nqn is not None:
            raise InvalidValueError(
                "nvme_port and nvme_nqn of disk %r apply only to an exported disk, and it is not exported; set "
                "nvme_export: true or drop them." % current.slot
            )
        return ExportSpec(enabled=False) if now.enabled else None
    port = _chosen(desired.nvme_port, now.port, DEFAULT_NVME_PORT)
    nqn = desired.nvme_nqn or now.nqn or options.nqn_base + current.slot
    check_export(current.slot, ExportSpec(enabled=True, port=port, nqn=nqn))
    if now.enabled and port == now.port and nqn == now.nqn:
        return None
    _check_nqn_change(current, nqn, options)
    return ExportSpec(enabled=True, port=port, nqn=nqn)


def _chosen(asked: Optional[int], current: Optional[int], default: int) -> int:
    """The asked-for value when given (0 included, so it is validated, never replaced), else the current one."""
    if asked is not None:
        return asked
    return current if current is not None else default


def _check_export_change_allowed(current: Disk, options: PlanOptions) -> None:
    if not options.policy.is_managed(current) and not options.force:
        raise InvalidValueError(
            "Refusing to change the export of disk %r: it is not managed by the CSI driver (slot prefix %r, NQN "
            "prefix %r), so it may be a diskless node's system volume that hosts are booted from. Set force: true "
            "to change it anyway." % (current.slot, options.policy.slot_prefix, options.policy.nqn_prefix)
        )


def _check_nqn_change(current: Disk, nqn: str, options: PlanOptions) -> None:
    now = current.export
    if now.enabled and now.nqn and nqn != now.nqn and not options.force:
        raise InvalidValueError(
            "Refusing to change the NQN of exported disk %r from %s to %s: connected hosts would lose it. Set "
            "force: true to change it anyway." % (current.slot, now.nqn, nqn)
        )


def _password_change(
    slot: str, now: NvmeExport, password: Optional[str], update: bool
) -> Tuple[Optional[str], Tuple[str, ...]]:
    """The password to send (or ``None``) and a warning when one given is not sent.

    The RDS never prints the secret, so an existing one is replaced only on request.
    """
    if password is None:
        return None, ()
    if password == "":
        return ("" if now.has_password else None), ()
    if now.has_password and not update:
        return None, (
            "nvme_password was not sent: the export of disk %r already has a secret, and the RDS never shows it, so "
            "it cannot be compared. Set update_nvme_password: always to replace it." % slot,
        )
    return password, ()


def _size_text(size: int) -> str:
    short = format_size(size)
    return short if short.endswith(" bytes") else "%s (%d bytes)" % (short, size)
