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

The appliance is slow per exec request, so round trips are the latency: a change and the print
that verifies it go in one request (``Script``), and ``survey`` reads several disks, files and the
pool's capacity in one. On the happy path an operation that must look before it acts costs two
round trips: one survey, one change with its read-back.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

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
    ParseError,
    RdsCommandError,
    RdsConnectionError,
    RdsError,
    classify,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_host_list import render_host_list
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import DEFAULT_POOL
from ansible_collections.srvlab.rds.plugins.module_utils.rds_sizes import format_size
from ansible_collections.srvlab.rds.plugins.module_utils.rds_versions import (
    DiskFields,
    FieldSupport,
    RouterOsVersion,
    confirmed_support,
    inspected_arguments,
    known_support,
    unconfirmed_support,
)
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_command import (
    ArgValue,
    Command,
    Condition,
    Inspect,
    Runnable,
    Script,
    build,
    equals,
    matches,
    print_detail,
    script,
)
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_monitor import (
    DiskTraffic,
    HealthReading,
    parse_health,
    parse_monitor_traffic,
    split_traffic_output,
    traffic_script,
)
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_output import (
    Item,
    parse_detail,
    parse_screen,
)
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshTransport

LOG = logging.getLogger("srvlab.rds.client")
# A survey asking for more disks or files than this prints the whole table once instead of one
# print per item, so a long list stays one short command line; the items are sorted out here.
_TARGETED_PRINTS = 8
_REGEX_SPECIALS = frozenset(".[]()*+?{}|^$\\")
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    initial_delay: float = 0.2
    max_delay: float = 5.0


@dataclass(frozen=True)
class Survey:
    """What one read of the RDS showed: the asked-for disks by slot and files by path (absent
    ones are missing from the maps), the pool's capacity when a pool was asked for, the disks
    whose backing file is one of the asked-for ``users_of`` paths (by path), and the capacity of
    every asked-for pool (by pool name; a name that is no pool is missing)."""

    disks: Dict[str, Disk] = field(default_factory=dict)
    files: Dict[str, RdsFile] = field(default_factory=dict)
    capacity: Optional[PoolCapacity] = None
    users: Dict[str, Disk] = field(default_factory=dict)
    capacities: Dict[str, PoolCapacity] = field(default_factory=dict)


