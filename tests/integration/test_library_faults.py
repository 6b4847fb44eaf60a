"""The library against each fault mode of the emulator, and the session bound under concurrency."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient, RetryPolicy
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import DiskSpec, ExportSpec
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import (
    ConnectionLostError,
    NoSpaceError,
    RdsTimeoutError,
)
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshSettings, SshTransport
from rds_emulator.config import EmulatorConfig
from rds_emulator.faults import Fault, FaultKind
from rds_emulator.server import EmulatorServer

from .conftest import BASE, GIB

pytestmark = pytest.mark.timeout(90)


def volume(slot: str, size: int = GIB) -> DiskSpec:
    return DiskSpec(slot, "%s/%s.img" % (BASE, slot), size, ExportSpec(nqn="nqn.2000-02.com.mikrotik:" + slot))


def test_lost_reply_after_add_is_rechecked_not_duplicated(rds: RdsClient, emulator: EmulatorServer) -> None:
    emulator.set_faults([Fault(FaultKind.LOSE_REPLY, count=1, match="^/disk add")])
    disk = rds.add_disk(volume("pvc-lost"))
    assert disk.slot == "pvc-lost"
    assert [found.slot for found in rds.list_disks()] == ["pvc-lost"]
    assert rds.transport.reconnects >= 1


def test_lost_reply_after_remove_is_rechecked(rds: RdsClient, emulator: EmulatorServer) -> None:
    rds.add_disk(volume("pvc-lost-rm"))
    emulator.set_faults([Fault(FaultKind.LOSE_REPLY, count=1, match="^/disk remove")])
    assert rds.remove_disk("pvc-lost-rm")
    assert rds.get_disk("pvc-lost-rm") is None
    assert rds.get_file(BASE + "/pvc-lost-rm.img") is None


def test_connection_dropped_mid_command_is_retried(rds: RdsClient, emulator: EmulatorServer) -> None:
    emulator.set_faults([Fault(FaultKind.DROP, count=2, match="^/disk add")])
    assert rds.add_disk(volume("pvc-drop")).slot == "pvc-drop"
    assert len(rds.list_disks()) == 1


def test_drop_without_retries_is_connection_lost(
    connect: Callable[..., RdsClient], rds: RdsClient, emulator: EmulatorServer
) -> None:
    impatient = connect(retry=RetryPolicy(attempts=1))
    impatient.version()
    emulator.set_faults([Fault(FaultKind.DROP, count=1, match="print")])
    with pytest.raises(ConnectionLostError):
        impatient.list_disks()


def test_hanging_command_times_out_and_the_transport_recovers(
    connect: Callable[..., RdsClient], emulator: EmulatorServer
) -> None:
    client = connect(command_timeout=1.0, retry=RetryPolicy(attempts=1))
    client.version()
    emulator.set_faults([Fault(FaultKind.HANG, count=1, match="^/disk print")])
    started = time.monotonic()
    with pytest.raises(RdsTimeoutError, match="within its timeout"):
        client.list_disks()
    assert time.monotonic() - started < 5
    assert client.list_disks() == []


def test_no_space_fault_is_typed_and_leaves_nothing(rds: RdsClient, emulator: EmulatorServer) -> None:
    emulator.set_faults([Fault(FaultKind.NO_SPACE, match="^/disk add")])
    with pytest.raises(NoSpaceError):
        rds.add_disk(volume("pvc-full"))
    emulator.set_faults([])
    assert rds.get_disk("pvc-full") is None
    assert rds.get_file(BASE + "/pvc-full.img") is None


def test_reboot_window_reconnects_by_itself(rds: RdsClient, emulator: EmulatorServer) -> None:
    rds.add_disk(volume("pvc-before"))
    emulator.set_faults([Fault(FaultKind.REBOOT, seconds=1.0)])
    rebooted = rds.transport.generation
    survivor = rds.get_disk("pvc-before")
    assert survivor is not None and survivor.size == GIB
    assert rds.add_disk(volume("pvc-after")).slot == "pvc-after"
    assert rds.transport.generation > rebooted


def test_latency_is_tolerated_within_the_timeout(connect: Callable[..., RdsClient], emulator: EmulatorServer) -> None:
    client = connect(command_timeout=3.0)
    emulator.set_faults([Fault(FaultKind.LATENCY, seconds=0.3, count=2)])
    started = time.monotonic()
    assert client.list_disks() == []
    assert time.monotonic() - started >= 0.3


def test_fifty_concurrent_operations_stay_within_the_session_bound(rds: RdsClient, emulator: EmulatorServer) -> None:
    emulator.set_faults([Fault(FaultKind.LATENCY, seconds=0.02)])
    errors: list[BaseException] = []
    lock = threading.Lock()

    def operate(index: int) -> None:
        try:
            if index % 2:
                rds.add_disk(volume("pvc-many-%02d" % index))
            else:
                rds.pool_capacity()
        except BaseException as error:  # collected and asserted below
            with lock:
                errors.append(error)

    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(operate, range(50)))
    assert errors == []
    assert len(rds.list_disks()) == 25
    stats = emulator.stats
    peak = max(connection.sessions_peak for connection in stats.connections)
    assert peak <= rds.transport.settings.max_sessions
    assert peak >= 2, "the operations really ran concurrently"
    assert stats.sessions_refused == 0


def test_a_refused_session_keeps_the_connection(tmp_path: Path, client_key: tuple[Path, Path]) -> None:
    """An appliance that refuses a session (too many open) fails that one command, not the others in flight."""
    server = EmulatorServer(EmulatorConfig(state_dir=tmp_path / "tight", authorized_keys=client_key[1], max_sessions=1))
    server.start()
    host, port = server.address
    transport = SshTransport(
        SshSettings(
            host=host,
            port=port,
            username="admin",
            private_key_file=str(client_key[0]),
            host_key=server.host_public_key_line,
            max_sessions=4,
            backoff_initial=0.01,
            backoff_max=0.05,
        )
    )
    client = RdsClient(transport, retry=RetryPolicy(attempts=20, initial_delay=0.01, max_delay=0.05))
    try:
        client.version()
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda _index: client.pool_capacity().size, range(24)))
        assert len(results) == 24
        assert server.stats.sessions_refused > 0, "the appliance really refused sessions"
        assert transport.reconnects == 0
    finally:
        transport.close()
        server.stop()
