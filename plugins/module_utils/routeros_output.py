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
_WITHOUT_ESCAPES = re.compile(r"\\.")
# One token: key="quoted", key=bare or a stray word. A bare value takes the following words that
# are not key= tokens (grouped integers, "date time", ".img file"); a stray word is an error.
_TOKEN = re.compile(
    r' *(?:([a-z][a-z0-9-]*)=(?:"([^"\\]*(?:\\.[^"\\]*)*)"|(")|([^ ]*(?: +(?![a-z][a-z0-9-]*=)[^ "]+)*))'
    r"|([^ ]+))"
)
_ESCAPE = re.compile(r"(?P<plain>[^\\]+)|\\(?P<escape>[0-9A-Fa-f]{2}|.)", re.S)
_SPACED_VALUE = re.compile(
    r"\d{1,3}( \d{3})+\Z"  # grouped integer: 53 687 091 200
    r"|[^ ]+ \d{1,2}:\d{2}:\d{2}\Z"  # date and time: 2025-11-11 14:32:41, nov/11/2025 14:32:41
    r"|\.[a-z0-9]+ file\Z"  # file type: .img file
)
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
        if not line or line.isspace():
            current = None
            in_legend = False
            continue
        header = _ITEM_HEADER.match(line) if line[0] == " " or line[0].isdigit() else None
        if line.startswith("Flags:") or (in_legend and "=" not in line and not header):
            # A legend starts another print's output (several prints in one exec): no item continues across it.
            current = None
            in_legend = True
            continue
        in_legend = False
        if header or current is None:
            current = _start_item(line, header)
            items.append(current)
        elif ";;;" in line and not current.lines and line.lstrip().startswith(";;;"):
            current.comment_lines.append(_comment_text(line.lstrip()))
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
        item.comment_lines.append(_comment_text(body))
    elif body:
        item.lines.append(body)
    return item


def _comment_text(line: str) -> str:
    """A ``;;; text`` line's text, verbatim: only the one space the console puts after ``;;;`` goes."""
    text = line[3:]
    return text[1:] if text.startswith(" ") else text


def _strip_indent(line: str, indent: int) -> str:
    """Remove the continuation indent only, keeping a space that belongs to a split value."""
    if indent and line.startswith(" " * indent):
        return line[indent:]
    leading = len(line) - len(line.lstrip(" "))
    return line[min(leading, indent) if indent else leading :]


def _finish(raw: _RawItem) -> Item:
    return Item(raw.number, raw.flags, "\n".join(raw.comment_lines), _tokenize(_join_lines(raw.lines)))


def _join_lines(lines: List[str]) -> str:
    """Join the wrapped lines of one item into one logical line."""
    if not lines:
        return ""
    parts = [lines[0]]
    inside, pending_escape = _quote_state(lines[0], False, False)
    for previous, line in zip(lines, lines[1:]):
        if inside or previous.endswith(" ") or line.startswith(" ") or _split_mid_token(previous, parts, line):
            parts.append(line)
        else:
            parts.append(" " + line)
        inside, pending_escape = _quote_state(line, inside, pending_escape)
    return "".join(parts)


def _quote_state(line: str, inside: bool, pending_escape: bool) -> Tuple[bool, bool]:
    """Whether a quoted string is open after ``line``, and whether it ends in half an escape."""
    if pending_escape:
        line = line[1:]
    unescaped = _WITHOUT_ESCAPES.sub("", line) if "\\" in line else line
    inside ^= unescaped.count('"') % 2 == 1
    return inside, inside and unescaped.endswith("\\")


def _split_mid_token(previous: str, parts: List[str], line: str) -> bool:
    """Whether the break after ``previous`` (outside quotes) cut a token in two.

    Console width does not tell (appliances were seen splitting a path on a short line), so the
    tokens decide: a line that starts a ``key=`` token follows a complete token unless the
    previous line ended in the middle of a key; and a word that is not a ``key=`` token
    continues the previous value with a space only when the two form a value RouterOS prints
    with spaces (grouped integers, date and time, ``.img file``), otherwise it is the rest of
    a split token.
    """
    starts_key = _KEY_START.match(line) is not None
    if starts_key and "=" in previous[previous.rfind(" ") + 1 :]:
        return False  # the common case: a complete key=value, then the next key=
    tail = _unquoted_tail(previous, parts)
    head = line.split(" ", 1)[0]
    value = _last_bare_value(tail)
    if starts_key:
        return not _ends_with_complete_token(tail, value)
    return not (value is not None and _SPACED_VALUE.match(value + " " + head))


def _unquoted_tail(previous: str, parts: List[str]) -> str:
    """The text after the last quote so far; the previous line alone holds it in the common case."""
    if '"' in previous or _KEY_IN_TEXT.search(previous):
        return previous[previous.rfind('"') + 1 :]
    joined = "".join(parts)
    return joined[joined.rfind('"') + 1 :]


def _last_bare_value(tail: str) -> Optional[str]:
    """The unquoted value of the last ``key=value`` token in ``tail``, or None when there is none."""
    equals_at = tail.rfind("=")
    key_at = tail.rfind(" ", 0, equals_at) + 1
    if equals_at > 0 and _KEY_START.fullmatch(tail, key_at, equals_at + 1):
        return tail[equals_at + 1 :]
    keys = list(_KEY_IN_TEXT.finditer(tail))
    return tail[keys[-1].end() :] if keys else None


def _ends_with_complete_token(tail: str, value: Optional[str]) -> bool:
    if value is None:
        return not tail.strip()
    return " " not in value or _SPACED_VALUE.match(value) is not None


def _tokenize(text: str) -> Dict[str, str]:
    fields: Dict[str, str] = {}
    for key, quoted, opened, bare, stray in _TOKEN.findall(text):
        if stray:
            raise ParseError("Unexpected text %r in RouterOS output: %r" % (stray, text))
        if opened:
            raise ParseError("Unterminated quoted value in RouterOS output: %r" % text)
        fields[key] = _unquote(quoted) if "\\" in quoted else quoted or bare
    return fields


def _unquote(body: str) -> str:
    """Decode the escapes of a quoted value. ``\\XX`` escapes are bytes, so the value is rebuilt as UTF-8."""
    data = bytearray()
    for match in _ESCAPE.finditer(body):
        escape = match.group("escape")
        if escape is None:
            data += match.group("plain").encode("utf-8")
        elif len(escape) == 2:
            data.append(int(escape, 16))
        else:
            data += _UNESCAPES.get(escape, escape).encode("utf-8")
    return data.decode("utf-8", errors="replace")
