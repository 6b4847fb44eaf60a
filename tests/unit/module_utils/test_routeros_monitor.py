"""The monitoring parsers (R-6, R-7.7) against fixtures named after the command that printed them, and
the batch line that reads many disks' traffic in one exec."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import ParseError
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_monitor import (
    HealthReading,
    parse_count,
    parse_duration,
    parse_health,
    parse_monitor_traffic,
    parse_rate,
    split_traffic_output,
    traffic_script,
)
from rds_emulator.commandline import parse_line

FIXTURES = Path(__file__).parent.parent / "fixtures" / "routeros_monitor"
SLOT = "pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11"


def fixture(name: str) -> str:
    return (FIXTURES / (name + ".txt")).read_text()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("42", 42), ("1 254 876", 1254876), ("515 659 673 600", 515659673600), (" 7 ", 7)],
)
def test_counts_are_plain_or_grouped(text: str, expected: int) -> None:
    assert parse_count(text) == expected


@pytest.mark.parametrize("text", ["", "1,234", "12 34", "1.5", "-3", "12 apples"])
def test_a_count_that_is_no_integer_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_count(text)


@pytest.mark.parametrize(
    ("text", "bits"),
    [
        ("0bps", 0),
        ("999bps", 999),
        ("12.8kbps", 12_800),
        ("3Kbps", 3_000),
        ("12.8Mbps", 12_800_000),
        ("1.5Gbps", 1_500_000_000),
        ("2Tbps", 2 * 10**12),
        ("12.8 Mbps", 12_800_000),
        ("8000", 8000),
    ],
)
def test_rates_are_bits_per_second_in_powers_of_1000(text: str, bits: float) -> None:
    assert parse_rate(text) == pytest.approx(bits)


@pytest.mark.parametrize("text", ["12.8MB/s", "fast", "Mbps", "1.5gbps"])
def test_an_unknown_rate_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_rate(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0ms", 0.0),
        ("15ms", 0.015),
        ("98123ms", 98.123),
        ("1 204ms", 1.204),
        ("1m30s", 90.0),
        ("1s200ms", 1.2),
        ("2d3h", 2 * 86400 + 3 * 3600),
        ("1w", 604800.0),
        ("250us", 0.00025),
        ("00:00:01.234", 1.234),
        ("00:01:38.123", 98.123),
        ("1d02:03:04", 86400 + 2 * 3600 + 3 * 60 + 4),
        ("1w2d00:00:00", 9 * 86400),
    ],
)
def test_times_in_every_routeros_form(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "12", "ms", "1h30", "12 ms", "00:61"])
def test_an_unknown_time_is_a_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_duration(text)


def test_monitor_traffic_in_the_console_layout() -> None:
    traffic = parse_monitor_traffic(fixture("disk_monitor-traffic_once__emulator"), SLOT)

    assert traffic.slot == SLOT
    assert traffic.get("read-ops") == 1254876
    assert traffic.get("read-bytes") == 515659673600
    assert traffic.get("write-bytes") == 9342103552
    assert traffic.get("read-rate") == pytest.approx(12.8e6)
    assert traffic.get("write-rate") == 950
    assert traffic.get("read-time") == pytest.approx(98.123)
    assert traffic.get("in-flight-ops") == 4
    assert traffic.get("flush-time") == pytest.approx(0.012)
    assert len(traffic.values) == 23


def test_monitor_traffic_as_value_reads_the_same() -> None:
    console = parse_monitor_traffic(fixture("disk_monitor-traffic_once__emulator"))
    as_value = parse_monitor_traffic(fixture("disk_monitor-traffic_once_as-value__emulator"))

    assert as_value.slot == console.slot == SLOT
    assert as_value.values.keys() == console.values.keys()
    for key, value in console.values.items():
        assert as_value.values[key] == pytest.approx(value), key


def test_monitor_traffic_with_fewer_fields_leaves_the_others_absent() -> None:
    traffic = parse_monitor_traffic(fixture("disk_monitor-traffic_once__fewer_fields"))

    assert traffic.slot == "storage-pool"
    assert traffic.get("write-rate") == pytest.approx(12.8e6)
    assert traffic.get("write-time") == pytest.approx(1.204)
    assert traffic.get("read-bytes") is None and traffic.get("write-ops") is None


def test_monitor_traffic_for_another_slot_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="printed for slot"):
        parse_monitor_traffic(fixture("disk_monitor-traffic_once__emulator"), "pvc-other")


def test_an_unknown_field_is_kept_when_it_reads_and_skipped_when_not() -> None:
    traffic = parse_monitor_traffic("   slot: a\n  queue-depth: 12\n  model: FAST DISK\n  io-errors: 1 002\n")

    assert traffic.values == {"queue-depth": 12, "io-errors": 1002}


def test_a_documented_field_that_does_not_read_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="rate"):
        parse_monitor_traffic("  slot: a\n  read-rate: quick\n")
    with pytest.raises(ParseError, match="Unexpected line"):
        parse_monitor_traffic("  slot: a\nsomething else\n")


def test_the_batch_line_marks_each_disk_and_quotes_every_slot() -> None:
    script = traffic_script(["pvc-a", 'odd"$slot'], "slot")

    line = script.render()

    assert line == (
        ':put "=== monitor 0"; /disk monitor-traffic [find slot="pvc-a"] once; '
        ':put "=== monitor 1"; /disk monitor-traffic [find slot="odd\\"\\$slot"] once'
    )
    assert script.render_for_log() == line
    assert not script.mutates
    statements = parse_line(line)
    assert [statement.literal for statement in statements[::2]] == ["=== monitor 0", "=== monitor 1"]
    assert [statement.command.verb for statement in statements[1::2] if statement.command] == ["monitor-traffic"] * 2
    last = statements[3].command
    assert last is not None and last.items[0].conditions[0].value == 'odd"$slot'  # type: ignore[union-attr]


def test_output_splits_into_one_block_per_marker() -> None:
    output = "=== monitor 0\n  slot: a\n  read-ops: 1\n=== monitor 1\n=== monitor 2\n  slot: c\n"

    assert split_traffic_output(output, failed=False) == ["  slot: a\n  read-ops: 1", "", "  slot: c"]


def test_a_failed_line_ends_with_the_missing_disks_marker_and_the_error() -> None:
    output = "=== monitor 0\n  slot: a\n=== monitor 1\nfailure: no such item\n"

    assert split_traffic_output(output, failed=True) == ["  slot: a", ""]
    assert split_traffic_output("failure: no such item\n", failed=True) == []


def test_output_that_no_marker_explains_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="before the first disk"):
        split_traffic_output("  slot: a\n=== monitor 0\n", failed=False)
    with pytest.raises(ParseError, match="out of order"):
        split_traffic_output("=== monitor 1\n", failed=False)


def test_health_in_the_emulators_layout() -> None:
    readings = parse_health(fixture("system_health_print__emulator"))

    assert readings == [
        HealthReading("cpu-temperature", 47.0, "C"),
        HealthReading("board-temperature1", 36.0, "C"),
        HealthReading("fan1-speed", 6120.0, "RPM"),
        HealthReading("psu1-state", state="ok"),
        HealthReading("psu2-state", state="ok"),
        HealthReading("power-consumption", 92.4, "W"),
    ]


def test_health_with_two_digit_row_numbers_and_trailing_blanks() -> None:
    readings = parse_health(fixture("system_health_print__twelve_rows"))

    assert len(readings) == 12
    assert readings[0] == HealthReading("power-consumption", 61.3, "W")
    assert readings[10] == HealthReading("psu1-current", 4.6, "A")
    assert readings[11] == HealthReading("psu2-state", state="no-input")


def test_health_rows_without_numbers_or_type_and_an_empty_print() -> None:
    assert parse_health("NAME  VALUE  TYPE\nvoltage  23.8  V\ntemperature  -4\n") == [
        HealthReading("voltage", 23.8, "V"),
        HealthReading("temperature", -4.0, ""),
    ]
    assert parse_health("") == []


def test_a_health_line_that_is_no_row_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="health"):
        parse_health("Columns: NAME, VALUE, TYPE\n0  cpu temperature is high\n")
