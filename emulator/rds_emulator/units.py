"""Numbers as RouterOS reads and prints them: sizes with binary suffixes, grouped integers."""

from __future__ import annotations

import re

_SUFFIX_FACTORS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_SIZE_PATTERN = re.compile(r"([0-9]+)([KMGT]?)")
_HUMAN_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def parse_size(text: str) -> int:
    """Parse `123`, `10G`, `512M` (powers of 1024, upper-case suffix only); raise ValueError otherwise."""
    found = _SIZE_PATTERN.fullmatch(text)
    if found is None:
        raise ValueError(f"not a size: {text!r}")
    return int(found.group(1)) * _SUFFIX_FACTORS[found.group(2)]


def group_thousands(number: int) -> str:
    """`10737418240` -> `10 737 418 240`, the way print detail shows exact byte counts."""
    return f"{number:,}".replace(",", " ")


def human_size(number: int) -> str:
    """One decimal and the largest binary unit not above the value: `10.0GiB`, `1024.0MiB`.

    Below 1 KiB the exact count is printed with a `B` suffix (`512B`). Rounding is Python's
    round-half-even on the one decimal, so 1 GiB - 1 byte prints as `1024.0MiB`.
    """
    if number < 1024:
        return f"{number}B"
    power = min(len(_HUMAN_UNITS), (number.bit_length() - 1) // 10)
    return f"{number / 1024**power:.1f}{_HUMAN_UNITS[power - 1]}"
