"""The `blackhole` fault through real SSH: established connections go silent without being closed
(an expired NAT entry), new connections work, and traffic resumes when the fault ends."""

from __future__ import annotations

import socket
import time

import paramiko
import pytest
from emulator_harness import Emulator, run_on
from rds_emulator.cli import main
from rds_emulator.faults import Fault, FaultKind

pytestmark = pytest.mark.timeout(60)

IDENTITY = "/system identity print"


def silent(client: paramiko.SSHClient, timeout: float = 1.0) -> bool:
    """No answer to a new channel within `timeout`, and the connection still open (no FIN, no RST)."""
    started = time.monotonic()
    try:
        run_on(client, IDENTITY, timeout=timeout)
    except paramiko.SSHException as error:
        assert "Timeout opening channel" in str(error)
        assert time.monotonic() - started >= timeout
        return bool(client.get_transport().is_active())
    return False


def test_established_connections_go_silent_and_new_ones_work(emulator: Emulator) -> None:
    identity = emulator.ok(IDENTITY)
    old = emulator.connect()
    assert run_on(old, IDENTITY) == (0, identity)

    emulator.server.set_faults([Fault(FaultKind.BLACKHOLE)])

    assert silent(old)
    assert run_on(emulator.connect(), IDENTITY) == (0, identity)
    assert silent(old)

    emulator.server.set_faults([])
    assert run_on(old, IDENTITY) == (0, identity)


def test_a_reply_in_flight_is_held_until_the_blackhole_is_cleared(emulator: Emulator) -> None:
    identity = emulator.ok(IDENTITY)
    emulator.server.set_faults([Fault(FaultKind.LATENCY, seconds=2.0, match="identity")])
    channel = emulator.connect().get_transport().open_session(timeout=5)
    channel.exec_command(IDENTITY)
    sent = time.monotonic()

    emulator.server.set_faults([Fault(FaultKind.BLACKHOLE)])
    channel.settimeout(max(0.1, sent + 2.5 - time.monotonic()))  # past the moment the reply goes out
    with pytest.raises(socket.timeout):
        channel.recv(100)
    assert not channel.exit_status_ready()

    emulator.server.set_faults([])
    channel.settimeout(10)
    assert channel.makefile("rb").read().decode() == identity
    assert channel.recv_exit_status() == 0


def test_the_blackhole_ends_by_itself_after_its_seconds(emulator: Emulator) -> None:
    old = emulator.connect()
    emulator.server.set_faults([Fault(FaultKind.BLACKHOLE, seconds=3.0)])
    armed = time.monotonic()

    assert silent(old)
    time.sleep(max(0.0, armed + 3.0 - time.monotonic()))
    assert run_on(old, IDENTITY)[0] == 0


def test_switched_through_the_cli_and_cleared(emulator: Emulator) -> None:
    state_dir = str(emulator.server.state_dir)
    old = emulator.connect()

    assert main(["fault", "--state-dir", state_dir, "blackhole"]) == 0
    time.sleep(0.5)  # the server checks faults.json every 0.2 s

    assert silent(old)
    assert run_on(emulator.connect(), IDENTITY)[0] == 0
    assert main(["fault", "--state-dir", state_dir, "--clear"]) == 0
    time.sleep(0.5)
    assert run_on(old, IDENTITY)[0] == 0


def test_a_blackholed_server_still_stops_at_once(emulator: Emulator) -> None:
    emulator.ok("/disk add type=file file-path=/storage-pool/a.img file-size=1M slot=a")
    channel = emulator.connect().get_transport().open_session(timeout=5)
    channel.settimeout(5)
    channel.exec_command("/disk monitor-traffic a")
    assert b"read-ops" in channel.recv(4096)

    emulator.server.set_faults([Fault(FaultKind.BLACKHOLE)])
    time.sleep(1.5)  # the next block is being sent into the shut gate
    started = time.monotonic()
    emulator.server.stop()

    assert time.monotonic() - started < 3.0
