"""A connection that dies silently (its packets dropped without a reset, as when a NAT or conntrack
entry expires) is found by a liveness probe and replaced within two command timeouts; a connection
that answers is kept. Over real SSH against the emulator's ``blackhole`` fault."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient, RetryPolicy
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import RdsTimeoutError
from rds_emulator.faults import Fault, FaultKind
from rds_emulator.server import EmulatorServer

pytestmark = pytest.mark.timeout(60)

COMMAND_TIMEOUT = 2.0
BLACKHOLE = Fault(FaultKind.BLACKHOLE, seconds=60.0)
TCP_TABLE = Path("/proc/net/tcp")


@pytest.mark.parametrize("max_sessions", [1, 4])
def test_a_silently_dead_connection_is_replaced_by_the_next_command(
    connect: Callable[..., RdsClient], emulator: EmulatorServer, max_sessions: int
) -> None:
    """With one session the probe must run in the caller's own slot, or it could never start."""
    client = connect(command_timeout=COMMAND_TIMEOUT, max_sessions=max_sessions, retry=RetryPolicy(attempts=1))
    assert client.list_disks() == []
    dead = client.transport.generation
    emulator.set_faults([BLACKHOLE])
    armed = time.monotonic()
    with pytest.raises(RdsTimeoutError, match="no answer in time"):
        client.list_disks()
    assert time.monotonic() - armed <= COMMAND_TIMEOUT + 0.5
    assert client.list_disks() == []
    recovered = time.monotonic() - armed
    print("recovery after arming the blackhole: %.2f s (max_sessions=%d)" % (recovered, max_sessions))
    assert client.transport.generation == dead + 1
    assert recovered <= 2 * COMMAND_TIMEOUT


def test_a_retried_call_recovers_from_a_silently_dead_connection(
    connect: Callable[..., RdsClient], emulator: EmulatorServer
) -> None:
    client = connect(command_timeout=COMMAND_TIMEOUT, retry=RetryPolicy(attempts=2, initial_delay=0.1))
    assert client.list_disks() == []
    emulator.set_faults([BLACKHOLE])
    armed = time.monotonic()
    assert client.list_disks() == []
    recovered = time.monotonic() - armed
    print("recovery of a retried call after arming the blackhole: %.2f s" % recovered)
    assert recovered <= 2 * COMMAND_TIMEOUT


def test_a_connection_that_answers_the_probe_is_kept(
    connect: Callable[..., RdsClient], emulator: EmulatorServer
) -> None:
    """A hanging command times out, but the connection still answers: commands in flight on it live on."""
    client = connect(command_timeout=1.0, retry=RetryPolicy(attempts=1))
    assert client.list_disks() == []
    kept = client.transport.generation
    emulator.set_faults([Fault(FaultKind.HANG, count=1, match="^/disk print")])
    with pytest.raises(RdsTimeoutError, match="within its timeout"):
        client.list_disks()
    assert client.list_disks() == []
    assert client.transport.generation == kept


@pytest.mark.skipif(not TCP_TABLE.exists(), reason="reads Linux's table of IPv4 TCP sockets")
def test_the_connection_has_tcp_keepalive(connect: Callable[..., RdsClient], emulator: EmulatorServer) -> None:
    assert connect().list_disks() == []
    peer = emulator.stats.connections[-1].peer
    deadline = time.monotonic() + 2
    while (due := keepalive_due(peer)) is None and time.monotonic() < deadline:
        time.sleep(0.05)  # a timer other than keepalive runs while a segment is unacknowledged
    assert due is not None and 0 < due <= 30


def keepalive_due(address: str) -> Optional[float]:
    """Seconds until the keepalive timer of the local IPv4 TCP socket at ``address`` fires; None
    when another timer or none runs. /proc/net/tcp: ``tr`` 2 is keepalive, ``tm->when`` in 1/100 s."""
    host, port = address.rsplit(":", 1)
    local = "%s:%04X" % (socket.inet_aton(host)[::-1].hex().upper(), int(port))
    for line in TCP_TABLE.read_text().splitlines()[1:]:
        fields = line.split()
        timer, when = fields[5].split(":", 1)
        if fields[1] == local and timer == "02":
            return int(when, 16) / 100
    return None
