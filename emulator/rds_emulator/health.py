"""`/system health print` (R-7.7): the appliance's sensors, kept in `health.json`.

The layout is the one RouterOS 7 documents for its health menu (a CCR's capture in MikroTik's
manual): a `Columns: NAME, VALUE, TYPE` line, a header row, then one row per sensor, numbered
from 0 in a right-aligned column, cells left-aligned and padded to the column's width (trailing
blanks included), columns two spaces apart. A value is a number (`47`, `50.8`) with its type
(`C`, `RPM`, `V`, `A`, `W`), or a state (`ok`, `fail`, `not-present`, `idle`, `no-input`) with an
empty type. Which sensors an RDS has is unverified: the default set is what other MikroTik
models print.

`health.json` (`{"sensors": [{"name": "cpu-temperature", "value": 47, "type": "C"}, ...]}`) is
written with the default set when the state directory has none, and read again whenever it
changes, so a test or an operator changes a reading by rewriting it.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .atomicio import write_json_atomically
from .jsontypes import JsonValue

STATES = ("ok", "fail", "not-present", "idle", "no-input")
TYPES = ("C", "RPM", "V", "A", "W")
_NAME = re.compile(r"[a-z][a-z0-9-]*\Z")
_HEADERS = ("NAME", "VALUE", "TYPE")


@dataclass(frozen=True)
class Sensor:
    name: str
    value: int | float | str
    """A number, or one of `STATES`."""
    type: str = ""
    """One of `TYPES` for a number, empty for a state."""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"sensor name {self.name!r} is not a RouterOS name (lower-case letters, digits, '-')")
        if isinstance(self.value, str):
            if self.value not in STATES or self.type:
                raise ValueError(f"sensor {self.name}: a state is one of {', '.join(STATES)}, with no type")
        elif isinstance(self.value, bool) or not math.isfinite(self.value) or self.type not in TYPES:
            raise ValueError(f"sensor {self.name}: a finite number needs a type, one of {', '.join(TYPES)}")

    @property
    def printed_value(self) -> str:
        if isinstance(self.value, float) and self.value.is_integer():
            return str(int(self.value))
        return str(self.value)


DEFAULT_SENSORS = (
    Sensor("cpu-temperature", 47, "C"),
    Sensor("board-temperature1", 36, "C"),
    Sensor("fan1-speed", 6120, "RPM"),
    Sensor("psu1-state", "ok"),
    Sensor("psu2-state", "ok"),
    Sensor("power-consumption", 92.4, "W"),
)


def render_health(sensors: Sequence[Sensor]) -> str:
    """The console's table; nothing at all for an appliance without sensors."""
    if not sensors:
        return ""
    rows = [(sensor.name, sensor.printed_value, sensor.type) for sensor in sensors]
    number_width = len(str(len(rows) - 1))
    widths = [max(len(header), *(len(row[column]) for row in rows)) for column, header in enumerate(_HEADERS)]
    lines = [f"Columns: {', '.join(_HEADERS)}"]
    for number, cells in [("#", _HEADERS), *((str(index), row) for index, row in enumerate(rows))]:
        padded = "  ".join(f"{cell:<{width}}" for cell, width in zip(cells, widths))
        lines.append(f"{number:>{number_width}}  {padded}")
    return "".join(f"{line}\n" for line in lines)


class SensorBoard:
    """The sensors in force, from `health.json`; thread-safe."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._sensors: tuple[Sensor, ...] = DEFAULT_SENSORS
        self._stamp: tuple[int, int, int] | None = None

    def open(self) -> None:
        if not self._path.exists():
            self.set(DEFAULT_SENSORS)

    def set(self, sensors: Sequence[Sensor]) -> None:
        write_json_atomically(self._path, {"sensors": [_sensor_to_json(sensor) for sensor in sensors]})

    def sensors(self) -> tuple[Sensor, ...]:
        """The sensors as `health.json` has them now; a file that cannot be read is reported once on
        stderr and leaves the previous readings in force (none when the file is gone)."""
        with self._lock:
            try:
                status = os.stat(self._path)
            except FileNotFoundError:
                self._stamp, self._sensors = None, ()
                return self._sensors
            stamp = (status.st_ino, status.st_mtime_ns, status.st_size)
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self._sensors = read_health_file(self._path)
                except (OSError, ValueError) as error:
                    print(f"rds-emulator: ignoring health.json: {error}", file=sys.stderr)
            return self._sensors


def read_health_file(path: Path) -> tuple[Sensor, ...]:
    document = json.loads(path.read_text(encoding="utf-8"))
    entries = document.get("sensors") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected an object with a 'sensors' list")
    return tuple(_sensor_from_json(entry) for entry in entries)


def _sensor_to_json(sensor: Sensor) -> dict[str, JsonValue]:
    return {"name": sensor.name, "value": sensor.value, "type": sensor.type}


def _sensor_from_json(entry: JsonValue) -> Sensor:
    if not isinstance(entry, dict):
        raise ValueError(f"a sensor must be an object, not {entry!r}")
    name, value, kind = entry.get("name"), entry.get("value"), entry.get("type", "")
    if not isinstance(name, str) or not isinstance(kind, str):
        raise ValueError(f"a sensor needs a name and a type as text: {entry!r}")
    if not isinstance(value, (int, float, str)) or isinstance(value, bool):
        raise ValueError(f"sensor {name}: the value must be a number or a state, not {value!r}")
    return Sensor(name, value, kind)