@dataclass(frozen=True)
class TrafficReport:
    """What ``disk_traffic`` read: each disk's traffic by slot, and the slots that were not there."""

    traffic: Dict[str, DiskTraffic] = field(default_factory=dict)
    missing: Tuple[str, ...] = ()


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
        self._support: Optional[FieldSupport] = None
        self._support_lock = threading.RLock()
        self.warnings: List[str] = []
        """Warnings for the operator (a RouterOS version newer than the table), each given once."""
        self.warning_sink: Optional[Callable[[str], None]] = None
        """Also called with each warning as it arises (``AnsibleModule.warn``), so it survives a failure."""
        self._detector = self

    def with_retry(self, retry: RetryPolicy) -> RdsClient:
        """This client with another retry policy: the same transport, and the version, field names and
        warnings this client detects (once for both)."""
        twin = RdsClient(self.transport, retry, self._sleep)
        twin._detector = self._detector
        return twin

    # Reading

    def version(self) -> RouterOsVersion:
        """The appliance's RouterOS version, read once per SSH connection."""
        if self._detector is not self:
            return self._detector.version()
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
        return self.field_support().fields

    def field_support(self) -> FieldSupport:
        """The field names this appliance takes, from the table or, for a newer version, confirmed on it
        once per version; the first time a newer version is seen, one warning goes to the log and ``warnings``."""
        if self._detector is not self:
            return self._detector.field_support()
        with self._support_lock:
            version = self.version()
            support = self._support
            if support is not None and support.version == version:
                return support
            support = known_support(version) or self._confirm_fields(version)
            self._support = support
            if support.warning is not None and support.warning not in self.warnings:
                LOG.warning("%s", support.warning)
                self.warnings.append(support.warning)
                if self.warning_sink is not None:
                    self.warning_sink(support.warning)
            return support

    def check_fields(self, command: Runnable) -> None:
        """Refuse a ``/disk`` command that sends or selects by a field this appliance lacks, before it is sent."""
        commands = command.commands if isinstance(command, Script) else (command,)
        disk = [each for each in commands if isinstance(each, Command) and each.menu == "/disk"]
        sent = [name for each in disk if each.verb in ("add", "set") for name, _value in each.args]
        compared = [
            condition.field
            for each in disk
            for conditions in (
                each.target,
                each.where,
                *(value for _name, value in each.args if isinstance(value, tuple)),
            )
            for condition in conditions
        ]
        if sent or compared:
            support = self.field_support()
            support.check_arguments(sent)
            support.check_filters(compared)

    def _confirm_fields(self, version: RouterOsVersion) -> FieldSupport:
        try:
            arguments = inspected_arguments(self.read(Inspect("/disk", "add")))
        except (ParseError, RdsCommandError) as error:
            return unconfirmed_support(version, str(error).strip().rstrip("."))
        return confirmed_support(version, arguments)

    def survey(
        self,
        slots: Sequence[str] = (),
        files: Sequence[str] = (),
        pool: Optional[str] = None,
        users_of: Sequence[str] = (),
        pools: Sequence[str] = (),
    ) -> Survey:
        """Read the named disks, files, the disks using the ``users_of`` files and the pools' capacities in one
        round trip."""
        for slot in slots:
            check_slot(slot)
        for path in (*files, *users_of):
            check_path(path)
        every_pool = ([pool] if pool is not None else []) + [name for name in pools if name != pool]
        prints = self._survey_prints(slots, files, every_pool, users_of)
        if not prints:
            return Survey()
        return self._survey_from(self.read(script(*prints)), slots, files, pool, users_of=users_of, pools=every_pool)

    def list_disks(self, slot_regex: Optional[str] = None, file_disks_only: bool = True) -> List[Disk]:
        names = self.fields
        where = [matches(names.slot, slot_regex)] if slot_regex is not None else []
        disks = [disk_from_item(item, names) for item in self._print("/disk", where)]
        return [disk for disk in disks if disk.is_file_disk or not file_disks_only]

    def get_disk(self, slot: str) -> Optional[Disk]:
        return self.survey(slots=[slot]).disks.get(slot)

    def list_files(self, name_regex: str = "") -> List[RdsFile]:
        where = [matches("name", name_regex)] if name_regex else []
        return [file_from_item(item) for item in self._print("/file", where)]

    def get_file(self, path: str) -> Optional[RdsFile]:
        return self.survey(files=[path]).files.get(path)

    def pool_capacity(self, pool: str = DEFAULT_POOL) -> PoolCapacity:
        capacity = self.survey(pool=pool).capacity
        if capacity is None:
            raise NotFoundError(_no_pool(pool))
        return capacity

    def health(self) -> List[HealthReading]:
        """The appliance's sensors (``/system health print``), in one round trip."""
        return parse_health(self.read(build("/system health", "print")))

    def disk_traffic(self, slots: Sequence[str]) -> TrafficReport:
        """The ``monitor-traffic`` counters of ``slots``, all in one exec line.

        A disk removed meanwhile stops RouterOS's line at its command (R-7.1): it is reported
        missing and the disks after it are read in one more line, so each removed disk costs one
        extra round trip and no disk after it is lost.
        """
        for slot in slots:
            check_slot(slot)
        found: Dict[str, DiskTraffic] = {}
        missing: List[str] = []
        remaining = list(slots)
        while remaining:
            failed = False
            try:
                output = self.read(traffic_script(remaining, self.fields.slot))
            except NotFoundError as error:
                blocks = split_traffic_output(error.output, failed=True)
                if not blocks:
                    raise
                failed = True
            else:
                blocks = split_traffic_output(output, failed=False)
            for slot, block in zip(remaining, blocks[:-1] if failed else blocks):
                if block.strip():
                    found[slot] = parse_monitor_traffic(block, slot)
                else:
                    missing.append(slot)
            if not failed:
                missing.extend(remaining[len(blocks) :])
                break
            missing.append(remaining[len(blocks) - 1])
            remaining = remaining[len(blocks) :]
        return TrafficReport(found, tuple(missing))

    # Changing

    def add_disk(self, spec: DiskSpec) -> Disk:
        """Create a file-backed disk (and its export), or return it when it already exists as asked."""
        check_disk_spec(spec)
        existing = self.get_disk(spec.slot)
        if existing is not None:
            return same_disk_or_conflict(existing, spec)
        return self.create_disk(spec)

    def copy_disk(self, source_slot: str, spec: DiskSpec) -> Disk:
        """Create ``spec.slot`` as an independent copy of ``source_slot`` (``copy-from``), grown to ``spec.size``.

        RouterOS does not print the source of a copy; callers that need it record it in ``comment``.
        """
        check_disk_spec(spec)
        pool = pool_of(spec.file_path)
        found = self.survey(slots=[source_slot, spec.slot], pool=pool)
        source = found.disks.get(source_slot)
        if source is None:
            raise NotFoundError("Cannot copy disk %r: it does not exist on the RDS." % source_slot)
        existing = found.disks.get(spec.slot)
        if existing is not None:
            return same_disk_or_conflict(existing, spec)
        if found.capacity is None:
            raise NotFoundError(_no_pool(pool))
        check_room(found.capacity, spec)
        return self.create_disk(spec, source)

    def create_disk(self, spec: DiskSpec, source: Optional[Disk] = None) -> Disk:
        """Create a disk the caller found absent (``copy-from`` ``source`` when given), read back in the same trip."""
        check_disk_spec(spec)
        if source is not None and source.size is not None and spec.size < source.size:
            raise InvalidValueError(
                "Cannot copy disk %r (%s) into a smaller disk %r (%s); ask for at least the source's size."
                % (source.slot, format_size(source.size), spec.slot, format_size(spec.size))
            )
        names = self.fields
        add = build("/disk", "add", args=disk_arguments(names, spec, source), secret_args=[names.password])

        def created(found: Survey) -> Optional[Disk]:
            disk = found.disks.get(spec.slot)
            return same_disk_or_conflict(disk, spec) if disk is not None else None

        try:
            return self._change_and_check(add, created, "create disk %r" % spec.slot, slots=[spec.slot])
        except NoSpaceError:
            self._clean_failed_create(spec)
            raise

    def resize_disk(self, slot: str, size: int, current: Optional[Disk] = None) -> Disk:
        """Grow a disk to exactly ``size`` bytes. Shrinking is refused: it would cut off data.

        ``current`` is the disk as the caller just read it; without it the disk is read first.
        """
        disk = current if current is not None else self._require_disk(slot)
        if disk.size is not None and disk.size == size:
            return disk
        if disk.size is not None and size < disk.size:
            raise InvalidValueError(
                "Refusing to shrink disk %r from %s to %s: data past the new end would be lost."
                % (slot, format_size(disk.size), format_size(size))
            )
        return self._set(slot, {self.fields.file_size: size}, lambda found: size_is(found, size))

    def set_export(self, slot: str, export: ExportSpec) -> Disk:
        """Make the disk's NVMe/TCP export match ``export``."""
        check_export(slot, export)
        self._require_disk(slot)
        args = export_arguments(self.fields, export)
        return self._set(slot, args, lambda found: export_matches(found, export), secret=self.fields.password)

    def set_allowed_hosts(self, slot: str, host_nqns: Sequence[str]) -> Disk:
        """Make the export of ``slot`` admit exactly ``host_nqns`` (as given: ``rds_host_list.fenced_hosts``
        turns "no one" into a value that means it), in one round trip with its read-back, without reading
        the disk first. NotFoundError when there is no such disk."""
        check_slot(slot)
        wanted = set(host_nqns)
        return self._set(
            slot,
            {self.fields.allowed_hosts: render_host_list(wanted)},
            lambda found: set(found.export.allowed_host_nqns) == wanted,
        )

    def set_comment(self, slot: str, comment: str) -> Disk:
        self._require_disk(slot)
        return self._set(slot, {self.fields.comment: comment}, lambda found: found.comment == comment)

    def remove_disk(self, slot: str, remove_file: bool = True, file_path: Optional[str] = None) -> bool:
        """Remove a disk and, unless told not to, its backing file. Returns whether anything was removed.

        ``file_path`` names the backing file when the disk entry may already be gone (an
        interrupted earlier removal), so the file is not left orphaned.
        """
        disk = self.get_disk(slot)
        if disk is not None:
            self.remove_known_disk(disk, remove_file)
            return True
        if remove_file and file_path:
            return self.remove_file(file_path)
        return False

    def remove_known_disk(self, disk: Disk, remove_file: bool = True) -> None:
        """Remove a disk the caller has just read, and its backing file, in one round trip with a read-back."""
        names = self.fields
        commands = [build("/disk", "remove", target=[equals(names.slot, disk.slot)])]
        files = [disk.file_path] if remove_file and disk.file_path else []
        for path in files:
            check_path(path)
            commands.append(build("/file", "remove", target=[equals("name", path.lstrip("/"))]))

        def gone(found: Survey) -> Optional[bool]:
            return True if not found.disks and not found.files else None

        self._change_and_check(script(*commands), gone, "remove disk %r" % disk.slot, slots=[disk.slot], files=files)

    def remove_file(self, path: str) -> bool:
        if self.get_file(path) is None:
            return False
        self.remove_known_file(path)
        return True

    def remove_known_file(self, path: str) -> None:
        """Remove a file the caller has just seen, in one round trip with a read-back."""
        check_path(path)
        command = build("/file", "remove", target=[equals("name", path.lstrip("/"))])
        self._change_and_check(
            command, lambda found: True if not found.files else None, "remove file %s" % path, files=[path]
        )

    def remove_directory_if_empty(self, path: str) -> bool:
        """Remove a directory that holds nothing (a file or directory inside keeps it). Returns whether it went."""
        check_path(path)
        if self.list_files("^" + literal_pattern(path.lstrip("/") + "/")):
            return False
        self.remove_known_file(path)
        return True

    def ensure_directory(self, path: str) -> bool:
        """Create a directory and its missing parents below the pool. Returns whether one was created.

        Two callers creating the same directory at once both succeed: an "already exists" answer
        is accepted once a re-read shows a directory there.
        """
        check_path(path)
        parts = path.strip("/").split("/")
        levels = ["/" + "/".join(parts[:depth]) for depth in range(2, len(parts) + 1)]
        found = self.survey(files=levels).files
        created = False
        for level in levels:
            existing = found.get(level)
            if existing is None:
                created = self.create_directory(level) or created
            elif existing.type != "directory":
                raise AlreadyExistsError("Cannot create directory %s: a file with that name exists." % level)
        return created

    def create_directory(self, path: str) -> bool:
        """Create one directory whose parent exists. Returns False when a directory is already there."""
        check_path(path)
        command = build("/file", "add", args={"name": path.lstrip("/"), "type": "directory"})

        def made(found: Survey) -> Optional[bool]:
            entry = found.files.get(path)
            return True if entry is not None and entry.type == "directory" else None

        try:
            return self._change_and_check(command, made, "create %s" % path, files=[path])
        except AlreadyExistsError:
            if made(self.survey(files=[path])) is None:
                raise
            return False

    # Running commands: the public path for callers that build their own RouterOS commands.

    def read(self, command: Runnable) -> str:
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

    def mutate(
        self,
        command: Runnable,
        applied: Callable[[], Optional[T]],
        what: str,
        confirm: Optional[Callable[[str], Optional[T]]] = None,
    ) -> T:
        """Run a mutating command with retries; ``applied`` re-reads the RDS and returns the result once visible.

        The one path for every change: a lost or timed-out reply is re-checked with ``applied`` before a retry.
        ``confirm`` reads the result from the command's own output instead, for a command that ends
        with a print of what it changed (one round trip instead of two).
        """
        uncertain = False
        for attempt in range(1, self.retry.attempts + 1):
            output: Optional[str] = None
            try:
                output = self._execute(command)
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
            result = confirm(output) if confirm is not None and output is not None else self._recheck(applied)
            if result is None:
                raise RdsError("The RDS accepted the command to %s but does not show the change." % what)
            return result
        raise RdsError("Could not %s after %d attempts." % (what, self.retry.attempts))

    # Internals: may change without notice.

    def _change_and_check(
        self,
        change: Runnable,
        done: Callable[[Survey], Optional[T]],
        what: str,
        slots: Sequence[str] = (),
        files: Sequence[str] = (),
    ) -> T:
        """Send ``change`` and a survey of ``slots`` and ``files`` in one request; ``done`` judges the survey."""
        changes = change.commands if isinstance(change, Script) else (change,)
        line = script(*changes, *self._survey_prints(slots, files, ()))
        return self.mutate(
            line,
            lambda: done(self.survey(slots, files)),
            what,
            confirm=lambda output: done(self._survey_from(output, slots, files, None)),
        )

    def _survey_prints(
        self, slots: Sequence[str], files: Sequence[str], pools: Sequence[str], users_of: Sequence[str] = ()
    ) -> List[Command]:
        prints: List[Command] = []
        if len(slots) + len(users_of) > _TARGETED_PRINTS:
            prints.append(print_detail("/disk"))
        elif slots or users_of:
            names = self.fields
            prints.extend(print_detail("/disk", [equals(names.slot, slot)]) for slot in slots)
            prints.extend(print_detail("/disk", [equals(names.file_path, path)]) for path in users_of)
        if len(files) > _TARGETED_PRINTS:
            prints.append(print_detail("/file"))
        else:
            prints.extend(print_detail("/file", [equals("name", path.lstrip("/"))]) for path in files)
        prints.extend(print_detail("/disk", [equals("mount-point", pool)]) for pool in pools)
        return prints

    def _survey_from(
        self,
        output: str,
        slots: Sequence[str],
        files: Sequence[str],
        pool: Optional[str],
        *,
        users_of: Sequence[str] = (),
        pools: Sequence[str] = (),
    ) -> Survey:
        """Sort the items of several prints: files have a name and no slot, a pool is the disk mounted at it."""
        names = self.fields if slots or users_of else None
        found = Survey()
        for item in parse_detail(output):
            fields = item.fields
            mount_point = fields.get("mount-point")
            if "name" in fields and "slot" not in fields:
                entry = file_from_item(item)
                if entry.path in files:
                    found.files[entry.path] = entry
            elif mount_point is not None and mount_point in pools and "free" in fields:
                found.capacities[mount_point] = capacity_from_item(item, mount_point)
            elif names is not None:
                disk = disk_from_item(item, names)
                if disk.slot in slots:
                    found.disks[disk.slot] = disk
                if disk.file_path in users_of:
                    found.users[disk.file_path] = disk
        return replace(found, capacity=found.capacities.get(pool)) if pool is not None else found

    def _clean_failed_create(self, spec: DiskSpec) -> None:
        """After out-of-space, make sure neither a disk entry nor a partial file is left behind."""
        try:
            disk = self.get_disk(spec.slot)
            if disk is not None and disk.file_path == spec.file_path:
                self.remove_known_disk(disk)
            elif disk is None:
                self.remove_file(spec.file_path)
        except RdsError as error:
            LOG.warning("could not verify cleanup after a failed create slot=%s error=%s", spec.slot, error)

    def _set(self, slot: str, args: Dict[str, ArgValue], done: Callable[[Disk], bool], secret: str = "") -> Disk:
        names = self.fields
        command = build(
            "/disk",
            "set",
            target=[equals(names.slot, slot)],
            args=args,
            secret_args=[secret] if secret else [],
        )

        def applied(found: Survey) -> Optional[Disk]:
            disk = found.disks.get(slot)
            if disk is None:
                raise NotFoundError("Disk %r disappeared from the RDS while it was being changed." % slot)
            return disk if done(disk) else None

        return self._change_and_check(command, applied, "change disk %r" % slot, slots=[slot])

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

    def _print(self, menu: str, where: Sequence[Condition] = ()) -> List[Item]:
        return parse_detail(self.read(print_detail(menu, where)))

    def _execute(self, command: Runnable) -> str:
        self.check_fields(command)
        shown = command.render_for_log()
        result = self.transport.run(command.render(), log_as=shown)
        error = classify(result.output, result.exit_status, shown, several=isinstance(command, Script))
        if error is not None:
            raise error
        return result.output

    def _backoff(self, attempt: int) -> None:
        ceiling = min(self.retry.max_delay, self.retry.initial_delay * (2 ** (attempt - 1)))
        self._sleep(random.uniform(ceiling / 2, ceiling))


