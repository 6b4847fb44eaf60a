"""`/disk`: add (also with copy-from), set, remove, print and monitor-traffic on file disks.

Checks run in a fixed order so that a refused command changes nothing: argument values first,
then the item selection, then conflicts with existing disks and files, then free space; only
then are files created or grown and the table committed.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from . import arguments
from .appliance import Appliance
from .commandline import ArgValue, Command, Filter, Operator
from .entries import DISK_STYLE, Entry, disk_entry, partition_entry
from .errors import AmbiguousValue, Failure, InvalidValue, NoMatchingValue
from .files import name_parts
from .layout import render_key_values
from .listing import print_entries
from .model import NQN_PREFIX, Disk, format_item_id
from .outcomes import Monitor, Outcome, Reply
from .selection import select

_SETTABLE: Mapping[str, tuple[str, Callable[[str, ArgValue], object]]] = {
    "comment": ("comment", arguments.text),
    "disabled": ("disabled", arguments.yes_no),
    "nvme-tcp-export": ("nvme_tcp_export", arguments.yes_no),
    "nvme-tcp-server-port": ("nvme_tcp_server_port", arguments.port),
    "nvme-tcp-server-nqn": ("nvme_tcp_server_nqn", arguments.text),
    "nvme-tcp-server-allow-host-name": ("nvme_tcp_server_allow_host_name", arguments.text),
    "nvme-tcp-server-password": ("nvme_tcp_server_password", arguments.text),
    "nvme-tcp-name": ("nvme_tcp_name", arguments.text),
}
_TABLE_COLUMNS = ("slot", "type", "file-path", "size")
_NO_SPACE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def add(appliance: Appliance, command: Command, width: int) -> Outcome:
    """Before 7.17 there are no file disks: `type=file` is not a value of `type`."""
    args = command.args
    if not appliance.dialect.has_file_disks and "type" in args:
        raise NoMatchingValue("type")
    arguments.require(command, "type", "slot", "file-path", *(() if "copy-from" in args else ("file-size",)))
    if args["type"] != "file":
        raise NoMatchingValue("type")
    changes = _changes(command)
    slot = arguments.text("slot", args["slot"])
    if not slot:
        raise InvalidValue("slot")
    file_path = arguments.text("file-path", args["file-path"])
    name = _backing_file_name(appliance, file_path)
    file_size = arguments.size("file-size", args["file-size"]) if "file-size" in args else 0
    source = _copy_source(appliance, args["copy-from"]) if "copy-from" in args else None
    if source is not None:
        if "file-size" not in args:
            file_size = source.file_size
        elif file_size < source.file_size:
            raise InvalidValue("file-size")

    disks = appliance.table.disks
    if slot == appliance.settings.pool_name or any(disk.slot == slot for disk in disks):
        raise Failure("disk with such slot already exists")
    if not appliance.tree.is_directory(name.rpartition("/")[0]):
        raise Failure("directory does not exist")
    if appliance.tree.exists(name):
        raise Failure("file already exists")
    new = Disk(slot=slot, file_path=file_path, file_size=file_size, item_id=appliance.table.next_id)
    disk = _with_default_nqn(replace(new, **changes))
    _check_nqns([*disks, disk])
    if file_size > appliance.pool_usage().free:
        raise Failure("not enough space")

    _create_backing_file(appliance, name, source, file_size)
    try:
        appliance.table.commit([*disks, disk])
    except BaseException:
        appliance.tree.remove(name)
        raise
    return Reply("", value=format_item_id(disk.item_id))


def set_(appliance: Appliance, command: Command, width: int) -> Outcome:
    changes = _changes(command)
    new_size = arguments.size("file-size", command.args["file-size"]) if "file-size" in command.args else None
    targets = _file_disks(select(_candidates(appliance), arguments.the_item(command), "slot"))
    if not targets:
        return Reply("")
    updated = {disk.slot: _with_default_nqn(replace(disk, **changes)) for disk in targets}
    growth = 0
    if new_size is not None:
        for disk in targets:
            if new_size < disk.file_size:
                raise InvalidValue("file-size")
            growth += new_size - disk.file_size
            updated[disk.slot] = replace(updated[disk.slot], file_size=new_size)
    final = [updated.get(disk.slot, disk) for disk in appliance.table.disks]
    _check_nqns(final)
    if growth > appliance.pool_usage().free:
        raise Failure("not enough space")
    for disk in targets:
        if new_size is not None and new_size > disk.file_size:
            appliance.tree.grow(disk.file_name, new_size)
    appliance.table.commit(final)
    return Reply("")


def remove(appliance: Appliance, command: Command, width: int) -> Outcome:
    """Removes the disk entries only; their backing files stay (R-2)."""
    targets = _file_disks(select(_candidates(appliance), arguments.the_item(command), "slot"))
    if targets:
        removed = {disk.slot for disk in targets}
        appliance.table.commit([disk for disk in appliance.table.disks if disk.slot not in removed])
    return Reply("")


def print_(appliance: Appliance, command: Command, width: int) -> Outcome:
    entries = [entry for _slot, entry in _candidates(appliance)]
    return print_entries(entries, command, DISK_STYLE, width, _TABLE_COLUMNS)


def monitor_traffic(appliance: Appliance, command: Command, width: int) -> Outcome:
    """Counters of the selected disks (`traffic.py`): one `key: value` block per disk, or with
    `as-value` one `key=value;...` line per disk, which is also the command's value (`:put [...]`)."""
    item = arguments.the_item(command)
    selected = select(_candidates(appliance, with_partition=_may_select_partition(appliance, item)), item, "slot")
    if not selected:
        raise Failure("no such item")
    slots = [appliance.settings.pool_name if disk is None else disk.slot for disk in selected]
    files = [None if disk is None else appliance.tree.host_path(disk.file_name) for disk in selected]
    as_value = "as-value" in command.flags

    def render() -> str:
        samples = [appliance.traffic.sample(slot, path) for slot, path in zip(slots, files)]
        if as_value:
            return "".join(f"{sample.as_value()}\n" for sample in samples)
        return "\n".join(render_key_values(sample.printed()) for sample in samples)

    if "once" not in command.flags:
        return Monitor(render)
    text = render()
    if as_value:
        return Reply("", value=text.rstrip("\n"), prints_value=True)
    return Reply(text)


