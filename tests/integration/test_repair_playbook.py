"""playbooks/repair.yml's RDS runbooks by real ansible-playbook against the emulator and the Kubernetes API fake.

The node play's changes use srvlab.rds.nvme_connection, which has its own tests against the test NVMe
fabric; here they never run. Without a named node only the RDS play runs, although the inventory has a
regular node; the inspect step is also run on that node (this host's real /sys, without become): it
only reads, so it reports the volume as not connected there.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import DiskSpec, ExportSpec
from rds_emulator.server import EmulatorServer

from tests.integration.kube_api_fake import KubeApiFake
from tests.integration.playbooks import REPO, run_ansible_playbook

GIB = 1024**3
BASE = "/storage-pool/metal-csi"


def _repair(tmp_path: Path, inventory: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return run_ansible_playbook(tmp_path, inventory, REPO / "playbooks" / "repair.yml", *arguments)


def _inventory(tmp_path: Path, emulator: EmulatorServer, private_key: Path) -> Path:
    host, port = emulator.address
    inventory = {
        "all": {
            "hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}},
            "children": {
                "rds": {
                    "hosts": {
                        "rds1": {
                            "ansible_host": host,
                            "ansible_connection": "local",
                            "ansible_python_interpreter": sys.executable,
                            "rds_storage_port": port,
                            "rds_storage_private_key_file": str(private_key),
                            "rds_storage_host_key": emulator.host_public_key_line,
                        }
                    }
                },
                # Without -e repair_node no node task may run: this node would fail a change (no NVMe).
                "csi_nodes_regular": {
                    "hosts": {"node1": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}
                },
            },
        }
    }
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def test_rds_runbooks(
    tmp_path: Path, emulator: EmulatorServer, client_key: tuple[Path, Path], rds: RdsClient, kube_api: KubeApiFake
) -> None:
    rds.add_disk(
        DiskSpec("pvc-live", BASE + "/pvc-live.img", GIB, export=ExportSpec(nqn="nqn.2000-02.com.mikrotik:pvc-live"))
    )
    rds.add_disk(DiskSpec("pvc-orphan", BASE + "/pvc-orphan.img", GIB))
    rds.set_export("pvc-live", ExportSpec(enabled=False))
    kube_api.add_persistent_volume("pv-live", "pvc-live")
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    inventory = _inventory(tmp_path, emulator, client_key[0])

    commands_before = emulator.stats.exec_requests
    untagged = _repair(tmp_path, inventory, "-e", "volume_id=pvc-live")
    assert untagged.returncode == 0, untagged.stdout + untagged.stderr
    assert emulator.stats.exec_requests == commands_before

    node_inspect = ("-e", "repair_node=node1", "-e", "ansible_become=false")
    inspected = _repair(tmp_path, inventory, "-t", "inspect", "-e", "volume_id=pvc-live", *node_inspect)
    assert inspected.returncode == 0, inspected.stdout + inspected.stderr
    assert '"nvme_export": false' in inspected.stdout
    assert '"nqn": "nqn.2000-02.com.mikrotik:pvc-live"' in inspected.stdout
    assert '"connected": false' in inspected.stdout
    recap = inspected.stdout.split("PLAY RECAP")[1]
    assert re.findall(r"(\S+)\s*:.*\bchanged=(\d+)", recap) == [("node1", "0"), ("rds1", "0")], recap

    reexported = _repair(tmp_path, inventory, "-t", "reexport", "-e", "volume_id=pvc-live")
    assert reexported.returncode == 0, reexported.stdout + reexported.stderr
    disk = rds.get_disk("pvc-live")
    assert disk is not None and disk.export.enabled

    grown = _repair(tmp_path, inventory, "-t", "grow", "-e", "volume_id=pvc-live", "-e", "repair_size=2G")
    assert grown.returncode == 0, grown.stdout + grown.stderr
    disk = rds.get_disk("pvc-live")
    assert disk is not None and disk.size == 2 * GIB

    # A mistyped volume ID fails: a repair never creates a disk.
    typo = _repair(tmp_path, inventory, "-t", "grow", "-e", "volume_id=pvc-typo", "-e", "repair_size=2G")
    assert typo.returncode != 0
    assert "Disk 'pvc-typo' does not exist on the RDS, and create is false" in typo.stdout
    assert rds.get_disk("pvc-typo") is None and rds.get_file(BASE + "/pvc-typo.img") is None

    orphans = _repair(tmp_path, inventory, "-t", "orphans", "-e", "repair_kubeconfig=%s" % kubeconfig)
    assert orphans.returncode == 0, orphans.stdout + orphans.stderr
    assert '"pvc-orphan"' in orphans.stdout
    assert rds.get_disk("pvc-orphan") is not None
