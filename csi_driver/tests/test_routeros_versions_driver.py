"""The driver on RouterOS versions other than the ones it fully supports (ROUTEROS.md R-3), through its socket."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from csi_helpers import Csi, create_request, error_of
from rds_csi.proto import csi_pb2
from rds_emulator.config import EmulatorConfig
from rds_emulator.pytest_fixtures import EMULATOR_POOL_SIZE
from rds_emulator.server import EmulatorServer


@pytest.fixture
def routeros_version() -> str:
    return "7.24 (stable)"


@pytest.fixture
def emulator(
    tmp_path: Path, client_key: tuple[Path, Path], emulator_max_sessions: int, routeros_version: str
) -> Iterator[EmulatorServer]:
    config = EmulatorConfig(
        state_dir=tmp_path / "state",
        authorized_keys=client_key[1],
        pool_size=EMULATOR_POOL_SIZE,
        max_sessions=emulator_max_sessions,
        version=routeros_version,
    )
    with EmulatorServer(config) as server:
        yield server


@pytest.mark.parametrize("routeros_version", ["7.20 (stable)"])
def test_below_7_21_a_volume_is_refused_as_a_failed_precondition(csi: Csi) -> None:
    code, details = error_of(lambda: csi.controller.CreateVolume(create_request("pvc-old-routeros")))

    assert code == grpc.StatusCode.FAILED_PRECONDITION, details
    assert "RouterOS 7.20 (stable), which has no nvme-tcp-server-nqn" in details
    assert "RouterOS 7.21 is the first version the srvlab.rds collection and the CSI driver fully support" in details
    assert csi.controller.ListVolumes(csi_pb2.ListVolumesRequest()).entries == []


@pytest.mark.parametrize("routeros_version", ["7.26 (stable)"])
def test_a_newer_version_serves_volumes_and_is_logged_once(csi: Csi, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="srvlab.rds.client")
    first = csi.controller.CreateVolume(create_request("pvc-new-a")).volume
    second = csi.controller.CreateVolume(create_request("pvc-new-b")).volume

    assert first.volume_id and second.volume_id
    listed = csi.controller.ListVolumes(csi_pb2.ListVolumesRequest()).entries
    assert sorted(entry.volume.volume_id for entry in listed) == sorted([first.volume_id, second.volume_id])
    warned = [record.getMessage() for record in caplog.records if record.name == "srvlab.rds.client"]
    assert len(warned) == 1 and "RouterOS 7.26 (stable), newer than the versions" in warned[0], warned
