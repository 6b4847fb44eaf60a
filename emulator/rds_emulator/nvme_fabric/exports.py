"""The emulator's `exports.json`: what the RDS serves over NVMe/TCP, as the target sees it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

EXPORTS_FILE = "exports.json"


@dataclass(frozen=True)
class Export:
    nqn: str
    slot: str
    backing_file: Path
    port: int
    allowed_host_nqns: tuple[str, ...]
    """Empty: any host may connect."""
    dh_chap_secret: str | None

    def allows_host(self, hostnqn: str) -> bool:
        return not self.allowed_host_nqns or hostnqn in self.allowed_host_nqns


def read_exports(emulator_state_dir: Path) -> dict[str, Export]:
    """Every export by NQN; no file yet (emulator never started) means nothing is exported."""
    path = emulator_state_dir / EXPORTS_FILE
    if not path.exists():
        return {}
    document = json.loads(path.read_text(encoding="utf-8"))
    return {
        nqn: Export(
            nqn=nqn,
            slot=entry["slot"],
            backing_file=Path(entry["file"]),
            port=int(entry["port"]),
            allowed_host_nqns=tuple(entry["allowed_host_nqns"]),
            dh_chap_secret=entry["dh_chap_secret"] or None,
        )
        for nqn, entry in document.items()
    }
