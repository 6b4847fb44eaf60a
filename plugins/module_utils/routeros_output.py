# -*- coding: utf-8 -*-
# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parser for RouterOS console output: ``print detail`` items and ``key: value`` screens.

The human layout has quirks that broke earlier parsers (ROUTEROS.md R-4): a ``Flags:`` legend,
numbered or unnumbered items, flag letters, ``;;;`` comment lines, lines wrapped at the console
width with a value split in the middle (even inside quotes), space-grouped integers and bare
values that contain spaces (``type=.img file``). Lines are first re-joined into one logical line
per item, then tokenized once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import ParseError

_ITEM_HEADER = re.compile(r"(?P<lead> {0,3})(?P<number>\d+)(?= |$)")
_FLAG_WORD = re.compile(r"[A-Z]+\Z")
_KEY_START = re.compile(r"[a-z][a-z0-9-]*=")
_KEY_IN_TEXT = re.compile(r"(?:^| )[a-z][a-z0-9-]*=")
_QUOTE_OR_ESCAPE = re.compile(r'(?<!\\)"')
_SPACED_VALUE = re.compile(
    r"\d{1,3}( \d{3})+\Z"  # grouped integer: 53 687 091 200
    r"|[^ ]+ \d{1,2}:\d{2}:\d{2}\Z"  # date and time: 2025-11-11 14:32:41, nov/11/2025 14:32:41
    r"|\.[a-z0-9]+ file\Z"  # file type: .img file
)
_HEX_PAIR = re.compile(r"[0-9A-Fa-f]{2}\Z")
_SCREEN_LINE = re.compile(r"\s*(?P<key>[a-z][a-z0-9-]*): ?(?P<value>.*)\Z")
_UNESCAPES = {
    '"': '"',
    "\\": "\\",
    "$": "$",
    "?": "?",
    "_": " ",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
}


@dataclass(frozen=True)
class Item:
    """One printed item: its number (None when unnumbered), flag letters, comment and fields."""

    number: Optional[int]
    flags: str
    comment: str
    fields: Dict[str, str]


@dataclass
class _RawItem:
    number: Optional[int]
    flags: str
    comment_lines: List[str]
    lines: List[str]
    indent: int


