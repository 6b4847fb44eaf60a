"""Every fault mode of R-6 through real SSH, switched in-process and through faults.json."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import paramiko
import pytest
from emulator_harness import Emulator, StartEmulator, port_refuses, run_on, wait_for
from rds_emulator.cli import main
from rds_emulator.faults import Fault, FaultKind

pytestmark = pytest.mark.timeout(60)

ADD = "/disk add type=file file-path=/storage-pool/a.img file-size=1M slot=a"


def connection_dropped(run: Callable[[], tuple[int, str]]) -> bool:
    """A dropped connection shows as no exit status and no output, or, when the drop beats the
    exec request's confirmation, as an error from the client library: both are a drop."""
    try:
        return run() == (-1, "")
    except (EOFError, paramiko.SSHException):
        return True


def test_latency_delays_matching_commands_only(emulator: Emulator) -> None:
    emulator.server.set_faults([Fault(FaultKind.LATENCY, seconds=0.6, match="identity")])

    started = time.monotonic()
    emulator.ok("/system identity print")
    assert time.monotonic() - started >= 0.6
    started = time.monotonic()
    emulator.ok("/system resource print")
    assert time.monotonic() - started < 0.5


def test_drop_closes_the_connection_before_the_command_runs(emulator: Emulator) -> None:
    emulator.server.set_faults([Fault(FaultKind.DROP, count=1, match="^/disk add")])
    client = emulator.connect()

    assert connection_dropped(lambda: run_on(client, ADD))
    assert not client.get_transport().is_active()
    assert emulator.slots() == []
    assert emulator.run(ADD) == (0, "")


def test_lose_reply_commits_but_never_answers(emulator: Emulator) -> None:
    emulator.server.set_faults([Fault(FaultKind.LOSE_REPLY, count=1, match="^/disk add")])
    client = emulator.connect()

    assert connection_dropped(lambda: run_on(client, ADD))
    assert not client.get_transport().is_active()
    assert emulator.slots() == ["a"]
    assert (emulator.files / "storage-pool/a.img").exists()


def test_no_space_refuses_mutations_and_changes_nothing(emulator: Emulator) -> None:
    emulator.server.set_faults([Fault(FaultKind.NO_SPACE, match="slot=a")])

    assert emulator.run(ADD) == (1, "failure: not enough space\n")
    assert not (emulator.files / "storage-pool/a.img").exists()
    assert emulator.run("/disk print detail where slot=a")[0] == 0
    assert emulator.run(ADD.replace("slot=a", "slot=b").replace("a.img", "b.img")) == (0, "")


def test_hang_blocks_only_its_own_channel(emulator: Emulator) -> None:
    emulator.server.set_faults([Fault(FaultKind.HANG, match="identity")])
    client = emulator.connect()
    hanging = client.get_transport().open_session(timeout=5)
    hanging.settimeout(0.5)
    hanging.exec_command("/system identity print")

    with pytest.raises(socket.timeout):
        hanging.recv(100)
    assert run_on(client, "/system resource print")[0] == 0
    assert emulator.run("/disk print")[0] == 0
    assert emulator.server.stats.sessions_current == 1

    hanging.close()
    wait_for(lambda: emulator.server.stats.sessions_current == 0)


def test_hanging_channel_does_not_block_stop(emulator: Emulator) -> None:
    emulator.server.set_faults([Fault(FaultKind.HANG)])
    channel = emulator.connect().get_transport().open_session(timeout=5)
    channel.exec_command("/system identity print")
    time.sleep(0.2)

    started = time.monotonic()
    emulator.server.stop()

    assert time.monotonic() - started < 3.0
    channel.settimeout(5)
    assert channel.recv(100) == b""