def _candidates(appliance: Appliance, with_partition: bool = True) -> list[tuple[Disk | None, Entry]]:
    """Every /disk entry in print order: the pool partition (no Disk), then the file disks."""
    partition: list[tuple[Disk | None, Entry]] = (
        [(None, partition_entry(appliance.pool_usage()))] if with_partition else []
    )
    return partition + [(disk, disk_entry(disk, appliance.dialect)) for disk in appliance.table.disks]


def _may_select_partition(appliance: Appliance, item: ArgValue) -> bool:
    """False when `item` names another slot (by name or `[find slot=...]`): then the pool's usage, a walk
    of all its files, need not be measured for a thousand `monitor-traffic` commands in a row."""
    pool = appliance.settings.pool_name
    if isinstance(item, Filter):
        return not any(
            condition.field == "slot" and condition.operator is Operator.EQUALS and condition.value != pool
            for condition in item.conditions
        )
    return item.startswith("*") or item == pool


def _file_disks(selected: Sequence[Disk | None]) -> list[Disk]:
    disks = [disk for disk in selected if disk is not None]
    if len(disks) != len(selected):
        raise Failure("can not modify a partition")
    return disks


def _changes(command: Command) -> dict[str, Any]:
    """Disk field -> new value, converted in argument order so the first bad value is reported."""
    changes: dict[str, Any] = {}
    for name, value in command.args.items():
        if name in _SETTABLE:
            field, convert = _SETTABLE[name]
            changes[field] = convert(name, value)
    return changes


def _with_default_nqn(disk: Disk) -> Disk:
    """An exported disk without an NQN gets `nqn.2000-02.com.mikrotik:<slot>`."""
    if disk.nvme_tcp_export and not disk.nvme_tcp_server_nqn:
        return replace(disk, nvme_tcp_server_nqn=NQN_PREFIX + disk.slot)
    return disk


def _check_nqns(disks: Sequence[Disk]) -> None:
    seen: set[tuple[str, int]] = set()
    for disk in disks:
        if disk.nvme_tcp_export:
            key = (disk.nvme_tcp_server_nqn, disk.nvme_tcp_server_port)
            if key in seen:
                raise Failure("nqn already in use")
            seen.add(key)


def _backing_file_name(appliance: Appliance, file_path: str) -> str:
    """`/pool/dir/x.img` -> `pool/dir/x.img`; only absolute `.img` paths inside the pool are valid."""
    try:
        parts = name_parts(file_path)
    except ValueError:
        raise InvalidValue("file-path") from None
    valid = (
        file_path.startswith("/")
        and len(parts) >= 2
        and parts[0] == appliance.settings.pool_name
        and parts[-1].endswith(".img")
        and parts[-1] != ".img"
    )
    if not valid:
        raise InvalidValue("file-path")
    return "/".join(parts)


def _copy_source(appliance: Appliance, value: ArgValue) -> Disk:
    selected = select(_candidates(appliance), value, "slot")
    if not selected:
        raise Failure("no such item")
    if len(selected) > 1:
        raise AmbiguousValue("copy-from")
    source = selected[0]
    if source is None:
        raise InvalidValue("copy-from")
    if not appliance.tree.exists(source.file_name):
        raise Failure("source file does not exist")
    return source


def _create_backing_file(appliance: Appliance, name: str, source: Disk | None, file_size: int) -> None:
    try:
        if source is None:
            appliance.tree.create_sparse(name, file_size)
        else:
            appliance.tree.create_copy(source.file_name, name, file_size)
    except OSError as error:
        if error.errno in _NO_SPACE_ERRORS:
            raise Failure("not enough space") from error
        raise
