"""Fault specs, the faults.json document, and how the board plans and counts faults."""

from __future__ import annotations

from pathlib import Path

import pytest
from rds_emulator.fault_board import FaultBoard, FaultFile, FaultPlan
from rds_emulator.faults import Fault, FaultKind, parse_fault_spec, read_faults_file, write_faults_file


@pytest.mark.parametrize(
    ("spec", "fault"),
    [
        ("latency:0.5", Fault(FaultKind.LATENCY, seconds=0.5)),
        ("drop@1~^/disk add", Fault(FaultKind.DROP, count=1, match="^/disk add")),
        ("reboot:5", Fault(FaultKind.REBOOT, seconds=5.0)),
        ("lose_reply~slot=a@b:c", Fault(FaultKind.LOSE_REPLY, match="slot=a@b:c")),
        ("no_space@2", Fault(FaultKind.NO_SPACE, count=2)),
        ("hang~", Fault(FaultKind.HANG, match="")),
        ("blackhole", Fault(FaultKind.BLACKHOLE)),
        ("blackhole:30", Fault(FaultKind.BLACKHOLE, seconds=30.0)),
    ],
)
def test_specs_parse_and_print_back(spec: str, fault: Fault) -> None:
    assert parse_fault_spec(spec) == fault
    assert parse_fault_spec(fault.to_spec()) == fault


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("latency", "needs seconds"),
        ("drop:1", "takes no seconds"),
        ("explode", "unknown kind"),
        ("hang@0", "count must be at least 1"),
        ("hang~(", "bad match pattern"),
        ("latency:fast", "expected kind"),
        ("blackhole~add", "takes no match or count"),
        ("blackhole:5@1", "takes no match or count"),
    ],
)
def test_bad_specs_are_explained(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_fault_spec(spec)


def test_faults_file_round_trip(tmp_path: Path) -> None:
    faults = (Fault(FaultKind.LATENCY, seconds=0.25, match="print"), Fault(FaultKind.DROP, count=1))

    write_faults_file(tmp_path / "faults.json", faults)

    assert read_faults_file(tmp_path / "faults.json") == faults


def test_board_sums_latency_and_takes_the_first_other_fault() -> None:
    board = FaultBoard()
    hang, drop = Fault(FaultKind.HANG, match="print"), Fault(FaultKind.DROP)
    board.replace(
        [Fault(FaultKind.LATENCY, seconds=0.5), Fault(FaultKind.LATENCY, seconds=0.25, match="print"), hang, drop]
    )

    assert board.plan("/disk print", mutating=False) == FaultPlan(latency=0.75, fault=hang)
    assert board.plan("/disk add", mutating=True) == FaultPlan(latency=0.5, fault=drop)


def test_board_counts_down_and_forgets_used_faults() -> None:
    board = FaultBoard()
    board.replace([Fault(FaultKind.DROP, count=2, match="add")])

    assert board.plan("/disk print", mutating=False).action is None
    assert board.plan("/disk add", mutating=True).action is FaultKind.DROP
    assert board.plan("/disk add", mutating=True).action is FaultKind.DROP
    assert board.plan("/disk add", mutating=True).action is None


def test_no_space_skips_reading_commands_without_using_a_count() -> None:
    board = FaultBoard()
    board.replace([Fault(FaultKind.NO_SPACE, count=1)])

    assert board.plan("/disk print", mutating=False).action is None
    assert board.plan("/disk add", mutating=True).action is FaultKind.NO_SPACE


def test_reboot_without_match_is_handed_back_for_now() -> None:
    board = FaultBoard()
    now = Fault(FaultKind.REBOOT, seconds=1.0)
    later = Fault(FaultKind.REBOOT, seconds=2.0, match="remove")

    assert board.replace([now, later]) == [now]
    plan = board.plan("/disk remove [find]", mutating=True)
    assert (plan.action, plan.reboot_seconds) == (FaultKind.REBOOT, 2.0)


def test_fault_file_ignores_what_was_there_at_start_and_sees_changes(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    write_faults_file(path, (Fault(FaultKind.DROP),))
    watcher = FaultFile(path)

    assert watcher.changed_faults() is None
    write_faults_file(path, (Fault(FaultKind.HANG),))
    assert watcher.changed_faults() == (Fault(FaultKind.HANG),)
    assert watcher.changed_faults() is None
    path.unlink()
    assert watcher.changed_faults() == ()


def test_blackhole_is_handed_back_for_now_and_never_planned() -> None:
    board = FaultBoard()
    blackhole = Fault(FaultKind.BLACKHOLE, seconds=3.0)

    assert board.replace([blackhole]) == [blackhole]
    assert board.plan("/disk print", mutating=False) == FaultPlan()


def test_a_pattern_finds_a_command_after_a_semicolon() -> None:
    board = FaultBoard()
    drop = Fault(FaultKind.DROP, match="^/disk add")
    board.replace([drop])

    assert board.plan("/disk print; /disk add", mutating=True).action is None
    assert board.plan("/disk print; /disk add", mutating=True, commands=["/disk print", "/disk add"]).fault == drop
