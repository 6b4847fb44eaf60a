"""`/disk` through real SSH: sparse files, grow, set, remove, copy-from, capacity and errors."""

from __future__ import annotations

import json
import os

import pytest
from emulator_harness import Emulator, StartEmulator

pytestmark = pytest.mark.timeout(60)

GIB = 1024**3
DIR = "/storage-pool/metal-csi"


@pytest.fixture
def pool(emulator: Emulator) -> Emulator:
    emulator.ok("/file add name=storage-pool/metal-csi type=directory")
    return emulator


def add(emulator: Emulator, slot: str, size: str = "1G", *extra: str) -> tuple[int, str]:
    return emulator.run(
        f"/disk add type=file file-path={DIR}/{slot}.img file-size={size} slot={slot} {' '.join(extra)}"
    )


def detail(emulator: Emulator, where: str = "") -> str:
    return emulator.ok(f"/disk print detail without-paging {where}".rstrip())


def test_add_creates_a_sparse_backing_file(pool: Emulator) -> None:
    assert add(pool, "pvc-1", "10G") == (0, "")

    status = os.stat(pool.files / "storage-pool/metal-csi/pvc-1.img")
    assert status.st_size == 10 * GIB
    assert status.st_blocks * 512 < 1024 * 1024
    text = detail(pool, 'where slot="pvc-1"')
    assert text.startswith("Flags: ")
    assert 'slot="pvc-1"' in text and "size=10 737 418 240" in text and "file-size=10.0GiB" in text


def test_grow_and_refuse_to_shrink(pool: Emulator) -> None:
    add(pool, "pvc-1", "1G")

    assert pool.run("/disk set [find slot=pvc-1] file-size=2G") == (0, "")
    assert os.stat(pool.files / "storage-pool/metal-csi/pvc-1.img").st_size == 2 * GIB
    assert pool.run("/disk set [find slot=pvc-1] file-size=1G") == (
        1,
        "invalid value for argument file-size\n",
    )
    assert pool.run("/disk set [find slot=pvc-1] file-size=2147483648") == (0, "")
    assert os.stat(pool.files / "storage-pool/metal-csi/pvc-1.img").st_size == 2 * GIB


def test_set_changes_fields_and_exports(pool: Emulator) -> None:
    add(pool, "pvc-1")

    pool.ok(
        '/disk set [find slot="pvc-1"] comment="copy-of=pvc-0" nvme-tcp-export=yes '
        "nvme-tcp-server-port=4421 nvme-tcp-server-password=s3cret "
        'nvme-tcp-server-allow-host-name="nqn.2014-08.org.nvmexpress:uuid:1,nqn.h2"'
    )

    text = detail(pool, "where slot=pvc-1")
    assert " 0    ;;; copy-of=pvc-0\n" in text
    assert 'nvme-tcp-server-nqn="nqn.2000-02.com.mikrotik:pvc-1"' in text
    assert "s3cret" not in text
    exports = json.loads((pool.server.state_dir / "exports.json").read_text())
    assert exports == {
        "nqn.2000-02.com.mikrotik:pvc-1": {
            "slot": "pvc-1",
            "file": str((pool.files / "storage-pool/metal-csi/pvc-1.img").absolute()),
            "port": 4421,
            "allowed_host_nqns": ["nqn.2014-08.org.nvmexpress:uuid:1", "nqn.h2"],
            "dh_chap_secret": "s3cret",
        }
    }
    pool.ok("/disk set [find slot=pvc-1] disabled=yes")
    assert json.loads((pool.server.state_dir / "exports.json").read_text()) == {}
    assert " 0 X  ;;; copy-of=pvc-0" in detail(pool, "where slot=pvc-1")


def test_remove_keeps_the_backing_file(pool: Emulator) -> None:
    add(pool, "pvc-1")

    assert pool.run("/disk remove [find slot=pvc-1]") == (0, "")

    assert pool.slots() == []
    assert (pool.files / "storage-pool/metal-csi/pvc-1.img").exists()


def test_set_and_remove_matching_nothing_are_silent(pool: Emulator) -> None:
    add(pool, "pvc-1")
    before = (pool.server.state_dir / "config.json").read_text()

    assert pool.run("/disk set [find slot=nope] comment=x") == (0, "")
    assert pool.run('/disk remove [find where slot~"^zzz"]') == (0, "")

    assert (pool.server.state_dir / "config.json").read_text() == before


