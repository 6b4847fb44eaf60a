# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Appliance monitoring: ``/disk monitor-traffic <slot> once`` (R-7.6) and ``/system health print``
(R-7.7), parsed by pure functions, and the one-line batch that reads many disks' traffic in one exec.

``monitor-traffic`` prints right-aligned ``key: value`` lines (``as-value``: ``key=value;...``):
integers grouped with spaces (``515 659 673 600``), rates with ``bps``/``kbps``/``Mbps``/``Gbps``
(powers of 1000), times with ``ms`` (``as-value``: ``00:00:01.234``). Whether the rates are bits
or bytes per second is unverified; the suffix says bits, so they are read as bits. ``health print``
prints a ``Columns: NAME, VALUE, TYPE`` table whose values are numbers with a type (``C``, ``RPM``,
``V``, ``A``, ``W``) or states (``ok``, ``fail``, ``not-present``, ``idle``, ``no-input``).

A batch line puts a marker before each disk's command (``:put "=== monitor 3"``), so each block of
output belongs to the disk its marker numbers, whatever the block holds. RouterOS stops a line at
its first runtime error (R-7.1): a disk removed meanwhile ends the output with its marker and the
error, and the disks after it did not run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence

from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import ParseError
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_command import (
    Script,
    build,
    equals,
    quote,
)

HEALTH_STATES = ("ok", "fail", "not-present", "idle", "no-input")
HEALTH_TYPES = ("C", "RPM", "V", "A", "W")
_MARKER = "=== monitor %d"
_MARKER_LINE = re.compile(r"=== monitor (\d+)\Z")
_SCREEN_LINE = re.compile(r"\s*([a-z][a-z0-9-]*): ?(.*)\Z")
_AS_VALUE_PAIR = re.compile(r"([a-z][a-z0-9.-]*)=(.*)\Z")
_INTEGER = re.compile(r"\d{1,3}(?: \d{3})+\Z|\d+\Z")
_DECIMAL = re.compile(r"-?\d+(?:\.\d+)?\Z")
_RATE = re.compile(r"(\d+(?:\.\d+)?) ?([kKMGT]?)bps\Z")
_RATE_FACTORS = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_DURATION_UNITS = re.compile(r"(\d+(?:\.\d+)?)(w|d|h|ms|us|m|s)")
_DURATION_FACTORS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 0.000001}
_CLOCK = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(\d+):(\d{2}):(\d{2})(?:\.(\d+))?\Z")


# Values


def parse_count(text: str) -> int:
    """``515 659 673 600`` or ``42``."""
    value = text.strip()
    if not _INTEGER.match(value):
        raise ParseError("Expected a count in RouterOS output, got %r." % text)
    return int(value.replace(" ", ""))


def parse_rate(text: str) -> float:
    """Bits per second from ``0bps``, ``12.8kbps``, ``1.5Gbps`` (powers of 1000; the bare number of
    ``as-value`` is taken as it is)."""
    value = text.strip()
    if _INTEGER.match(value):
        return float(value.replace(" ", ""))
    found = _RATE.match(value)
    if found is None:
        raise ParseError("Expected a rate such as 12.8Mbps in RouterOS output, got %r." % text)
    return float(found.group(1)) * _RATE_FACTORS[found.group(2)]


def parse_duration(text: str) -> float:
    """Seconds from a RouterOS time: ``15ms``, ``1 234ms``, ``1m30s``, ``2d3h``, ``00:00:01.234``,
    ``1d02:03:04``."""
    value = text.strip()
    clock = _CLOCK.match(value)
    if clock is not None:
        weeks, days, hours, minutes, seconds, fraction = clock.groups()
        total = int(weeks or 0) * 604800 + int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60
        return total + int(seconds) + (float("0." + fraction) if fraction else 0.0)
    compact = value.replace(" ", "") if re.match(r"\d{1,3}(?: \d{3})+[a-z]+\Z", value) else value
    parts = _DURATION_UNITS.findall(compact)
    if not parts or "".join(number + unit for number, unit in parts) != compact:
        raise ParseError("Expected a time such as 15ms in RouterOS output, got %r." % text)
    return sum(float(number) * _DURATION_FACTORS[unit] for number, unit in parts)


def _traffic_value(key: str, text: str) -> float:
    if key.endswith("-rate"):
        return parse_rate(text)
    if key.endswith("-time"):
        return parse_duration(text)
    return parse_count(text)


# Disk traffic


@dataclass(frozen=True)
class DiskTraffic:
    """One disk's ``monitor-traffic`` fields by their RouterOS names: counts, bytes, rates in bits
    per second and times in seconds. A field this RouterOS did not print is absent."""

    slot: str
    values: Mapping[str, float] = field(hash=False)

    def get(self, name: str) -> Optional[float]:
        return self.values.get(name)


