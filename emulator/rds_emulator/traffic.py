"""Per-disk traffic for `/disk monitor-traffic` (R-7.6): what the kernel counted on the loop devices
backing a disk's file, plus counters a test sets in `traffic.json`.

The emulator serves no NVMe/TCP itself, so the only real I/O on a backing file is the test
fabric's: it attaches the file to a loop device, and the kernel counts that device's requests in
`/sys/block/loopN/stat` (the fields of Linux's Documentation/block/stat.rst, which are the fields
RouterOS prints). Those counters are summed over every loop device on the file; they restart
when the fabric detaches and re-attaches it, as a real disk's restart at a reboot.

`traffic.json` (`{"<slot>": {"read-bytes": 1048576, "read-rate": 8000, ...}}`) is read again
whenever it changes: a counter it names is added to the kernel's, a gauge (rates, ops per second,
in-flight ops) replaces the computed one. Rates and ops per second are otherwise computed from
the change of the totals since the previous monitor of the same slot.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from .atomicio import write_json_atomically
from .units import group_thousands

SECTOR = 512
"""The unit of the kernel's sector counts, whatever the device's own sector size."""
KINDS = ("read", "write", "discard")
COUNTERS = (
    *(f"{kind}-{what}" for kind in KINDS for what in ("ops", "bytes", "merges", "time")),
    "flush-ops",
    "flush-time",
    "active-time",
    "wait-time",
)
"""Totals since the disk appeared: ops, bytes, merged requests and times in milliseconds."""
GAUGES = (*(f"{kind}-{what}" for kind in KINDS for what in ("ops-per-second", "rate")), "in-flight-ops")
"""Values of the moment: rates in bits per second."""
FIELDS = frozenset(COUNTERS + GAUGES)
PRINT_ORDER = (
    *(f"{kind}-{what}" for kind in KINDS for what in ("ops", "ops-per-second", "bytes", "rate", "merges", "time")),
    "flush-ops",
    "flush-time",
    "in-flight-ops",
    "active-time",
    "wait-time",
)
# /sys/block/<dev>/stat, field by field (Documentation/block/stat.rst); sectors become bytes.
_STAT_FIELDS = (
    ("read-ops", 1),
    ("read-merges", 1),
    ("read-bytes", SECTOR),
    ("read-time", 1),
    ("write-ops", 1),
    ("write-merges", 1),
    ("write-bytes", SECTOR),
    ("write-time", 1),
    ("in-flight-ops", 1),
    ("active-time", 1),
    ("wait-time", 1),
    ("discard-ops", 1),
    ("discard-merges", 1),
    ("discard-bytes", SECTOR),
    ("discard-time", 1),
    ("flush-ops", 1),
    ("flush-time", 1),
)
_LOOP_SCAN_SECONDS = 1.0
_RATE_UNITS = ("bps", "kbps", "Mbps", "Gbps", "Tbps")


def format_rate(bits_per_second: int) -> str:
    """`0bps`, `999bps`, `1.0kbps`, `12.8Mbps`: powers of 1000 with one decimal from 1 kbps on."""
    if bits_per_second < 1000:
        return f"{bits_per_second}bps"
    value = float(bits_per_second)
    unit = 0
    while value >= 1000 and unit < len(_RATE_UNITS) - 1:
        value /= 1000
        unit += 1
    return f"{value:.1f}{_RATE_UNITS[unit]}"


def format_milliseconds(milliseconds: int) -> str:
    return f"{milliseconds}ms"


def format_time_value(milliseconds: int) -> str:
    """A time as a script value (`as-value`): `00:00:01.234`, with days as `1d02:03:04.005`."""
    seconds, millis = divmod(milliseconds, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}" + (f".{millis:03d}" if millis else "")
    return f"{days}d{text}" if days else text


@dataclass(frozen=True)
class TrafficSample:
    slot: str
    values: Mapping[str, int] = field(hash=False)
    """Every field of `FIELDS`: counts, bytes, milliseconds, bits per second."""

    def printed(self) -> list[tuple[str, str]]:
        """The `key: value` lines of the console, in print order."""
        return [("slot", self.slot), *((name, _printed(name, self.values[name])) for name in PRINT_ORDER)]

    def as_value(self) -> str:
        """`slot=pvc-1;read-ops=12;...`: raw numbers, times as time values."""
        fields = [f"slot={self.slot}"]
        for name in PRINT_ORDER:
            value = self.values[name]
            fields.append(f"{name}={format_time_value(value) if _is_time(name) else value}")
        return ";".join(fields)


class TrafficBoard:
    """Thread-safe; one per appliance."""

    def __init__(self, path: Path, block_root: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self._path = path
        self._block_root = block_root
        self._clock = clock
        self._lock = threading.Lock()
        self._set: dict[str, dict[str, int]] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._previous: dict[str, tuple[float, dict[str, int]]] = {}
        self._loops: dict[str, list[Path]] = {}
        self._loops_read_at = -_LOOP_SCAN_SECONDS

    def set(self, slot: str, values: Mapping[str, int]) -> None:
        """Replace what `traffic.json` sets for `slot` (an empty mapping removes the slot)."""
        _check_values(slot, values)
        with self._lock:
            document = dict(self._read_file())
            if values:
                document[slot] = dict(values)
            else:
                document.pop(slot, None)
            write_json_atomically(self._path, {name: dict(entry) for name, entry in document.items()})

    def sample(self, slot: str, backing_file: Path | None) -> TrafficSample:
        """The disk's counters now; `backing_file` is its host file (None for the pool partition)."""
        with self._lock:
            now = self._clock()
            totals = dict.fromkeys(COUNTERS, 0)
            gauges = dict.fromkeys(GAUGES, 0)
            if backing_file is not None:
                for stat in self._loop_stats(backing_file, now):
                    _add_stat(stat, totals, gauges)
            extra = self._read_file().get(slot, {})
            for name, value in extra.items():
                if name in totals:
                    totals[name] += value
            gauges.update(self._rates(slot, now, totals))
            gauges.update({name: value for name, value in extra.items() if name in gauges})
            return TrafficSample(slot, MappingProxyType({**totals, **gauges}))

    def _rates(self, slot: str, now: float, totals: dict[str, int]) -> dict[str, int]:
        previous = self._previous.get(slot)
        self._previous[slot] = (now, dict(totals))
        rates: dict[str, int] = {}
        for kind in KINDS:
            ops = bytes_ = 0
            if previous is not None and now > previous[0]:
                elapsed = now - previous[0]
                ops = max(0, totals[f"{kind}-ops"] - previous[1][f"{kind}-ops"])
                bytes_ = max(0, totals[f"{kind}-bytes"] - previous[1][f"{kind}-bytes"])
                ops, bytes_ = round(ops / elapsed), round(bytes_ * 8 / elapsed)
            rates[f"{kind}-ops-per-second"] = ops
            rates[f"{kind}-rate"] = bytes_
        return rates

    def _read_file(self) -> dict[str, dict[str, int]]:
        """What `traffic.json` sets, re-read when the file changed; a broken file is reported once
        on stderr and sets nothing."""
        try:
            status = os.stat(self._path)
        except FileNotFoundError:
            self._stamp, self._set = None, {}
            return self._set
        stamp = (status.st_ino, status.st_mtime_ns, status.st_size)
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self._set = read_traffic_file(self._path)
            except (OSError, ValueError) as error:
                print(f"rds-emulator: ignoring traffic.json: {error}", file=sys.stderr)
                self._set = {}
        return self._set

    def _loop_stats(self, backing_file: Path, now: float) -> list[str]:
        if now - self._loops_read_at >= _LOOP_SCAN_SECONDS:
            self._loops = _scan_loops(self._block_root)
            self._loops_read_at = now
        stats: list[str] = []
        for stat_path in self._loops.get(os.path.realpath(backing_file), []):
            try:
                stats.append(stat_path.read_text(encoding="ascii"))
            except OSError:
                continue  # detached since the scan
        return stats


