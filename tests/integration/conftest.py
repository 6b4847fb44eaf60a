"""Fixtures: an in-process RDS emulator on loopback and a library client connected to it over SSH."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient, RetryPolicy
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshSettings, SshTransport
from rds_emulator.server import EmulatorServer

from tests.integration.kube_api_fake import KubeApiFake

GIB = 1024**3
BASE = "/storage-pool/metal-csi"
# Enough retries to outlast the emulator's short reboot windows in the fault tests.
PATIENT = RetryPolicy(attempts=8, initial_delay=0.1, max_delay=1.0)


@pytest.fixture
def settings(emulator: EmulatorServer, client_key: tuple[Path, Path]) -> SshSettings:
    host, port = emulator.address
    return SshSettings(
        host=host,
        port=port,
        username="admin",
        private_key_file=str(client_key[0]),
        host_key=emulator.host_public_key_line,
        connect_timeout=5.0,
        command_timeout=10.0,
        max_sessions=4,
        backoff_initial=0.05,
        backoff_max=0.5,
    )


@pytest.fixture
def connect(settings: SshSettings) -> Iterator[Callable[..., RdsClient]]:
    """Build clients with adjusted settings; every transport is closed after the test."""
    transports: list[SshTransport] = []

    def make(retry: RetryPolicy = PATIENT, **changes: object) -> RdsClient:
        transport = SshTransport(replace(settings, **changes))  # type: ignore[arg-type]
        transports.append(transport)
        return RdsClient(transport, retry=retry)

    yield make
    for transport in transports:
        transport.close()


@pytest.fixture
def rds(connect: Callable[..., RdsClient]) -> RdsClient:
    client = connect()
    client.ensure_directory(BASE)
    return client


@pytest.fixture
def kube_api() -> Iterator[KubeApiFake]:
    """A Kubernetes API fake on loopback that the real kubernetes client reaches over HTTP."""
    fake = KubeApiFake().start()
    try:
        yield fake
    finally:
        fake.stop()
