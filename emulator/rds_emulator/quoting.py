"""RouterOS string syntax shared by the parser and the printer.

A *bare* value is a non-empty run of printable ASCII characters other than space and
`" \\ ; [ ] $ ? = { } ( )`. Anything else must be written in double quotes. Inside quotes the
escapes of R-2 apply; the printer escapes `"`, `\\`, `$`, `?` and every control character
(named escapes where one exists, otherwise `\\XX` with upper-case hex) and writes non-ASCII
characters as they are.
"""

from __future__ import annotations

_NOT_BARE = frozenset(' "\\;[]$?={}()')

ESCAPED_CHARACTERS = {
    '"': '"',
    "\\": "\\",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "$": "$",
    "?": "?",
    "_": " ",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
}
"""Escape letter after a backslash -> the character it stands for."""

_ESCAPES_FOR_OUTPUT = {
    '"': '\\"',
    "\\": "\\\\",
    "$": "\\$",
    "?": "\\?",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\v": "\\v",
}


def is_control(character: str) -> bool:
    return character < " " or character == "\x7f"


def is_bare_character(character: str) -> bool:
    return " " < character < "\x7f" and character not in _NOT_BARE


def is_bare(value: str) -> bool:
    return value != "" and all(is_bare_character(character) for character in value)


def quote(value: str) -> str:
    """Write `value` as a double-quoted RouterOS string that parses back to exactly `value`."""
    parts = ['"']
    for character in value:
        escaped = _ESCAPES_FOR_OUTPUT.get(character)
        if escaped is not None:
            parts.append(escaped)
        elif is_control(character):
            parts.append(f"\\{ord(character):02X}")
        else:
            parts.append(character)
    parts.append('"')
    return "".join(parts)


def render(value: str, *, always_quote: bool = False) -> str:
    """The value as print shows it: bare when that is unambiguous (and allowed), quoted otherwise."""
    if always_quote or not is_bare(value):
        return quote(value)
    return value