def parse_monitor_traffic(text: str, slot: str = "") -> DiskTraffic:
    """One disk's ``monitor-traffic ... once`` output, in the console's layout or ``as-value``.

    A field RouterOS documents must read as its kind (ParseError otherwise); a field it does not
    is kept when it reads as a count, rate or time, and skipped otherwise. ``slot`` names the disk
    when the output does not; when it does, the two must agree.
    """
    pairs = _pairs(text)
    printed_slot = pairs.pop("slot", None)
    if printed_slot is not None and slot and printed_slot != slot:
        raise ParseError("Traffic of disk %r was printed for slot %r." % (slot, printed_slot))
    values: Dict[str, float] = {}
    for key, value in pairs.items():
        try:
            values[key] = _traffic_value(key, value)
        except ParseError:
            if _is_documented(key):
                raise
    return DiskTraffic(slot or printed_slot or "", values)


def _pairs(text: str) -> Dict[str, str]:
    pairs: Dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        screen = _SCREEN_LINE.match(line)
        if screen is not None:
            pairs[screen.group(1)] = screen.group(2).strip()
            continue
        for part in line.strip().split(";"):
            found = _AS_VALUE_PAIR.match(part)
            if found is None:
                raise ParseError("Unexpected line in /disk monitor-traffic output: %r" % line)
            pairs[found.group(1)] = found.group(2)
    return pairs


def _is_documented(key: str) -> bool:
    kind, _dash, what = key.partition("-")
    documented = ("ops", "ops-per-second", "bytes", "rate", "merges", "time")
    return (kind in ("read", "write", "discard") and what in documented) or key in (
        "in-flight-ops",
        "active-time",
        "wait-time",
        "flush-ops",
        "flush-time",
        "io-ops",
        "io-errors",
    )


@dataclass(frozen=True)
class TrafficScript(Script):
    """``:put "=== monitor 0"; /disk monitor-traffic [find slot="a"] once; :put "=== monitor 1"; ...``:
    a ``Script`` whose commands each follow a numbered marker, so each block of output is attributable."""

    def render(self) -> str:
        return self._join([command.render() for command in self.commands])

    def render_for_log(self) -> str:
        return self._join([command.render_for_log() for command in self.commands])

    @staticmethod
    def _join(rendered: Sequence[str]) -> str:
        return "; ".join(":put %s; %s" % (quote(_MARKER % index), text) for index, text in enumerate(rendered))


def traffic_script(slots: Sequence[str], slot_field: str = "slot") -> TrafficScript:
    """One line that reads the traffic of ``slots`` in order; ``slot_field`` is the appliance's name
    for the slot field."""
    return TrafficScript(
        tuple(build("/disk", "monitor-traffic", target=[equals(slot_field, slot)], words=["once"]) for slot in slots)
    )


def split_traffic_output(output: str, failed: bool) -> List[str]:
    """The output of a ``traffic_script`` line, one block per marker it printed, in order.

    A block is whatever the disk's command printed (empty when it printed nothing). ``failed``:
    the line stopped at a runtime error, whose message ends the output and is left out of the
    last block. Text before the first marker, or markers out of order, are a ParseError.
    """
    lines = output.splitlines()
    if failed:
        while lines and not lines[-1].strip():
            lines.pop()
        if lines:
            lines.pop()
    blocks: List[List[str]] = []
    for line in lines:
        marker = _MARKER_LINE.match(line.strip())
        if marker is not None:
            if int(marker.group(1)) != len(blocks):
                raise ParseError("Traffic output out of order at %r." % line)
            blocks.append([])
        elif blocks:
            blocks[-1].append(line)
        elif line.strip():
            raise ParseError("Unexpected text before the first disk in traffic output: %r" % line)
    return ["\n".join(block) for block in blocks]


# Health


@dataclass(frozen=True)
class HealthReading:
    """One sensor: ``value`` and ``type`` for a number (``type`` empty when none was printed),
    ``state`` for a state (one of ``HEALTH_STATES``, or whatever other word RouterOS printed)."""

    name: str
    value: Optional[float] = None
    type: str = ""
    state: Optional[str] = None


def parse_health(text: str) -> List[HealthReading]:
    """``/system health print`` in RouterOS 7's column layout: ``#  NAME  VALUE  TYPE`` rows,
    numbered or not; the ``Columns:`` line, the header and blank lines are skipped."""
    readings: List[HealthReading] = []
    for line in text.splitlines():
        words = line.split()
        if not words or line.startswith("Columns:") or words[0] == "#" or words[:1] == ["NAME"]:
            continue
        if words[0].isdigit():
            words = words[1:]
        if len(words) not in (2, 3) or not re.match(r"[a-z][a-z0-9-]*\Z", words[0]):
            raise ParseError("Unexpected line in /system health print output: %r" % line)
        name, value = words[0], words[1]
        kind = words[2] if len(words) == 3 else ""
        if _DECIMAL.match(value):
            readings.append(HealthReading(name, float(value), kind))
        else:
            readings.append(HealthReading(name, state=value))
    return readings
