"""A pytest plugin (``-p rds_emulator.pytest_fixtures``, set in the repository's pyproject.toml) with
the fixtures shared by the suites that talk to the emulator in process (tests/integration,
csi_driver/tests): a fresh client key and the emulator on loopback. A suite sets how many SSH
sessions the emulator accepts by overriding ``emulator_max_sessions`` in its conftest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rds_emulator.config import EmulatorConfig
from rds_emulator.process import write_client_key
from rds_emulator.server import EmulatorServer

EMULATOR_POOL_SIZE = 64 * 1024**3


@pytest.fixture
def client_key(tmp_path: Path) -> tuple[Path, Path]:
    """(private key file, authorized_keys file) of a fresh ed25519 client key."""
    private = tmp_path / "id_ed25519"
    return private, write_client_key(private)


@pytest.fixture
def emulator_max_sessions() -> int:
    return 4


@pytest.fixture
def emulator(tmp_path: Path, client_key: tuple[Path, Path], emulator_max_sessions: int) -> Iterator[EmulatorServer]:
    config = EmulatorConfig(
        state_dir=tmp_path / "state",
        authorized_keys=client_key[1],
        pool_size=EMULATOR_POOL_SIZE,
        max_sessions=emulator_max_sessions,
    )
    with EmulatorServer(config) as server:
        yield server
