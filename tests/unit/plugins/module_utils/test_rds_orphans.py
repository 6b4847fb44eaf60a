"""Orphan detection: what counts as an orphan, what is protected, and the grace period."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import ManagedPolicy, RdsFile
from ansible_collections.srvlab.rds.plugins.module_utils.rds_orphans import find_orphans, parse_creation_time

from tests.unit.plugins.fake_rds import disk

NOW = datetime(2025, 11, 20, 12, 0, 0, tzinfo=timezone.utc)
OLD = "2025-11-11 14:32:41"
NEW = "2025-11-20 11:59:00"
BASE = "/storage-pool/metal-csi"


def image(name: str, created: str, base: str = BASE) -> RdsFile:
    return RdsFile("%s/%s" % (base, name), ".img file", 1024, created)


def test_creation_times_in_both_console_forms() -> None:
    assert parse_creation_time(OLD) == datetime(2025, 11, 11, 14, 32, 41, tzinfo=timezone.utc)
    assert parse_creation_time("nov/11/2025 14:32:41") == parse_creation_time(OLD)
    assert parse_creation_time("soon") is None
    assert parse_creation_time("2025-13-40 99:00:00") is None


def test_only_old_managed_unused_things_are_removable() -> None:
    snapshot = replace(disk("snapshot-1"), comment="rds-csi snapshot source=pvc-live created=1")
    disks = [
        disk("pvc-live"),
        disk("pvc-old"),
        disk("pvc-young"),
        disk("pvc-unknown-age", file_path="/storage-pool/elsewhere/pvc-unknown-age.img"),
        snapshot,
        disk("diskless-node-1", exported=True, nqn="nqn.2000-02.com.mikrotik:diskless-node-1"),
        disk("pvc-foreign-nqn", exported=True, nqn="nqn.2010-01.example:other"),
    ]
    files = [
        image("pvc-live.img", OLD),
        image("pvc-old.img", OLD),
        image("pvc-young.img", NEW),
        image("snapshot-1.img", OLD),
        image("diskless-node-1.img", OLD),
        image("pvc-foreign-nqn.img", OLD),
        image("pvc-stray.img", OLD),
        image("pvc-pv-without-disk.img", OLD),
        image("pvc-stray-young.img", NEW),
        RdsFile(BASE + "/notes.txt", "file", 10, OLD),
    ]
    orphans = find_orphans(
        disks,
        files,
        {"pvc-live", "pvc-pv-without-disk"},
        policy=ManagedPolicy(),
        base_path=BASE,
        now=NOW,
        grace_seconds=3600,
    )
    summary = [(orphan.kind, orphan.slot or orphan.file_path, orphan.removable) for orphan in orphans]
    assert summary == [
        ("disk", "pvc-old", True),
        ("disk", "pvc-unknown-age", False),
        ("disk", "pvc-young", False),
        ("file", BASE + "/pvc-stray-young.img", False),
        ("file", BASE + "/pvc-stray.img", True),
    ]
    assert orphans[1].reason.startswith("age unknown")
    assert orphans[2].reason == "younger than the grace period"
    assert orphans[0].as_dict()["created"] == "2025-11-11T14:32:41+00:00"
