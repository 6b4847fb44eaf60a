"""The JSON documents of nvme-cli 2.3 (`list-subsys -o json`, `list -o json`, `list -v -o json`,
NVME_HOST.md §2.2, §2.3), built from the fabric state, printed the way json-c pretty-prints."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .naming import Naming, controller_name, generic_name, path_disk_name, subsystem_name
from .state import Controller, Disk, FabricConfig, FabricState, Subsystem
from .sysfs_tree import FIRMWARE, MODEL, format_address

SECTOR_SIZE = 512


def json_c_pretty(value: Any, indent: int = 0) -> str:
    """json-c's JSON_C_TO_STRING_PRETTY with two-space indent: no space after the colon, an
    empty array or object still spans two lines."""
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(value, Mapping):
        items = [f"{inner}{json.dumps(key)}:{json_c_pretty(item, indent + 1)}" for key, item in value.items()]
        return "{\n" + ",\n".join(items) + ("\n" if items else "") + pad + "}"
    if isinstance(value, Sequence) and not isinstance(value, str):
        elements = [f"{inner}{json_c_pretty(item, indent + 1)}" for item in value]
        return "[\n" + ",\n".join(elements) + ("\n" if elements else "") + pad + "]"
    return json.dumps(value, ensure_ascii=False)


Topology = list[tuple[tuple[str, str], list[tuple[Subsystem, list[Controller]]]]]


def libnvme_topology(state: FabricState, default_host: tuple[str, str]) -> Topology:
    """Hosts → subsystems → controllers in the order libnvme 1.3 lists them: it scans the
    controllers in alphabetical order (`nvme0`, `nvme1`, `nvme10`, `nvme2`), creates each host and
    each (host, subsystem) on first sight, and inserts every new object at the head of its list,
    so every level comes out in reverse order of discovery. A subsystem whose controllers use two
    host NQNs appears under both hosts; one with no controller left, found when the subsystems
    are scanned afterwards, under the default host (/etc/nvme/hostnqn)."""
    hosts: dict[tuple[str, str], dict[int, list[Controller]]] = {}
    for controller in sorted(state.controllers, key=lambda item: controller_name(item.instance)):
        subsystems = hosts.setdefault((controller.hostnqn, controller.hostid), {})
        subsystems.setdefault(controller.subsystem, []).append(controller)
    for subsystem in sorted(state.subsystems, key=lambda item: subsystem_name(item.instance)):
        if not state.controllers_of(subsystem.instance):
            hosts.setdefault(default_host, {})[subsystem.instance] = []
    return [
        (host, [(state.subsystem(number), controllers[::-1]) for number, controllers in reversed(subsystems.items())])
        for host, subsystems in reversed(hosts.items())
    ]


def list_subsys(state: FabricState, config: FabricConfig) -> list[Any]:
    """An array of host objects, one per (hostnqn, hostid) of the controllers."""
    return [
        {
            "HostNQN": hostnqn,
            "HostID": hostid,
            "Subsystems": [_subsystem_entry(subsystem, controllers, config) for subsystem, controllers in subsystems],
        }
        for (hostnqn, hostid), subsystems in libnvme_topology(state, (config.hostnqn, config.hostid))
    ]


def _subsystem_entry(subsystem: Subsystem, controllers: list[Controller], config: FabricConfig) -> dict[str, Any]:
    entry: dict[str, Any] = {"Name": subsystem_name(subsystem.instance), "NQN": subsystem.nqn}
    if config.cli_profile.lists_iopolicy and config.module_parameters.multipath_configured:
        entry["IOPolicy"] = "numa"
    entry["Paths"] = [
        {
            "Name": controller_name(controller.instance),
            "Transport": controller.transport,
            "Address": format_address(controller),
            "State": controller.state,
        }
        for controller in controllers
    ]
    return entry


def _sizes(subsystem: Subsystem) -> dict[str, int]:
    if subsystem.kind == "synthetic":
        size, used = 1 << 30, 0
    else:
        status = Path(subsystem.backing_file).stat()
        size, used = status.st_size, min(status.st_size, status.st_blocks * 512)
    return {
        "UsedBytes": used,
        "MaximumLBA": size // SECTOR_SIZE,
        "PhysicalSize": size,
        "SectorSize": SECTOR_SIZE,
    }


def list_simple(state: FabricState, config: FabricConfig) -> dict[str, Any]:
    """`nvme list -o json`: every visible disk (heads and per-controller disks, no hidden paths)."""
    devices = []
    for disk in sorted(state.disks, key=lambda item: item.name):
        subsystem = state.subsystem(disk.subsystem)
        device: dict[str, Any] = {"NameSpace": subsystem.nsid, "DevicePath": str(config.dev_root / disk.name)}
        if config.cli_profile.lists_generic_path:
            owner = subsystem.instance if disk.controller is None else disk.controller
            device["GenericPath"] = str(config.dev_root / generic_name(owner, subsystem.namespace_instance))
        device.update(
            {"Firmware": FIRMWARE, "ModelNumber": MODEL, "SerialNumber": subsystem.serial, **_sizes(subsystem)}
        )
        devices.append(device)
    return {"Devices": devices}


def _namespace(disk: Disk, subsystem: Subsystem) -> dict[str, Any]:
    return {"NameSpace": disk.name, "NSID": subsystem.nsid, **_sizes(subsystem)}


def list_verbose(state: FabricState, config: FabricConfig) -> dict[str, Any]:
    """`nvme list -v -o json`: hosts → subsystems → controllers with their disks and paths."""
    return {
        "Devices": [
            {
                "HostNQN": hostnqn,
                "HostID": hostid,
                "Subsystems": [
                    {
                        "Subsystem": subsystem_name(subsystem.instance),
                        "SubsystemNQN": subsystem.nqn,
                        "Controllers": [
                            _verbose_controller(state, subsystem, controller, config) for controller in controllers
                        ],
                        "Namespaces": [
                            _namespace(disk, subsystem)
                            for disk in state.disks_of(subsystem.instance)
                            if disk.controller is None
                        ],
                    }
                    for subsystem, controllers in subsystems
                ],
            }
            for (hostnqn, hostid), subsystems in libnvme_topology(state, (config.hostnqn, config.hostid))
        ]
    }


def _verbose_controller(
    state: FabricState,
    subsystem: Subsystem,
    controller: Controller,
    config: FabricConfig,
) -> dict[str, Any]:
    own_disks = [disk for disk in state.disks if disk.controller == controller.instance]
    has_head = any(disk.controller is None for disk in state.disks_of(subsystem.instance))
    paths = []
    if config.naming is Naming.MULTIPATH and has_head:
        name = path_disk_name(subsystem.instance, controller.instance, subsystem.namespace_instance)
        paths.append({"Path": name, "ANAState": "optimized"})
    return {
        "Controller": controller_name(controller.instance),
        "SerialNumber": subsystem.serial,
        "ModelNumber": MODEL,
        "Firmware": FIRMWARE,
        "Transport": controller.transport,
        "Address": format_address(controller),
        "Namespaces": [_namespace(disk, subsystem) for disk in own_disks],
        "Paths": paths,
    }
