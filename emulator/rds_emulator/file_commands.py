"""`/file`: print, remove and add (directories only) over the appliance's file tree."""

from __future__ import annotations

from . import arguments
from .appliance import Appliance
from .commandline import Command
from .entries import FILE_STYLE, Entry, file_entry
from .errors import Failure, InvalidValue, NoMatchingValue
from .files import name_parts
from .listing import print_entries
from .model import format_item_id
from .outcomes import Outcome, Reply
from .selection import select

_TABLE_COLUMNS = ("name", "type", "size", "creation-time")


def print_(appliance: Appliance, command: Command, width: int) -> Outcome:
    entries = [entry for _name, entry in _candidates(appliance)]
    return print_entries(entries, command, FILE_STYLE, width, _TABLE_COLUMNS)


def remove(appliance: Appliance, command: Command, width: int) -> Outcome:
    """Refuses (`failure: file is in use`) to remove a disk's backing file, a directory holding one,
    or a pool's own directory; nothing is removed then."""
    names = select(_candidates(appliance), arguments.the_item(command), "name")
    in_use = {disk.file_name for disk in appliance.table.disks} | {appliance.settings.pool_name}
    for name in names:
        if any(used == name or used.startswith(f"{name}/") for used in in_use):
            raise Failure("file is in use")
    for name in names:
        if appliance.tree.exists(name):
            appliance.tree.remove(name)
    return Reply("")


def add(appliance: Appliance, command: Command, width: int) -> Outcome:
    """Creates a directory (`type=directory`); its parent must exist."""
    arguments.require(command, "name", "type")
    name = arguments.text("name", command.args["name"])
    if command.args["type"] != "directory":
        raise NoMatchingValue("type")
    try:
        name_parts(name)
    except ValueError:
        raise InvalidValue("name") from None
    if appliance.tree.exists(name):
        raise Failure("file already exists")
    parent = name.removeprefix("/").rpartition("/")[0]
    if parent and not appliance.tree.is_directory(parent):
        raise Failure("directory does not exist")
    appliance.tree.make_directory(name)
    return Reply("", value=format_item_id(appliance.tree.item_id(name)))


def _candidates(appliance: Appliance) -> list[tuple[str, Entry]]:
    iso_dates = appliance.settings.version.uses_iso_dates
    return [(node.name, file_entry(node, iso_dates=iso_dates)) for node in appliance.tree.nodes()]
