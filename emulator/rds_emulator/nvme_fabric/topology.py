"""How the kernel's NVMe host side changes its objects: controllers, subsystems and namespace
disks come and go in the fabric state, the sysfs tree, the /dev root and loop devices together,
named as in the fabric's naming case (NVME_HOST.md §1.4, §1.5, §3.3)."""

from __future__ import annotations

import errno
import socket
import uuid
from collections.abc import Callable
from pathlib import Path

from . import loopdev
from .connect_checks import ConnectRequest
from .devnodes import DevNodes
from .errors import ConnectRefused
from .naming import Naming, controller_name, generic_name, lowest_free, path_disk_name, visible_disk_name
from .state import Controller, Disk, FabricConfig, FabricState, LoopAttachment, Subsystem
from .sysfs_tree import DiskAttributes, SysfsTree, namespace_uuid

SYNTHETIC_MAJOR = 259
SYNTHETIC_SECTORS = 2 * 1024 * 1024
"""Synthetic namespaces claim 1 GiB; nothing backs them."""


class Topology:
    """Changes inside one fabric transaction; `persist` saves the state mid-way (loop devices are
    recorded before `losetup` runs)."""

    def __init__(self, config: FabricConfig, persist: Callable[[FabricState], None]) -> None:
        self.config = config
        self._sysfs = SysfsTree(config.sysfs_root)
        self._dev = DevNodes(config.dev_root)
        self._persist = persist

    def scan(self, state: FabricState, controller: Controller) -> None:
        """The kernel's namespace scan of a controller: sizes re-read, missing disks created."""
        subsystem = state.subsystem(controller.subsystem)
        self._refresh_size(state, subsystem)
        subsystem.namespace_present = True
        for each in state.controllers_of(subsystem.instance):
            self._add_namespace_disks(state, subsystem, each)

    def add_controller(
        self,
        state: FabricState,
        request: ConnectRequest,
        kind: str,
        backing_file: Path,
        *,
        avoid: set[int],
        scan: bool = True,
    ) -> Controller:
        instance = lowest_free(state.instances_in_use() | avoid)
        subsystem = state.subsystem_by_nqn(request.nqn)
        if subsystem is not None and not state.disks_of(subsystem.instance):
            # a new head/namespace instance: the old one may still be held by a stale user
            subsystem.namespace_instance = lowest_free(subsystem.held_instances, start=1)
        if subsystem is None:
            subsystem = Subsystem(
                instance=instance,
                nqn=request.nqn,
                kind=kind,
                backing_file=str(backing_file),
                nsid=self.config.nsid,
                namespace_instance=1,
                serial=uuid.uuid5(uuid.NAMESPACE_URL, request.nqn).hex[:20],
            )
            state.subsystems.append(subsystem)
            self._sysfs.add_subsystem(subsystem, self.config.module_parameters)
        controller = Controller(
            instance=instance,
            subsystem=subsystem.instance,
            cntlid=1 + max((item.cntlid for item in state.controllers_of(subsystem.instance)), default=0),
            traddr=request.traddr,
            trsvcid=request.trsvcid,
            hostnqn=request.hostnqn or self.config.hostnqn,
            hostid=str(uuid.UUID(request.hostid or self.config.hostid)),
            transport=request.transport,
            host_traddr=request.host_traddr,
            host_iface=request.host_iface,
            ctrl_loss_tmo=request.ctrl_loss_tmo,
            reconnect_delay=request.reconnect_delay or 10,
            kato=request.kato or 5,
            dhchap_secret=request.dhchap_secret,
            dhchap_ctrl_secret=request.dhchap_ctrl_secret,
            src_addr=_source_address(request.traddr) or "",
        )
        state.controllers.append(controller)
        self._sysfs.add_controller(controller, subsystem)
        self._dev.add_placeholder(controller_name(controller.instance))
        if scan and subsystem.namespace_present:
            try:
                self._add_namespace_disks(state, subsystem, controller)
            except BaseException:
                self.remove_controller(state, controller)
                raise
        return controller

    def remove_controller(self, state: FabricState, controller: Controller) -> None:
        """Delete a controller; the last one takes its subsystem along unless a stale user of one
        of the subsystem's disks holds it (then it stays, with zero controllers, §1.4)."""
        subsystem = state.subsystem(controller.subsystem)
        loops = {disk.loop for disk in state.disks_of(subsystem.instance) if disk.loop is not None}
        self.remove_namespace_disks(state, subsystem, controller)
        self._sysfs.remove_controller(controller)
        self._dev.remove(controller_name(controller.instance))
        state.controllers.remove(controller)
        if not state.controllers_of(subsystem.instance):
            self.remove_head(state, subsystem)
        for loop in sorted(loops - {disk.loop for disk in state.disks}):
            if loopdev.attached_file(loop) == str(Path(subsystem.backing_file).resolve()):
                subsystem.held_loops.append(loop)
                subsystem.held_instances = sorted({*subsystem.held_instances, subsystem.namespace_instance})
        self.drop_subsystem_if_unused(state, subsystem)

    def drop_subsystem_if_unused(self, state: FabricState, subsystem: Subsystem) -> None:
        subsystem.held_loops = [
            loop
            for loop in subsystem.held_loops
            if loopdev.attached_file(loop) == str(Path(subsystem.backing_file).resolve())
        ]
        if not subsystem.held_loops:
            subsystem.held_instances = []
        if not state.controllers_of(subsystem.instance) and not subsystem.held_loops:
            self._sysfs.remove_subsystem(subsystem.instance)
            state.subsystems.remove(subsystem)

    def _add_namespace_disks(self, state: FabricState, subsystem: Subsystem, controller: Controller) -> None:
        """The disks the kernel's namespace scan creates for this controller in the fabric's case;
        disks that exist already are left alone (a rescan adds only what is missing)."""
        naming = self.config.naming
        ns = subsystem.namespace_instance
        controller_dir = self._sysfs.controller_dir(controller.instance)
        subsystem_dir = self._sysfs.subsystem_dir(subsystem.instance)
        if naming is Naming.MULTIPATH:
            head_name = visible_disk_name(naming, subsystem.instance, controller.instance, ns)
            if not any(disk.name == head_name for disk in state.disks):
                self._add_visible_disk(state, subsystem, None, head_name, subsystem_dir)
                self._add_generic(subsystem_dir, generic_name(subsystem.instance, ns), subsystem.instance)
            path_name = path_disk_name(subsystem.instance, controller.instance, ns)
            if not (controller_dir / path_name).exists():
                path_disk = self._sysfs.add_disk(
                    controller_dir, self._attributes(subsystem, path_name, None), controller_dir
                )
                self._sysfs.link_path_to_head(subsystem_dir / head_name, path_disk)
            return  # hidden paths get no generic char device; the head has one
        if naming is Naming.MULTIPATH_SINGLE_CONTROLLER and state.disks_of(subsystem.instance):
            return  # "Duplicate unshared namespace": without CMIC a second path gets no disk
        if any(disk.controller == controller.instance for disk in state.disks):
            return
        name = visible_disk_name(naming, subsystem.instance, controller.instance, ns)
        self._add_visible_disk(state, subsystem, controller.instance, name, controller_dir)
        self._add_generic(controller_dir, generic_name(controller.instance, ns), controller.instance)

    def remove_namespace_disks(self, state: FabricState, subsystem: Subsystem, controller: Controller) -> None:
        ns = subsystem.namespace_instance
        controller_dir = self._sysfs.controller_dir(controller.instance)
        for disk in [item for item in state.disks if item.controller == controller.instance]:
            self._remove_visible_disk(state, disk, controller_dir)
        if self.config.naming is Naming.MULTIPATH:
            path_name = path_disk_name(subsystem.instance, controller.instance, ns)
            head = self._sysfs.subsystem_dir(subsystem.instance) / visible_disk_name(
                self.config.naming, subsystem.instance, controller.instance, ns
            )
            (head / "multipath" / path_name).unlink(missing_ok=True)
            self._sysfs.remove_disk(controller_dir, path_name)
            return  # the generic device belongs to the head, which may outlive this path
        self._remove_generic(controller_dir, generic_name(controller.instance, ns))

    def remove_head(self, state: FabricState, subsystem: Subsystem) -> None:
        subsystem_dir = self._sysfs.subsystem_dir(subsystem.instance)
        for disk in [item for item in state.disks_of(subsystem.instance) if item.controller is None]:
            self._remove_visible_disk(state, disk, subsystem_dir)
            self._remove_generic(subsystem_dir, generic_name(subsystem.instance, subsystem.namespace_instance))

    def _add_visible_disk(
        self, state: FabricState, subsystem: Subsystem, controller: int | None, name: str, parent: Path
    ) -> None:
        if subsystem.kind == "synthetic":
            major, minor, loop = SYNTHETIC_MAJOR, 100000 + subsystem.instance, None
        else:
            device = self._attach(state, Path(subsystem.backing_file))
            major, minor, loop = device.major, device.minor, device.path
        disk = Disk(name=name, subsystem=subsystem.instance, controller=controller, major=major, minor=minor, loop=loop)
        state.disks.append(disk)
        if loop is not None:  # the node first: code that found the disk in sysfs finds the node too
            self._dev.add_block(name, major, minor)
        self._sysfs.add_disk(parent, self._attributes(subsystem, name, (major, minor)), parent)

    def _remove_visible_disk(self, state: FabricState, disk: Disk, parent: Path) -> None:
        self._sysfs.remove_disk(parent, disk.name)
        self._dev.remove(disk.name)
        state.disks.remove(disk)
        for attachment in [item for item in state.loops if item.device is not None and item.device == disk.loop]:
            self.detach(attachment)
            state.loops.remove(attachment)

    def _add_generic(self, parent: Path, name: str, minor: int) -> None:
        self._sysfs.add_generic(parent, name, minor)
        self._dev.add_placeholder(name)

    def _remove_generic(self, parent: Path, name: str) -> None:
        self._sysfs.remove_generic(parent, name)
        self._dev.remove(name)

    def _attributes(self, subsystem: Subsystem, name: str, dev: tuple[int, int] | None) -> DiskAttributes:
        return DiskAttributes(
            name=name,
            nsid=subsystem.nsid,
            size_sectors=self._size_sectors(subsystem),
            namespace_uuid=namespace_uuid(subsystem.nqn, subsystem.nsid),
            dev=dev,
        )

    @staticmethod
    def _size_sectors(subsystem: Subsystem) -> int:
        if subsystem.kind == "synthetic":
            return SYNTHETIC_SECTORS
        return Path(subsystem.backing_file).stat().st_size // 512

    def _refresh_size(self, state: FabricState, subsystem: Subsystem) -> None:
        sectors = self._size_sectors(subsystem)
        ns = subsystem.namespace_instance
        for disk in state.disks_of(subsystem.instance):
            if disk.loop is not None:
                loopdev.refresh_capacity(disk.loop)
            parent = (
                self._sysfs.subsystem_dir(subsystem.instance)
                if disk.controller is None
                else self._sysfs.controller_dir(disk.controller)
            )
            self._sysfs.set_disk_size(parent, disk.name, sectors)
        if self.config.naming is Naming.MULTIPATH:
            for controller in state.controllers_of(subsystem.instance):
                path_name = path_disk_name(subsystem.instance, controller.instance, ns)
                self._sysfs.set_disk_size(self._sysfs.controller_dir(controller.instance), path_name, sectors)

    # loop devices

    def _attach(self, state: FabricState, backing_file: Path) -> loopdev.LoopDevice:
        """Record the attachment first, so teardown finds the device even if we die right after."""
        attachment = LoopAttachment(
            backing_file=str(backing_file.resolve()), others=loopdev.devices_on(backing_file.resolve())
        )
        state.loops.append(attachment)
        self._persist(state)
        try:
            device = loopdev.attach(backing_file)
        except loopdev.LoopError as error:
            state.loops.remove(attachment)
            raise ConnectRefused(errno.EIO, str(error)) from error
        attachment.device = device.path
        self._persist(state)
        return device

    @staticmethod
    def detach(attachment: LoopAttachment) -> None:
        if attachment.device is None:
            for device in loopdev.devices_on(Path(attachment.backing_file)):
                if device not in attachment.others:
                    loopdev.detach(device)
        elif loopdev.attached_file(attachment.device) == attachment.backing_file:
            loopdev.detach(attachment.device)


def _source_address(traddr: str) -> str | None:
    """The local address the host would use towards the target (`src_addr`), None if unroutable."""
    try:
        family = socket.AF_INET6 if ":" in traddr else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((traddr, 4420))
            address: str = probe.getsockname()[0]
            return address
    except OSError:
        return None
