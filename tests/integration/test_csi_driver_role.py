"""The csi_driver role through real ansible-playbook runs of playbooks/deploy_driver.yml.

Render mode: every manifest validates against the Kubernetes JSON schemas of a current release
(kubernetes-validate, offline); VolumeSnapshotClass, a CRD kind those schemas lack, against
``VOLUME_SNAPSHOT_CLASS_SCHEMA``. Apply mode: kubernetes.core.k8s against the HTTP-level API
fake, then idempotency and check mode. Build: a real wheel and the image step on this machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tests.integration.kube_api_fake import KubeApiFake
from tests.integration.playbooks import COLLECTIONS, REPO

PLAYBOOK = REPO / "playbooks" / "deploy_driver.yml"
RUN_TIMEOUT = 300
KUBERNETES_VERSION = kubernetes_validate.utils.latest_version()
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0xyS3cEpM1zE2n3Kxk3Rr9hZJ8m3V1r8f1cX0aQm5P"
PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n"
SETTINGS: dict[str, Any] = {
    "csi_driver_rds_address": "192.0.2.10",
    "csi_driver_rds_private_key": PRIVATE_KEY,
    "csi_driver_rds_host_key": HOST_KEY,
    "csi_driver_wait_timeout": 30,
}
MANIFESTS = [
    "01-namespace.yaml",
    "02-secret.yaml",
    "03-configmap.yaml",
    "04-storageclasses.yaml",
    "05-volumesnapshotclass.yaml",
    "06-csidriver.yaml",
    "07-rbac-controller.yaml",
    "08-rbac-node.yaml",
    "09-controller.yaml",
    "10-node.yaml",
]
CONTROLLER_ROLES = [
    "rds-csi-provisioner",
    "rds-csi-attacher",
    "rds-csi-resizer",
    "rds-csi-driver",
    "rds-csi-snapshotter",
]
# Written from the upstream CRD snapshot.storage.k8s.io_volumesnapshotclasses.yaml
# (kubernetes-csi/external-snapshotter, v1): required driver and deletionPolicy.
VOLUME_SNAPSHOT_CLASS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "driver", "deletionPolicy"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "snapshot.storage.k8s.io/v1"},
        "kind": {"const": "VolumeSnapshotClass"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "driver": {"type": "string"},
        "deletionPolicy": {"enum": ["Delete", "Retain"]},
        "parameters": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def run_deploy(tmp_path: Path, settings: dict[str, Any], *options: str) -> dict[str, Any]:
    """Run the deploy playbook with ``settings``; the JSON callback's report (stats and task results)."""
    run = tmp_path / ("run%d" % len(list(tmp_path.glob("run*"))))
    run.mkdir()
    (run / "vars.json").write_text(json.dumps(settings))
    environment = dict(os.environ)
    environment.update(
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_LOCAL_TEMP=str(run / "tmp"),
        ANSIBLE_HOME=str(run / "home"),
    )
    command = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        "localhost,",
        "-e",
        "ansible_python_interpreter=%s" % sys.executable,
        "-e",
        "@%s" % (run / "vars.json"),
        str(PLAYBOOK),
        *options,
    ]
    completed = subprocess.run(
        command, cwd=run, env=environment, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )
    try:
        report: dict[str, Any] = json.loads(completed.stdout)
    except json.JSONDecodeError as error:
        raise AssertionError(
            "ansible-playbook printed no report:\n%s\n%s" % (completed.stdout, completed.stderr)
        ) from error
    stats = report["stats"]["localhost"]
    assert completed.returncode == 0 and not stats["failures"], json.dumps(failed_results(report), indent=1)[:6000]
    return report


def failed_results(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"task": entry["task"]["name"], "result": entry["hosts"]["localhost"]}
        for entry in tasks(report)
        if entry["hosts"].get("localhost", {}).get("failed")
    ]


