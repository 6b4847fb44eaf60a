"""The client's version gate over SSH: a newer version is confirmed once and warned about once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import DiskSpec, ExportSpec
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import UnsupportedVersionError
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshSettings, SshTransport
from rds_emulator.config import EmulatorConfig
from rds_emulator.server import EmulatorServer

from tests.integration.conftest import BASE, GIB

NQN = "nqn.2000-02.com.mikrotik:pvc-v"


@pytest.fixture
def newer(tmp_path: Path, client_key: tuple[Path, Path]) -> Iterator[tuple[EmulatorServer, RdsClient]]:
    config = EmulatorConfig(
        state_dir=tmp_path / "state",
        authorized_keys=client_key[1],
        version="7.26 (stable)",
        field_names={"nvme-tcp-server-nqn": "nvme-tcp-subsystem-nqn"},
    )
    with EmulatorServer(config) as server:
        host, port = server.address
        transport = SshTransport(
            SshSettings(
                host=host,
                port=port,
                username="admin",
                private_key_file=str(client_key[0]),
                host_key=server.host_public_key_line,
            )
        )
        try:
            yield server, RdsClient(transport)
        finally:
            transport.close()


def test_a_newer_version_is_inspected_once_and_warned_about_once(
    newer: tuple[EmulatorServer, RdsClient], caplog: pytest.LogCaptureFixture
) -> None:
    _server, client = newer
    heard: list[str] = []
    client.warning_sink = heard.append
    caplog.set_level(logging.DEBUG, logger="srvlab.rds")
    client.ensure_directory(BASE)
    plain = client.add_disk(DiskSpec("pvc-v", BASE + "/pvc-v.img", GIB))
    with pytest.raises(UnsupportedVersionError, match=r"7\.26 \(stable\).*no argument nvme-tcp-server-nqn"):
        client.set_export("pvc-v", ExportSpec(enabled=True, port=4420, nqn=NQN))
    client.transport.close()  # the next connection reads the version again, but neither inspects nor warns again
    assert client.get_disk("pvc-v") == plain

    sent = [record.getMessage() for record in caplog.records if record.name == "srvlab.rds.ssh"]
    assert sum("/console inspect" in line for line in sent) == 1
    assert sum("/system resource print" in line for line in sent) == 2
    assert not any("nvme-tcp-server-nqn=" in line for line in sent)
    assert len(client.warnings) == 1 and heard == client.warnings
    assert "RouterOS 7.26 (stable), newer than" in heard[0] and "shows no nvme-tcp-server-nqn" in heard[0]
    logged = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert logged.count(heard[0]) == 1
    assert not plain.export.enabled
