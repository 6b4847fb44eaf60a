"""State survives a restart: the disk table with every field, exports and backing files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from emulator_harness import StartEmulator

pytestmark = pytest.mark.timeout(60)


def test_disks_survive_a_restart(start_emulator: StartEmulator, state_dir: Path) -> None:
    first = start_emulator()
    first.ok("/file add name=storage-pool/vols type=directory")
    first.ok(
        "/disk add type=file file-path=/storage-pool/vols/a.img file-size=2M slot=a nvme-tcp-export=yes "
        'comment="two\\nlines" nvme-tcp-server-password=pw disabled=no'
    )
    first.ok("/disk add type=file file-path=/storage-pool/vols/b.img file-size=1M slot=b disabled=yes")
    before = first.ok("/disk print detail without-paging where type=file")
    exports = (state_dir / "exports.json").read_text()
    first.close()
    first.server.stop()

    second = start_emulator()

    assert second.ok("/disk print detail without-paging where type=file") == before
    assert (state_dir / "exports.json").read_text() == exports
    assert (second.files / "storage-pool/vols/a.img").stat().st_size == 2 * 1024 * 1024
    saved = json.loads((state_dir / "config.json").read_text())
    assert saved["next-id"] == 4
    assert saved["disks"][0] == {
        "id": 2,
        "slot": "a",
        "file-path": "/storage-pool/vols/a.img",
        "file-size": 2 * 1024 * 1024,
        "comment": "two\nlines",
        "disabled": False,
        "nvme-tcp-export": True,
        "nvme-tcp-server-port": 4420,
        "nvme-tcp-server-nqn": "nqn.2000-02.com.mikrotik:a",
        "nvme-tcp-server-allow-host-name": "",
        "nvme-tcp-server-password": "pw",
    }
    assert not list(state_dir.glob(".*.tmp"))


def test_a_config_written_before_ids_gets_ids_after_the_partition(
    start_emulator: StartEmulator, state_dir: Path
) -> None:
    fields = {
        "file-size": 1024 * 1024,
        "comment": "",
        "disabled": False,
        "nvme-tcp-export": False,
        "nvme-tcp-server-port": 4420,
        "nvme-tcp-server-nqn": "",
        "nvme-tcp-server-allow-host-name": "",
        "nvme-tcp-server-password": "",
    }
    disks = [{"slot": slot, "file-path": f"/storage-pool/{slot}.img", **fields} for slot in ("a", "b")]
    state_dir.mkdir(parents=True)
    (state_dir / "config.json").write_text(json.dumps({"format": 1, "disks": disks}))

    emulator = start_emulator()

    emulator.ok("/disk remove *3")
    assert emulator.slots() == ["a"]
    assert emulator.ok(":put [/disk add type=file file-path=/storage-pool/c.img file-size=1M slot=c]") == "*4\n"
