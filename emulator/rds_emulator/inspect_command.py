"""`/console inspect request=child path=...`: the console's own schema of a menu or command (R-7.4).

With `as-value` the value is what `:put [...]` prints: one run of `key=value` pairs joined by `;`,
the node itself first (`name=add;node-type=cmd;type=self`), then its children in alphabetical
order (`name=comment;node-type=arg;type=child`). Without it a table is printed. Children come
from the emulator's own command table, so they are the names of the emulated version.
"""

from __future__ import annotations

from .appliance import Appliance
from .commandline import Command
from .errors import MissingArguments, NoMatchingValue
from .grammar import MENU_NODES, MenuGrammar, VerbGrammar
from .outcomes import Outcome, Reply

Node = tuple[str, str, str]
"""(name, node-type, type)."""


def inspect(appliance: Appliance, command: Command, width: int) -> Outcome:
    if "path" not in command.args:
        raise MissingArguments("path")
    if command.args.get("request", "self") != "child":
        raise NoMatchingValue("request")
    path = command.args["path"]
    parts = [part for part in path.split(",") if part] if isinstance(path, str) else []
    nodes = _nodes(appliance, parts)
    if "as-value" in command.flags:
        return Reply("", value=";".join(f"name={name};node-type={kind};type={role}" for name, kind, role in nodes))
    return Reply(_table(nodes))


def _nodes(appliance: Appliance, parts: list[str]) -> list[Node]:
    """The node at `parts` and its children; nothing for a path the console does not have."""
    if not parts:
        return []
    node = "/" + "/".join(parts)
    if node in MENU_NODES:
        return [(parts[-1], "dir", "self"), *_menu_children(appliance, node)]
    menu = appliance.menus.get("/" + "/".join(parts[:-1]))
    verb = menu.verbs.get(parts[-1]) if menu is not None else None
    if verb is None:
        return []
    return [(parts[-1], "cmd", "self"), *((name, "arg", "child") for name in _arguments(verb))]


def _menu_children(appliance: Appliance, node: str) -> list[Node]:
    menu: MenuGrammar | None = appliance.menus.get(node)
    children = [(verb, "cmd", "child") for verb in menu.verbs] if menu is not None else []
    depth = node.count("/") + 1
    children += [
        (child.rsplit("/", 1)[1], "dir", "child")
        for child in MENU_NODES
        if child.startswith(node + "/") and child.count("/") == depth
    ]
    return sorted(children)


def _arguments(verb: VerbGrammar) -> list[str]:
    """Named arguments, flags (`detail`, `once`), `numbers` for a verb that takes an item, `where`."""
    names = set(verb.args) | set(verb.flags)
    if verb.max_items:
        names.add("numbers")
    if verb.where:
        names.add("where")
    return sorted(names)


def _table(nodes: list[Node]) -> str:
    rows = [("TYPE", "NAME", "NODE-TYPE")] + [(role, name, kind) for name, kind, role in nodes]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = ["Columns: TYPE, NAME, NODE-TYPE"]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"
