"""The sysfs tree of NVMe/TCP controllers, subsystems and namespace disks, laid out as a real
fabrics host has it (NVME_HOST.md §1): objects under `devices/virtual/...`, class, block and
dev/block symlinks pointing at them, every attribute ending in a newline."""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from .naming import ModuleParameters, Naming, controller_name, subsystem_name
from .state import Controller, Subsystem

NVME_CHAR_MAJOR = 241
"""Made-up majors for the controller and generic char devices (dynamic on a real host)."""
GENERIC_CHAR_MAJOR = 240
MODEL = "RDS NVMe/TCP (rds-emulator)"
FIRMWARE = "7.16"
_STATE_STRINGS = ("new", "live", "resetting", "connecting", "deleting", "deleting (no IO)", "dead")


@dataclass(frozen=True)
class DiskAttributes:
    name: str
    nsid: int
    size_sectors: int
    namespace_uuid: str
    dev: tuple[int, int] | None
    """None for a hidden per-path disk, which has no dev_t."""


def state_strings() -> tuple[str, ...]:
    return _STATE_STRINGS


def namespace_uuid(nqn: str, nsid: int) -> str:
    """Stable per export, as a target's namespace UUID is."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{nqn}#{nsid}"))


def format_address(controller: Controller) -> str:
    """`traddr=…,trsvcid=…[,host_traddr=…][,host_iface=…][,src_addr=…]`; src_addr only while live."""
    fields = [f"traddr={controller.traddr}", f"trsvcid={controller.trsvcid}"]
    if controller.host_traddr:
        fields.append(f"host_traddr={controller.host_traddr}")
    if controller.host_iface:
        fields.append(f"host_iface={controller.host_iface}")
    if controller.state == "live" and controller.src_addr:
        fields.append(f"src_addr={controller.src_addr}")
    return ",".join(fields)


def format_ctrl_loss_tmo(controller: Controller) -> str:
    """`off` when unlimited, else max_reconnects * reconnect_delay (rounded up like the kernel)."""
    if controller.ctrl_loss_tmo < 0:
        return "off"
    max_reconnects = -(-controller.ctrl_loss_tmo // controller.reconnect_delay)
    return str(max_reconnects * controller.reconnect_delay)


def _padded(value: str, width: int) -> str:
    return value[:width].ljust(width)


def _write(directory: Path, attributes: dict[str, str]) -> None:
    """Plain os calls: 500 synthetic controllers write some 30 000 attributes."""
    base = str(directory)
    os.makedirs(base, exist_ok=True)
    for name, value in attributes.items():
        path = f"{base}/{name}"
        if "/" in name:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(handle, f"{value}\n".encode())
        finally:
            os.close(handle)


def _replace(directory: Path, attributes: dict[str, str]) -> None:
    """Change attributes of a live object: a concurrent reader sees the old or the new value."""
    for name, value in attributes.items():
        staging = directory / f".{name}.new"
        staging.write_text(f"{value}\n", encoding="utf-8")
        staging.replace(directory / name)


def _link(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink():
        link.unlink()
    os.symlink(os.path.relpath(target, link.parent), link)


def _link_literally(link: Path, text: str) -> None:
    if link.is_symlink():
        link.unlink()
    os.symlink(text, link)


def _unlink(link: Path) -> None:
    if link.is_symlink():
        link.unlink()


class SysfsTree:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.controllers_dir = root / "devices" / "virtual" / "nvme-fabrics" / "ctl"
        self.subsystems_dir = root / "devices" / "virtual" / "nvme-subsystem"

    def create_base(self, naming: Naming, module_parameters: ModuleParameters) -> None:
        """The directories libnvme insists on (§1.1) and the multipath module parameters (§1.6)."""
        for directory in ("class/nvme", "class/nvme-subsystem", "class/block", "class/nvme-generic", "block"):
            (self.root / directory).mkdir(parents=True, exist_ok=True)
        (self.root / "dev" / "block").mkdir(parents=True, exist_ok=True)
        self.controllers_dir.mkdir(parents=True, exist_ok=True)
        self.subsystems_dir.mkdir(parents=True, exist_ok=True)
        _link(self.root / "class" / "nvme-fabrics" / "ctl", self.controllers_dir)
        parameters = module_parameters.files(naming)
        if parameters:
            _write(self.root / "module" / "nvme_core" / "parameters", parameters)

    def controller_dir(self, instance: int) -> Path:
        return self.controllers_dir / controller_name(instance)

    def subsystem_dir(self, instance: int) -> Path:
        return self.subsystems_dir / subsystem_name(instance)

    def add_subsystem(self, subsystem: Subsystem, module_parameters: ModuleParameters) -> None:
        directory = self.subsystem_dir(subsystem.instance)
        directory.mkdir(parents=True, exist_ok=True)
        attributes = {
            "subsysnqn": subsystem.nqn,
            "model": _padded(MODEL, 40),
            "serial": _padded(subsystem.serial, 20),
            "firmware_rev": _padded(FIRMWARE, 8),
            "subsystype": "nvm",
            "uevent": "",
        }
        if module_parameters.multipath_configured:
            attributes["iopolicy"] = "numa"
        _write(directory, attributes)
        _link(self.root / "class" / "nvme-subsystem" / directory.name, directory)

    def remove_subsystem(self, instance: int) -> None:
        directory = self.subsystem_dir(instance)
        _unlink(self.root / "class" / "nvme-subsystem" / directory.name)
        shutil.rmtree(directory, ignore_errors=True)

    def add_controller(self, controller: Controller, subsystem: Subsystem) -> None:
        directory = self.controller_dir(controller.instance)
        directory.mkdir(parents=True, exist_ok=True)
        name = controller_name(controller.instance)
        _write(
            directory,
            {
                "subsysnqn": subsystem.nqn,
                "transport": controller.transport,
                "cntlid": str(controller.cntlid),
                "hostnqn": controller.hostnqn,
                "hostid": controller.hostid,
                "reconnect_delay": str(controller.reconnect_delay),
                "ctrl_loss_tmo": format_ctrl_loss_tmo(controller),
                "fast_io_fail_tmo": "off",
                "kato": str(controller.kato),
                "queue_count": str((os.cpu_count() or 1) + 1),
                "sqsize": "127",
                "numa_node": "-1",
                "dev": f"{NVME_CHAR_MAJOR}:{controller.instance}",
                "model": _padded(MODEL, 40),
                "serial": _padded(subsystem.serial, 20),
                "firmware_rev": _padded(FIRMWARE, 8),
                "cntrltype": "io",
                "dctype": "none",
                "dhchap_secret": controller.dhchap_secret or "none",
                "dhchap_ctrl_secret": controller.dhchap_ctrl_secret or "none",
                "uevent": "\n".join(
                    [
                        f"MAJOR={NVME_CHAR_MAJOR}",
                        f"MINOR={controller.instance}",
                        f"DEVNAME={name}",
                        "NVME_TRTYPE=tcp",
                        f"NVME_TRADDR={controller.traddr}",
                        f"NVME_TRSVCID={controller.trsvcid}",
                        f"NVME_HOST_TRADDR={controller.host_traddr or 'none'}",
                    ]
                ),
            },
        )
        for write_only in ("reset_controller", "rescan_controller", "delete_controller"):
            path = directory / write_only
            path.touch()
            path.chmod(0o200)
        self.update_controller_state(controller)
        _link(self.root / "class" / "nvme" / name, directory)
        _link(self.subsystem_dir(subsystem.instance) / name, directory)

    def update_controller_state(self, controller: Controller) -> None:
        _replace(
            self.controller_dir(controller.instance),
            {"state": controller.state, "address": format_address(controller)},
        )

    def remove_controller(self, controller: Controller) -> None:
        name = controller_name(controller.instance)
        _unlink(self.subsystem_dir(controller.subsystem) / name)
        _unlink(self.root / "class" / "nvme" / name)
        shutil.rmtree(self.controller_dir(controller.instance), ignore_errors=True)

    def add_disk(self, parent: Path, disk: DiskAttributes, owner: Path) -> Path:
        """A namespace disk under `parent`; its `device` link names `owner` as the kernel writes it
        (`../../nvme-subsys<S>` for a head, `../../nvme<C>` otherwise)."""
        directory = parent / disk.name
        staging = parent / f".{disk.name}.new"  # filled, then renamed: readers never see half a disk
        shutil.rmtree(staging, ignore_errors=True)
        uuid_hex = disk.namespace_uuid.replace("-", "")
        attributes = {
            "size": str(disk.size_sectors),
            "nsid": str(disk.nsid),
            "wwid": f"uuid.{disk.namespace_uuid}",
            "uuid": disk.namespace_uuid,
            "nguid": str(uuid.UUID(hex=uuid_hex)),
            "hidden": "0" if disk.dev else "1",
            "ro": "0",
            "removable": "0",
            "csi": "0",
            "metadata_bytes": "0",
            "queue/logical_block_size": "512",
            "queue/physical_block_size": "512",
        }
        if disk.dev:
            major, minor = disk.dev
            attributes["dev"] = f"{major}:{minor}"
            attributes["uevent"] = f"MAJOR={major}\nMINOR={minor}\nDEVNAME={disk.name}\nDEVTYPE=disk"
        else:
            attributes["uevent"] = "DEVTYPE=disk"
        _write(staging, attributes)
        (staging / "holders").mkdir()
        (staging / "slaves").mkdir()
        _link_literally(staging / "device", f"../../{owner.name}")
        shutil.rmtree(directory, ignore_errors=True)
        staging.rename(directory)
        _link(self.root / "block" / disk.name, directory)
        _link(self.root / "class" / "block" / disk.name, directory)
        if disk.dev:
            _link(self.root / "dev" / "block" / f"{disk.dev[0]}:{disk.dev[1]}", directory)
        return directory

    def link_path_to_head(self, head: Path, path_disk: Path) -> None:
        _link(head / "multipath" / path_disk.name, path_disk)

    def add_generic(self, parent: Path, name: str, minor: int) -> None:
        directory = parent / name
        _write(directory, {"dev": f"{GENERIC_CHAR_MAJOR}:{minor}"})
        _link(self.root / "class" / "nvme-generic" / name, directory)

    def remove_generic(self, parent: Path, name: str) -> None:
        _unlink(self.root / "class" / "nvme-generic" / name)
        shutil.rmtree(parent / name, ignore_errors=True)

    def remove_disk(self, parent: Path, name: str) -> None:
        directory = parent / name
        dev_file = directory / "dev"
        if dev_file.exists():
            _unlink(self.root / "dev" / "block" / dev_file.read_text(encoding="utf-8").strip())
        _unlink(self.root / "block" / name)
        _unlink(self.root / "class" / "block" / name)
        shutil.rmtree(directory, ignore_errors=True)

    def set_disk_size(self, parent: Path, name: str, size_sectors: int) -> None:
        if (parent / name).is_dir():
            _replace(parent / name, {"size": str(size_sectors)})
