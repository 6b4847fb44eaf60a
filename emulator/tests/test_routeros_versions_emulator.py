"""Field names by RouterOS version, renamed fields and `/console inspect`, over real SSH."""

from __future__ import annotations

import json

import pytest
from emulator_harness import Emulator, StartEmulator

pytestmark = pytest.mark.timeout(60)

DIR = "/storage-pool/metal-csi"
INSPECT_ADD = ":put [/console inspect as-value request=child path=disk,add]"


def with_directory(emulator: Emulator) -> Emulator:
    emulator.ok("/file add name=storage-pool/metal-csi type=directory")
    return emulator


def add_line(slot: str, *extra: str) -> str:
    return " ".join((f"/disk add type=file file-path={DIR}/{slot}.img file-size=1G slot={slot}", *extra))


def inspected(output: str) -> list[dict[str, str]]:
    nodes: list[dict[str, str]] = []
    for pair in output.rstrip("\n").split(";"):
        key, value = pair.split("=", 1) if "=" in pair else (pair, "")
        if key == "name":
            nodes.append({})
        nodes[-1][key] = value
    return nodes


def argument_names(emulator: Emulator, verb: str = "add") -> list[str]:
    nodes = inspected(emulator.ok(INSPECT_ADD.replace("disk,add", f"disk,{verb}")))
    assert nodes[0] == {"name": verb, "node-type": "cmd", "type": "self"}
    assert all(node["node-type"] == "arg" and node["type"] == "child" for node in nodes[1:])
    return [node["name"] for node in nodes[1:]]


def test_default_version_is_7_24_with_the_server_nqn(start_emulator: StartEmulator) -> None:
    emulator = start_emulator()
    assert "version: 7.24 (stable)" in emulator.ok("/system resource print")
    names = argument_names(emulator)
    assert names == sorted(names)
    assert {"file-path", "file-size", "copy-from", "nvme-tcp-server-nqn", "nvme-tcp-server-port"} <= set(names)
    assert "nvme-tcp-name" not in names
    assert "numbers" in argument_names(emulator, "set")


def test_7_20_has_nvme_tcp_name_and_derives_the_nqn_from_the_slot(start_emulator: StartEmulator) -> None:
    emulator = with_directory(start_emulator(version="7.20 (stable)"))
    names = argument_names(emulator)
    assert "nvme-tcp-name" in names and "nvme-tcp-server-nqn" not in names

    line = add_line("pvc-1", "nvme-tcp-export=yes", 'nvme-tcp-server-nqn="nqn.2000-02.com.mikrotik:x"')
    column = line.index("nvme-tcp-server-nqn") + 1
    assert emulator.run(line) == (1, f"expected end of command (line 1 column {column})\n")
    assert not (emulator.files / "storage-pool/metal-csi/pvc-1.img").exists()

    emulator.ok(add_line("pvc-1", "nvme-tcp-export=yes", "nvme-tcp-name=vol1"))
    detail = emulator.ok('/disk print detail without-paging where slot="pvc-1"')
    assert 'nvme-tcp-name="vol1"' in detail and "nvme-tcp-server-nqn" not in detail
    exports = json.loads((emulator.server.state_dir / "exports.json").read_text())
    assert list(exports) == ["nqn.2000-02.com.mikrotik:pvc-1"]
    status, output = emulator.run('/disk print detail where nvme-tcp-server-nqn="x"')
    assert status == 1 and output.startswith("syntax error (line 1 column 26)")


def test_7_16_has_no_file_disks(start_emulator: StartEmulator) -> None:
    emulator = with_directory(start_emulator(version="7.16 (stable)"))
    assert "file-path" not in argument_names(emulator)
    line = add_line("pvc-1")
    assert emulator.run(line) == (1, f"expected end of command (line 1 column {line.index('file-path') + 1})\n")
    assert emulator.run("/disk add type=file slot=pvc-1") == (1, "input does not match any value of type\n")


def test_a_renamed_field_is_typed_printed_and_inspected_under_its_new_name(start_emulator: StartEmulator) -> None:
    emulator = with_directory(
        start_emulator(version="7.26 (stable)", field_names={"nvme-tcp-server-port": "nvme-tcp-port"})
    )
    names = argument_names(emulator)
    assert "nvme-tcp-port" in names and "nvme-tcp-server-port" not in names

    status, output = emulator.run(add_line("pvc-1", "nvme-tcp-export=yes", "nvme-tcp-server-port=4421"))
    assert status == 1 and output.startswith("expected end of command")
    emulator.ok(add_line("pvc-1", "nvme-tcp-export=yes", "nvme-tcp-port=4421"))
    emulator.ok("/disk set [find nvme-tcp-port=4421] comment=moved")
    detail = emulator.ok("/disk print detail without-paging where nvme-tcp-port=4421")
    assert "nvme-tcp-port=4421" in detail and "nvme-tcp-server-port" not in detail and ";;; moved" in detail
    exports = json.loads((emulator.server.state_dir / "exports.json").read_text())
    assert exports["nqn.2000-02.com.mikrotik:pvc-1"]["port"] == 4421


def test_inspect_of_a_menu_a_table_and_an_unknown_path(start_emulator: StartEmulator) -> None:
    emulator = start_emulator()
    menu = inspected(emulator.ok(":put [/console inspect as-value request=child path=disk]"))
    assert menu[0] == {"name": "disk", "node-type": "dir", "type": "self"}
    assert {"name": "add", "node-type": "cmd", "type": "child"} in menu
    assert emulator.ok(":put [/console inspect as-value request=child path=disk,nothing]") == "\n"
    table = emulator.ok("/console inspect request=child path=disk,remove").splitlines()
    assert table[0] == "Columns: TYPE, NAME, NODE-TYPE"
    assert table[2].split() == ["self", "remove", "cmd"] and table[3].split() == ["child", "numbers", "arg"]
    assert emulator.run("/console inspect request=syntax path=disk") == (
        1,
        "input does not match any value of request\n",
    )
