"""The one door from the controller side to the RDS (A-4).

``VolumeStore`` lists every RDS operation the controller and snapshot services use, at the
level of disks and files, with no RouterOS command in sight. ``RdsClient`` is the real
implementation; the decision tests use an in-memory one. Each method is at most one round trip
to the appliance except ``ensure_directory`` (one per missing level), so an RPC's round trips
can be read off the service code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional, Protocol

from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import Survey
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import Disk, DiskSpec, PoolCapacity


class VolumeStore(Protocol):
    def survey(self, slots: Sequence[str] = (), files: Sequence[str] = (), pool: Optional[str] = None) -> Survey:
        """The named disks and files, and the pool's capacity when ``pool`` is given, in one read."""

    def list_disks(self, slot_regex: Optional[str] = None, file_disks_only: bool = True) -> list[Disk]: ...

    def pool_capacity(self, pool: str) -> PoolCapacity: ...

    def ensure_directory(self, path: str) -> bool:
        """Create ``path`` and missing parents; True when something was created. Concurrent callers all succeed."""

    def create_disk(self, spec: DiskSpec, source: Optional[Disk] = None) -> Disk:
        """Create a disk the caller found absent (a ``copy-from`` of ``source`` when given); AlreadyExistsError
        when another caller created it first."""

    def resize_disk(self, slot: str, size: int, current: Optional[Disk] = None) -> Disk: ...

    def remove_known_disk(self, disk: Disk, remove_file: bool = True) -> None: ...

    def remove_known_file(self, path: str) -> None: ...
