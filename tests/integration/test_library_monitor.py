"""``RdsClient.health`` and ``RdsClient.disk_traffic`` against the emulator over real SSH: the
emulator's values arrive, many disks cost one exec line, and a disk removed meanwhile costs one
more line without losing the disks after it."""

from __future__ import annotations

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import DiskSpec, ExportSpec
from rds_emulator.health import Sensor
from rds_emulator.server import EmulatorServer

from .conftest import BASE, GIB

pytestmark = pytest.mark.timeout(120)


def add(rds: RdsClient, slot: str) -> None:
    rds.create_disk(DiskSpec(slot, "%s/%s.img" % (BASE, slot), GIB, ExportSpec(nqn="nqn.2000-02.com.mikrotik:" + slot)))


def test_health_reads_the_emulators_sensors(rds: RdsClient, emulator: EmulatorServer) -> None:
    emulator.set_health([Sensor("cpu-temperature", 63.5, "C"), Sensor("psu2-state", "fail")])

    readings = rds.health()

    assert [(reading.name, reading.value, reading.type, reading.state) for reading in readings] == [
        ("cpu-temperature", 63.5, "C", None),
        ("psu2-state", None, "", "fail"),
    ]


def test_traffic_of_many_disks_in_one_line(rds: RdsClient, emulator: EmulatorServer) -> None:
    slots = ["pvc-%03d" % number for number in range(60)]
    for slot in slots:
        add(rds, slot)
        emulator.set_traffic(slot, {"read-bytes": 1000 + int(slot[4:]), "write-ops": 7})
    rds.version()
    before = emulator.stats.exec_requests

    report = rds.disk_traffic(slots)

    assert emulator.stats.exec_requests - before == 1
    assert report.missing == ()
    assert [report.traffic[slot].get("read-bytes") for slot in slots] == [1000 + number for number in range(60)]
    assert {report.traffic[slot].get("write-ops") for slot in slots} == {7}


def test_a_removed_disk_costs_one_more_line_and_loses_nothing_after_it(
    rds: RdsClient, emulator: EmulatorServer
) -> None:
    for slot in ("pvc-a", "pvc-c", "pvc-e"):
        add(rds, slot)
        emulator.set_traffic(slot, {"write-bytes": 4096})
    rds.version()
    before = emulator.stats.exec_requests

    report = rds.disk_traffic(["pvc-a", "pvc-b", "pvc-c", "pvc-d", "pvc-e"])

    assert emulator.stats.exec_requests - before == 3
    assert sorted(report.traffic) == ["pvc-a", "pvc-c", "pvc-e"]
    assert report.missing == ("pvc-b", "pvc-d")
    assert report.traffic["pvc-e"].get("write-bytes") == 4096


def test_no_disks_cost_nothing(rds: RdsClient, emulator: EmulatorServer) -> None:
    before = emulator.stats.exec_requests

    assert rds.disk_traffic([]).traffic == {}
    assert emulator.stats.exec_requests == before