def same_disk_or_conflict(existing: Disk, spec: DiskSpec) -> Disk:
    """``existing`` when it is the disk ``spec`` asks for (a repeated create), else AlreadyExistsError."""
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


def check_room(capacity: PoolCapacity, spec: DiskSpec) -> None:
    if capacity.free < spec.size:
        raise NoSpaceError(
            "Not enough space in pool %s for disk %r: %s requested, %s free. Free space or add disks to the pool."
            % (capacity.pool, spec.slot, format_size(spec.size), format_size(capacity.free))
        )


def disk_arguments(names: DiskFields, spec: DiskSpec, source: Optional[Disk] = None) -> Dict[str, ArgValue]:
    """The arguments of the ``/disk add`` that creates ``spec`` (a ``copy-from`` of ``source`` when given)."""
    args: Dict[str, ArgValue] = {names.type: "file"}
    if source is not None:
        args[names.copy_from] = (equals(names.slot, source.slot),)
    args[names.file_path] = spec.file_path
    if source is None or source.size != spec.size:
        args[names.file_size] = spec.size
    args[names.slot] = spec.slot
    if spec.comment:
        args[names.comment] = spec.comment
    if spec.export is not None:
        args.update(export_arguments(names, spec.export))
    return args


def export_arguments(names: DiskFields, export: ExportSpec) -> Dict[str, ArgValue]:
    """The arguments that make a disk's NVMe/TCP export match ``export``."""
    args: Dict[str, ArgValue] = {names.export: export.enabled}
    if export.enabled:
        args[names.port] = export.port
        args[names.nqn] = export.nqn
    if export.allowed_host_nqns is not None:
        args[names.allowed_hosts] = render_host_list(export.allowed_host_nqns)
    if export.password is not None:
        args[names.password] = export.password
    return args


def literal_pattern(text: str) -> str:
    """A regular expression (POSIX extended, as RouterOS' ``~`` takes) that matches ``text`` literally."""
    return "".join("\\" + char if char in _REGEX_SPECIALS else char for char in text)


def pool_of(path: str) -> str:
    """The pool a path lies in: its first component (``/storage-pool/metal-csi`` is in ``storage-pool``)."""
    return path.strip("/").split("/")[0]


def size_is(disk: Disk, size: int) -> bool:
    """Exact comparison; RouterOS' rounded human size is accepted only when no exact size is printed."""
    if disk.size is None:
        return False
    if disk.size_exact:
        return disk.size == size
    return abs(disk.size - size) <= size // 20


def export_matches(disk: Disk, export: ExportSpec) -> bool:
    current = disk.export
    if current.enabled != export.enabled:
        return False
    if export.enabled and (current.port != export.port or current.nqn != export.nqn):
        return False
    if export.allowed_host_nqns is not None and set(current.allowed_host_nqns) != set(export.allowed_host_nqns):
        return False
    return export.password is None or current.has_password == bool(export.password)


def _no_pool(pool: str) -> str:
    return "The RDS has no storage pool mounted at %r; check the pool name (for example %s)." % (pool, DEFAULT_POOL)
