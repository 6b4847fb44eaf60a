"""The human layouts of the console: `print detail`, key-value screens and plain tables.

`print detail` (R-4): an optional `Flags:` legend, then every item numbered from 0, the number
right-aligned in a column at least two wide, then the item's flag letters in a fixed-width
column, then its properties. A comment comes first as `;;; ` lines. Properties are `key=value`
tokens placed greedily on lines of at most `width` characters; continuation lines are indented to
the column where the first property started. A token that does not fit on the current line moves
to the next, unless it is longer than a whole line: then it starts where it is and is cut to fill
each line to exactly `width` characters, so only a mid-token cut produces a full-width line
(a break between tokens can, by coincidence, also end at the full width). Items are separated by,
and end with, a blank line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class DetailItem:
    properties: tuple[tuple[str, str], ...]
    """(key, value as printed) in print order."""
    flags: str = ""
    comment: str = ""


@dataclass(frozen=True)
class DetailStyle:
    legend: str | None
    """The `Flags: ...` line, printed even when no item has a flag; None for menus without flags."""
    flag_width: int


def render_detail(items: Sequence[DetailItem], style: DetailStyle, width: int) -> str:
    number_width = max(2, len(str(len(items) - 1)))
    lines: list[str] = [] if style.legend is None else [style.legend]
    for index, item in enumerate(items):
        prefix = f"{index:>{number_width}} "
        if style.flag_width:
            prefix += f"{item.flags:<{style.flag_width}} "
        indent = " " * len(prefix)
        lead = prefix
        for comment_line in item.comment.splitlines():
            lines.append(f"{lead};;; {comment_line}")
            lead = indent
        tokens = [f"{key}={value}" for key, value in item.properties]
        for row in wrap_tokens(tokens, max(1, width - len(indent))):
            lines.append(lead + row)
            lead = indent
        lines.append("")
    return "".join(f"{line}\n" for line in lines)


def wrap_tokens(tokens: Sequence[str], available: int) -> list[str]:
    """Fill rows of at most `available` characters with space-separated tokens (see module doc)."""
    rows: list[str] = []
    row = ""
    for token in tokens:
        separator = " " if row else ""
        if len(row) + len(separator) + len(token) <= available:
            row += separator + token
            continue
        if len(token) <= available or len(row) + len(separator) >= available:
            if row:
                rows.append(row)
            row, separator = "", ""
        rest = row + separator + token
        while len(rest) > available:
            rows.append(rest[:available])
            rest = rest[available:]
        row = rest
    if row:
        rows.append(row)
    return rows


def render_key_values(pairs: Sequence[tuple[str, str]]) -> str:
    """`  name: value` screens: keys right-aligned two columns past the longest, then a colon."""
    key_width = max(len(key) for key, _value in pairs) + 2
    return "".join(f"{key:>{key_width}}: {value}\n" for key, value in pairs)


def render_table(headers: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]], legend: str | None) -> str:
    """A plain `print`: legend, `Columns:` line, then `#`, flags and left-aligned cells per row."""
    numbered = [(f"{index} {flags}".rstrip(), cells) for index, (flags, cells) in enumerate(rows)]
    widths = [len(header) for header in ("#", *headers)]
    for lead, cells in numbered:
        for column, text in enumerate((lead, *cells)):
            widths[column] = max(widths[column], len(text))
    lines = [] if legend is None else [legend]
    lines.append(f"Columns: {', '.join(headers)}")
    for lead, cells in [("#", headers), *numbered]:
        lines.append(" ".join(f"{text:<{size}}" for text, size in zip((lead, *cells), widths)).rstrip())
    return "".join(f"{line}\n" for line in lines)
