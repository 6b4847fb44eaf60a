"""Kernel naming of NVMe controllers, subsystems and namespace disks (NVME_HOST.md §1.5).

Pure functions: which disks a namespace gets in each naming case, and the kernel's "lowest free
number" allocation (an IDA)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum


class Naming(str, Enum):
    """The three disk-naming cases of NVME_HOST.md §1.5."""

    MULTIPATH = "multipath"
    """Case A: multipath=Y and a multi-controller subsystem: head `nvme<S>n<I>` in the subsystem,
    hidden per-path disks `nvme<S>c<C>n<I>` under each controller."""

    MULTIPATH_SINGLE_CONTROLLER = "multipath-single-controller"
    """Case B: multipath=Y but the subsystem does not set the CMIC multi-controller bit: no head;
    the disk `nvme<S>n<I>` (subsystem instance) lives under the controller that found it."""

    NON_MULTIPATH = "non-multipath"
    """Case C: multipath=N: the disk `nvme<C>n<I>` (controller instance) lives under its controller."""

    @property
    def multipath_parameter(self) -> str:
        """The content of /sys/module/nvme_core/parameters/multipath."""
        return "N" if self is Naming.NON_MULTIPATH else "Y"


class ModuleParameters(str, Enum):
    """Which /sys/module/nvme_core/parameters files exist (NVME_HOST.md §1.6)."""

    STANDARD = "standard"
    """CONFIG_NVME_MULTIPATH: `multipath` (Y or N by the naming case) and `iopolicy`."""

    WITHOUT_MULTIPATH_PARAMETER = "without-multipath-parameter"
    """RHEL 10: native multipath always on, no `multipath` file, only `iopolicy`."""

    NONE = "none"
    """No CONFIG_NVME_MULTIPATH (e.g. Talos 5.15): no parameter files, no subsystem `iopolicy`."""

    @property
    def multipath_configured(self) -> bool:
        return self is not ModuleParameters.NONE

    def files(self, naming: Naming) -> dict[str, str]:
        files = {}
        if self is ModuleParameters.STANDARD:
            files["multipath"] = naming.multipath_parameter
        if self.multipath_configured:
            files["iopolicy"] = "numa"
        return files


def lowest_free(used: Iterable[int], start: int = 0) -> int:
    """The number an IDA hands out: the lowest one not in use, from `start`."""
    taken = set(used)
    number = start
    while number in taken:
        number += 1
    return number


def controller_name(instance: int) -> str:
    return f"nvme{instance}"


def subsystem_name(instance: int) -> str:
    return f"nvme-subsys{instance}"


def visible_disk_name(naming: Naming, subsystem: int, controller: int, namespace_instance: int) -> str:
    """The disk that gets a /dev node: named after the subsystem in cases A and B, the controller in C."""
    owner = controller if naming is Naming.NON_MULTIPATH else subsystem
    return f"nvme{owner}n{namespace_instance}"


def path_disk_name(subsystem: int, controller: int, namespace_instance: int) -> str:
    """A hidden per-path disk of case A (no dev_t, no /dev node)."""
    return f"nvme{subsystem}c{controller}n{namespace_instance}"


def generic_name(owner: int, namespace_instance: int) -> str:
    """The generic char device of a namespace (`ng<X>n<I>`)."""
    return f"ng{owner}n{namespace_instance}"
