"""Several commands in one exec line, through real SSH (R-7.1): parse first, then run one by one
until the first runtime failure; `:put [add]` prints the new item's id; stats count both."""

from __future__ import annotations

import pytest
from emulator_harness import Emulator, StartEmulator

pytestmark = pytest.mark.timeout(60)


def add(slot: str, path: str | None = None) -> str:
    return f"/disk add type=file file-path=/storage-pool/{path or slot}.img file-size=1M slot={slot}"


def test_commands_separated_by_semicolons_all_run(emulator: Emulator) -> None:
    assert emulator.run(f"{add('a')}; {add('b')};{add('c')} ;") == (0, "")

    assert emulator.slots() == ["a", "b", "c"]


def test_outputs_follow_each_other_in_order(emulator: Emulator) -> None:
    emulator.ok(f"{add('a')}; {add('b')}")
    first = emulator.ok("/disk print detail where slot=a")
    second = emulator.ok("/disk print detail where slot=b")
    identity = emulator.ok("/system identity print")

    output = emulator.ok("/disk print detail where slot=a; /system identity print; /disk print detail where slot=b")

    assert output == first + identity + second
    assert output.count("Flags: ") == 2


def test_a_parse_error_anywhere_runs_nothing(emulator: Emulator) -> None:
    line = f"{add('a')}; /disk bogus"

    assert emulator.run(line) == (1, f"bad command name bogus (line 1 column {len(add('a')) + 9})\n")
    assert emulator.slots() == []
    assert not (emulator.files / "storage-pool/a.img").exists()


@pytest.mark.parametrize(
    "second",
    ["/disk print extra", '/disk set [find] comment="$x"', "/disk add type=file bogus=1"],
)
def test_every_kind_of_parse_error_rejects_the_whole_line(emulator: Emulator, second: str) -> None:
    status, output = emulator.run(f"{add('a')}; {second}")

    assert status == 1
    assert output.endswith(")\n") and "(line 1 column " in output
    assert emulator.slots() == []


def test_a_runtime_failure_stops_the_line_and_keeps_what_ran(emulator: Emulator) -> None:
    identity = emulator.ok("/system identity print")

    status, output = emulator.run(f"/system identity print; {add('a')}; /disk set nosuch comment=x; {add('b')}")

    assert (status, output) == (1, f"{identity}failure: no such item\n")
    assert emulator.slots() == ["a"]
    assert not (emulator.files / "storage-pool/b.img").exists()


def test_a_duplicate_slot_stops_the_line(emulator: Emulator) -> None:
    status, output = emulator.run(f"{add('a')}; {add('a', 'other')}; {add('c')}")

    assert (status, output) == (1, "failure: disk with such slot already exists\n")
    assert emulator.slots() == ["a"]
    assert not (emulator.files / "storage-pool/other.img").exists()


def test_newline_separated_commands_are_refused_as_over_exec(emulator: Emulator) -> None:
    assert emulator.run(f"{add('a')}\n{add('b')}") == (1, "expected end of command (line 2 column 1)\n")
    assert emulator.slots() == []
    assert emulator.run(f"{add('a')};\n") == (0, "")


def test_put_of_an_add_prints_the_new_disks_id(emulator: Emulator) -> None:
    first = emulator.ok(f":put [{add('a')}]")
    second = emulator.ok(f":put [{add('b')}]; :put [/file add name=storage-pool/d type=directory]")

    assert first == "*2\n"
    disk_id, file_id = second.splitlines()
    assert disk_id == "*3"
    assert file_id.startswith("*") and int(file_id[1:], 16) > 0


def test_ids_name_items_and_are_never_reused(emulator: Emulator) -> None:
    disk_id = emulator.ok(f":put [{add('a')}]").strip()
    emulator.ok(f"/disk set {disk_id} comment=found; /disk remove {disk_id.lower()}")
    again = emulator.ok(f":put [{add('a', 'again')}]").strip()
    directory_id = emulator.ok(":put [/file add name=storage-pool/d type=directory]").strip()
    emulator.ok(f"/file remove {directory_id}")

    assert again != disk_id
    assert emulator.slots() == ["a"]
    assert not (emulator.files / "storage-pool/d").exists()
    assert emulator.run(f"/disk remove {disk_id}") == (1, "failure: no such item\n")


def test_ids_survive_a_restart(emulator: Emulator, start_emulator: StartEmulator) -> None:
    disk_id = emulator.ok(f":put [{add('a')}]").strip()
    emulator.close()
    emulator.server.stop()
    restarted = start_emulator()

    restarted.ok(f"/disk remove {disk_id}")
    assert restarted.slots() == []
    assert restarted.ok(f":put [{add('b')}]").strip() != disk_id


def test_put_of_other_commands_and_literals(emulator: Emulator) -> None:
    identity = emulator.ok("/system identity print")

    assert emulator.ok(':put hello; :put "two words"') == "hello\ntwo words\n"
    assert emulator.ok(":put [/system identity print]") == f"{identity}\n"


def test_a_monitor_ends_the_line_after_the_output_before_it(emulator: Emulator) -> None:
    emulator.ok(add("a"))
    identity = emulator.ok("/system identity print")
    channel = emulator.connect().get_transport().open_session(timeout=5)
    channel.settimeout(5)
    channel.exec_command(f"/system identity print; /disk monitor-traffic a; {add('b')}")

    received = b""
    while b"read-ops" not in received:
        received += channel.recv(4096)
    channel.close()

    assert received.decode().startswith(f"{identity}  ")
    assert emulator.slots() == ["a"]


def test_stats_count_exec_requests_and_commands_apart(emulator: Emulator) -> None:
    before = emulator.server.stats

    emulator.ok(f"{add('a')}; {add('b')}; /disk print")
    emulator.run(f"/system identity print; /disk set nosuch comment=x; {add('c')}")
    emulator.run(f"{add('d')}; /disk bogus")

    after = emulator.server.stats
    assert after.exec_requests - before.exec_requests == 3
    assert after.commands_run - before.commands_run == 3 + 2 + 0
    (connection,) = after.connections
    assert (connection.exec_requests, connection.commands_run) == (3, 5)
