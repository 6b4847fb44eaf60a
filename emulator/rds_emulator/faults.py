"""Injectable faults (R-6) and their two textual forms: CLI specs and the faults.json document.

Spec syntax: `kind[:seconds][@count][~match]`, for example `latency:0.5`, `drop@1~^/disk add`,
`reboot:5`, `hang~monitor-traffic`, `blackhole:30`. `match` is everything after the first `~`: a
Python regular expression searched in the raw exec line and in each of its commands' own text.
`seconds` is required for `latency` and `reboot`, optional for `blackhole` and refused for the
other kinds. Without `count` a fault affects every matching exec request. `blackhole` acts when
it is set, on the connections established then: it takes no `match` and no `count`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from .atomicio import write_json_atomically
from .jsontypes import JsonObject, JsonValue


class FaultKind(Enum):
    LATENCY = "latency"
    """Wait `seconds` before running the command and replying."""
    DROP = "drop"
    """Close the connection abruptly when the command arrives; it does not run."""
    LOSE_REPLY = "lose_reply"
    """Run and commit the command, then close the connection without reply or exit status."""
    NO_SPACE = "no_space"
    """Mutating commands (add, set, remove) fail with `failure: not enough space`."""
    HANG = "hang"
    """Never answer; the channel stays open until the client closes it or the server stops."""
    REBOOT = "reboot"
    """Drop every connection and refuse new ones for `seconds`; state survives."""
    BLACKHOLE = "blackhole"
    """Stop reading from and writing to every established connection, without closing any, for
    `seconds` or until the faults are replaced; connections made afterwards work normally."""


_NEEDS_SECONDS = frozenset({FaultKind.LATENCY, FaultKind.REBOOT})
_TAKES_SECONDS = _NEEDS_SECONDS | {FaultKind.BLACKHOLE}
WHEN_SET_KINDS = frozenset({FaultKind.BLACKHOLE})
"""Kinds that act once, when the faults are set, rather than on matching commands."""
_SPEC_HEAD = re.compile(r"(?P<kind>[a-z_]+)(?::(?P<seconds>[0-9]+(?:\.[0-9]+)?))?(?:@(?P<count>[0-9]+))?")


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    seconds: float | None = None
    count: int | None = None
    match: str | None = None

    def __post_init__(self) -> None:
        if self.kind in _NEEDS_SECONDS and self.seconds is None:
            raise ValueError(f"fault {self.kind.value} needs seconds")
        if self.kind not in _TAKES_SECONDS and self.seconds is not None:
            raise ValueError(f"fault {self.kind.value} takes no seconds")
        if self.kind in WHEN_SET_KINDS and (self.match is not None or self.count is not None):
            raise ValueError(f"fault {self.kind.value} takes no match or count: it acts when it is set")
        if self.seconds is not None and not (math.isfinite(self.seconds) and self.seconds >= 0):
            raise ValueError(f"fault {self.kind.value}: seconds must be a non-negative number")
        if self.count is not None and self.count < 1:
            raise ValueError(f"fault {self.kind.value}: count must be at least 1")
        if self.match is not None:
            try:
                re.compile(self.match)
            except re.error as error:
                raise ValueError(f"fault {self.kind.value}: bad match pattern: {error}") from None

    def matches(self, *texts: str) -> bool:
        """True without `match`, else when the pattern is found in any of `texts`."""
        return self.match is None or any(re.search(self.match, text) is not None for text in texts)

    def to_spec(self) -> str:
        spec = self.kind.value
        if self.seconds is not None:
            spec += f":{self.seconds:g}"
        if self.count is not None:
            spec += f"@{self.count}"
        if self.match is not None:
            spec += f"~{self.match}"
        return spec


def parse_fault_spec(spec: str) -> Fault:
    head, tilde, match = spec.partition("~")
    found = _SPEC_HEAD.fullmatch(head)
    if found is None:
        raise ValueError(f"bad fault spec {spec!r}: expected kind[:seconds][@count][~match]")
    try:
        kind = FaultKind(found.group("kind"))
    except ValueError:
        known = ", ".join(kind.value for kind in FaultKind)
        raise ValueError(f"bad fault spec {spec!r}: unknown kind (known: {known})") from None
    seconds, count = found.group("seconds"), found.group("count")
    return Fault(
        kind=kind,
        seconds=float(seconds) if seconds is not None else None,
        count=int(count) if count is not None else None,
        match=match if tilde else None,
    )


def fault_to_json(fault: Fault) -> JsonObject:
    return {"kind": fault.kind.value, "seconds": fault.seconds, "count": fault.count, "match": fault.match}


def fault_from_json(document: JsonValue) -> Fault:
    if not isinstance(document, dict):
        raise ValueError(f"a fault must be an object, not {document!r}")
    kind, seconds, count, match = (document.get(key) for key in ("kind", "seconds", "count", "match"))
    if not isinstance(kind, str) or kind not in {known.value for known in FaultKind}:
        raise ValueError(f"unknown fault kind {kind!r}")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))):
        raise ValueError(f"fault seconds must be a number, not {seconds!r}")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise ValueError(f"fault count must be an integer, not {count!r}")
    if match is not None and not isinstance(match, str):
        raise ValueError(f"fault match must be a string, not {match!r}")
    return Fault(
        kind=FaultKind(kind),
        seconds=None if seconds is None else float(seconds),
        count=count,
        match=match,
    )


def write_faults_file(path: Path, faults: tuple[Fault, ...]) -> None:
    write_json_atomically(path, {"faults": [fault_to_json(fault) for fault in faults]})


def read_faults_file(path: Path) -> tuple[Fault, ...]:
    """Raise ValueError (or OSError) when the file cannot be read as a faults document."""
    document = json.loads(path.read_text(encoding="utf-8"))
    entries = document.get("faults") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected an object with a 'faults' list")
    return tuple(fault_from_json(entry) for entry in entries)
