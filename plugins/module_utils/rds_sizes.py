# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Byte sizes: exact parsing of user input and RouterOS output, never rounding (P-4.6).

User input follows Ansible's ``human_to_bytes``, where K, M, G, T and P are powers of 1024, and also
takes the unambiguous binary suffixes of Kubernetes (``Gi``) and IEC (``GiB``). Forms that tools
disagree on are refused instead of guessed: ``GB`` (1000³ to most tools, 1024³ to
``human_to_bytes``), lower-case units (Kubernetes reads ``k`` as 1000 and ``m`` as 1/1000) and bits.
docs/modules.md ("Sizes") holds the same table.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import InvalidValueError, ParseError
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import size_problem

_UNITS = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5}
# Every spelling a user may give, by its power of 1024: human_to_bytes' letters, Kubernetes' and IEC's.
_USER_UNITS = dict(
    {"": 0, "B": 0, "bytes": 0},
    **{letter + suffix: power for letter, power in _UNITS.items() if letter for suffix in ("", "i", "iB")},
)
_POWERS = dict(zip("KMGTPE", range(1, 7)))
_USER_SIZE = re.compile(r"(?P<sign>[-+]?)(?P<number>[0-9]+(?:\.[0-9]+)?|\.[0-9]+) ?(?P<unit>[A-Za-z]*)\Z")
_MAX_TEXT = 40
_HUMAN_SIZE = re.compile(r"(?P<number>\d+(?:\.\d+)?)(?P<unit>[KMGTP]?)i?B\Z")
_GROUPED = re.compile(r"\d[\d ]*\Z")

ACCEPTED_SIZES = (
    "Give bytes as a whole number (1073741824; 1073741824.0 from a template is fine) or a number with a "
    "unit that counts in powers of 1024: K, M, G, T, P as in Ansible's human_to_bytes (10G), Ki, Mi, Gi, Ti, Pi "
    "as in Kubernetes (10Gi) or KiB, MiB, GiB, TiB, PiB (10GiB); B means bytes. A fraction must come out as whole "
    "bytes (1.5G). Units are case-sensitive; KB, MB, GB, TB, PB, lower-case units and bits are refused because "
    "tools disagree on them."
)


def parse_size(value: object, what: str = "size") -> int:
    """The exact number of bytes a user meant by ``value``, which must be a disk's size (``size_problem``).

    Raises InvalidValueError with a sentence that names ``what``, the value, and the accepted forms.
    """
    size = _exact_bytes(value, what)
    problem = size_problem(size)
    if problem:
        raise InvalidValueError("The %s %s is %s: %s." % (what, _shown(value), format_size(size), problem))
    return size


def _exact_bytes(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _refused(what, value, "is a %s, not a size" % _kind(value))
    if isinstance(value, int):
        return _not_negative(value, what, value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _refused(what, value, "is not a finite number")
        if not value.is_integer():
            raise _refused(what, value, "is not a whole number of bytes")
        return _not_negative(int(value), what, value)
    return _parse_text(value, what)


def _parse_text(text: str, what: str) -> int:
    match = _USER_SIZE.match(text.strip()) if len(text) <= _MAX_TEXT else None
    if not match:
        raise _refused(what, text, "is not a size")
    unit = match.group("unit")
    if unit not in _USER_UNITS:
        raise _refused(what, text, _unit_problem(unit))
    try:
        exact = Decimal(match.group("number")) * (1024 ** _USER_UNITS[unit])
    except InvalidOperation:
        raise _refused(what, text, "is not a size") from None
    if exact != exact.to_integral_value():
        raise _refused(what, text, "is not a whole number of bytes")
    size = int(exact)
    return _not_negative(-size if match.group("sign") == "-" else size, what, text)


def _unit_problem(unit: str) -> str:
    letter = unit[:1].upper()
    if len(unit) == 2 and letter in _POWERS and unit[1] in "Bb":
        if unit[0].isupper() and unit[1] == "b":
            return "counts bits (%s), not bytes" % unit
        power = _POWERS[letter]
        return "uses %s, which is 1000^%d bytes to most tools and 1024^%d to Ansible; write %si or %siB for 1024^%d" % (
            unit,
            power,
            power,
            letter,
            letter,
            power,
        )
    if unit in ("b", "bit", "bits"):
        return "counts bits, not bytes"
    if letter in _UNITS and unit.upper() in (letter, letter + "I", letter + "IB"):
        return "has the unit %s; units are case-sensitive (Kubernetes reads k as 1000 and m as 1/1000)" % unit
    return "has the unknown unit %s" % unit


def _not_negative(size: int, what: str, shown: object) -> int:
    if size < 0:
        raise _refused(what, shown, "is negative")
    return size


def _refused(what: str, value: object, problem: str) -> InvalidValueError:
    return InvalidValueError("The %s %s %s. %s" % (what, _shown(value), problem, ACCEPTED_SIZES))


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: object) -> str:
    names = {bool: "boolean", list: "list", dict: "dictionary", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def parse_grouped_integer(value: str) -> int:
    """Parse an integer RouterOS printed with spaces between digit groups (``53 687 091 200``)."""
    if not _GROUPED.match(value.strip()):
        raise ParseError("Expected an integer in RouterOS output, got %r." % value)
    return int(value.replace(" ", ""))


def parse_human_size(value: str) -> int:
    """Parse RouterOS' rounded human size (``50.0GiB``). Only a fallback: it can be off by up to 0.05 units."""
    match = _HUMAN_SIZE.match(value.strip())
    if not match:
        raise ParseError("Expected a size such as 10.0GiB in RouterOS output, got %r." % value)
    try:
        number = Decimal(match.group("number"))
    except InvalidOperation:
        raise ParseError("Expected a size such as 10.0GiB in RouterOS output, got %r." % value) from None
    return int(number * (1024 ** _UNITS[match.group("unit")]))


def format_size(size: int) -> str:
    """Short human form for messages: the largest binary unit that divides the size exactly.

    ``parse_size`` reads every form this returns back to the same number of bytes.
    """
    for unit in ("P", "T", "G", "M", "K"):
        factor = 1024 ** _UNITS[unit]
        if size >= factor and size % factor == 0:
            return "%d%siB" % (size // factor, unit)
    return "%d bytes" % size
