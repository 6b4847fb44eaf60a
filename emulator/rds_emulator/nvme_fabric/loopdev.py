"""Loop devices through `losetup` (util-linux), each call bounded by a timeout."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

_TIMEOUT = 30.0


class LoopError(Exception):
    pass


@dataclass(frozen=True)
class LoopDevice:
    path: str
    major: int
    minor: int


def _losetup(*arguments: str) -> str:
    argv = ["losetup", *arguments]
    try:
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise LoopError(f"{' '.join(argv)} did not finish within {_TIMEOUT:g} s") from None
    if completed.returncode != 0:
        raise LoopError(
            f"{' '.join(argv)} exited {completed.returncode}: {completed.stderr.strip()}; "
            "the fabric needs root and free loop devices"
        )
    return completed.stdout


def attach(backing_file: Path) -> LoopDevice:
    """A new loop device on the file, with the file's current size."""
    path = _losetup("--find", "--show", str(backing_file)).strip()
    rdev = os.stat(path).st_rdev
    return LoopDevice(path=path, major=os.major(rdev), minor=os.minor(rdev))


def detach(device: str) -> None:
    """Detach; a device still open (a mount) is only marked to detach when its last user closes it."""
    if attached_file(device) is None:
        return
    _losetup("--detach", device)


def refresh_capacity(device: str) -> None:
    """Re-read the backing file's size (`losetup --set-capacity`)."""
    _losetup("--set-capacity", device)


def devices_on(backing_file: Path) -> list[str]:
    """Loop devices attached to the file (what `losetup --associated` reports)."""
    document = _losetup("--list", "--json", "--output", "NAME,BACK-FILE")
    if not document.strip():
        return []
    wanted = str(backing_file)
    devices = json.loads(document).get("loopdevices", [])
    return [entry["name"] for entry in devices if entry.get("back-file", "").removesuffix(" (deleted)") == wanted]


def attached_file(device: str) -> str | None:
    """The backing file of an attached loop device, None if the device is free or gone."""
    name = Path(device).name
    try:
        return Path(f"/sys/block/{name}/loop/backing_file").read_text(encoding="utf-8").rstrip("\n")
    except (FileNotFoundError, NotADirectoryError):
        return None
