"""Round trips per library operation against the emulator, counted as exec requests by the server.

The appliance takes tens of milliseconds to seconds per exec request, so these counts are the
library's latency. Each operation keeps its safety: it looks before it acts and verifies after.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import DiskSpec, ExportSpec
from rds_emulator.faults import Fault, FaultKind
from rds_emulator.server import EmulatorServer

from .conftest import BASE, GIB

pytestmark = pytest.mark.timeout(60)


def volume(slot: str, size: int = GIB, directory: str = BASE) -> DiskSpec:
    return DiskSpec(slot, "%s/%s.img" % (directory, slot), size, ExportSpec(nqn="nqn.2000-02.com.mikrotik:" + slot))


def round_trips(emulator: EmulatorServer, action: Callable[[], Any]) -> int:
    before = emulator.stats.exec_requests
    action()
    return emulator.stats.exec_requests - before


def test_round_trips_per_operation(rds: RdsClient, emulator: EmulatorServer) -> None:
    rds.version()  # read once per connection
    assert round_trips(emulator, lambda: rds.add_disk(volume("pvc-a"))) == 2
    assert round_trips(emulator, lambda: rds.add_disk(volume("pvc-a"))) == 1, "a repeat only reads"
    assert round_trips(emulator, lambda: rds.copy_disk("pvc-a", volume("pvc-b"))) == 2
    current = rds.get_disk("pvc-b")
    assert round_trips(emulator, lambda: rds.resize_disk("pvc-b", 2 * GIB, current=current)) == 1
    assert round_trips(emulator, lambda: rds.resize_disk("pvc-b", 3 * GIB)) == 2
    assert round_trips(emulator, lambda: rds.ensure_directory(BASE)) == 1
    gone = rds.get_disk("pvc-a")
    assert gone is not None
    assert round_trips(emulator, lambda: rds.remove_known_disk(gone)) == 1
    assert rds.get_disk("pvc-a") is None and rds.get_file(gone.file_path) is None
    assert round_trips(emulator, lambda: rds.remove_disk("pvc-b")) == 2
    assert rds.survey(slots=["pvc-b"], files=[BASE + "/pvc-b.img"]).disks == {}


def test_survey_sorts_disks_files_and_the_pool(rds: RdsClient) -> None:
    rds.add_disk(volume("pvc-a"))
    found = rds.survey(slots=["pvc-a", "pvc-missing"], files=[BASE, BASE + "/pvc-a.img"], pool="storage-pool")
    assert set(found.disks) == {"pvc-a"}
    assert found.files[BASE].type == "directory" and found.files[BASE + "/pvc-a.img"].is_disk_image
    assert found.capacity is not None and found.capacity.pool == "storage-pool"
    assert 0 < found.capacity.free <= found.capacity.size


def test_a_failure_in_a_line_stops_it_and_is_reported(rds: RdsClient, emulator: EmulatorServer) -> None:
    rds.add_disk(volume("pvc-a", 2 * GIB))
    emulator.set_faults([Fault(FaultKind.NO_SPACE, match="/disk set")])
    with pytest.raises(Exception, match="not enough space"):
        rds.resize_disk("pvc-a", 4 * GIB)
    emulator.set_faults([])
    disk = rds.get_disk("pvc-a")
    assert disk is not None and disk.size == 2 * GIB


def test_two_first_creates_into_a_new_directory_both_succeed(
    connect: Callable[..., RdsClient], emulator: EmulatorServer
) -> None:
    directory = BASE + "/fresh"
    clients = [connect(), connect()]
    for client in clients:
        client.version()
    # Every command waits, so both callers see the directory missing before either creates it.
    emulator.set_faults([Fault(FaultKind.LATENCY, seconds=0.3)])
    errors: list[BaseException] = []

    def create(client: RdsClient, slot: str) -> None:
        try:
            client.ensure_directory(directory)
            client.add_disk(volume(slot, directory=directory))
        except BaseException as error:  # collected for the assertion below
            errors.append(error)

    threads = [
        threading.Thread(target=create, args=(client, slot)) for client, slot in zip(clients, ("pvc-x", "pvc-y"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    emulator.set_faults([])
    assert errors == []
    assert set(clients[0].survey(slots=["pvc-x", "pvc-y"]).disks) == {"pvc-x", "pvc-y"}
