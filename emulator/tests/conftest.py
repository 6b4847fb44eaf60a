"""Fixtures: a client key, emulators on free loopback ports (stopped after each test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from emulator_harness import ClientKey, Emulator, StartEmulator, make_client_key
from rds_emulator.config import EmulatorConfig
from rds_emulator.server import EmulatorServer


@pytest.fixture
def client_key(tmp_path: Path) -> ClientKey:
    return make_client_key(tmp_path)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def start_emulator(state_dir: Path, client_key: ClientKey) -> Iterator[StartEmulator]:
    started: list[Emulator] = []

    def start(**settings: Any) -> Emulator:
        settings.setdefault("state_dir", state_dir)
        settings.setdefault("authorized_keys", client_key.authorized_keys)
        server = EmulatorServer(EmulatorConfig(**settings))
        server.start()
        emulator = Emulator(server, client_key)
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.close()
        emulator.server.stop()


@pytest.fixture
def emulator(start_emulator: StartEmulator) -> Emulator:
    return start_emulator()
