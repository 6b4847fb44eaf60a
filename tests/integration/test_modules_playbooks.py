"""The RDS modules run by real ansible-playbook against the emulator over SSH."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import Disk, DiskSpec, ExportSpec
from rds_emulator.server import EmulatorServer

from tests.integration.playbooks import connection_defaults, run_playbook

GIB = 1024**3
HOSTILE_SLOT = 'pvc-h "q"; :disk remove [find] $x\\line'
HOSTILE_COMMENT = 'it\'s "quoted"; /system reboot; [find] $(x) \\\nsecond line \t'
HOST_NQN = "nqn.2014-08.org.nvmexpress:uuid:6c5fbd37-0d8b-4c9e-a2de-4c1bb0f1d3a7"
SYSTEM_NQN = "nqn.2000-02.com.mikrotik:diskless-node-1"


def desired_state_tasks() -> list[dict[str, Any]]:
    """Tasks that declare one final state; run twice, the second run changes nothing."""
    return [
        {
            "register": "grow",
            "srvlab.rds.disk": {
                "slot": "pvc-a",
                "size": "2G",
                "comment": "grown",
                "nvme_export": True,
                "nvme_port": 4421,
            },
        },
        {
            "register": "hostile",
            "srvlab.rds.disk": {
                "slot": HOSTILE_SLOT,
                "file_path": "/storage-pool/metal-csi/pvc-hostile.img",
                "size": GIB,
                "comment": HOSTILE_COMMENT,
            },
        },
        {
            "register": "listed",
            "srvlab.rds.disk": {
                "disks": [
                    {"slot": "pvc-b", "size": GIB, "nvme_export": True},
                    {"slot": "pvc-c", "size": "1GiB", "file_path": "/storage-pool/metal-csi/deeper/pvc-c.img"},
                    {"slot": "pvc-gone", "state": "absent"},
                ]
            },
        },
        {
            "register": "export",
            "srvlab.rds.nvme_export": {
                "slot": "pvc-b",
                "allowed_host_nqns": [HOST_NQN],
                "nvme_password": "in-band; secret",
            },
        },
        {"register": "removed", "srvlab.rds.disk": {"slot": "pvc-r", "state": "absent", "remove_file": False}},
    ]


def refusal_tasks() -> list[dict[str, Any]]:
    return [
        {"register": "refuse_unmanaged", "srvlab.rds.disk": {"slot": "diskless-node-1", "state": "absent"}},
        {"register": "refuse_shrink", "srvlab.rds.disk": {"slot": "pvc-a", "size": "1G"}},
        {
            "register": "refuse_nqn",
            "srvlab.rds.nvme_export": {"slot": "pvc-a", "nvme_nqn": "nqn.2000-02.com.mikrotik:pvc-z"},
        },
        {"register": "info", "srvlab.rds.disk_info": {}},
    ]


def snapshot(rds: RdsClient) -> dict[str, Disk]:
    return {disk.slot: disk for disk in rds.list_disks()}


def test_playbooks_create_modify_remove_and_stay_idempotent(
    tmp_path: Path, emulator: EmulatorServer, client_key: tuple[Path, Path], rds: RdsClient
) -> None:
    defaults = connection_defaults(emulator, client_key[0])
    rds.add_disk(
        DiskSpec("pvc-a", "/storage-pool/metal-csi/pvc-a.img", GIB, ExportSpec(nqn="nqn.2000-02.com.mikrotik:pvc-a"))
    )
    rds.add_disk(DiskSpec("pvc-gone", "/storage-pool/metal-csi/pvc-gone.img", GIB))
    rds.add_disk(DiskSpec("pvc-r", "/storage-pool/metal-csi/pvc-r.img", GIB))
    rds.ensure_directory("/storage-pool/system")
    rds.add_disk(DiskSpec("diskless-node-1", "/storage-pool/system/node-1.img", GIB, ExportSpec(nqn=SYSTEM_NQN)))

    # Any valid key line that is not the emulator's: the client's own public key.
    wrong_key = " ".join(client_key[1].read_text().split()[:2])
    wrong_host = [{"register": "wrong_host_key", "srvlab.rds.disk_info": {"host_key": wrong_key}}]
    first = run_playbook(tmp_path, desired_state_tasks() + refusal_tasks() + wrong_host, defaults)
    assert first["grow"]["changed"]
    assert first["grow"]["actions"] == [
        "grow to 2GiB (2147483648 bytes)",
        "set comment",
        "export as nqn.2000-02.com.mikrotik:pvc-a on port 4421",
    ]
    assert first["grow"]["after"]["size"] == 2 * GIB and first["grow"]["after"]["nvme_port"] == 4421
    assert first["hostile"]["after"]["slot"] == HOSTILE_SLOT
    assert [entry["changed"] for entry in first["listed"]["disks"]] == [True, True, True]
    assert first["export"]["after"]["nvme_allowed_host_nqns"] == [HOST_NQN]
    assert first["export"]["after"]["nvme_has_password"]
    assert "in-band; secret" not in first.stdout
    assert first["removed"]["changed"] and first["removed"]["after"] == {}
    assert first["refuse_unmanaged"]["failed"]
    assert "Refusing to remove disk 'diskless-node-1': it is not managed" in first["refuse_unmanaged"]["msg"]
    assert "cannot shrink" in first["refuse_shrink"]["msg"] and "force" not in first["refuse_shrink"]["msg"]
    assert "change the NQN of exported disk 'pvc-a'" in first["refuse_nqn"]["msg"]
    assert first["wrong_host_key"]["failed"]
    assert "Check host_key or known_hosts_file" in first["wrong_host_key"]["msg"]
    expected = {"pvc-a", "pvc-b", "pvc-c", HOSTILE_SLOT, "diskless-node-1"}
    assert {entry["slot"] for entry in first["info"]["disks"]} == expected

    on_rds = snapshot(rds)
    assert set(on_rds) == expected
    assert on_rds[HOSTILE_SLOT].comment == HOSTILE_COMMENT
    assert on_rds["pvc-a"].size == 2 * GIB and on_rds["pvc-a"].export.port == 4421
    assert on_rds["diskless-node-1"].export.nqn == SYSTEM_NQN
    assert on_rds["pvc-c"].file_path == "/storage-pool/metal-csi/deeper/pvc-c.img"  # directories created
    assert rds.get_file("/storage-pool/metal-csi/pvc-gone.img") is None
    assert rds.get_file("/storage-pool/metal-csi/pvc-r.img") is not None  # remove_file: false kept it

    commands_before = emulator.stats.exec_requests
    second = run_playbook(tmp_path, desired_state_tasks(), defaults)
    assert {name: result["changed"] for name, result in second.results.items()} == dict.fromkeys(second.results, False)
    assert snapshot(rds) == on_rds
    # Each of the five tasks reads (version and state) and writes nothing: two or three commands each.
    assert emulator.stats.exec_requests - commands_before <= 5 * 3 + 2


def test_check_mode_predicts_changes_and_leaves_the_rds_alone(
    tmp_path: Path, emulator: EmulatorServer, client_key: tuple[Path, Path], rds: RdsClient
) -> None:
    defaults = connection_defaults(emulator, client_key[0])
    rds.add_disk(
        DiskSpec("pvc-a", "/storage-pool/metal-csi/pvc-a.img", GIB, ExportSpec(nqn="nqn.2000-02.com.mikrotik:pvc-a"))
    )
    rds.add_disk(DiskSpec("pvc-b", "/storage-pool/metal-csi/pvc-b.img", GIB))
    before = snapshot(rds)
    files_before = rds.list_files()
    tasks = [
        {"register": "grow", "srvlab.rds.disk": {"slot": "pvc-a", "size": "3G", "comment": "x"}},
        {
            "register": "listed",
            "srvlab.rds.disk": {"disks": [{"slot": "pvc-b", "state": "absent"}, {"slot": "pvc-d", "size": "5GiB"}]},
        },
        {"register": "unexport", "srvlab.rds.nvme_export": {"slot": "pvc-a", "enabled": False}},
    ]
    # The connection comes from the RDS_* environment variables this time.
    environment = {
        "RDS_HOST": defaults["host"],
        "RDS_PORT": str(defaults["port"]),
        "RDS_USERNAME": "admin",
        "RDS_PRIVATE_KEY_FILE": defaults["private_key_file"],
        "RDS_HOST_KEY": defaults["host_key"],
    }
    run = run_playbook(tmp_path, tasks, {"timeout": 20}, extra_args=("--check", "--diff"), env=environment)
    assert run["grow"]["changed"] and run["grow"]["after"]["size"] == 3 * GIB and run["grow"]["after"]["comment"] == "x"
    assert run["listed"]["changed"]
    assert run["listed"]["disks"][0]["after"] == {}
    assert run["listed"]["disks"][1]["after"]["size"] == 5 * GIB
    assert run["unexport"]["changed"] and not run["unexport"]["after"]["nvme_export"]
    assert snapshot(rds) == before
    assert rds.list_files() == files_before
    # The default callback printed the diffs.
    assert '-    "size": 1073741824,' in run.stdout
    assert '+    "size": 3221225472,' in run.stdout


def test_one_task_declaring_100_disks_reads_once_on_the_second_run(
    tmp_path: Path, emulator: EmulatorServer, client_key: tuple[Path, Path], rds: RdsClient
) -> None:
    """The issue's benchmark: 100 disks in one task; the unchanged second run sends one read (plus the version)."""
    defaults = connection_defaults(emulator, client_key[0])
    disks = [{"slot": "pvc-%03d" % number, "size": "300MiB", "nvme_export": True} for number in range(100)]
    task = [{"register": "declared", "srvlab.rds.disk": {"disks": disks}}]
    counts = []
    for label in ("creating", "unchanged"):
        before = emulator.stats.exec_requests
        run = run_playbook(tmp_path, task, defaults)
        counts.append(emulator.stats.exec_requests - before)
        assert not run["declared"].get("failed"), label
    assert len(rds.list_disks()) == 100
    assert not run["declared"]["changed"]
    # /system resource print and one /disk print detail.
    assert counts[1] == 2, counts
