"""Dates and durations in the console's forms."""

from __future__ import annotations

from datetime import datetime

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_UPTIME_UNITS = (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def format_timestamp(moment: datetime, *, iso: bool) -> str:
    """`2025-11-11 14:32:41` (iso) or `nov/11/2025 14:32:41` (older versions)."""
    clock = moment.strftime("%H:%M:%S")
    if iso:
        return f"{moment:%Y-%m-%d} {clock}"
    return f"{_MONTHS[moment.month - 1]}/{moment:%d/%Y} {clock}"


def format_uptime(seconds: int) -> str:
    """`2w1d3h0m5s`: from the largest non-zero unit down to seconds; `0s` when just started."""
    parts: list[str] = []
    remaining = seconds
    for suffix, size in _UPTIME_UNITS:
        amount, remaining = divmod(remaining, size)
        if amount or parts or suffix == "s":
            parts.append(f"{amount}{suffix}")
    return "".join(parts)
