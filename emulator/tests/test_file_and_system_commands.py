"""`/file` and `/system` through real SSH."""

from __future__ import annotations

import re

import pytest
from emulator_harness import Emulator, StartEmulator

pytestmark = pytest.mark.timeout(60)


def test_file_print_lists_names_without_leading_slash(emulator: Emulator) -> None:
    emulator.ok("/file add name=storage-pool/metal-csi type=directory")
    emulator.ok("/disk add type=file file-path=/storage-pool/metal-csi/x.img file-size=1M slot=x")

    text = emulator.ok('/file print detail without-paging where name~"^storage-pool/metal-csi/"')

    assert re.fullmatch(
        r" 0 name=storage-pool/metal-csi/x\.img type=\.img file size=1 048 576\n"
        r"   creation-time=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n\n",
        text,
    )
    assert "type=directory" in emulator.ok('/file print detail where name="storage-pool/metal-csi"')


def test_old_versions_print_the_old_date_form(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(version="7.11.2 (long-term)")

    text = emulator.ok("/file print detail")

    assert re.search(r"creation-time=[a-z]{3}/\d\d/\d{4} \d\d:\d\d:\d\d", text)
    assert "version: 7.11.2 (long-term)" in emulator.ok("/system resource print")


def test_file_remove_refuses_files_in_use_and_removes_orphans(emulator: Emulator) -> None:
    emulator.ok("/file add name=storage-pool/vols type=directory")
    emulator.ok("/disk add type=file file-path=/storage-pool/vols/a.img file-size=1M slot=a")
    backing = emulator.files / "storage-pool/vols/a.img"

    assert emulator.run('/file remove [find name="storage-pool/vols/a.img"]') == (
        1,
        "failure: file is in use\n",
    )
    assert emulator.run('/file remove [find name="storage-pool/vols"]') == (1, "failure: file is in use\n")
    assert emulator.run('/file remove [find name="storage-pool"]') == (1, "failure: file is in use\n")
    assert backing.exists()

    emulator.ok("/disk remove [find slot=a]")
    assert emulator.run('/file remove [find name="storage-pool/vols/a.img"]') == (0, "")
    assert not backing.exists()
    assert emulator.run('/file remove [find name="storage-pool/vols/a.img"]') == (0, "")


def test_file_add_makes_directories_whose_parent_exists(emulator: Emulator) -> None:
    assert emulator.run("/file add name=storage-pool/a/b type=directory") == (
        1,
        "failure: directory does not exist\n",
    )
    assert emulator.run("/file add name=storage-pool/a type=directory") == (0, "")
    assert emulator.run("/file add name=storage-pool/a type=directory") == (
        1,
        "failure: file already exists\n",
    )
    assert emulator.run("/file add name=storage-pool/../x type=directory") == (
        1,
        "invalid value for argument name\n",
    )
    assert emulator.run("/file add name=storage-pool/b type=file") == (
        1,
        "input does not match any value of type\n",
    )
    assert (emulator.files / "storage-pool/a").is_dir()


def test_system_resource_print(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(version="7.20.1 (stable)")

    text = emulator.ok("/system resource print")

    lines = text.splitlines()
    assert "            version: 7.20.1 (stable)" in lines
    assert "         board-name: RDS2216" in lines
    assert "           platform: MikroTik" in lines
    assert len({line.index(":") for line in lines}) == 1
    assert re.search(r"^ +uptime: \d+s$", text, re.MULTILINE)


def test_system_identity_print(start_emulator: StartEmulator) -> None:
    assert start_emulator(identity="rds-lab").ok("/system identity print") == "  name: rds-lab\n"
