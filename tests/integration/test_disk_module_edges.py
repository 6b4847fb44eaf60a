"""The edges of the disk, nvme_export and directory modules, by real ansible-playbook against the emulator.

Each refusal must come before anything changes (check mode predicts it too), a failure part way must
report ``changed`` with what was applied, and nothing may be created outside the managed paths or left
behind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import DiskSpec, ExportSpec
from rds_emulator.faults import Fault, FaultKind
from rds_emulator.server import EmulatorServer

from tests.integration.playbooks import connection_defaults, run_playbook

GIB = 1024**3
BASE = "/storage-pool/metal-csi"
SYSTEM_NQN = "nqn.2000-02.com.mikrotik:diskless-node-1"


def disk_task(name: str, check: bool = False, **options: Any) -> dict[str, Any]:
    task: dict[str, Any] = {"register": name, "srvlab.rds.disk": options}
    if check:
        task["check_mode"] = True
    return task


def file_paths(rds: RdsClient) -> set[str]:
    return {entry.path for entry in rds.list_files()}


def test_check_mode_foresees_what_would_fail_and_paths_stay_confined(
    tmp_path: Path, emulator: EmulatorServer, client_key: tuple[Path, Path], rds: RdsClient
) -> None:
    defaults = connection_defaults(emulator, client_key[0])
    rds.add_disk(DiskSpec("pvc-used", BASE + "/pvc-used.img", GIB))
    rds.add_disk(DiskSpec("pvc-kept", BASE + "/pvc-kept.img", GIB))
    rds.remove_disk("pvc-kept", remove_file=False)
    free = rds.pool_capacity().free
    files_before = file_paths(rds)
    refusals = {
        "too_big": (
            {"slot": "pvc-big", "size": free + GIB},
            "Not enough space in pool storage-pool for disk 'pvc-big'",
        ),
        "not_img": ({"slot": "pvc-x", "size": GIB, "file_path": BASE + "/pvc-x.raw"}, "must end in .img"),
        "outside": (
            {"slot": "pvc-x", "size": GIB, "file_path": "/storage-pool/elsewhere/x.img"},
            "outside the managed base paths (/storage-pool/metal-csi)",
        ),
        "system": (
            {"slot": "pvc-x", "size": GIB, "file_path": "/etc/foo/x.img", "force": True},
            "not in a storage pool of the RDS (no pool is mounted at /etc)",
        ),
        "taken": (
            {"slot": "pvc-x", "size": GIB, "file_path": BASE + "/pvc-used.img"},
            "already belongs to disk 'pvc-used'",
        ),
        "orphan": (
            {"slot": "pvc-kept", "size": GIB},
            "state=absent file_path=/storage-pool/metal-csi/pvc-kept.img",
        ),
        "slash": ({"slot": "pvc-a/b", "size": GIB}, "must not contain '/'"),
    }
    tasks = [
        disk_task(name + suffix, check, **options)
        for suffix, check in (("_c", True), ("", False))
        for name, (options, _message) in refusals.items()
    ]
    run = run_playbook(tmp_path, tasks, defaults)
    for name, (_options, message) in refusals.items():
        for label in (name + "_c", name):
            result = run[label]
            assert result["failed"] and not result["changed"], (label, result)
            assert message in result["msg"], (label, result["msg"])
            assert "Traceback" not in result["msg"]
    assert file_paths(rds) == files_before
    assert rds.get_disk("pvc-x") is None and rds.get_disk("pvc-big") is None


def test_partial_failures_report_what_was_applied(
    tmp_path: Path, emulator: EmulatorServer, client_key: tuple[Path, Path], rds: RdsClient
) -> None:
    defaults = connection_defaults(emulator, client_key[0])
    rds.add_disk(DiskSpec("pvc-a", BASE + "/pvc-a.img", GIB))
    # Every attempt to set the comment finds the pool full; growing (file-size) still works.
    emulator.set_faults([Fault(FaultKind.NO_SPACE, match="comment=")])
    tasks = [
        disk_task("grow_then_comment", slot="pvc-a", size="2GiB", comment="grown"),
        disk_task("list", disks=[{"slot": "pvc-b", "size": GIB}, {"slot": "pvc-c", "size": GIB, "comment": "c"}]),
        disk_task(
            "new_directory",
            slot="pvc-d",
            size=GIB,
            comment="d",
            file_path="/storage-pool/elsewhere/deep/pvc-d.img",
            force=True,
        ),
    ]
    run = run_playbook(tmp_path, tasks, defaults)
    emulator.set_faults([])
    grown = run["grow_then_comment"]
    assert grown["failed"] and grown["changed"]
    assert grown["applied"] == ["pvc-a: grow to 2GiB (2147483648 bytes)"]
    assert "Applied before the failure: pvc-a: grow to 2GiB" in grown["msg"]
    listed = run["list"]
    assert listed["failed"] and listed["changed"]
    assert listed["applied"] == ["pvc-b: create pvc-b of 1GiB (1073741824 bytes) at %s/pvc-b.img" % BASE]
    assert "Error while changing disk 'pvc-c'" in listed["msg"]
    # The disk could not be created, so the directories made for it are gone again.
    directory = run["new_directory"]
    assert directory["failed"] and not directory["changed"] and directory["applied"] == []
    assert not any(path.startswith("/storage-pool/elsewhere") for path in file_paths(rds))
    disk = rds.get_disk("pvc-a")
    assert disk is not None and disk.size == 2 * GIB
    assert rds.get_disk("pvc-b") is not None and rds.get_disk("pvc-c") is None


def test_force_guards_ignored_values_messages_and_leftover_files(
    tmp_path: Path, emulator: EmulatorServer, client_key: tuple[Path, Path], rds: RdsClient
) -> None:
    defaults = connection_defaults(emulator, client_key[0])
    rds.ensure_directory("/storage-pool/system")
    rds.add_disk(DiskSpec("diskless-node-1", "/storage-pool/system/node-1.img", GIB, ExportSpec(nqn=SYSTEM_NQN)))
    rds.add_disk(DiskSpec("pvc-a", BASE + "/pvc-a.img", 2 * GIB, ExportSpec(nqn="nqn.2000-02.com.mikrotik:pvc-a")))
    rds.add_disk(DiskSpec("pvc-r", BASE + "/pvc-r.img", GIB))
    tasks = [
        disk_task("empty_prefix", slot="diskless-node-1", state="absent", managed_slot_prefix=""),
        disk_task("unexport_system", slot="diskless-node-1", nvme_export=False),
        {"register": "unexport_system_2", "srvlab.rds.nvme_export": {"slot": "diskless-node-1", "enabled": False}},
        disk_task("port_zero", slot="pvc-a", nvme_port=0),
        disk_task("port_without_export", slot="pvc-new", size=GIB, nvme_port=4421),
        {
            "register": "first_secret",
            "srvlab.rds.nvme_export": {"slot": "pvc-a", "nvme_password": "first-secret"},
        },
        {
            "register": "second_secret",
            "srvlab.rds.nvme_export": {"slot": "pvc-a", "nvme_password": "second-secret"},
        },
        disk_task("shrink", slot="pvc-a", size=GIB, force=True),
        disk_task("keep_file", slot="pvc-r", state="absent", remove_file=False),
        disk_task("recreate", slot="pvc-r", size=GIB),
        disk_task("remove_leftover", slot="pvc-r", state="absent", file_path=BASE + "/pvc-r.img"),
        disk_task("remove_leftover_again", slot="pvc-r", state="absent", file_path=BASE + "/pvc-r.img"),
        disk_task("recreate_after", slot="pvc-r", size=GIB),
        disk_task("forced", slot="pvc-f", size=GIB, file_path="/storage-pool/elsewhere/deep/f.img", force=True),
        disk_task("forced_gone", slot="pvc-f", state="absent", force=True),
        disk_task("deeper", slot="pvc-g", size=GIB, file_path=BASE + "/deeper/g.img"),
        disk_task("deeper_gone", slot="pvc-g", state="absent"),
        {"register": "directory_on_image", "srvlab.rds.directory": {"paths": [BASE + "/pvc-a.img"]}},
        {"register": "directory_outside", "srvlab.rds.directory": {"paths": ["/etc/foo"]}},
    ]
    run = run_playbook(tmp_path, tasks, defaults)
    assert "empty prefix would make every disk on the RDS managed" in run["empty_prefix"]["msg"]
    for name in ("unexport_system", "unexport_system_2"):
        assert run[name]["failed"], name
        assert "Refusing to change the export of disk 'diskless-node-1'" in run[name]["msg"]
    system = rds.get_disk("diskless-node-1")
    assert system is not None and system.export.enabled and system.export.nqn == SYSTEM_NQN
    assert "port 0 of disk 'pvc-a' is out of range" in run["port_zero"]["msg"]
    assert "apply only to an exported disk" in run["port_without_export"]["msg"]
    assert run["first_secret"]["changed"] and not run["second_secret"]["changed"]
    assert any("update_nvme_password: always" in warning for warning in run["second_secret"]["warnings"])
    # (Ansible itself quotes the task's source next to a warning, so only the results are checked here.)
    assert "second-secret" not in json.dumps(run.results) and "first-secret" not in json.dumps(run.results)
    shrink = run["shrink"]["msg"]
    assert "cannot shrink" in shrink and "force" not in shrink and "copy the data" in shrink
    assert run["keep_file"]["changed"]
    assert "state=absent file_path=/storage-pool/metal-csi/pvc-r.img" in run["recreate"]["msg"]
    assert run["remove_leftover"]["changed"] and run["remove_leftover"]["actions"] == [
        "remove orphaned backing file /storage-pool/metal-csi/pvc-r.img"
    ]
    assert not run["remove_leftover_again"]["changed"]
    assert run["recreate_after"]["changed"]
    assert run["forced"]["changed"] and run["deeper"]["changed"]
    assert run["forced_gone"]["actions"] == [
        "remove disk and backing file /storage-pool/elsewhere/deep/f.img",
        "remove directory /storage-pool/elsewhere/deep if it is left empty",
        "remove directory /storage-pool/elsewhere if it is left empty",
    ]
    # Removal leaves no directory behind, except the managed base path itself.
    assert not any(path.startswith(("/storage-pool/elsewhere", BASE + "/deeper")) for path in file_paths(rds))
    assert BASE in file_paths(rds)
    assert "is a file (.img file), not a directory" in run["directory_on_image"]["msg"]
    assert "not in a storage pool of the RDS" in run["directory_outside"]["msg"]
    assert "/etc/foo" not in file_paths(rds) and "/etc" not in file_paths(rds)
