"""Sizes, error classification, the version table and the disk model (pure logic)."""

from pathlib import Path

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import (
    ManagedPolicy,
    capacity_from_item,
    disk_from_item,
    file_from_item,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import (
    AlreadyExistsError,
    InUseError,
    InvalidValueError,
    NoSpaceError,
    NotFoundError,
    ParseError,
    RdsCommandError,
    classify,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_sizes import (
    format_size,
    parse_grouped_integer,
    parse_human_size,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_versions import (
    DiskFields,
    RouterOsVersion,
    fields_for,
)
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_output import parse_detail

FIXTURES = Path(__file__).parent.parent / "fixtures" / "routeros"
GIB = 1024**3


# parse_size: tests/unit/plugins/module_utils/test_rds_sizes.py


def test_grouped_and_human_sizes() -> None:
    assert parse_grouped_integer("53 687 091 200") == 53687091200
    assert parse_grouped_integer("53 687091 200") == 53687091200
    assert parse_human_size("50.0GiB") == 50 * GIB
    assert parse_human_size("1.5TiB") == 3 * 1024**4 // 2
    assert parse_human_size("512B") == 512
    with pytest.raises(ParseError):
        parse_grouped_integer("12a")
    with pytest.raises(ParseError):
        parse_human_size("fast")
    assert format_size(10 * GIB) == "10GiB"
    assert format_size(GIB + 1) == "1073741825 bytes"


@pytest.mark.parametrize(
    ("output", "status", "error_class"),
    [
        ("failure: no such item\n", 1, NotFoundError),
        ("failure: no such item\n", 0, NotFoundError),
        ("failure: not enough space\n", 0, NoSpaceError),
        ("not enough space on disk\n", 1, NoSpaceError),
        ("failure: disk with such slot already exists\n", 1, AlreadyExistsError),
        ("failure: file is in use\n", 1, InUseError),
        ("bad command name frobnicate (line 1 column 7)\n", 1, InvalidValueError),
        ("expected end of command (line 1 column 40)\n", 0, InvalidValueError),
        ("invalid value for argument file-size\n", 1, InvalidValueError),
        ("syntax error (line 1 column 3)\n", 1, InvalidValueError),
        ("ambiguous value of type\n", 1, InvalidValueError),
        ("input does not match any value of nvme-tcp-export\n", 1, InvalidValueError),
        ("failure: something new\n", 0, RdsCommandError),
        ("", 3, RdsCommandError),
    ],
)
def test_classify_errors(output: str, status: int, error_class: type) -> None:
    error = classify(output, status, "/disk add")
    assert error.__class__ is error_class
    assert "/disk add" in str(error)


@pytest.mark.parametrize(
    "output",
    [
        "",
        ' 0    slot="no such item" comment="not enough space"\n',
        "  name: already exists-router\n",
        (FIXTURES / "disk_print_detail__r4_example.txt").read_text(),
    ],
)
def test_successful_output_is_not_an_error(output: str) -> None:
    assert classify(output, 0, "/disk print") is None
    assert classify(output, 0, "/disk print; /file print", several=True) is None


def test_in_a_line_of_several_commands_the_error_comes_after_the_earlier_output() -> None:
    printed = (FIXTURES / "disk_print_detail__single_unnumbered.txt").read_text()
    error = classify(printed + "failure: not enough space\n", 0, "/disk print; /disk add", several=True)
    assert error.__class__ is NoSpaceError
    assert classify(printed + "failure: not enough space\n", 0, "/disk print") is None, "one command: first line"


def test_version_table() -> None:
    assert RouterOsVersion.parse("7.16 (stable)") == RouterOsVersion(7, 16, 0, "stable")
    assert RouterOsVersion.parse("7.21.2 (testing)") > RouterOsVersion.parse("7.21")
    assert str(RouterOsVersion.parse("7.16.1 (stable)")) == "7.16.1 (stable)"
    assert fields_for(RouterOsVersion(7, 22, 1)).file_size == "file-size"
    with pytest.raises(ParseError):
        RouterOsVersion.parse("stable")


def test_disks_from_the_r4_example() -> None:
    items = parse_detail((FIXTURES / "disk_print_detail__r4_example.txt").read_text())
    csi, system = (disk_from_item(item, DiskFields()) for item in items)
    assert csi.size == 10 * GIB and csi.size_exact
    assert csi.export.enabled and csi.export.port == 4420
    assert csi.export.nqn == "nqn.2000-02.com.mikrotik:pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11"
    assert system.size == 200 * GIB
    policy = ManagedPolicy()
    assert policy.is_managed(csi)
    assert not policy.is_managed(system)


def test_managed_policy_needs_both_prefixes() -> None:
    items = parse_detail(
        ' 0    type=file slot="pvc-x" nvme-tcp-export=yes nvme-tcp-server-nqn="nqn.2000-02.com.mikrotik:other"\n'
    )
    assert not ManagedPolicy().is_managed(disk_from_item(items[0], DiskFields()))


def test_disk_without_exact_size_falls_back_to_the_human_form() -> None:
    items = parse_detail(' 0 X  ;;; note\n      type=file slot="a" file-size=1.5TiB\n')
    disk = disk_from_item(items[0], DiskFields())
    assert disk.size == 3 * 1024**4 // 2 and not disk.size_exact
    assert disk.disabled and disk.comment == "note"


def test_files_and_capacity() -> None:
    items = parse_detail((FIXTURES / "file_print_detail__img_file.txt").read_text())
    image = file_from_item(items[2])
    assert image.path == "/storage-pool/metal-csi/pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11.img"
    assert image.is_disk_image and image.size == 10 * GIB
    assert file_from_item(items[0]).type == "directory"
    pool = capacity_from_item(
        parse_detail((FIXTURES / "disk_print_detail__pool_partition.txt").read_text())[0], "storage-pool"
    )
    assert pool.size == 7681574174720 and pool.free == 7301927047168
    assert pool.used == pool.size - pool.free
    with pytest.raises(ParseError):
        capacity_from_item(items[0], "storage-pool")
