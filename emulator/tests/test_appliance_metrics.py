"""`/disk monitor-traffic` and `/system health print` through real SSH (R-7.6, R-7.7): the layouts,
counters set through `traffic.json`, counters the kernel keeps for loop devices on backing files,
and sensors set through `health.json`."""

from __future__ import annotations

import json
import mmap
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from emulator_harness import Emulator, StartEmulator
from rds_emulator.health import DEFAULT_SENSORS, Sensor, render_health
from rds_emulator.traffic import PRINT_ORDER, format_rate, format_time_value

pytestmark = pytest.mark.timeout(60)

DIR = "/storage-pool/metal-csi"
KEY_VALUE = re.compile(r" *(?P<key>[a-z][a-z0-9-]*): (?P<value>.*)\Z")


@pytest.fixture
def pool(emulator: Emulator) -> Emulator:
    emulator.ok("/file add name=storage-pool/metal-csi type=directory")
    return emulator


def add(emulator: Emulator, slot: str) -> None:
    emulator.ok(f"/disk add type=file file-path={DIR}/{slot}.img file-size=1G slot={slot}")


def screen(text: str) -> dict[str, str]:
    lines = text.splitlines()
    found = [KEY_VALUE.match(line) for line in lines]
    assert all(found), text
    return {match.group("key"): match.group("value") for match in found if match}


def test_monitor_traffic_prints_every_field_right_aligned_with_units(pool: Emulator) -> None:
    add(pool, "pvc-1")
    pool.server.set_traffic(
        "pvc-1",
        {"read-ops": 1234567, "read-bytes": 515659673600, "write-time": 15, "write-rate": 12_800_000},
    )

    text = pool.ok("/disk monitor-traffic pvc-1 once")

    lines = text.splitlines()
    colons = {line.index(": ") for line in lines}
    assert len(colons) == 1, "keys are right-aligned to one column"
    assert min(len(line) - len(line.lstrip()) for line in lines) == 2
    values = screen(text)
    assert list(values) == ["slot", *PRINT_ORDER]
    assert values["slot"] == "pvc-1"
    assert values["read-ops"] == "1 234 567"
    assert values["read-bytes"] == "515 659 673 600"
    assert values["write-time"] == "15ms"
    assert values["write-rate"] == "12.8Mbps"
    assert values["read-rate"] == "0bps" and values["in-flight-ops"] == "0"
    assert pool.ok("/disk monitor-traffic [find slot=pvc-1] once") == text


def test_monitor_traffic_of_an_unknown_slot_is_no_such_item(pool: Emulator) -> None:
    assert pool.run("/disk monitor-traffic pvc-gone once") == (1, "failure: no such item\n")
    assert pool.run('/disk monitor-traffic [find slot="pvc-gone"] once') == (1, "failure: no such item\n")


def test_a_batch_line_stops_at_a_deleted_slot_after_the_output_before_it(pool: Emulator) -> None:
    add(pool, "pvc-a")
    add(pool, "pvc-c")

    status, text = pool.run(
        ':put "== 0"; /disk monitor-traffic [find slot="pvc-a"] once; :put "== 1"; '
        '/disk monitor-traffic [find slot="pvc-b"] once; :put "== 2"; /disk monitor-traffic [find slot="pvc-c"] once'
    )

    assert status == 1
    assert text.startswith("== 0\n") and "slot: pvc-a" in text
    assert text.endswith("== 1\nfailure: no such item\n")
    assert "pvc-c" not in text


def test_as_value_prints_one_line_that_put_prints_too(pool: Emulator) -> None:
    add(pool, "pvc-1")
    pool.server.set_traffic("pvc-1", {"write-bytes": 4096, "read-time": 1234, "read-rate": 8000})

    line = pool.ok("/disk monitor-traffic pvc-1 once as-value")
    put = pool.ok(":put [/disk monitor-traffic pvc-1 once as-value]")

    assert line == put
    assert line.count("\n") == 1
    fields = dict(pair.split("=", 1) for pair in line.strip().split(";"))
    assert list(fields) == ["slot", *PRINT_ORDER]
    assert fields["write-bytes"] == "4096" and fields["read-time"] == "00:00:01.234"
    assert fields["read-rate"] == "8000"


def test_rates_come_from_the_change_since_the_previous_monitor(pool: Emulator) -> None:
    add(pool, "pvc-1")
    pool.ok("/disk monitor-traffic pvc-1 once")
    pool.server.set_traffic("pvc-1", {"write-ops": 1000, "write-bytes": 1_000_000_000})

    values = screen(pool.ok("/disk monitor-traffic pvc-1 once"))

    assert re.fullmatch(r"\d+(\.\d)?[kMGT]bps", values["write-rate"]), values["write-rate"]
    assert int(values["write-ops-per-second"].replace(" ", "")) > 0
    assert values["read-rate"] == "0bps"


def test_traffic_json_is_read_again_when_it_changes(pool: Emulator) -> None:
    add(pool, "pvc-1")
    path = pool.server.state_dir / "traffic.json"

    path.write_text(json.dumps({"pvc-1": {"read-ops": 7}}))
    assert screen(pool.ok("/disk monitor-traffic pvc-1 once"))["read-ops"] == "7"
    path.write_text("{not json")
    assert screen(pool.ok("/disk monitor-traffic pvc-1 once"))["read-ops"] == "0"
    with pytest.raises(ValueError, match="unknown field"):
        pool.server.set_traffic("pvc-1", {"read-bananas": 1})