def test_a_name_that_matches_nothing_is_no_such_item(pool: Emulator) -> None:
    assert pool.run("/disk remove nope") == (1, "failure: no such item\n")


def test_copy_from_copies_data_sparsely_and_independently(pool: Emulator) -> None:
    add(pool, "src", "64M")
    source = pool.files / "storage-pool/metal-csi/src.img"
    with source.open("r+b") as stream:
        stream.seek(32 * 1024 * 1024)
        stream.write(b"payload")

    status, output = pool.run(
        f"/disk add type=file copy-from=[find slot=src] file-path={DIR}/dst.img slot=dst file-size=128M"
    )

    assert (status, output) == (0, "")
    copy = pool.files / "storage-pool/metal-csi/dst.img"
    assert copy.stat().st_size == 128 * 1024 * 1024
    assert copy.stat().st_blocks * 512 <= 1024 * 1024
    with copy.open("rb") as stream:
        stream.seek(32 * 1024 * 1024)
        assert stream.read(7) == b"payload"
    with copy.open("r+b") as stream:
        stream.write(b"changed")
    assert source.read_bytes()[:7] == bytes(7)
    assert pool.slots() == ["src", "dst"]


def test_copy_from_defaults_to_the_source_size(pool: Emulator) -> None:
    add(pool, "src", "64M")

    pool.ok(f'/disk add type=file copy-from=[find slot="src"] file-path={DIR}/dst.img slot=dst')

    assert (pool.files / "storage-pool/metal-csi/dst.img").stat().st_size == 64 * 1024 * 1024


@pytest.mark.parametrize(
    ("copy_from", "size", "message"),
    [
        ("[find slot=nope]", "", "failure: no such item"),
        ("[find]", "", "ambiguous value of copy-from"),
        ("[find slot=src]", "file-size=1M", "invalid value for argument file-size"),
    ],
)
def test_copy_from_errors(pool: Emulator, copy_from: str, size: str, message: str) -> None:
    add(pool, "src", "64M")

    status, output = pool.run(f"/disk add type=file copy-from={copy_from} file-path={DIR}/dst.img slot=dst {size}")

    assert (status, output) == (1, f"{message}\n")
    assert not (pool.files / "storage-pool/metal-csi/dst.img").exists()


def test_capacity_drops_as_data_is_written(pool: Emulator) -> None:
    add(pool, "pvc-1", "64M")

    def free() -> int:
        text = detail(pool, 'where mount-point="storage-pool"')
        return int(text.split("free=")[1].split(" use=")[0].replace(" ", ""))

    before = free()
    with (pool.files / "storage-pool/metal-csi/pvc-1.img").open("r+b") as stream:
        stream.write(os.urandom(8 * 1024 * 1024))
        stream.flush()
        os.fsync(stream.fileno())

    assert before - free() >= 8 * 1024 * 1024


def test_out_of_space_leaves_nothing_behind(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(pool_size=100 * 1024 * 1024)
    emulator.ok("/file add name=storage-pool/metal-csi type=directory")

    assert add(emulator, "big", "200M") == (1, "failure: not enough space\n")
    assert not (emulator.files / "storage-pool/metal-csi/big.img").exists()
    assert emulator.slots() == []

    add(emulator, "small", "60M")
    assert emulator.run("/disk set [find slot=small] file-size=200M") == (1, "failure: not enough space\n")
    assert (emulator.files / "storage-pool/metal-csi/small.img").stat().st_size == 60 * 1024 * 1024
    status, output = emulator.run(
        f"/disk add type=file copy-from=[find slot=small] file-path={DIR}/c.img slot=c file-size=150M"
    )
    assert (status, output) == (1, "failure: not enough space\n")
    assert not (emulator.files / "storage-pool/metal-csi/c.img").exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (f"type=tmpfs file-path={DIR}/a.img file-size=1G slot=a", "input does not match any value of type"),
        (f"file-path={DIR}/a.img file-size=1G slot=a", "missing value(s) of argument(s) type"),
        (f"type=file file-path={DIR}/a.img file-size=1G", "missing value(s) of argument(s) slot"),
        (f"type=file file-path={DIR}/a.img file-size=1.5G slot=a", "invalid value for argument file-size"),
        (f"type=file file-path={DIR}/a.img file-size=0 slot=a", "invalid value for argument file-size"),
        (
            "type=file file-path=storage-pool/a.img file-size=1G slot=a",
            "invalid value for argument file-path",
        ),
        ("type=file file-path=/other-pool/a.img file-size=1G slot=a", "invalid value for argument file-path"),
        (f"type=file file-path={DIR}/a.raw file-size=1G slot=a", "invalid value for argument file-path"),
        (f"type=file file-path={DIR}/../a.img file-size=1G slot=a", "invalid value for argument file-path"),
        (
            "type=file file-path=/storage-pool/nodir/a.img file-size=1G slot=a",
            "failure: directory does not exist",
        ),
        (
            f"type=file file-path={DIR}/a.img file-size=1G slot=a nvme-tcp-export=maybe",
            "input does not match any value of nvme-tcp-export",
        ),
        (
            f"type=file file-path={DIR}/a.img file-size=1G slot=a nvme-tcp-server-port=70000",
            "invalid value for argument nvme-tcp-server-port",
        ),
        (
            f"type=file file-path={DIR}/a.img file-size=1G slot=storage-pool",
            "failure: disk with such slot already exists",
        ),
    ],
)
def test_add_errors(pool: Emulator, arguments: str, message: str) -> None:
    assert pool.run(f"/disk add {arguments}") == (1, f"{message}\n")
    assert pool.slots() == []