def read_traffic_file(path: Path) -> dict[str, dict[str, int]]:
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected an object of slots")
    found: dict[str, dict[str, int]] = {}
    for slot, values in document.items():
        if not isinstance(values, dict):
            raise ValueError(f"{path}: slot {slot!r} must map field names to numbers")
        _check_values(slot, values)
        found[slot] = dict(values)
    return found


def _check_values(slot: str, values: Mapping[str, object]) -> None:
    for name, value in values.items():
        if name not in FIELDS:
            raise ValueError(f"traffic of {slot!r}: unknown field {name!r} (known: {', '.join(PRINT_ORDER)})")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"traffic of {slot!r}: {name} must be a non-negative integer, not {value!r}")


def _scan_loops(block_root: Path) -> dict[str, list[Path]]:
    """Backing file (resolved) -> the `stat` files of the loop devices attached to it."""
    found: dict[str, list[Path]] = {}
    try:
        devices = sorted(block_root.glob("loop*"))
    except OSError:
        return found
    for device in devices:
        try:
            backing = (device / "loop" / "backing_file").read_text(encoding="utf-8").rstrip("\n")
        except OSError:
            continue  # not attached
        backing = backing.removesuffix(" (deleted)")
        found.setdefault(os.path.realpath(backing), []).append(device / "stat")
    return found


def _add_stat(text: str, totals: dict[str, int], gauges: dict[str, int]) -> None:
    """Add one `/sys/block/<dev>/stat` line (11, 15 or 17 fields, by kernel version)."""
    for (name, factor), number in zip(_STAT_FIELDS, text.split()):
        target = gauges if name in gauges else totals
        target[name] += int(number) * factor


def _printed(name: str, value: int) -> str:
    if name.endswith("-rate"):
        return format_rate(value)
    if _is_time(name):
        return format_milliseconds(value)
    return group_thousands(value)


def _is_time(name: str) -> bool:
    return name.endswith("-time")