def test_loop_devices_on_the_backing_file_add_the_kernels_counters(
    start_emulator: StartEmulator, tmp_path: Path
) -> None:
    block = tmp_path / "block"
    emulator = start_emulator(block_root=block)
    emulator.ok("/file add name=storage-pool/metal-csi type=directory")
    add(emulator, "pvc-1")
    backing = emulator.files / "storage-pool/metal-csi/pvc-1.img"
    for name, stat in (("loop3", "10 1 80 4 20 2 160 8 1 12 30 0 0 0 0 5 6"), ("loop9", "1 0 8 1 0 0 0 0 0 1 1")):
        (block / name / "loop").mkdir(parents=True)
        (block / name / "loop" / "backing_file").write_text(f"{backing}\n")
        (block / name / "stat").write_text(f"   {stat}\n")
    (block / "loop4").mkdir()  # a free loop device has no loop/ directory
    emulator.server.set_traffic("pvc-1", {"read-ops": 100})

    values = screen(emulator.ok("/disk monitor-traffic pvc-1 once"))

    assert values["read-ops"] == "111"
    assert values["read-bytes"] == "45 056"
    assert values["write-ops"] == "20" and values["write-bytes"] == "81 920"
    assert values["write-merges"] == "2" and values["read-time"] == "5ms"
    assert values["in-flight-ops"] == "1" and values["active-time"] == "13ms" and values["wait-time"] == "31ms"
    assert values["flush-ops"] == "5" and values["flush-time"] == "6ms"


@pytest.mark.skipif(os.geteuid() != 0, reason="attaching a loop device needs root")
def test_writes_through_a_real_loop_device_show_up(pool: Emulator) -> None:
    add(pool, "pvc-1")
    backing = pool.files / "storage-pool/metal-csi/pvc-1.img"
    device = subprocess.run(
        ["losetup", "--find", "--show", str(backing)], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()
    try:
        before = int(screen(pool.ok("/disk monitor-traffic pvc-1 once"))["write-bytes"].replace(" ", ""))
        descriptor = os.open(device, os.O_WRONLY | os.O_DIRECT | os.O_SYNC)
        try:
            with mmap.mmap(-1, 1 << 20) as buffer:  # page-aligned, as O_DIRECT needs
                os.write(descriptor, buffer)
        finally:
            os.close(descriptor)
        time.sleep(1.1)  # the emulator scans the loop devices at most once a second

        after = int(screen(pool.ok("/disk monitor-traffic pvc-1 once"))["write-bytes"].replace(" ", ""))
    finally:
        subprocess.run(["losetup", "--detach", device], check=False, timeout=30)

    assert after - before >= 1 << 20


def test_health_print_has_the_column_layout_and_the_default_sensors(emulator: Emulator) -> None:
    text = emulator.ok("/system health print")

    assert text == (
        "Columns: NAME, VALUE, TYPE\n"
        "#  NAME                VALUE  TYPE\n"
        "0  cpu-temperature     47     C   \n"
        "1  board-temperature1  36     C   \n"
        "2  fan1-speed          6120   RPM \n"
        "3  psu1-state          ok         \n"
        "4  psu2-state          ok         \n"
        "5  power-consumption   92.4   W   \n"
    )
    assert emulator.ok("/system/health/print without-paging") == text


def test_health_follows_set_health_and_the_state_file(emulator: Emulator) -> None:
    sensors = [Sensor(f"fan{number}-speed", 5000 + number, "RPM") for number in range(1, 12)]
    emulator.server.set_health([*sensors, Sensor("psu2-state", "fail")])

    lines = emulator.ok("/system health print").splitlines()

    assert lines[1].startswith(" #  NAME")
    assert lines[2].startswith(" 0  fan1-speed ")
    assert lines[-1].rstrip() == "11  psu2-state   fail"
    path = emulator.server.state_dir / "health.json"
    path.write_text(json.dumps({"sensors": [{"name": "cpu-temperature", "value": 71.5, "type": "C"}]}))
    assert emulator.ok("/system health print").splitlines()[2] == "0  cpu-temperature  71.5   C   "
    emulator.server.set_health([])
    assert emulator.run("/system health print") == (0, "")


def test_sensor_rules() -> None:
    with pytest.raises(ValueError, match="state"):
        Sensor("psu1-state", "broken")
    with pytest.raises(ValueError, match="type"):
        Sensor("cpu-temperature", 40)
    with pytest.raises(ValueError, match="finite"):
        Sensor("cpu-temperature", float("nan"), "C")
    assert render_health(DEFAULT_SENSORS).count("\n") == len(DEFAULT_SENSORS) + 2


def test_value_formats() -> None:
    assert [format_rate(value) for value in (0, 999, 1000, 12_800_000, 1_500_000_000)] == [
        "0bps",
        "999bps",
        "1.0kbps",
        "12.8Mbps",
        "1.5Gbps",
    ]
    assert format_time_value(0) == "00:00:00"
    assert format_time_value(90_061_005) == "1d01:01:01.005"
