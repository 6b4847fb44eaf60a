"""The transport's contracts hold through a real OpenSSH jump host: the session bound, reconnection
after the RDS drops every connection, and a closed connection taking its jump connection along."""

from __future__ import annotations

import getpass
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import JumpHost, SshSettings, SshTransport
from rds_emulator.faults import Fault, FaultKind
from rds_emulator.server import EmulatorServer

from tests.integration.openssh import openssh_server

pytestmark = pytest.mark.timeout(120)


def test_reconnects_and_bounds_sessions_through_the_jump_host(
    tmp_path: Path, emulator: EmulatorServer, settings: SshSettings, client_key: tuple[Path, Path]
) -> None:
    with openssh_server(tmp_path / "jump", client_key[1]) as jump:
        through = replace(
            settings,
            jump=JumpHost(host="127.0.0.1", port=jump.port, username=getpass.getuser(), host_key=jump.host_key_line),
        )
        transport = SshTransport(through)
        try:
            client = RdsClient(transport)
            assert client.version()
            threads = [threading.Thread(target=client.list_disks) for _thread in range(12)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            stats = emulator.stats
            assert stats.sessions_peak <= through.max_sessions and stats.sessions_refused == 0
            emulator.set_faults([Fault(FaultKind.REBOOT, seconds=1.0)])
            assert not transport.is_alive()
            for _attempt in range(60):
                if transport.is_alive():
                    break
            assert transport.is_alive() and transport.reconnects >= 1
        finally:
            transport.close()
        log = jump.log_text()
    # One tunnel for the first connection and one more for each reconnection, all through sshd.
    assert log.count("server_request_direct_tcpip") >= 2
