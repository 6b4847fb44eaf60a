# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Byte sizes: exact parsing of user input and RouterOS output, never rounding down (P-4.6)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Union

from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import InvalidValueError, ParseError

_UNITS = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5}
_USER_SIZE = re.compile(r"\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[KMGTP]?)(?:i?B)?\s*\Z", re.I)
_HUMAN_SIZE = re.compile(r"(?P<number>\d+(?:\.\d+)?)(?P<unit>[KMGTP]?)i?B\Z")
_GROUPED = re.compile(r"\d[\d ]*\Z")


def parse_size(value: Union[str, int], what: str = "size") -> int:
    """Parse a size given by a user: bytes (``1073741824``) or binary units (``1G``, ``1GiB``, ``1.5T``).

    A fractional size must come out as a whole number of bytes; it is never rounded.
    """
    if isinstance(value, bool):
        raise InvalidValueError("The %s must be a number of bytes or a size such as 10G, not a boolean." % what)
    if isinstance(value, int):
        if value < 0:
            raise InvalidValueError("The %s must not be negative (got %d)." % (what, value))
        return value
    match = _USER_SIZE.match(value)
    if not match:
        raise InvalidValueError(
            "The %s %r is not a size; give bytes or a number with K, M, G, T or P (powers of 1024)." % (what, value)
        )
    exact = Decimal(match.group("number")) * (1024 ** _UNITS[match.group("unit").upper()])
    if exact != exact.to_integral_value():
        raise InvalidValueError(
            "The %s %r is not a whole number of bytes; give it in bytes or a smaller unit." % (what, value)
        )
    return int(exact)


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
    """Short human form for messages: the largest binary unit that divides the size exactly."""
    for unit in ("P", "T", "G", "M", "K"):
        factor = 1024 ** _UNITS[unit]
        if size >= factor and size % factor == 0:
            return "%d%siB" % (size // factor, unit)
    return "%d bytes" % size