def test_reboot_drops_everything_refuses_then_recovers_with_state(emulator: Emulator) -> None:
    emulator.ok(ADD)
    client = emulator.connect()

    emulator.server.set_faults([Fault(FaultKind.REBOOT, seconds=1.5)])

    wait_for(lambda: not client.get_transport().is_active())
    assert port_refuses(emulator.server.address)
    wait_for(lambda: not port_refuses(emulator.server.address), timeout=10)
    assert 'slot="a"' in emulator.ok("/disk print detail where slot=a")
    assert (emulator.files / "storage-pool/a.img").exists()


def test_reboot_triggered_by_a_command_that_never_runs(emulator: Emulator) -> None:
    emulator.ok(ADD)
    emulator.server.set_faults([Fault(FaultKind.REBOOT, seconds=0.5, count=1, match="^/disk remove")])

    assert connection_dropped(lambda: emulator.run("/disk remove [find slot=a]"))
    wait_for(lambda: not port_refuses(emulator.server.address), timeout=10)
    assert emulator.slots() == ["a"]


def test_faults_json_switches_faults_at_run_time(emulator: Emulator) -> None:
    state_dir = str(emulator.server.state_dir)

    assert main(["fault", "--state-dir", state_dir, "no_space~^/disk add"]) == 0
    assert emulator.run(ADD) == (1, "failure: not enough space\n")

    assert main(["fault", "--state-dir", state_dir, "--clear"]) == 0
    assert emulator.run(ADD) == (0, "")


def test_faults_json_reboot_happens_without_any_command(emulator: Emulator) -> None:
    client = emulator.connect()

    main(["fault", "--state-dir", str(emulator.server.state_dir), "reboot:1"])

    wait_for(lambda: not client.get_transport().is_active())
    wait_for(lambda: not port_refuses(emulator.server.address), timeout=10)


def test_faults_given_at_start(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(faults=(Fault(FaultKind.NO_SPACE),))

    assert emulator.run(ADD) == (1, "failure: not enough space\n")


def test_a_dropped_client_sees_an_ssh_error_on_its_next_command(emulator: Emulator) -> None:
    emulator.server.set_faults([Fault(FaultKind.DROP, count=1)])
    client = emulator.connect()
    assert connection_dropped(lambda: run_on(client, "/system identity print"))

    with pytest.raises((paramiko.SSHException, EOFError, OSError)):
        run_on(client, "/system identity print")


def test_a_fault_matching_any_command_of_a_line_applies_to_the_line(emulator: Emulator) -> None:
    emulator.server.set_faults([Fault(FaultKind.DROP, count=1, match="^/disk add")])

    assert connection_dropped(lambda: emulator.run(f"/disk print; {ADD}"))
    assert emulator.slots() == []
    assert emulator.run(f"/disk print; {ADD}")[0] == 0
    assert emulator.slots() == ["a"]


def test_lose_reply_runs_the_whole_line(emulator: Emulator) -> None:
    emulator.server.set_faults([Fault(FaultKind.LOSE_REPLY, count=1, match="slot=b")])
    second = ADD.replace("slot=a", "slot=b").replace("a.img", "b.img")

    assert connection_dropped(lambda: emulator.run(f"{ADD}; {second}"))
    assert emulator.slots() == ["a", "b"]


def test_no_space_refuses_the_matching_command_of_a_line(emulator: Emulator) -> None:
    identity = emulator.ok("/system identity print")
    emulator.server.set_faults([Fault(FaultKind.NO_SPACE, match="slot=b")])
    b, c = (ADD.replace("slot=a", f"slot={slot}").replace("a.img", f"{slot}.img") for slot in "bc")

    assert emulator.run(f"/system identity print; {ADD}; {b}; {c}") == (1, f"{identity}failure: not enough space\n")
    assert emulator.slots() == ["a"]


def test_latency_applies_once_per_line(emulator: Emulator) -> None:
    emulator.server.set_faults([Fault(FaultKind.LATENCY, seconds=0.5, match="identity")])

    started = time.monotonic()
    emulator.ok("/system identity print; /system identity print; /system identity print")
    assert 0.5 <= time.monotonic() - started < 1.0
