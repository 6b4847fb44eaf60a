"""RouterOS versions the emulator can pretend to be, and what changes with them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

OLDEST_MINOR = 10
NEWEST_MINOR = 99
"""Far past the newest real release, so tests can play versions the client does not know yet."""
DEFAULT_VERSION = "7.24 (stable)"
ISO_DATES_FROM_MINOR = 12
"""Before 7.12 the emulator prints dates as `nov/11/2025 14:32:41`, from 7.12 on as
`2025-11-11 14:32:41`. The real switch point is not known (R-4 only says it depends on the
version); 7.12 keeps both forms reachable within the supported range."""

_PATTERN = re.compile(
    r"7\.(?P<minor>[0-9]+)(?:\.(?P<patch>[0-9]+))?(?:(?:beta|rc)[0-9]+)?"
    r"(?: \((?:stable|testing|long-term|development)\))?"
)


@dataclass(frozen=True)
class RouterOsVersion:
    minor: int
    patch: int
    text: str = field(compare=False)
    """Printed verbatim by `/system resource print`, e.g. `7.16 (stable)`."""

    @property
    def uses_iso_dates(self) -> bool:
        return self.minor >= ISO_DATES_FROM_MINOR


def parse_version(text: str) -> RouterOsVersion:
    """Parse `7.16 (stable)`, `7.16.2`, `7.21rc1 (testing)`; raise ValueError for anything else."""
    found = _PATTERN.fullmatch(text)
    if found is None:
        raise ValueError(f"cannot read RouterOS version {text!r}: expected a form like '7.16 (stable)' or '7.16.2'")
    minor = int(found.group("minor"))
    if not OLDEST_MINOR <= minor <= NEWEST_MINOR:
        raise ValueError(
            f"RouterOS version {text!r} is not emulated: use a version from 7.{OLDEST_MINOR} to 7.{NEWEST_MINOR}"
        )
    return RouterOsVersion(minor=minor, patch=int(found.group("patch") or 0), text=text)
