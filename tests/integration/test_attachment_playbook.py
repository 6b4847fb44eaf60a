"""srvlab.rds.attachment by ansible-playbook against the Kubernetes API fake over HTTP and the emulator over SSH.

No external-attacher runs here, so every deleted VolumeAttachment stays (its finalizer holds it) until the
module marks it detached itself, which is the stuck case after an RDS crash.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Optional

import yaml
from ansible_collections.srvlab.rds.plugins.module_utils.kube_attachments import (
    ATTACHED_AT_ANNOTATION,
    ATTACHED_NODE_ANNOTATION,
    OUT_OF_SERVICE_TAINT,
    attacher_finalizer,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import DiskSpec, ExportSpec
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import MIN_DISK_SIZE
from rds_emulator.server import EmulatorServer

from tests.integration.kube_api_fake import KubeApiFake
from tests.integration.playbooks import REPO, connection_defaults, run_ansible_playbook, run_playbook

DRIVER = "rds.csi.srvlab.io"
FINALIZER = attacher_finalizer(DRIVER)
VOLUME_ATTACHMENTS = "storage.k8s.io/v1/volumeattachments"
HOST_NQN = "nqn.2014-08.org.nvmexpress:uuid:0b6f3b8e-2d7c-4a8e-9d1f-6a1b2c3d4e5f"


def put_node(kube_api: KubeApiFake, name: str, ready: bool, out_of_service: bool = False) -> None:
    taints = [{"key": OUT_OF_SERVICE_TAINT, "value": "nodeshutdown", "effect": "NoExecute"}] if out_of_service else []
    condition = {"type": "Ready", "status": "True" if ready else "Unknown", "reason": "NodeStatusUnknown"}
    kube_api.put(
        "v1/nodes",
        None,
        name,
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name},
            "spec": {"taints": taints},
            "status": {"conditions": [condition]},
        },
    )


def put_attachment(
    kube_api: KubeApiFake, name: str, pv: str, node: str, *, deleting: bool = False, detach_error: Optional[str] = None
) -> None:
    metadata: dict[str, Any] = {"name": name, "finalizers": [FINALIZER]}
    if deleting:
        metadata["deletionTimestamp"] = "2026-11-11T15:02:11Z"
    status: dict[str, Any] = {"attached": True}
    if detach_error:
        status["detachError"] = {"message": detach_error, "time": "2026-11-11T15:02:12Z"}
    kube_api.put(
        VOLUME_ATTACHMENTS,
        None,
        name,
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "VolumeAttachment",
            "metadata": metadata,
            "spec": {"attacher": DRIVER, "nodeName": node, "source": {"persistentVolumeName": pv}},
            "status": status,
        },
    )


def annotate(kube_api: KubeApiFake, pv: str, node: str) -> None:
    stored = kube_api.objects()["v1/persistentvolumes", None, pv]
    stored["metadata"]["annotations"] = {ATTACHED_NODE_ANNOTATION: node, ATTACHED_AT_ANNOTATION: "2026-11-11T14:00:00Z"}
    kube_api.put("v1/persistentvolumes", None, pv, stored)


def attachment_names(kube_api: KubeApiFake) -> set[str]:
    return {key[2] for key in kube_api.objects() if key[0] == VOLUME_ATTACHMENTS}


def test_stale_attachments_are_shown_and_cleared_ready_ones_only_with_force(
    tmp_path: Path, emulator: EmulatorServer, client_key: tuple[Path, Path], rds: RdsClient, kube_api: KubeApiFake
) -> None:
    rds.add_disk(
        DiskSpec(
            "pvc-a",
            "/storage-pool/metal-csi/pvc-a.img",
            MIN_DISK_SIZE,
            ExportSpec(nqn="nqn.2000-02.com.mikrotik:pvc-a", allowed_host_nqns=(HOST_NQN,)),
        )
    )
    for pv in ("pvc-a", "pvc-b"):
        kube_api.add_persistent_volume(pv, pv)
    annotate(kube_api, "pvc-a", "node-gone")
    put_node(kube_api, "node-down", ready=False)
    put_node(kube_api, "node-ready", ready=True)
    put_node(kube_api, "node-fenced", ready=True, out_of_service=True)
    put_attachment(kube_api, "va-gone", "pvc-a", "node-gone", deleting=True, detach_error="rpc error: Unavailable")
    put_attachment(kube_api, "va-down", "pvc-a", "node-down")
    put_attachment(kube_api, "va-fenced", "pvc-a", "node-fenced")
    put_attachment(kube_api, "va-live", "pvc-b", "node-ready")
    put_attachment(kube_api, "va-other-volume", "pvc-other", "node-down")
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")

    volume_a = {"volume_id": "pvc-a", "kubeconfig": str(kubeconfig), "detach_timeout": 1}
    volume_b = dict(volume_a, volume_id="pvc-b", node="node-ready", state="absent")
    first: list[dict[str, Any]] = [
        {"register": "picture", "srvlab.rds.attachment": volume_a},
        {"register": "predicted", "check_mode": True, "srvlab.rds.attachment": dict(volume_a, state="absent")},
    ]
    before = kube_api.objects()
    writes = kube_api.writes
    run = run_playbook(tmp_path, first, connection_defaults(emulator, client_key[0]))
    assert kube_api.writes == writes and kube_api.objects() == before

    picture = run["picture"]
    assert not picture["changed"] and picture["cleared"] == []
    assert picture["persistent_volume"] == {
        "name": "pvc-a",
        "attached_node": "node-gone",
        "attached_at": "2026-11-11T14:00:00Z",
    }
    assert [(entry["name"], entry["node"], entry["attached"]) for entry in picture["attachments"]] == [
        ("va-down", "node-down", True),
        ("va-fenced", "node-fenced", True),
        ("va-gone", "node-gone", True),
    ]
    gone = picture["attachments"][2]
    assert gone["deletion_timestamp"].startswith("2026-11-11T15:02:11")
    assert gone["detach_error"] == "rpc error: Unavailable" and gone["finalizers"] == [FINALIZER]
    assert picture["nodes"] == {
        "node-down": {"exists": True, "ready": False, "out_of_service": False},
        "node-fenced": {"exists": True, "ready": True, "out_of_service": True},
        "node-gone": {"exists": False, "ready": None, "out_of_service": False},
    }
    assert picture["allowed_hosts"] == [HOST_NQN] and picture["export_enabled"] and picture["rds_error"] == ""

    predicted = run["predicted"]
    assert predicted["changed"] and predicted["annotations_removed"]
    assert [(entry["name"], entry["deleted"], entry["marked_detached"]) for entry in predicted["cleared"]] == [
        ("va-down", True, True),
        ("va-fenced", True, True),
        ("va-gone", False, True),
    ]

    second: list[dict[str, Any]] = [
        {"register": "cleared", "srvlab.rds.attachment": dict(volume_a, state="absent")},
        {"register": "again", "srvlab.rds.attachment": dict(volume_a, state="absent")},
        {"register": "refused", "srvlab.rds.attachment": volume_b},
        {"register": "force_without_node", "srvlab.rds.attachment": dict(volume_a, state="absent", force=True)},
        {"register": "forced", "srvlab.rds.attachment": dict(volume_b, force=True)},
        {"register": "forced_again", "srvlab.rds.attachment": dict(volume_b, force=True)},
    ]
    run = run_playbook(tmp_path, second, connection_defaults(emulator, client_key[0]))

    cleared = run["cleared"]
    assert cleared["changed"] and cleared["annotations_removed"] and cleared["kept"] == []
    assert [
        (entry["name"], entry["deleted"], entry["marked_detached"], entry["remaining"]) for entry in cleared["cleared"]
    ] == [("va-down", True, True, False), ("va-fenced", True, True, False), ("va-gone", False, True, False)]
    again = run["again"]
    assert not again["changed"] and again["attachments"] == [] and again["cleared"] == []
    assert again["persistent_volume"]["attached_node"] is None

    refused = run["refused"]
    assert refused["failed"]
    assert "va-live" in refused["msg"] and "node-ready" in refused["msg"] and "force=true" in refused["msg"]
    assert run["force_without_node"]["failed"] and "force=true needs node" in run["force_without_node"]["msg"]
    assert run["forced"]["changed"] and [entry["name"] for entry in run["forced"]["cleared"]] == ["va-live"]
    assert not run["forced_again"]["changed"]
    # pvc-b has no disk on the RDS: the picture says so, and the cluster side was still cleared.
    assert run["forced"]["allowed_hosts"] is None and "no disk with slot pvc-b" in run["forced"]["rds_error"]

    assert attachment_names(kube_api) == {"va-other-volume"}
    annotations = kube_api.objects()["v1/persistentvolumes", None, "pvc-a"]["metadata"].get("annotations") or {}
    assert ATTACHED_NODE_ANNOTATION not in annotations and ATTACHED_AT_ANNOTATION not in annotations


def test_unreachable_cluster_fails_naming_the_volume(
    tmp_path: Path, emulator: EmulatorServer, client_key: tuple[Path, Path]
) -> None:
    options = {"volume_id": "pvc-a", "kubeconfig": str(tmp_path / "missing"), "state": "absent"}
    run = run_playbook(
        tmp_path,
        [{"register": "failed", "srvlab.rds.attachment": options}],
        connection_defaults(emulator, client_key[0]),
    )
    assert run["failed"]["failed"]
    assert "pvc-a" in run["failed"]["msg"] and "fix the cluster access" in run["failed"]["msg"]


def test_repair_runbook_clears_a_stuck_attachment_in_one_command(
    tmp_path: Path, emulator: EmulatorServer, client_key: tuple[Path, Path], kube_api: KubeApiFake
) -> None:
    kube_api.add_persistent_volume("pvc-stuck", "pvc-stuck")
    put_node(kube_api, "node-down", ready=False)
    put_attachment(kube_api, "va-stuck", "pvc-stuck", "node-down", deleting=True, detach_error="rpc error: Unavailable")
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    host, port = emulator.address
    rds1 = {
        "ansible_host": host,
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "rds_storage_port": port,
        "rds_storage_private_key_file": str(client_key[0]),
        "rds_storage_host_key": emulator.host_public_key_line,
    }
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"rds": {"hosts": {"rds1": rds1}}}}}))
    playbook = REPO / "playbooks" / "repair.yml"
    volume = ("-t", "attachment", "-e", "volume_id=pvc-stuck", "-e", "repair_kubeconfig=%s" % kubeconfig)

    shown = run_ansible_playbook(tmp_path, inventory, playbook, *volume)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert '"detach_error": "rpc error: Unavailable"' in shown.stdout and attachment_names(kube_api) == {"va-stuck"}

    cleared = run_ansible_playbook(
        tmp_path, inventory, playbook, *volume, "-e", "repair_clear_attachment=true", "-e", "repair_detach_timeout=0"
    )
    assert cleared.returncode == 0, cleared.stdout + cleared.stderr
    assert re.search(r"rds1\s*:.*\bchanged=1", cleared.stdout), cleared.stdout
    assert attachment_names(kube_api) == set()
