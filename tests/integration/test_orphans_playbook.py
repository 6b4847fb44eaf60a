"""srvlab.rds.orphans by ansible-playbook against the emulator and the Kubernetes API fake over HTTP."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import DiskSpec, ExportSpec
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import MIN_DISK_SIZE
from rds_emulator.server import EmulatorServer

from tests.integration.kube_api_fake import KubeApiFake
from tests.integration.playbooks import connection_defaults, run_playbook

BASE = "/storage-pool/metal-csi"
TWO_DAYS = 2 * 86400


def age(emulator: EmulatorServer, path: str, seconds: int) -> None:
    """Back-date a file on the emulator, which prints a file's modification time as its creation time."""
    host_path = emulator.state_dir / "files" / path.lstrip("/")
    moment = time.time() - seconds
    os.utime(host_path, (moment, moment))


def make_disk(rds: RdsClient, slot: str, directory: str = BASE, comment: str = "", nqn: str = "") -> str:
    path = "%s/%s.img" % (directory, slot)
    export = ExportSpec(nqn=nqn) if nqn else None
    rds.add_disk(DiskSpec(slot, path, MIN_DISK_SIZE, export, comment))
    return path


def test_orphans_are_reported_and_only_old_managed_ones_removed(
    tmp_path: Path, emulator: EmulatorServer, client_key: tuple[Path, Path], rds: RdsClient, kube_api: KubeApiFake
) -> None:
    rds.ensure_directory("/storage-pool/system")
    old_paths = [
        make_disk(rds, "pvc-live"),
        make_disk(rds, "pvc-orphan"),
        make_disk(rds, "snapshot-1", comment="rds-csi snapshot source=pvc-live created=1"),
        make_disk(rds, "diskless-node-1", "/storage-pool/system", nqn="nqn.2000-02.com.mikrotik:diskless-node-1"),
        make_disk(rds, "pvc-stray"),
        make_disk(rds, "pvc-pv-without-disk"),
    ]
    make_disk(rds, "pvc-young")
    rds.remove_disk("pvc-stray", remove_file=False)
    rds.remove_disk("pvc-pv-without-disk", remove_file=False)
    for path in old_paths:
        age(emulator, path, TWO_DAYS)
    kube_api.add_persistent_volume("pv-live", "pvc-live")
    kube_api.add_persistent_volume("pv-lost", "pvc-pv-without-disk")
    kube_api.add_persistent_volume("pv-other-driver", "pvc-orphan", driver="other.csi.example.com")
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")

    options: dict[str, Any] = {"kubeconfig": str(kubeconfig), "grace_period": 3600}
    tasks: list[dict[str, Any]] = [
        {"register": "report", "srvlab.rds.orphans": options},
        {"register": "predicted", "check_mode": True, "srvlab.rds.orphans": dict(options, state="absent")},
        {"register": "removed", "srvlab.rds.orphans": dict(options, state="absent")},
        {"register": "again", "srvlab.rds.orphans": dict(options, state="absent")},
        {"register": "no_cluster", "srvlab.rds.orphans": dict(options, kubeconfig=str(tmp_path / "missing"))},
    ]
    run = run_playbook(tmp_path, tasks, connection_defaults(emulator, client_key[0]))

    report = run["report"]
    assert not report["changed"] and report["persistent_volumes"] == 2
    assert [(entry["slot"], entry["removable"]) for entry in report["orphan_disks"]] == [
        ("pvc-orphan", True),
        ("pvc-young", False),
    ]
    assert [(entry["file_path"], entry["removable"]) for entry in report["orphan_files"]] == [
        (BASE + "/pvc-stray.img", True)
    ]
    expected = {"removed_disks": ["pvc-orphan"], "removed_files": [BASE + "/pvc-stray.img"]}
    for name in ("predicted", "removed"):
        assert run[name]["changed"]
        assert {key: run[name][key] for key in expected} == expected
    assert not run["again"]["changed"]
    assert run["no_cluster"]["failed"] and "Nothing was compared or removed" in run["no_cluster"]["msg"]

    remaining = {disk.slot for disk in rds.list_disks()}
    assert remaining == {"pvc-live", "snapshot-1", "diskless-node-1", "pvc-young"}
    assert rds.get_file(BASE + "/pvc-orphan.img") is None
    assert rds.get_file(BASE + "/pvc-stray.img") is None
    assert rds.get_file(BASE + "/pvc-pv-without-disk.img") is not None
    assert rds.get_file(BASE + "/snapshot-1.img") is not None
