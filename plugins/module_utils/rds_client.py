# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Operations on an RDS: disks, NVMe/TCP exports, files and pool capacity.

Contract shared by every mutating operation:
- it is idempotent: asking for a state the RDS already has changes nothing and succeeds;
- RouterOS applies ``set``/``remove [find ...]`` silently when nothing matches, so every
  mutation is verified by reading the item back;
- transient failures are retried with backoff; when a mutation's outcome is unknown (the reply
  was lost or timed out after the command was sent) the RDS is re-read before retrying, so a
  retry never duplicates an item or fails on its own earlier success (P-4.5);
- a failed ``add`` leaves nothing behind.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple, TypeVar

from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import (
    Disk,
    DiskSpec,
    ExportSpec,
    PoolCapacity,
    RdsFile,
    capacity_from_item,
    check_disk_spec,
    check_export,
    check_path,
    check_slot,
    disk_from_item,
    file_from_item,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import (
    AlreadyExistsError,
    InvalidValueError,
    NoSpaceError,
    NotFoundError,
    RdsConnectionError,
    RdsError,
    classify,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_sizes import format_size
from ansible_collections.srvlab.rds.plugins.module_utils.rds_versions import (
    DiskFields,
    RouterOsVersion,
    fields_for,
)
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_command import (
    ArgValue,
    Command,
    Condition,
    build,
    equals,
    matches,
    print_detail,
)
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_output import (
    Item,
    parse_detail,
    parse_screen,
)
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshTransport

LOG = logging.getLogger("srvlab.rds.client")
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    initial_delay: float = 0.2
    max_delay: float = 5.0


class RdsClient:
    """RDS operations over an ``SshTransport``. Safe to share between threads."""

    def __init__(
        self,
        transport: SshTransport,
        retry: Optional[RetryPolicy] = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.transport = transport
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._version: Optional[Tuple[int, RouterOsVersion]] = None

    # Reading

    def version(self) -> RouterOsVersion:
        """The appliance's RouterOS version, read once per SSH connection."""
        cached = self._version
        if cached is not None and cached[0] == self.transport.generation:
            return cached[1]
        screen = parse_screen(self.read(build("/system resource", "print")))
        if "version" not in screen:
            raise RdsError("The RDS at %s printed no version in /system resource print." % self.transport.settings.host)
        version = RouterOsVersion.parse(screen["version"])
        self._version = (self.transport.generation, version)
        return version

    @property
    def fields(self) -> DiskFields:
        return fields_for(self.version())

    def list_disks(self, slot_regex: Optional[str] = None, file_disks_only: bool = True) -> List[Disk]:
        names = self.fields
        where = [matches(names.slot, slot_regex)] if slot_regex is not None else []
        disks = [disk_from_item(item, names) for item in self._print("/disk", where)]
        return [disk for disk in disks if disk.is_file_disk or not file_disks_only]

    def get_disk(self, slot: str) -> Optional[Disk]:
        check_slot(slot)
        names = self.fields
        found = [disk_from_item(item, names) for item in self._print("/disk", [equals(names.slot, slot)])]
        exact = [disk for disk in found if disk.slot == slot]
        return exact[0] if exact else None

    def list_files(self, name_regex: str = "") -> List[RdsFile]:
        where = [matches("name", name_regex)] if name_regex else []
        return [file_from_item(item) for item in self._print("/file", where)]

    def get_file(self, path: str) -> Optional[RdsFile]:
        check_path(path)
        name = path.lstrip("/")
        found = [file_from_item(item) for item in self._print("/file", [equals("name", name)])]
        exact = [entry for entry in found if entry.path == path]
        return exact[0] if exact else None

    def pool_capacity(self, pool: str = "storage-pool") -> PoolCapacity:
        items = self._print("/disk", [equals("mount-point", pool)])
        if not items:
            raise NotFoundError(
                "The RDS has no storage pool mounted at %r; check the pool name (for example storage-pool)." % pool
            )
        return capacity_from_item(items[0], pool)

    # Changing

    def add_disk(self, spec: DiskSpec) -> Disk:
        """Create a file-backed disk (and its export), or return it when it already exists as asked."""
        check_disk_spec(spec)
        existing = self.get_disk(spec.slot)
        if existing is not None:
            return self._same_disk_or_conflict(existing, spec)
        names = self.fields
        args: dict[str, ArgValue] = {
            names.type: "file",
            names.file_path: spec.file_path,
            names.file_size: spec.size,
            names.slot: spec.slot,
        }
        return self._create(spec, args)

    def copy_disk(self, source_slot: str, spec: DiskSpec) -> Disk:
        """Create ``spec.slot`` as an independent copy of ``source_slot`` (``copy-from``), grown to ``spec.size``.

        RouterOS does not print the source of a copy; callers that need it record it in ``comment``.
        """
        source = self.get_disk(source_slot)
        if source is None:
            raise NotFoundError("Cannot copy disk %r: it does not exist on the RDS." % source_slot)
        if source.size is not None and spec.size < source.size:
            raise InvalidValueError(
                "Cannot copy disk %r (%s) into a smaller disk %r (%s); ask for at least the source's size."
                % (source_slot, format_size(source.size), spec.slot, format_size(spec.size))
            )
        check_disk_spec(spec)
        existing = self.get_disk(spec.slot)
        if existing is not None:
            return self._same_disk_or_conflict(existing, spec)
        self._check_room_for(spec)
        names = self.fields
        args: dict[str, ArgValue] = {
            names.type: "file",
            names.copy_from: (equals(names.slot, source_slot),),
            names.file_path: spec.file_path,
            names.slot: spec.slot,
        }
        if source.size != spec.size:
            args[names.file_size] = spec.size
        return self._create(spec, args)

    def resize_disk(self, slot: str, size: int) -> Disk:
        """Grow a disk to exactly ``size`` bytes. Shrinking is refused: it would cut off data."""
        disk = self._require_disk(slot)
        if disk.size is not None and disk.size == size:
            return disk
        if disk.size is not None and size < disk.size:
            raise InvalidValueError(
                "Refusing to shrink disk %r from %s to %s: data past the new end would be lost."
                % (slot, format_size(disk.size), format_size(size))
            )
        return self._set(slot, {self.fields.file_size: size}, lambda found: _size_is(found, size))

    def set_export(self, slot: str, export: ExportSpec) -> Disk:
        """Make the disk's NVMe/TCP export match ``export``."""
        check_export(slot, export)
        self._require_disk(slot)
        args = self._export_args(export)
        return self._set(slot, args, lambda found: _export_matches(found, export), secret=self.fields.password)

    def set_comment(self, slot: str, comment: str) -> Disk:
        self._require_disk(slot)
        return self._set(slot, {self.fields.comment: comment}, lambda found: found.comment == comment)

    def remove_disk(self, slot: str, remove_file: bool = True, file_path: Optional[str] = None) -> bool:
        """Remove a disk and, unless told not to, its backing file. Returns whether anything was removed.

        ``file_path`` names the backing file when the disk entry may already be gone (an
        interrupted earlier removal), so the file is not left orphaned.
        """
        check_slot(slot)
        disk = self.get_disk(slot)
        path = disk.file_path if disk is not None and disk.file_path else file_path
        removed = False
        if disk is not None:
            names = self.fields
            command = build("/disk", "remove", target=[equals(names.slot, slot)])
            self.mutate(command, lambda: True if self.get_disk(slot) is None else None, "remove disk %r" % slot)
            removed = True
        if remove_file and path:
            removed = self.remove_file(path) or removed
        return removed

    def remove_file(self, path: str) -> bool:
        check_path(path)
        if self.get_file(path) is None:
            return False
        command = build("/file", "remove", target=[equals("name", path.lstrip("/"))])
        self.mutate(command, lambda: True if self.get_file(path) is None else None, "remove file %s" % path)
        return True

    def ensure_directory(self, path: str) -> bool:
        """Create a directory and its missing parents below the pool. Returns whether one was created."""
        check_path(path)
        parts = path.strip("/").split("/")
        created = False
        for depth in range(2, len(parts) + 1):
            current = "/" + "/".join(parts[:depth])
            found = self.get_file(current)
            if found is not None:
                if found.type != "directory":
                    raise AlreadyExistsError("Cannot create directory %s: a file with that name exists." % current)
                continue
            command = build("/file", "add", args={"name": current.lstrip("/"), "type": "directory"})
            self.mutate(command, self._file_appeared(current), "create %s" % current)
            created = True
        return created

    # Running commands: the public path for callers that build their own RouterOS commands.

    def read(self, command: Command) -> str:
        """Run a read-only command, retrying transient failures."""
        attempt = 1
        while True:
            try:
                return self._execute(command)
            except RdsConnectionError as error:
                if not error.transient or attempt >= self.retry.attempts:
                    raise
                self._backoff(attempt)
                attempt += 1

    def mutate(self, command: Command, applied: Callable[[], Optional[T]], what: str) -> T:
        """Run a mutating command with retries; ``applied`` re-reads the RDS and returns the result once visible.

        The one path for every change: a lost or timed-out reply is re-checked with ``applied`` before a retry.
        """
        uncertain = False
        for attempt in range(1, self.retry.attempts + 1):
            try:
                self._execute(command)
            except AlreadyExistsError:
                if not uncertain:
                    raise
                # An earlier attempt whose reply was lost created it: that is our success.
            except RdsConnectionError as error:
                if not error.transient or attempt == self.retry.attempts:
                    raise
                uncertain = uncertain or error.outcome_unknown
                LOG.warning("retrying %s attempt=%d error=%s", what, attempt, error)
                self._backoff(attempt)
                if uncertain:
                    result = self._recheck(applied)
                    if result is not None:
                        return result
                continue
            result = self._recheck(applied)
            if result is None:
                raise RdsError("The RDS accepted the command to %s but does not show the change." % what)
            return result
        raise RdsError("Could not %s after %d attempts." % (what, self.retry.attempts))

    # Internals: may change without notice.

    def _file_appeared(self, path: str) -> Callable[[], Optional[bool]]:
        return lambda: True if self.get_file(path) is not None else None

    def _create(self, spec: DiskSpec, args: dict[str, ArgValue]) -> Disk:
        names = self.fields
        if spec.comment:
            args[names.comment] = spec.comment
        if spec.export is not None:
            check_export(spec.slot, spec.export)
            args.update(self._export_args(spec.export))
        command = build("/disk", "add", args=args, secret_args=[names.password])

        def created() -> Optional[Disk]:
            found = self.get_disk(spec.slot)
            if found is None:
                return None
            return self._same_disk_or_conflict(found, spec)

        try:
            return self.mutate(command, created, "create disk %r" % spec.slot)
        except NoSpaceError:
            self._clean_failed_create(spec)
            raise

    def _clean_failed_create(self, spec: DiskSpec) -> None:
        """After out-of-space, make sure neither a disk entry nor a partial file is left behind."""
        try:
            disk = self.get_disk(spec.slot)
            if disk is not None and disk.file_path == spec.file_path:
                self.remove_disk(spec.slot)
            elif disk is None:
                self.remove_file(spec.file_path)
        except RdsError as error:
            LOG.warning("could not verify cleanup after a failed create slot=%s error=%s", spec.slot, error)

    def _check_room_for(self, spec: DiskSpec) -> None:
        pool = spec.file_path.strip("/").split("/")[0]
        capacity = self.pool_capacity(pool)
        if capacity.free < spec.size:
            raise NoSpaceError(
                "Not enough space in pool %s for disk %r: %s requested, %s free. Free space or add disks to the pool."
                % (pool, spec.slot, format_size(spec.size), format_size(capacity.free))
            )

    def _same_disk_or_conflict(self, existing: Disk, spec: DiskSpec) -> Disk:
        if existing.file_path != spec.file_path:
            raise AlreadyExistsError(
                "Disk %r already exists on the RDS with file %s, not %s; choose another slot or remove it first."
                % (spec.slot, existing.file_path, spec.file_path)
            )
        if existing.size is not None and existing.size_exact and existing.size != spec.size:
            raise AlreadyExistsError(
                "Disk %r already exists with size %s, not %s; resize it instead of creating it again."
                % (spec.slot, format_size(existing.size), format_size(spec.size))
            )
        return existing

    def _export_args(self, export: ExportSpec) -> dict[str, ArgValue]:
        names = self.fields
        args: dict[str, ArgValue] = {names.export: export.enabled}
        if export.enabled:
            args[names.port] = export.port
            args[names.nqn] = export.nqn
        if export.allowed_host_nqns is not None:
            args[names.allowed_hosts] = ",".join(export.allowed_host_nqns)
        if export.password is not None:
            args[names.password] = export.password
        return args

    def _set(self, slot: str, args: dict[str, ArgValue], done: Callable[[Disk], bool], secret: str = "") -> Disk:
        names = self.fields
        command = build(
            "/disk",
            "set",
            target=[equals(names.slot, slot)],
            args=args,
            secret_args=[secret] if secret else [],
        )

        def applied() -> Optional[Disk]:
            found = self.get_disk(slot)
            if found is None:
                raise NotFoundError("Disk %r disappeared from the RDS while it was being changed." % slot)
            return found if done(found) else None

        return self.mutate(command, applied, "change disk %r" % slot)

    def _require_disk(self, slot: str) -> Disk:
        disk = self.get_disk(slot)
        if disk is None:
            raise NotFoundError("Disk %r does not exist on the RDS; check the slot name." % slot)
        return disk

    def _recheck(self, applied: Callable[[], Optional[T]]) -> Optional[T]:
        for attempt in range(1, self.retry.attempts + 1):
            try:
                return applied()
            except RdsConnectionError as error:
                if not error.transient or attempt == self.retry.attempts:
                    raise
                self._backoff(attempt)
        return None

    def _print(self, menu: str, where: Sequence[Condition]) -> List[Item]:
        return parse_detail(self.read(print_detail(menu, where)))

    def _execute(self, command: Command) -> str:
        shown = command.render_for_log()
        result = self.transport.run(command.render(), log_as=shown)
        error = classify(result.output, result.exit_status, shown)
        if error is not None:
            raise error
        return result.output

    def _backoff(self, attempt: int) -> None:
        ceiling = min(self.retry.max_delay, self.retry.initial_delay * (2 ** (attempt - 1)))
        self._sleep(random.uniform(ceiling / 2, ceiling))


def _size_is(disk: Disk, size: int) -> bool:
    """Exact comparison; RouterOS' rounded human size is accepted only when no exact size is printed."""
    if disk.size is None:
        return False
    if disk.size_exact:
        return disk.size == size
    return abs(disk.size - size) <= size // 20


def _export_matches(disk: Disk, export: ExportSpec) -> bool:
    current = disk.export
    if current.enabled != export.enabled:
        return False
    if export.enabled and (current.port != export.port or current.nqn != export.nqn):
        return False
    if export.allowed_host_nqns is not None and set(current.allowed_host_nqns) != set(export.allowed_host_nqns):
        return False
    return export.password is None or current.has_password == bool(export.password)
