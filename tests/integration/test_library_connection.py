"""Authentication variants, liveness, version gating and in-use errors against the emulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient, RetryPolicy
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import DiskSpec
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import (
    AuthenticationError,
    ConnectionLostError,
    InUseError,
)
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshSettings, SshTransport
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rds_emulator.config import EmulatorConfig
from rds_emulator.faults import Fault, FaultKind
from rds_emulator.server import EmulatorServer

from .conftest import BASE, GIB

pytestmark = pytest.mark.timeout(60)


def start(config: EmulatorConfig) -> EmulatorServer:
    server = EmulatorServer(config)
    server.start()
    return server


@pytest.fixture
def password_emulator(tmp_path: Path) -> Iterator[EmulatorServer]:
    server = start(EmulatorConfig(state_dir=tmp_path / "pw-state", password="correct horse"))
    yield server
    server.stop()


def password_settings(server: EmulatorServer, password: str) -> SshSettings:
    host, port = server.address
    return SshSettings(host=host, port=port, username="admin", password=password, host_key=server.host_public_key_line)


def test_password_authentication(password_emulator: EmulatorServer) -> None:
    transport = SshTransport(password_settings(password_emulator, "correct horse"))
    try:
        assert str(RdsClient(transport).version()).startswith("7.24")
    finally:
        transport.close()
    wrong = SshTransport(password_settings(password_emulator, "wrong"))
    with pytest.raises(AuthenticationError, match="refused the password"):
        RdsClient(wrong).version()


def test_passphrase_protected_key(emulator: EmulatorServer, tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    private = tmp_path / "encrypted_key"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.BestAvailableEncryption(b"open sesame"),
        )
    )
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    authorized = emulator.config.authorized_keys
    assert authorized is not None
    authorized.write_text(authorized.read_text() + public.decode() + " encrypted\n")
    host, port = emulator.address
    base = SshSettings(
        host=host,
        port=port,
        username="admin",
        private_key_file=str(private),
        host_key=emulator.host_public_key_line,
    )
    with pytest.raises(AuthenticationError, match="encrypted; give its passphrase"):
        RdsClient(SshTransport(base)).version()
    transport = SshTransport(SshSettings(**{**base.__dict__, "private_key_passphrase": "open sesame"}))
    try:
        assert RdsClient(transport).version()
    finally:
        transport.close()


def test_liveness_follows_the_appliance(rds: RdsClient, emulator: EmulatorServer) -> None:
    assert rds.transport.is_alive()
    emulator.set_faults([Fault(FaultKind.REBOOT, seconds=2.0)])
    assert not rds.transport.is_alive()
    for _attempt in range(60):
        if rds.transport.is_alive():
            break
    assert rds.transport.is_alive()


def test_backing_file_of_a_disk_is_in_use(rds: RdsClient) -> None:
    disk = rds.add_disk(DiskSpec("pvc-used", BASE + "/pvc-used.img", GIB))
    with pytest.raises(InUseError):
        rds.remove_file(disk.file_path)
    assert rds.get_disk("pvc-used") == disk


def test_transient_failures_give_up_after_the_retry_budget(
    connect: Callable[..., RdsClient], emulator: EmulatorServer
) -> None:
    client = connect(retry=RetryPolicy(attempts=2, initial_delay=0.01, max_delay=0.02))
    client.version()
    emulator.set_faults([Fault(FaultKind.DROP, match="print")])
    with pytest.raises(ConnectionLostError):
        client.list_disks()
    assert emulator.stats.exec_requests >= 2
