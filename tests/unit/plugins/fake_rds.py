"""An in-memory RDS for the modules' planning tests and the CSI controller's decision tests.

It implements both ``rds_disk_plan.DiskOperations`` and the driver's ``VolumeStore`` with the
appliance's refusals (a taken slot or file, a missing directory, a full pool). With ``read_only``
set, any write fails the test; ``round_trips`` counts the exec requests the real client would make.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import Survey
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import (
    Disk,
    DiskSpec,
    ExportSpec,
    NvmeExport,
    PoolCapacity,
    RdsFile,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import (
    AlreadyExistsError,
    InvalidValueError,
    NoSpaceError,
    NotFoundError,
    RdsError,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_versions import (
    FieldSupport,
    RouterOsVersion,
    known_support,
)

GIB = 1024**3
NO_EXPORT = NvmeExport(enabled=False, port=None, nqn="", allowed_host_nqns=(), has_password=False)


class WriteAttempted(AssertionError):
    """The code under test tried to change an RDS that the test declared must stay untouched."""


def disk(
    slot: str,
    size: int = GIB,
    *,
    file_path: str = "",
    comment: str = "",
    exported: bool = False,
    nqn: str = "",
    port: int = 4420,
    size_exact: bool = True,
) -> Disk:
    export = NO_EXPORT
    if exported:
        export = NvmeExport(True, port, nqn or "nqn.2000-02.com.mikrotik:" + slot, (), False)
    return Disk(
        slot=slot,
        type="file",
        file_path=file_path or "/storage-pool/metal-csi/%s.img" % slot,
        size=size,
        size_exact=size_exact,
        comment=comment,
        disabled=False,
        export=export,
        flags="",
    )


@dataclass
class FakeRds:
    disks: dict[str, Disk] = field(default_factory=dict)
    files: dict[str, RdsFile] = field(default_factory=dict)
    read_only: bool = False
    fail_writes_with: RdsError | None = None
    """Raised by every write after the first ``fail_after_writes`` ones."""
    fail_after_writes: int = 0
    directories: set[str] = field(default_factory=lambda: {"/storage-pool/metal-csi"})
    writes: list[str] = field(default_factory=list)
    reads: int = 0
    round_trips: int = 0
    pool_size: int = 1024 * GIB
    pools: frozenset[str] = frozenset({"storage-pool"})
    routeros: str = "7.24"

    @classmethod
    def holding(cls, *disks: Disk, files: tuple[RdsFile, ...] = ()) -> FakeRds:
        fake = cls({entry.slot: entry for entry in disks}, {entry.path: entry for entry in files})
        for entry in disks:
            fake.files.setdefault(entry.file_path, RdsFile(entry.file_path, ".img file", entry.size, ""))
        return fake

    # Reading

    def version(self) -> RouterOsVersion:
        return RouterOsVersion.parse(self.routeros)

    def field_support(self) -> FieldSupport:
        support = known_support(self.version())
        assert support is not None, "the fake RDS plays a version of the table"
        return support

    def list_disks(self, slot_regex: str | None = None, file_disks_only: bool = True) -> list[Disk]:
        self.reads += 1
        return list(self.disks.values())

    def get_disk(self, slot: str) -> Disk | None:
        self.reads += 1
        return self.disks.get(slot)

    def list_files(self, name_regex: str = "") -> list[RdsFile]:
        self.reads += 1
        return list(self.files.values())

    def get_file(self, path: str) -> RdsFile | None:
        return self.files.get(path)

    def pool_capacity(self, pool: str = "storage-pool") -> PoolCapacity:
        self.round_trips += 1
        return self._capacity(pool)

    def survey(
        self,
        slots: Sequence[str] = (),
        files: Sequence[str] = (),
        pool: str | None = None,
        users_of: Sequence[str] = (),
        pools: Sequence[str] = (),
    ) -> Survey:
        if not (slots or files or pool or users_of or pools):
            return Survey()
        self.reads += 1
        self.round_trips += 1
        found_files = {path: self.files[path] for path in files if path in self.files}
        found_files.update({path: RdsFile(path, "directory", None, "") for path in files if path in self.directories})
        every_pool = [name for name in ([pool] if pool else []) + list(pools) if name in self.pools]
        return Survey(
            {slot: self.disks[slot] for slot in slots if slot in self.disks},
            found_files,
            self._capacity(pool) if pool in self.pools else None,
            {entry.file_path: entry for entry in self.disks.values() if entry.file_path in users_of},
            {name: self._capacity(name) for name in every_pool},
        )

    # Writing

    def create_disk(self, spec: DiskSpec, source: Disk | None = None) -> Disk:
        self._write("create %s" % spec.slot)
        self.round_trips += 1
        if spec.slot in self.disks:
            raise AlreadyExistsError("failure: disk with such slot already exists")
        if posixpath.dirname(spec.file_path) not in self.directories:
            raise NotFoundError("failure: directory does not exist")
        if spec.file_path in self.files:
            raise AlreadyExistsError("failure: file already exists")
        if self._capacity("storage-pool").free < spec.size:
            raise NoSpaceError("failure: not enough space")
        return self._put(spec)

    def remove_known_disk(self, disk: Disk, remove_file: bool = True) -> None:
        self._write("remove %s" % disk.slot)
        self.round_trips += 1
        self.disks.pop(disk.slot, None)
        if remove_file:
            self.files.pop(disk.file_path, None)

    def remove_known_file(self, path: str) -> None:
        self._write("remove file %s" % path)
        self.round_trips += 1
        self.files.pop(path, None)
        self.directories.discard(path)

    def remove_directory_if_empty(self, path: str) -> bool:
        inside = [entry for entry in [*self.files, *self.directories] if entry.startswith(path + "/")]
        if inside:
            return False
        self.remove_known_file(path)
        return True

    def create_directory(self, path: str) -> bool:
        if path in self.directories:
            return False
        self._write("create directory %s" % path)
        self.round_trips += 1
        if posixpath.dirname(path) not in self.directories and posixpath.dirname(path).count("/") > 1:
            raise NotFoundError("failure: directory does not exist")
        self.directories.add(path)
        return True

    def add_disk(self, spec: DiskSpec) -> Disk:
        self._write("add %s" % spec.slot)
        if posixpath.dirname(spec.file_path) not in self.directories:
            raise NotFoundError("failure: directory does not exist")
        if self._capacity("storage-pool").free < spec.size:
            raise NoSpaceError("failure: not enough space")
        return self._put(spec)

    def _put(self, spec: DiskSpec) -> Disk:
        export = NO_EXPORT
        if spec.export is not None and spec.export.enabled:
            export = NvmeExport(True, spec.export.port, spec.export.nqn, (), False)
        created = replace(disk(spec.slot, spec.size, file_path=spec.file_path, comment=spec.comment), export=export)
        self.disks[spec.slot] = created
        self.files[spec.file_path] = RdsFile(spec.file_path, ".img file", spec.size, "")
        return created

    def resize_disk(self, slot: str, size: int, current: Disk | None = None) -> Disk:
        self._write("resize %s" % slot)
        self.round_trips += 1 if current is not None else 2
        current = self._require(slot)
        if current.size is not None and size < current.size:
            raise InvalidValueError("shrink refused")
        return self._store(replace(current, size=size, size_exact=True))

    def set_comment(self, slot: str, comment: str) -> Disk:
        self._write("comment %s" % slot)
        return self._store(replace(self._require(slot), comment=comment))

    def set_export(self, slot: str, export: ExportSpec) -> Disk:
        self._write("export %s" % slot)
        current = self._require(slot)
        now = current.export
        changed = replace(now, enabled=export.enabled)
        if export.enabled:
            changed = replace(changed, port=export.port, nqn=export.nqn)
        if export.allowed_host_nqns is not None:
            changed = replace(changed, allowed_host_nqns=tuple(export.allowed_host_nqns))
        if export.password is not None:
            changed = replace(changed, has_password=bool(export.password))
        return self._store(replace(current, export=changed))

    def remove_disk(self, slot: str, remove_file: bool = True, file_path: str | None = None) -> bool:
        self._write("remove %s" % slot)
        current = self.disks.pop(slot, None)
        path = current.file_path if current is not None else file_path
        if remove_file and path:
            self.files.pop(path, None)
        return True

    def ensure_directory(self, path: str) -> bool:
        if path in self.directories:
            return False
        self._write("create directory %s" % path)
        self.round_trips += 2
        self.directories.add(path)
        return True

    def remove_file(self, path: str) -> bool:
        self._write("remove file %s" % path)
        return self.files.pop(path, None) is not None

    def _write(self, what: str) -> None:
        if self.read_only:
            raise WriteAttempted("The test asserts idempotency, but the module tried to %s." % what)
        if self.fail_writes_with is not None and len(self.writes) >= self.fail_after_writes:
            raise self.fail_writes_with
        self.writes.append(what)

    def _require(self, slot: str) -> Disk:
        if slot not in self.disks:
            raise NotFoundError("no such disk %r" % slot)
        return self.disks[slot]

    def _store(self, updated: Disk) -> Disk:
        self.disks[updated.slot] = updated
        return updated

    def _capacity(self, pool: str) -> PoolCapacity:
        used = sum(entry.size or 0 for entry in self.disks.values())
        return PoolCapacity(pool, self.pool_size, self.pool_size - used)
