"""The faults in force, their remaining counts, and the faults.json file that replaces them."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .faults import WHEN_SET_KINDS, Fault, FaultKind, read_faults_file


@dataclass(frozen=True)
class FaultPlan:
    """What happens to one exec request: the summed latency of every matching `latency` fault, and
    the first matching fault of any other kind (in the order the faults were given)."""

    latency: float = 0.0
    fault: Fault | None = None

    @property
    def action(self) -> FaultKind | None:
        return None if self.fault is None else self.fault.kind

    @property
    def reboot_seconds(self) -> float:
        return 0.0 if self.fault is None else self.fault.seconds or 0.0


class _ActiveFault:
    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.remaining = fault.count


class FaultBoard:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: list[_ActiveFault] = []

    def replace(self, faults: Iterable[Fault]) -> list[Fault]:
        """Put `faults` in force instead of the current ones, counts starting afresh.

        Faults that act when set (`blackhole`, and `reboot` without `match`) are not kept: they
        are returned for the caller to carry out now.
        """
        immediate: list[Fault] = []
        active: list[_ActiveFault] = []
        for fault in faults:
            if fault.kind in WHEN_SET_KINDS or (fault.kind is FaultKind.REBOOT and fault.match is None):
                immediate.append(fault)
            else:
                active.append(_ActiveFault(fault))
        with self._lock:
            self._active = active
        return immediate

    def plan(self, line: str, *, mutating: bool, commands: Sequence[str] = ()) -> FaultPlan:
        """Decide the faults for the exec request `line`, using up one count of each fault applied.

        A fault matches when its pattern is found in the line or in one of its `commands` (their
        own texts), so `^/disk add` also matches a `/disk add` after a `;`. `mutating`: whether any
        command of the line adds, sets or removes (`no_space` skips the line otherwise)."""
        latency = 0.0
        action: Fault | None = None
        with self._lock:
            for active in self._active:
                fault = active.fault
                if not fault.matches(line, *commands) or (fault.kind is FaultKind.NO_SPACE and not mutating):
                    continue
                if fault.kind is FaultKind.LATENCY:
                    latency += fault.seconds or 0.0
                elif action is None:
                    action = fault
                else:
                    continue
                if active.remaining is not None:
                    active.remaining -= 1
            self._active = [active for active in self._active if active.remaining != 0]
        return FaultPlan(latency=latency, fault=action)


class FaultFile:
    """Watches faults.json. What the file holds when the server starts is ignored (use `--fault`
    at start); every later change, deletion included, replaces the faults in force."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stamp = self._current_stamp()

    def changed_faults(self) -> tuple[Fault, ...] | None:
        """The faults the file now asks for, or None when it has not changed.

        Raise ValueError or OSError when the changed file cannot be read; the change is then
        consumed, so a broken file is reported once and the faults in force stay."""
        stamp = self._current_stamp()
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        if stamp is None:
            return ()
        return read_faults_file(self._path)

    def _current_stamp(self) -> tuple[int, int, int] | None:
        try:
            status = os.stat(self._path)
        except FileNotFoundError:
            return None
        return status.st_ino, status.st_mtime_ns, status.st_size