def tasks(report: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for play in report["plays"]:
        yield from play["tasks"]


def task_result(report: dict[str, Any], name: str) -> dict[str, Any]:
    found = [entry["hosts"]["localhost"] for entry in tasks(report) if entry["task"]["name"].endswith(name)]
    assert found, "no task named %r ran" % name
    result: dict[str, Any] = found[-1]
    return result


def changed(report: dict[str, Any]) -> int:
    count: int = report["stats"]["localhost"]["changed"]
    return count


def documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def test_render_writes_every_manifest_and_each_validates(tmp_path: Path) -> None:
    out = tmp_path / "manifests"
    settings = dict(SETTINGS, csi_driver_render_dir=str(out), csi_driver_render_secrets=True)
    first = run_deploy(tmp_path, settings)

    assert sorted(path.name for path in out.iterdir()) == MANIFESTS
    assert changed(first) > 0
    kinds: dict[str, list[str]] = {}
    for path in sorted(out.iterdir()):
        for document in documents(path):
            kinds.setdefault(document["kind"], []).append(document["metadata"]["name"])
            if document["kind"] == "VolumeSnapshotClass":
                jsonschema.validate(document, VOLUME_SNAPSHOT_CLASS_SCHEMA)
            else:
                kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    assert kinds == {
        "Namespace": ["rds-csi"],
        "Secret": ["rds-csi-rds-credentials"],
        "ConfigMap": ["rds-csi-config"],
        "StorageClass": ["rds-nvme", "rds-nvme-block"],
        "VolumeSnapshotClass": ["rds-nvme-snapshots"],
        "CSIDriver": ["rds.csi.srvlab.io"],
        "ServiceAccount": ["rds-csi-controller", "rds-csi-node"],
        "ClusterRole": [
            "rds-csi-provisioner",
            "rds-csi-attacher",
            "rds-csi-resizer",
            "rds-csi-driver",
            "rds-csi-snapshotter",
        ],
        "ClusterRoleBinding": [
            "rds-csi-provisioner",
            "rds-csi-attacher",
            "rds-csi-resizer",
            "rds-csi-driver",
            "rds-csi-snapshotter",
        ],
        "Role": ["rds-csi-controller"],
        "RoleBinding": ["rds-csi-controller"],
        "Deployment": ["rds-csi-controller"],
        "DaemonSet": ["rds-csi-node-regular", "rds-csi-node-diskless"],
    }
    assert (out / "02-secret.yaml").stat().st_mode & 0o777 == 0o600
    assert changed(run_deploy(tmp_path, settings)) == 0


def test_rendered_manifests_keep_the_go_driver_contract(tmp_path: Path) -> None:
    """P-3 names and parameters, the controller's config file loads in the driver, no secret in the ConfigMap."""
    out = tmp_path / "manifests"
    run_deploy(tmp_path, dict(SETTINGS, csi_driver_render_dir=str(out), csi_driver_storage_capacity=True))

    (fs_class, block_class) = documents(out / "04-storageclasses.yaml")
    assert fs_class["provisioner"] == block_class["provisioner"] == "rds.csi.srvlab.io"
    assert fs_class["parameters"] == {
        "volumePath": "/storage-pool/metal-csi",
        "nvmePort": "4420",
        "ctrlLossTmo": "-1",
        "reconnectDelay": "5",
        "csi.storage.k8s.io/fstype": "ext4",
    }
    assert "csi.storage.k8s.io/fstype" not in block_class["parameters"]
    assert block_class["parameters"]["migrationTimeoutSeconds"] == "300"
    assert fs_class["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"

    (csidriver,) = documents(out / "06-csidriver.yaml")
    assert csidriver["spec"]["attachRequired"] and csidriver["spec"]["podInfoOnMount"]
    (deployment,) = documents(out / "09-controller.yaml")
    containers = {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}
    provisioner_args = containers["csi-provisioner"]["args"]
    # storageCapacity is claimed only together with the provisioner's capacity feature (P-5.9).
    assert csidriver["spec"]["storageCapacity"] is True and "--enable-capacity" in provisioner_args
    assert "--extra-create-metadata" in provisioner_args
    assert set(containers) == {
        "rds-csi-driver",
        "csi-provisioner",
        "csi-attacher",
        "csi-resizer",
        "csi-snapshotter",
        "liveness-probe",
    }
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True

    (configmap,) = documents(out / "03-configmap.yaml")
    assert PRIVATE_KEY not in json.dumps(configmap) and HOST_KEY not in json.dumps(configmap)
    from rds_csi.config import load

    key_file = tmp_path / "ssh-privatekey"
    key_file.write_text(PRIVATE_KEY)
    controller_file = tmp_path / "controller.yaml"
    controller_file.write_text(
        configmap["data"]["controller.yaml"].replace("/etc/rds-csi/secret/ssh-privatekey", str(key_file))
    )
    config = load(["--mode=controller", "--config=%s" % controller_file], {"RDS_CSI_RDS_HOST_KEY": HOST_KEY})
    assert (config.rds_address, config.nvme_address, config.managed_nqn_prefix) == (
        "192.0.2.10",
        "192.0.2.10",
        "nqn.2000-02.com.mikrotik:pvc-",
    )

    daemonsets = {d["metadata"]["name"]: d for d in documents(out / "10-node.yaml")}
    for name, host_paths in (("rds-csi-node-regular", set()), ("rds-csi-node-diskless", {"/etc/static", "/nix/store"})):
        pod = daemonsets[name]["spec"]["template"]["spec"]
        assert pod["hostNetwork"] is True
        driver = pod["containers"][0]
        assert driver["securityContext"]["privileged"] is True
        assert driver["args"][-1] == "--config=/etc/srvlab-rds/node.yaml"
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["node-config"]["hostPath"]["path"] == "/etc/srvlab-rds"
        assert {v["hostPath"]["path"] for n, v in volumes.items() if n.startswith("host-path-")} == host_paths
        affinity = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        (expression,) = affinity["nodeSelectorTerms"][0]["matchExpressions"]
        assert expression["key"] == "srvlab.io/rds-diskless"
        kubelet_mount = next(m for m in driver["volumeMounts"] if m["name"] == "kubelet-dir")
        assert kubelet_mount["mountPropagation"] == "Bidirectional"
        assert {c["name"] for c in pod["containers"]} == {"rds-csi-driver", "node-driver-registrar", "liveness-probe"}

    # Without csi_driver_render_secrets the Secret is not written, and the run says how to provide it.
    assert not (out / "02-secret.yaml").exists()


@pytest.mark.slow
def test_apply_against_the_api_fake_is_idempotent_and_check_mode_changes_nothing(tmp_path: Path) -> None:
    fake = KubeApiFake(scheduled_nodes=3).start()
    try:
        settings = dict(SETTINGS, csi_driver_kubeconfig=str(fake.write_kubeconfig(tmp_path / "kubeconfig")))

        predicted = run_deploy(tmp_path, settings, "--check")
        assert changed(predicted) > 0
        assert fake.writes == 0 and fake.objects() == {}

        applied = run_deploy(tmp_path, settings)
        assert changed(applied) > 0
        stored = fake.objects()
        names = {(resource.rsplit("/", 1)[1], namespace, name) for resource, namespace, name in stored}
        assert {
            ("namespaces", None, "rds-csi"),
            ("secrets", "rds-csi", "rds-csi-rds-credentials"),
            ("configmaps", "rds-csi", "rds-csi-config"),
            ("storageclasses", None, "rds-nvme"),
            ("storageclasses", None, "rds-nvme-block"),
            ("volumesnapshotclasses", None, "rds-nvme-snapshots"),
            ("csidrivers", None, "rds.csi.srvlab.io"),
            ("deployments", "rds-csi", "rds-csi-controller"),
            ("daemonsets", "rds-csi", "rds-csi-node-regular"),
            ("daemonsets", "rds-csi", "rds-csi-node-diskless"),
        } <= names
        assert len(stored) == 24
        daemonset = stored["apps/v1/daemonsets", "rds-csi", "rds-csi-node-regular"]
        assert daemonset["status"]["numberReady"] == 3
        # The Secret's content is never printed.
        assert PRIVATE_KEY.splitlines()[1] not in json.dumps(applied)

        # kubernetes.core's client-side apply re-sends lists without a merge key (RBAC rules,
        # containers) as merge patches; they must leave every object as it was.
        again = run_deploy(tmp_path, settings)
        assert changed(again) == 0
        assert fake.objects() == stored
        writes = fake.writes

        changed_setting = dict(settings, csi_driver_log_level="debug")
        predicted_change = run_deploy(tmp_path, changed_setting, "--check", "--diff")
        assert changed(predicted_change) > 0
        assert fake.writes == writes and fake.objects() == stored
        configmap_diffs = [
            item["diff"]
            for item in task_result(predicted_change, "Apply each manifest and wait for the rollouts")["results"]
            if item.get("csi_driver_manifest", {}).get("file") == "configmap.yaml"
        ]
        assert "debug" in json.dumps(configmap_diffs)

        run_deploy(tmp_path, changed_setting)
        configmap = fake.objects()["v1/configmaps", "rds-csi", "rds-csi-config"]
        assert configmap["data"]["log_level"] == "debug"
        deployment = fake.objects()["apps/v1/deployments", "rds-csi", "rds-csi-controller"]
        # The changed ConfigMap rolled the controller (its checksum annotation changed).
        assert deployment["metadata"]["generation"] == 2
    finally:
        fake.stop()


def usable_builders() -> list[str]:
    usable = []
    for builder in ("podman", "buildah", "docker"):
        if shutil.which(builder):
            probe = subprocess.run([builder, "info"], capture_output=True, timeout=60, check=False)
            if probe.returncode == 0:
                usable.append(builder)
    return usable


@pytest.mark.slow
def test_build_makes_a_reproducible_wheel_and_handles_the_image_builder(tmp_path: Path) -> None:
    # A snapshot of the sources (same layout: setup.py maps ../plugins/module_utils), so edits
    # made in the checkout during the test cannot change the second wheel.
    source = tmp_path / "source"
    ignored = shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    shutil.copytree(REPO / "csi_driver", source / "csi_driver", ignore=ignored)
    shutil.copytree(REPO / "plugins" / "module_utils", source / "plugins" / "module_utils", ignore=ignored)
    build_dir = tmp_path / "build"
    settings = {
        "csi_driver_steps": ["build"],
        "csi_driver_build_dir": str(build_dir),
        "csi_driver_source_dir": str(source / "csi_driver"),
    }
    first = run_deploy(tmp_path, settings)

    (wheel,) = build_dir.glob("rds_csi_driver-*-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        files = set(archive.namelist())
    assert "rds_csi/main.py" in files and "rds_csi/generated/csi_pb2.py" in files
    assert "ansible_collections/srvlab/rds/plugins/module_utils/rds_client.py" in files
    assert task_result(first, "Put the wheel into the build directory")["changed"]

    if usable_builders():
        assert (build_dir / "image.iid").read_text().startswith("sha256:")
    else:
        message = task_result(first, "Say why the image is skipped")["msg"]
        assert message.startswith("No usable image builder among podman, buildah, docker")
        assert "skipping the OCI image ghcr.io/srvlab/rds-csi-driver:0.1.0" in message
        assert str(wheel) in message
        assert not (build_dir / "image.iid").exists()

    again = run_deploy(tmp_path, settings)
    assert changed(again) == 0
    (same_wheel,) = build_dir.glob("rds_csi_driver-*.whl")
    assert same_wheel == wheel


@pytest.fixture(autouse=True)
def _collection_link() -> None:
    if not (COLLECTIONS / "ansible_collections" / "srvlab" / "rds").exists():
        raise AssertionError("Run ./tasks venv first: it links the collection into %s." % COLLECTIONS)