def test_conflicts_with_existing_disks_and_files(pool: Emulator) -> None:
    add(pool, "a", "1G", "nvme-tcp-export=yes", "nvme-tcp-server-nqn=nqn.x:shared")

    assert add(pool, "a", "1G") == (1, "failure: disk with such slot already exists\n")
    assert pool.run(f"/disk add type=file file-path={DIR}/a.img file-size=1G slot=b") == (
        1,
        "failure: file already exists\n",
    )
    assert add(pool, "c", "1G", "nvme-tcp-export=yes", "nvme-tcp-server-nqn=nqn.x:shared") == (
        1,
        "failure: nqn already in use\n",
    )
    assert add(
        pool,
        "d",
        "1G",
        "nvme-tcp-export=yes",
        "nvme-tcp-server-nqn=nqn.x:shared",
        "nvme-tcp-server-port=4421",
    ) == (0, "")
    assert pool.run("/disk set [find slot=d] nvme-tcp-server-port=4420") == (
        1,
        "failure: nqn already in use\n",
    )
    assert pool.slots() == ["a", "d"]


def test_partition_cannot_be_changed(pool: Emulator) -> None:
    assert pool.run("/disk remove [find]") == (1, "failure: can not modify a partition\n")
    assert pool.run("/disk set storage-pool comment=x") == (1, "failure: can not modify a partition\n")


def test_print_filters(pool: Emulator) -> None:
    for slot in ["pvc-a", "pvc-b", "system"]:
        add(pool, slot)
    pool.ok("/disk set [find slot=pvc-b] nvme-tcp-export=yes")

    text = detail(pool, 'where slot~"^pvc-" and nvme-tcp-export=yes')

    assert text.count("type=file") == 1 and 'slot="pvc-b"' in text
    assert detail(pool, "where slot!=system").count(" type=") == 3
    plain = pool.ok("/disk print")
    assert plain.splitlines()[1] == "Columns: SLOT, TYPE, FILE-PATH, SIZE"
    assert pool.run("/disk print where nosuch=1") == (1, "syntax error (line 1 column 19)\n")


def test_monitor_traffic_once_and_streaming(pool: Emulator) -> None:
    add(pool, "pvc-1")

    text = pool.ok("/disk monitor-traffic pvc-1 once")
    assert "slot: pvc-1" in text and "write-bytes: 0" in text
    assert pool.ok("/disk monitor-traffic [find slot=pvc-1] once") == text
    assert pool.run("/disk monitor-traffic nope once") == (1, "failure: no such item\n")

    channel = pool.connect().get_transport().open_session(timeout=10)
    channel.settimeout(10)
    channel.exec_command("/disk monitor-traffic pvc-1")
    received = b""
    while received.count(b"slot: pvc-1") < 2:
        received += channel.recv(4096)
    assert not channel.exit_status_ready()
    channel.close()


def test_wide_console_from_the_login_name(pool: Emulator) -> None:
    add(pool, "pvc-1")

    client = pool.connect(username="admin+cet1000w")
    status, text = pool.run("/disk print detail without-paging where slot=pvc-1", client)

    assert status == 0
    assert len(text.splitlines()) == 3