def parse_detail(text: str) -> List[Item]:
    """Parse ``print detail`` output into items."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    return [_finish(raw) for raw in _split_items(lines)]


def parse_screen(text: str) -> Dict[str, str]:
    """Parse a ``key: value`` screen such as ``/system resource print``."""
    result: Dict[str, str] = {}
    for line in text.splitlines():
        match = _SCREEN_LINE.match(line)
        if match:
            result[match.group("key")] = match.group("value").strip()
    return result


def _split_items(lines: List[str]) -> List[_RawItem]:
    items: List[_RawItem] = []
    current: Optional[_RawItem] = None
    in_legend = False
    for line in lines:
        if not line.strip():
            current = None
            in_legend = False
            continue
        if line.startswith("Flags:") or (in_legend and "=" not in line and not _ITEM_HEADER.match(line)):
            in_legend = True
            continue
        in_legend = False
        header = _ITEM_HEADER.match(line)
        if header or current is None:
            current = _start_item(line, header)
            items.append(current)
            continue
        content = line.strip()
        if content.startswith(";;;") and not current.lines:
            current.comment_lines.append(content[3:].strip())
        else:
            current.lines.append(_strip_indent(line, current.indent))
    return items


def _start_item(line: str, header: Optional[re.Match[str]]) -> _RawItem:
    number = int(header.group("number")) if header else None
    rest_start = header.end() if header else 0
    rest = line[rest_start:]
    flags = ""
    words = rest.split(" ")
    position = rest_start
    for word in words:
        if word and not _FLAG_WORD.match(word):
            break
        flags += word
        position += len(word) + 1
    body = line[position:] if position <= len(line) else ""
    indent = position
    item = _RawItem(number, flags, [], [], indent)
    if body.startswith(";;;"):
        item.comment_lines.append(body[3:].strip())
    elif body:
        item.lines.append(body)
    return item


def _strip_indent(line: str, indent: int) -> str:
    """Remove the continuation indent only, keeping a space that belongs to a split value."""
    leading = len(line) - len(line.lstrip(" "))
    return line[min(leading, indent) if indent else leading :]


def _finish(raw: _RawItem) -> Item:
    return Item(raw.number, raw.flags, "\n".join(raw.comment_lines), _tokenize(_join_lines(raw.lines)))


def _join_lines(lines: List[str]) -> str:
    """Join the wrapped lines of one item into one logical line."""
    joined = lines[0] if lines else ""
    for line in lines[1:]:
        if joined.endswith(" ") or line.startswith(" ") or _split_mid_token(joined, line):
            joined += line
        else:
            joined += " " + line
    return joined


def _split_mid_token(previous: str, line: str) -> bool:
    """Whether the break between ``previous`` and ``line`` cut a token in two.

    Console width does not tell (appliances were seen splitting a path on a short line), so the
    tokens decide: a break inside quotes always splits a value; a line that starts a ``key=``
    token follows a complete token unless the previous line ended in the middle of a key; and
    a word that is not a ``key=`` token continues the previous value with a space only when
    the two form a value RouterOS prints with spaces (grouped integers, date and time,
    ``.img file``), otherwise it is the rest of a split token.
    """
    if _inside_quotes(previous):
        return True
    head = line.split(" ", 1)[0]
    value = _last_bare_value(previous)
    if _KEY_START.match(head):
        return not _ends_with_complete_token(previous, value)
    return not (value is not None and _SPACED_VALUE.match(value + " " + head))


def _last_bare_value(text: str) -> Optional[str]:
    """The unquoted value of the last ``key=value`` token, or None when the last token is quoted."""
    tail = text[text.rfind('"') + 1 :]
    last = None
    for last in _KEY_IN_TEXT.finditer(tail):
        pass
    return tail[last.end() :] if last is not None else None


def _ends_with_complete_token(text: str, value: Optional[str]) -> bool:
    if value is None:
        return not text[text.rfind('"') + 1 :].strip()
    return " " not in value or _SPACED_VALUE.match(value) is not None


def _inside_quotes(text: str) -> bool:
    return len(_QUOTE_OR_ESCAPE.findall(text.replace("\\\\", ""))) % 2 == 1


def _tokenize(text: str) -> Dict[str, str]:
    fields: Dict[str, str] = {}
    position = 0
    last_bare_key: Optional[str] = None
    length = len(text)
    while position < length:
        if text[position] == " ":
            position += 1
            continue
        key_match = _KEY_START.match(text, position)
        if not key_match:
            word_end = _bare_end(text, position)
            if last_bare_key is None:
                raise ParseError("Unexpected text %r in RouterOS output: %r" % (text[position:word_end], text))
            fields[last_bare_key] += " " + text[position:word_end]
            position = word_end
            continue
        key = key_match.group()[:-1]
        position = key_match.end()
        if position < length and text[position] == '"':
            value, position = _read_quoted(text, position)
            last_bare_key = None
        else:
            end = _bare_end(text, position)
            value = text[position:end]
            position = end
            last_bare_key = key
        fields[key] = value
    return fields


def _bare_end(text: str, position: int) -> int:
    end = text.find(" ", position)
    return len(text) if end < 0 else end


def _read_quoted(text: str, position: int) -> Tuple[str, int]:
    """Read a double-quoted string starting at ``position``; return its value and the end.

    ``\\XX`` escapes are bytes, so the value is assembled as UTF-8 and decoded at the end.
    """
    data = bytearray()
    index = position + 1
    while index < len(text):
        char = text[index]
        if char == '"':
            return data.decode("utf-8", errors="replace"), index + 1
        if char == "\\" and index + 1 < len(text):
            hex_pair = text[index + 1 : index + 3]
            if _HEX_PAIR.match(hex_pair):
                data.append(int(hex_pair, 16))
                index += 3
                continue
            char = _UNESCAPES.get(text[index + 1], text[index + 1])
            index += 1
        data += char.encode("utf-8")
        index += 1
    raise ParseError("Unterminated quoted value in RouterOS output: %r" % text[position:])
