"""`print` for table-like menus: the detail layout, or a short table without `detail`.

`terse` is accepted and answered with the detail layout: R-4 leaves its real behaviour over exec
open, and a client must cope with the human layout whatever it asked for.
"""

from __future__ import annotations

from collections.abc import Sequence

from .commandline import Command
from .entries import Entry
from .layout import DetailStyle, render_detail, render_table
from .outcomes import Reply
from .selection import matching_entries


def print_entries(
    entries: Sequence[Entry], command: Command, style: DetailStyle, width: int, columns: Sequence[str]
) -> Reply:
    shown = matching_entries(entries, command.where)
    if command.flags & {"detail", "terse"}:
        return Reply(render_detail([entry.item for entry in shown], style, width))
    rows = [(entry.item.flags, [entry.value_of(column) for column in columns]) for entry in shown]
    return Reply(render_table([column.upper() for column in columns], rows, style.legend))
