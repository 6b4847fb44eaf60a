"""The human layout of R-4: byte-exact against the example fixture, and each quirk on its own."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rds_emulator.entries import DISK_STYLE, FILE_STYLE, disk_entry, file_entry, partition_entry
from rds_emulator.files import FileNode
from rds_emulator.layout import DetailItem, render_detail, render_key_values, wrap_tokens
from rds_emulator.model import Disk, PoolUsage
from rds_emulator.timestamps import format_timestamp, format_uptime
from rds_emulator.units import group_thousands, human_size, parse_size

FIXTURES = Path(__file__).parent / "fixtures"
GIB = 1024**3

R4_DISKS = [
    Disk(
        slot="pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11",
        file_path="/storage-pool/metal-csi/pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11.img",
        file_size=10 * GIB,
        nvme_tcp_export=True,
        nvme_tcp_server_nqn="nqn.2000-02.com.mikrotik:pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11",
    ),
    Disk(
        slot="nixos-r640-var",
        file_path="/storage-pool/system/nixos-r640-var.img",
        file_size=200 * GIB,
        nvme_tcp_export=True,
        nvme_tcp_server_nqn="nqn.2000-02.com.mikrotik:nixos-r640-var",
    ),
]


def _render_disks(disks: list[Disk], width: int = 80) -> str:
    return render_detail([disk_entry(disk).item for disk in disks], DISK_STYLE, width)


def test_r4_example_at_width_80_is_byte_exact() -> None:
    expected = (FIXTURES / "disk-print-detail-without-paging.r4-example.txt").read_text(encoding="utf-8")

    assert _render_disks(R4_DISKS) == expected


def test_r4_example_shows_every_quirk() -> None:
    lines = _render_disks(R4_DISKS).splitlines()

    assert lines[0].startswith("Flags: ")
    assert lines[1].startswith(" 0    type=file slot=")
    assert "size=10 737 418 240" in "\n".join(lines)
    split = next(index for index, line in enumerate(lines) if line.endswith("file-path=/storage-pool/meta"))
    assert len(lines[split]) == 80
    assert lines[split + 1].startswith("      l-csi/pvc-0d6f1c52")
    assert any(line.startswith("      2f0b7f1f0a11") for line in lines), "a continuation starts with digits"
    assert lines.index("") < lines.index(' 1    type=file slot="nixos-r640-var" slot-default="" parent="" fs=-')
    assert all(len(line) <= 80 for line in lines)


def test_wide_console_keeps_each_item_on_one_line() -> None:
    lines = _render_disks(R4_DISKS, width=1024).splitlines()

    assert len(lines) == 5
    assert lines[1].endswith("file-size=10.0GiB file-offset=0")


def test_narrow_console_splits_more() -> None:
    lines = _render_disks(R4_DISKS[:1], width=40).splitlines()

    assert all(len(line) <= 40 for line in lines[1:])
    assert all(line.startswith("      ") for line in lines[2:] if line)
    assert sum(len(line) == 40 for line in lines) >= 3


def test_wrapping_places_whole_tokens_greedily() -> None:
    assert wrap_tokens(["aaa", "bbb", "ccc"], 7) == ["aaa bbb", "ccc"]
    assert wrap_tokens(["aaa", "bbbbbbbbbbb"], 7) == ["aaa bbb", "bbbbbbb", "b"]
    assert wrap_tokens(["aaaaaa", "bbbbbbbbb"], 7) == ["aaaaaa", "bbbbbbb", "bb"]
    assert wrap_tokens(["aaaaaaa", "bbbb"], 7) == ["aaaaaaa", "bbbb"]


@given(
    st.lists(st.text(alphabet="ab= ", min_size=1, max_size=30).filter(str.strip), max_size=12),
    st.integers(min_value=5, max_value=60),
)
def test_wrapping_keeps_every_character_within_the_width(tokens: list[str], available: int) -> None:
    rows = wrap_tokens(tokens, available)

    assert all(len(row) <= available for row in rows)
    assert "".join(rows).replace(" ", "") == "".join(tokens).replace(" ", "")


def test_comment_lines_come_first() -> None:
    disk = Disk(slot="s", file_path="/storage-pool/s.img", file_size=GIB, comment="copy-of=a\nsecond line")

    lines = render_detail([disk_entry(disk).item], DISK_STYLE, 80).splitlines()

    assert lines[1:4] == [
        " 0    ;;; copy-of=a",
        "      ;;; second line",
        '      type=file slot="s" slot-default="" parent="" fs=-',
    ]
    assert "comment=" not in "\n".join(lines)


def test_disabled_flag_and_masked_password() -> None:
    disk = Disk(slot="s", file_path="/storage-pool/s.img", file_size=GIB, disabled=True, nvme_tcp_server_password="pw")

    text = render_detail([disk_entry(disk).item], DISK_STYLE, 200)

    assert text.splitlines()[1].startswith(" 0 X  type=file")
    assert 'nvme-tcp-server-password="*****"' in text
    assert "pw" not in text.replace("password", "")


def test_file_path_quoted_only_when_needed() -> None:
    plain = disk_entry(Disk(slot="s", file_path="/storage-pool/s.img", file_size=GIB)).item
    spaced = disk_entry(Disk(slot="s", file_path="/storage-pool/a b.img", file_size=GIB)).item

    assert dict(plain.properties)["file-path"] == "/storage-pool/s.img"
    assert dict(spaced.properties)["file-path"] == '"/storage-pool/a b.img"'
    assert dict(plain.properties)["slot"] == '"s"'


def test_item_numbers_widen_past_99() -> None:
    items = [DetailItem((("k", "v"),)) for _index in range(101)]

    lines = render_detail(items, DISK_STYLE, 80).splitlines()

    assert lines[1] == "  0    k=v"
    assert lines[-2] == "100    k=v"


def test_partition_entry_like_r5() -> None:
    pool = PoolUsage(name="storage-pool", size=7_681_574_174_720, allocated=7_681_574_174_720 - 7_301_927_047_168)

    text = render_detail([partition_entry(pool).item], DISK_STYLE, 400)

    assert text.splitlines()[1].startswith(' 0 M  type=partition slot="storage-pool"')
    assert "mount-point=storage-pool file-system=btrfs size=7 681 574 174 720 free=7 301 927 047 168 use=5%" in text


def test_file_print_names_types_and_sizes() -> None:
    moment = datetime(2025, 11, 11, 14, 32, 41, tzinfo=timezone.utc)
    nodes = [
        FileNode("storage-pool/metal-csi", True, 4096, moment),
        FileNode("storage-pool/metal-csi/x.img", False, 10 * GIB, moment),
        FileNode("storage-pool/notes.txt", False, 12, moment),
    ]

    text = render_detail([file_entry(node, iso_dates=True).item for node in nodes], FILE_STYLE, 80)

    assert text == (
        " 0 name=storage-pool/metal-csi type=directory creation-time=2025-11-11 14:32:41\n\n"
        " 1 name=storage-pool/metal-csi/x.img type=.img file size=10 737 418 240\n"
        "   creation-time=2025-11-11 14:32:41\n\n"
        " 2 name=storage-pool/notes.txt type=file size=12\n"
        "   creation-time=2025-11-11 14:32:41\n\n"
    )


def test_both_time_formats() -> None:
    moment = datetime(2025, 11, 11, 14, 32, 41, tzinfo=timezone.utc)

    assert format_timestamp(moment, iso=True) == "2025-11-11 14:32:41"
    assert format_timestamp(moment, iso=False) == "nov/11/2025 14:32:41"


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (65, "1m5s"), (3605, "1h0m5s"), (8 * 86400 + 1, "1w1d0h0m1s")]
)
def test_uptime(seconds: int, text: str) -> None:
    assert format_uptime(seconds) == text


@pytest.mark.parametrize(
    ("number", "text"), [(0, "0"), (512, "512"), (1000, "1 000"), (53_687_091_200, "53 687 091 200")]
)
def test_grouped_integers(number: int, text: str) -> None:
    assert group_thousands(number) == text


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (512, "512B"),
        (1536, "1.5KiB"),
        (10 * GIB, "10.0GiB"),
        (GIB - 1, "1024.0MiB"),
        (1024 * GIB * 3 // 2, "1.5TiB"),
        (50 * GIB, "50.0GiB"),
    ],
)
def test_human_sizes(number: int, text: str) -> None:
    assert human_size(number) == text


@pytest.mark.parametrize(("text", "number"), [("512", 512), ("4K", 4096), ("10G", 10 * GIB), ("1T", 1024 * GIB)])
def test_sizes_parse(text: str, number: int) -> None:
    assert parse_size(text) == number


@pytest.mark.parametrize("text", ["", "1.5G", "10g", "10GiB", "-1", "G", "1 G", "١٢"])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


def test_key_value_screen() -> None:
    assert render_key_values([("name", "x")]) == "  name: x\n"
    assert render_key_values([("uptime", "1s"), ("board-name", "RDS2216")]) == (
        "      uptime: 1s\n  board-name: RDS2216\n"
    )
