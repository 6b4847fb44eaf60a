"""The console's command table: menus, their verbs, and what each verb accepts.

The parser consults this table to tell menus from verbs, arguments from flags, and to reject
unknown names the way RouterOS does (with a position). Values are validated later, by the
command handlers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class VerbGrammar:
    args: frozenset[str] = frozenset()
    flags: frozenset[str] = frozenset()
    max_items: int = 0
    """How many unnamed items (`[find ...]` or a name) the verb takes."""
    where: bool = False


@dataclass(frozen=True)
class MenuGrammar:
    fields: frozenset[str]
    """Property names usable in `where` and `[find ...]`."""
    verbs: Mapping[str, VerbGrammar] = field(hash=False)


_EXPORT_ARGS = frozenset(
    {
        "nvme-tcp-export",
        "nvme-tcp-server-port",
        "nvme-tcp-server-nqn",
        "nvme-tcp-name",
        "nvme-tcp-server-allow-host-name",
        "nvme-tcp-server-password",
    }
)

DISK_FIELDS = frozenset(
    {
        "type",
        "slot",
        "slot-default",
        "parent",
        "fs",
        "model",
        "size",
        "mount-filesystem",
        "mount-read-only",
        "compress",
        "sector-size",
        "iscsi-export",
        "nfs-sharing",
        "smb-sharing",
        "file-path",
        "file-size",
        "file-offset",
        "comment",
        "disabled",
        "mount-point",
        "file-system",
        "free",
        "use",
    }
    | _EXPORT_ARGS
)

FILE_FIELDS = frozenset({"name", "type", "size", "creation-time"})

_PRINT = VerbGrammar(flags=frozenset({"detail", "without-paging", "terse"}), where=True)
_PLAIN_PRINT = VerbGrammar(flags=frozenset({"without-paging"}))

_DISK_ADD_ARGS = (
    frozenset({"type", "file-path", "file-size", "slot", "copy-from", "comment", "disabled"}) | _EXPORT_ARGS
)
_DISK_SET_ARGS = frozenset({"file-size", "comment", "disabled"}) | _EXPORT_ARGS


def disk_menu(spell: Callable[[frozenset[str]], frozenset[str]]) -> MenuGrammar:
    """`/disk` with the names of one RouterOS version: `spell` keeps the canonical names the version
    has and returns them as the version spells them (`dialect.DiskDialect.spelled`)."""
    return MenuGrammar(
        fields=spell(DISK_FIELDS),
        verbs={
            "add": VerbGrammar(args=spell(_DISK_ADD_ARGS)),
            "set": VerbGrammar(args=spell(_DISK_SET_ARGS), max_items=1),
            "remove": VerbGrammar(max_items=1),
            "print": _PRINT,
            "monitor-traffic": VerbGrammar(flags=frozenset({"once", "as-value"}), max_items=1),
        },
    )


def menus_with(disk: MenuGrammar) -> Mapping[str, MenuGrammar]:
    """The command table with `disk` as the `/disk` menu."""
    return {**MENUS, "/disk": disk}


MENUS: Mapping[str, MenuGrammar] = {
    "/disk": disk_menu(lambda names: names - {"nvme-tcp-name"}),
    "/console": MenuGrammar(
        fields=frozenset(),
        verbs={"inspect": VerbGrammar(args=frozenset({"request", "path"}), flags=frozenset({"as-value"}))},
    ),
    "/file": MenuGrammar(
        fields=FILE_FIELDS,
        verbs={
            "add": VerbGrammar(args=frozenset({"name", "type"})),
            "remove": VerbGrammar(max_items=1),
            "print": _PRINT,
        },
    ),
    "/user": MenuGrammar(
        fields=frozenset({"name", "group", "address", "last-logged-in", "disabled", "comment"}),
        verbs={
            "add": VerbGrammar(args=frozenset({"name", "group", "password", "comment", "disabled"})),
            "set": VerbGrammar(args=frozenset({"group", "password", "comment", "disabled"}), max_items=1),
            "remove": VerbGrammar(max_items=1),
            "print": _PRINT,
        },
    ),
    "/user/group": MenuGrammar(
        fields=frozenset({"name", "policy", "skin", "comment"}),
        verbs={
            "add": VerbGrammar(args=frozenset({"name", "policy", "comment"})),
            "set": VerbGrammar(args=frozenset({"policy", "comment"}), max_items=1),
            "remove": VerbGrammar(max_items=1),
            "print": _PRINT,
        },
    ),
    "/user/ssh-keys": MenuGrammar(
        fields=frozenset({"user", "key-type", "bits", "key-owner", "comment"}),
        verbs={
            "add": VerbGrammar(args=frozenset({"user", "key", "comment"})),
            "remove": VerbGrammar(max_items=1),
            "print": _PRINT,
        },
    ),
    "/system/resource": MenuGrammar(fields=frozenset(), verbs={"print": _PLAIN_PRINT}),
    "/system/identity": MenuGrammar(fields=frozenset(), verbs={"print": _PLAIN_PRINT}),
    "/system/health": MenuGrammar(fields=frozenset(), verbs={"print": _PLAIN_PRINT}),
}

MENU_NODES = frozenset(
    "/".join(path.split("/")[: depth + 1]) for path in MENUS for depth in range(1, path.count("/") + 1)
)
"""Every menu and every intermediate level (`/system`) the parser can descend into."""
