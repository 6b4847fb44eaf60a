"""The csi_driver role through real ansible-playbook runs of playbooks/deploy_driver.yml.

Render mode: every manifest validates against the Kubernetes JSON schemas of a current release
(kubernetes-validate, offline); the CRD kinds those schemas lack (VolumeSnapshotClass,
ServiceMonitor, PodMonitor) against schemas written from their upstream CRDs. Apply mode:
kubernetes.core.k8s against the HTTP-level API fake, then idempotency and check mode, and the
Prometheus Operator's monitors skipped while their CRDs are missing. Build: a real wheel and the
image step on this machine.
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
ROLE = REPO / "roles" / "csi_driver"
DASHBOARD = ROLE / "files" / "grafana" / "rds-csi-driver.json"
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
    "11-metrics-service.yaml",
]
# Everything the settings can add: the dashboard and the Prometheus Operator's monitors.
OBSERVABILITY = {
    "csi_driver_grafana_dashboard": True,
    "csi_driver_service_monitor": True,
    "csi_driver_pod_monitor": True,
    "csi_driver_health_monitor": True,
    "csi_driver_monitor_labels": {"release": "kube-prometheus-stack"},
}
MONITOR_CRDS = ("servicemonitors.monitoring.coreos.com", "podmonitors.monitoring.coreos.com")
# The node plugin's permissions, to post events on a volume's PVC (docs/csi-driver.md, Events).
NODE_RULES = [
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
    {"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": ["get"]},
]
# The controller's namespaced permissions without capacity tracking: leader election, and its events
# about the RDS connection on its own Pod, whose UID it reads.
CONTROLLER_NAMESPACED_RULES = [
    {
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "verbs": ["get", "watch", "list", "delete", "update", "create"],
    },
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
]
# kubernetes-csi/external-provisioner deploy/kubernetes/rbac.yaml: capacity objects, and the
# ownership walk pod -> ReplicaSet (-> Deployment, read from the ReplicaSet's owner reference).
CAPACITY_RULES = [
    {
        "apiGroups": ["storage.k8s.io"],
        "resources": ["csistoragecapacities"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
    {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get"]},
]
# The driver's own calls (its attachment manager, P-7, and its events on PVCs): the VolumeAttachments
# of the driver listed and watched, the PVs' access modes read and their attached-node/attached-at
# annotations patched, Nodes watched (deleted, out-of-service, host NQN), events on the PVC whose
# UID it reads. Its Lease is in the namespaced Role (DRIVER_LEASE_VERBS).
DRIVER_RULES = [
    {"apiGroups": ["storage.k8s.io"], "resources": ["volumeattachments"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": ["get", "list", "watch", "patch"]},
    {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
]
DRIVER_LEASE_VERBS = {"get", "create", "update"}
# One consistent set of kubernetes-csi releases, by container.
SIDECAR_IMAGES = {
    "csi-provisioner": "registry.k8s.io/sig-storage/csi-provisioner:v6.3.0",
    "csi-attacher": "registry.k8s.io/sig-storage/csi-attacher:v4.12.0",
    "csi-resizer": "registry.k8s.io/sig-storage/csi-resizer:v2.2.1",
    "csi-snapshotter": "registry.k8s.io/sig-storage/csi-snapshotter:v8.6.0",
    "liveness-probe": "registry.k8s.io/sig-storage/livenessprobe:v2.19.0",
    "node-driver-registrar": "registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.17.0",
}
# What those releases need beyond the 5.x/1.x set: external-provisioner 6.x keeps an informer on
# VolumeSnapshots and removes its source-protection finalizer with an update, and reads contents;
# external-resizer 2.x reads VolumeAttributesClasses.
PROVISIONER_SNAPSHOT_RULES = [
    {
        "apiGroups": ["snapshot.storage.k8s.io"],
        "resources": ["volumesnapshots"],
        "verbs": ["get", "list", "watch", "update"],
    },
    {"apiGroups": ["snapshot.storage.k8s.io"], "resources": ["volumesnapshotcontents"], "verbs": ["get", "list"]},
]
RESIZER_CLASS_RULE = {
    "apiGroups": ["storage.k8s.io"],
    "resources": ["volumeattributesclasses"],
    "verbs": ["get", "list", "watch"],
}
# kubernetes-csi/external-health-monitor deploy/kubernetes/external-health-monitor-controller/rbac.yaml.
HEALTH_MONITOR_RULES = [
    {"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch", "create", "patch"]},
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


PROMETHEUS_DURATION = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"


def monitor_schema(kind: str, endpoints: str) -> dict[str, Any]:
    """The fields the role sets of a ServiceMonitor or PodMonitor, written from the upstream CRDs
    monitoring.coreos.com_servicemonitors.yaml and _podmonitors.yaml (prometheus-operator, v1):
    spec and spec.selector required, endpoints by port name, durations in Prometheus' form."""
    endpoint = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "port": {"type": "string"},
            "path": {"type": "string"},
            "interval": {
                "type": "string",
                "pattern": PROMETHEUS_DURATION,
            },
        },
    }
    labels = {"type": "object", "additionalProperties": {"type": "string"}}
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"const": kind},
            "metadata": {
                "type": "object",
                "required": ["name", "namespace"],
                "properties": {"name": {"type": "string"}, "namespace": {"type": "string"}, "labels": labels},
            },
            "spec": {
                "type": "object",
                "required": ["selector"],
                "additionalProperties": False,
                "properties": {
                    "selector": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"matchLabels": labels},
                    },
                    "namespaceSelector": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "any": {"type": "boolean"},
                            "matchNames": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                    endpoints: {"type": "array", "minItems": 1, "items": endpoint},
                },
            },
        },
    }


CRD_SCHEMAS = {
    "VolumeSnapshotClass": VOLUME_SNAPSHOT_CLASS_SCHEMA,
    "ServiceMonitor": monitor_schema("ServiceMonitor", "endpoints"),
    "PodMonitor": monitor_schema("PodMonitor", "podMetricsEndpoints"),
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


def validate(document: dict[str, Any]) -> None:
    """Against the Kubernetes schemas, or a CRD kind's schema from its upstream CRD."""
    if document["kind"] in CRD_SCHEMAS:
        jsonschema.validate(document, CRD_SCHEMAS[document["kind"]])
    else:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def render(tmp_path: Path, **changes: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """Every rendered object, each validated, by (kind, name)."""
    out = tmp_path / ("manifests%d" % len(list(tmp_path.glob("manifests*"))))
    run_deploy(tmp_path, dict(SETTINGS, csi_driver_render_dir=str(out), **changes))
    rendered = {}
    for path in sorted(out.iterdir()):
        for document in documents(path):
            validate(document)
            rendered[document["kind"], document["metadata"]["name"]] = document
    return rendered


def containers(workload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {container["name"]: container for container in workload["spec"]["template"]["spec"]["containers"]}


def role_defaults() -> dict[str, Any]:
    defaults: dict[str, Any] = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    return defaults


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
            validate(document)
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
            "rds-csi-node",
        ],
        "ClusterRoleBinding": [
            "rds-csi-provisioner",
            "rds-csi-attacher",
            "rds-csi-resizer",
            "rds-csi-driver",
            "rds-csi-snapshotter",
            "rds-csi-node",
        ],
        "Role": ["rds-csi-controller"],
        "RoleBinding": ["rds-csi-controller"],
        "Deployment": ["rds-csi-controller"],
        "DaemonSet": ["rds-csi-node-regular", "rds-csi-node-diskless"],
        "Service": ["rds-csi-controller-metrics"],
    }
    assert (out / "02-secret.yaml").stat().st_mode & 0o777 == 0o600
    assert changed(run_deploy(tmp_path, settings)) == 0


def test_rendered_manifests_keep_the_go_driver_contract(tmp_path: Path) -> None:
    """P-3 names and parameters, the controller's config file loads in the driver, no secret in the ConfigMap."""
    out = tmp_path / "manifests"
    run_deploy(tmp_path, dict(SETTINGS, csi_driver_render_dir=str(out)))

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
    provisioner_args = containers(deployment)["csi-provisioner"]["args"]
    # storageCapacity is claimed only together with the provisioner's capacity feature (P-5.9).
    assert csidriver["spec"]["storageCapacity"] is True and "--enable-capacity" in provisioner_args
    assert "--extra-create-metadata" in provisioner_args
    assert set(containers(deployment)) == {
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
        assert set(containers(daemonsets[name])) == {"rds-csi-driver", "node-driver-registrar", "liveness-probe"}

    # Without csi_driver_render_secrets the Secret is not written, and the run says how to provide it.
    assert not (out / "02-secret.yaml").exists()


def test_capacity_tracking_is_on_by_default_and_off_leaves_out_every_part(tmp_path: Path) -> None:
    """P-5.9: the CSIDriver claims capacity only together with the provisioner publishing it."""
    for rendered, tracked in ((render(tmp_path), True), (render(tmp_path, csi_driver_storage_capacity=False), False)):
        csidriver = rendered["CSIDriver", "rds.csi.srvlab.io"]
        provisioner = containers(rendered["Deployment", "rds-csi-controller"])["csi-provisioner"]
        namespaced_rules = rendered["Role", "rds-csi-controller"]["rules"]
        assert csidriver["spec"]["storageCapacity"] is tracked
        # CreateVolume receives the PVC's name and namespace either way (P-7.8).
        assert "--extra-create-metadata" in provisioner["args"]
        if tracked:
            assert {"--enable-capacity", "--capacity-ownerref-level=2"} <= set(provisioner["args"])
            assert provisioner["env"] == [
                {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            ]
            assert [rule for rule in CAPACITY_RULES if rule not in namespaced_rules] == []
            assert namespaced_rules[: len(CONTROLLER_NAMESPACED_RULES)] == CONTROLLER_NAMESPACED_RULES
        else:
            assert not [arg for arg in provisioner["args"] if arg.startswith(("--enable-capacity", "--capacity-"))]
            assert "env" not in provisioner
            assert namespaced_rules == CONTROLLER_NAMESPACED_RULES


def test_metrics_defaults_are_the_drivers_and_every_flag_and_variable_reaches_it(tmp_path: Path) -> None:
    """The role's metrics ports and addresses are the driver's own defaults; the rendered containers,
    resolved as the kubelet would (downward API, ConfigMap, Secret), load in the driver's config
    loader with those ports, the pod's identity and in-cluster API access."""
    from rds_csi.config import CONTROLLER_METRICS_PORT, NODE_METRICS_PORT, Config

    defaults = role_defaults()
    assert defaults["csi_driver_controller_metrics_port"] == CONTROLLER_METRICS_PORT
    assert defaults["csi_driver_node_metrics_port"] == NODE_METRICS_PORT
    assert defaults["csi_driver_controller_metrics_address"] == Config.metrics_address
    assert defaults["csi_driver_node_metrics_address"] == Config.metrics_address

    rendered = render(tmp_path)
    configmap = rendered["ConfigMap", "rds-csi-config"]
    controller = containers(rendered["Deployment", "rds-csi-controller"])["rds-csi-driver"]
    config = load_container(controller, configmap, tmp_path, "rds-csi-controller-5d8f7-x2x9q")
    assert (config.mode, config.served_metrics_port, config.metrics_address) == (
        "controller",
        CONTROLLER_METRICS_PORT,
        "0.0.0.0",
    )
    assert (config.pod_name, config.pod_namespace, config.kubeconfig) == (
        "rds-csi-controller-5d8f7-x2x9q",
        "rds-csi",
        "in-cluster",
    )
    assert {"name": "metrics", "containerPort": CONTROLLER_METRICS_PORT, "protocol": "TCP"} in controller["ports"]
    service = rendered["Service", "rds-csi-controller-metrics"]
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": CONTROLLER_METRICS_PORT, "targetPort": "metrics", "protocol": "TCP"}
    ]
    controller_labels = rendered["Deployment", "rds-csi-controller"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= controller_labels.items()

    for group in ("regular", "diskless"):
        daemonset = rendered["DaemonSet", "rds-csi-node-" + group]
        node = containers(daemonset)["rds-csi-driver"]
        config = load_container(node, configmap, tmp_path, "rds-csi-node-%s-7xk2p" % group)
        assert (config.mode, config.served_metrics_port, config.kubeconfig) == ("node", NODE_METRICS_PORT, "in-cluster")
        assert (config.pod_name, config.pod_namespace) == ("rds-csi-node-%s-7xk2p" % group, "rds-csi")
        # Host network: the metrics port is a port of the node.
        assert daemonset["spec"]["template"]["spec"]["hostNetwork"] is True
        assert {
            "name": "metrics",
            "containerPort": NODE_METRICS_PORT,
            "hostPort": NODE_METRICS_PORT,
            "protocol": "TCP",
        } in node["ports"]
        # The token the plugin posts events with (rds-csi-node's ClusterRole).
        assert "automountServiceAccountToken" not in daemonset["spec"]["template"]["spec"]

    moved = render(
        tmp_path,
        csi_driver_controller_metrics_port=19809,
        csi_driver_node_metrics_port=19810,
        csi_driver_node_metrics_address="127.0.0.1",
    )
    controller = containers(moved["Deployment", "rds-csi-controller"])["rds-csi-driver"]
    assert load_container(controller, configmap, tmp_path, "pod").served_metrics_port == 19809
    assert moved["Service", "rds-csi-controller-metrics"]["spec"]["ports"][0]["port"] == 19809
    node = containers(moved["DaemonSet", "rds-csi-node-regular"])["rds-csi-driver"]
    config = load_container(node, configmap, tmp_path, "pod")
    assert (config.served_metrics_port, config.metrics_address) == (19810, "127.0.0.1")

    off = render(tmp_path, csi_driver_metrics_enabled=False)
    assert ("Service", "rds-csi-controller-metrics") not in off
    for workload in (off["Deployment", "rds-csi-controller"], off["DaemonSet", "rds-csi-node-regular"]):
        driver = containers(workload)["rds-csi-driver"]
        assert load_container(driver, configmap, tmp_path, "pod").metrics is False
        assert [port["name"] for port in driver["ports"]] == ["healthz"]


def load_container(container: dict[str, Any], configmap: dict[str, Any], tmp_path: Path, pod_name: str) -> Any:
    """The driver's configuration from a rendered container, its environment resolved as the kubelet
    resolves it; the mounted files (the controller's config, the node file) are written under tmp_path."""
    from rds_csi.config import load

    key_file = tmp_path / "ssh-privatekey"
    key_file.write_text(PRIVATE_KEY)
    controller_file = tmp_path / "controller.yaml"
    controller_file.write_text(
        configmap["data"]["controller.yaml"].replace("/etc/rds-csi/secret/ssh-privatekey", str(key_file))
    )
    node_file = tmp_path / "node.yaml"
    node_file.write_text('managed_nqn_prefix: "nqn.2000-02.com.mikrotik:pvc-"\n')
    mounted = {
        "--config=/etc/rds-csi/config/controller.yaml": "--config=%s" % controller_file,
        "--config=/etc/srvlab-rds/node.yaml": "--config=%s" % node_file,
    }
    downward = {"metadata.name": pod_name, "metadata.namespace": "rds-csi", "spec.nodeName": "node-a"}
    secret = {"host-key": HOST_KEY}
    environment = {}
    for variable in container["env"]:
        source = variable.get("valueFrom", {})
        if "fieldRef" in source:
            environment[variable["name"]] = downward[source["fieldRef"]["fieldPath"]]
        elif "configMapKeyRef" in source:
            environment[variable["name"]] = configmap["data"][source["configMapKeyRef"]["key"]]
        elif source["secretKeyRef"]["key"] in secret:
            environment[variable["name"]] = secret[source["secretKeyRef"]["key"]]
        else:
            assert source["secretKeyRef"].get("optional"), variable
    return load([mounted.get(arg, arg) for arg in container["args"]], environment)


def test_rbac_grants_events_to_both_accounts_and_the_health_monitor_its_upstream_rules(tmp_path: Path) -> None:
    rendered = render(tmp_path, csi_driver_storage_capacity=False)
    assert rendered["ClusterRole", "rds-csi-driver"]["rules"] == DRIVER_RULES
    assert rendered["Role", "rds-csi-controller"]["rules"] == CONTROLLER_NAMESPACED_RULES
    assert rendered["ClusterRole", "rds-csi-node"]["rules"] == NODE_RULES
    for account in ("rds-csi-controller", "rds-csi-node"):
        assert "automountServiceAccountToken" not in rendered["ServiceAccount", account]
    (subject,) = rendered["ClusterRoleBinding", "rds-csi-node"]["subjects"]
    assert (subject["name"], subject["namespace"]) == ("rds-csi-node", "rds-csi")
    assert rendered["ClusterRoleBinding", "rds-csi-node"]["roleRef"]["name"] == "rds-csi-node"
    assert ("ClusterRole", "rds-csi-health-monitor") not in rendered
    assert "csi-external-health-monitor-controller" not in containers(rendered["Deployment", "rds-csi-controller"])

    monitored = render(tmp_path, csi_driver_health_monitor=True, csi_driver_health_monitor_interval="2m")
    assert monitored["ClusterRole", "rds-csi-health-monitor"]["rules"] == HEALTH_MONITOR_RULES
    binding = monitored["ClusterRoleBinding", "rds-csi-health-monitor"]
    assert [subject["name"] for subject in binding["subjects"]] == ["rds-csi-controller"]
    sidecar = containers(monitored["Deployment", "rds-csi-controller"])["csi-external-health-monitor-controller"]
    assert sidecar["image"] == role_defaults()["csi_driver_health_monitor_image"]
    assert sidecar["args"] == [
        "--csi-address=/csi/csi.sock",
        "--v=2",
        "--leader-election",
        "--leader-election-namespace=rds-csi",
        "--timeout=60s",
        "--monitor-interval=2m",
    ]
    # Its leader election uses the controller's Role for Leases.
    assert {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"]}.items() <= monitored[
        "Role", "rds-csi-controller"
    ]["rules"][0].items()


def test_the_driver_may_make_exactly_the_attachment_managers_calls(tmp_path: Path) -> None:
    """VolumeAttachments, PVs, Nodes and events cluster-wide, its Lease and its Pod's events in its namespace."""
    rendered = render(tmp_path)
    binding = rendered["ClusterRoleBinding", "rds-csi-driver"]
    assert binding["roleRef"]["name"] == "rds-csi-driver"
    assert [(s["name"], s["namespace"]) for s in binding["subjects"]] == [("rds-csi-controller", "rds-csi")]
    assert rendered["ClusterRole", "rds-csi-driver"]["rules"] == DRIVER_RULES
    namespaced = rendered["Role", "rds-csi-controller"]
    assert namespaced["metadata"]["namespace"] == "rds-csi"
    (lease_rule,) = [rule for rule in namespaced["rules"] if rule["resources"] == ["leases"]]
    assert lease_rule["apiGroups"] == ["coordination.k8s.io"]
    assert set(lease_rule["verbs"]) >= DRIVER_LEASE_VERBS
    # What the controller already had for its events about the RDS connection, on its own Pod.
    assert namespaced["rules"][1:3] == CONTROLLER_NAMESPACED_RULES[1:3]
    # The driver watches and patches; it never creates, updates or deletes attachments or PVs.
    writes = {"create", "update", "delete", "deletecollection"}
    for rule in DRIVER_RULES:
        if rule["resources"] != ["events"]:
            assert not writes & set(rule["verbs"]), rule


def test_sidecars_are_one_release_set_with_the_rbac_each_needs(tmp_path: Path) -> None:
    defaults = role_defaults()
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    for variable in (
        "csi_driver_provisioner_image",
        "csi_driver_attacher_image",
        "csi_driver_resizer_image",
        "csi_driver_snapshotter_image",
        "csi_driver_livenessprobe_image",
        "csi_driver_registrar_image",
    ):
        # ansible-doc shows the argument spec's default: it must be the one the role uses.
        assert specs[variable]["default"] == defaults[variable], variable

    rendered = render(tmp_path)
    images = {
        name: container["image"]
        for workload in (rendered["Deployment", "rds-csi-controller"], rendered["DaemonSet", "rds-csi-node-regular"])
        for name, container in containers(workload).items()
        if name != "rds-csi-driver"
    }
    assert images == SIDECAR_IMAGES
    provisioner_rules = rendered["ClusterRole", "rds-csi-provisioner"]["rules"]
    assert [rule for rule in provisioner_rules if rule["apiGroups"] == ["snapshot.storage.k8s.io"]] == (
        PROVISIONER_SNAPSHOT_RULES
    )
    assert RESIZER_CLASS_RULE in rendered["ClusterRole", "rds-csi-resizer"]["rules"]
    for component in ("provisioner", "attacher", "snapshotter"):
        assert RESIZER_CLASS_RULE not in rendered["ClusterRole", "rds-csi-" + component]["rules"]


def test_dashboard_and_monitors_are_rendered_only_when_asked(tmp_path: Path) -> None:
    plain = render(tmp_path)
    assert not [key for key in plain if key[0] in ("ServiceMonitor", "PodMonitor")]
    assert ("ConfigMap", "rds-csi-driver-dashboard") not in plain

    rendered = render(
        tmp_path,
        **OBSERVABILITY,
        csi_driver_grafana_dashboard_namespace="monitoring",
        csi_driver_grafana_dashboard_annotations={"grafana_folder": "Storage"},
    )
    dashboard = rendered["ConfigMap", "rds-csi-driver-dashboard"]
    assert dashboard["metadata"]["namespace"] == "monitoring"
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["annotations"] == {"grafana_folder": "Storage"}
    # Byte for byte the collection's file, whatever it holds.
    assert dashboard["data"] == {"rds-csi-driver.json": DASHBOARD.read_text()}

    service_monitor = rendered["ServiceMonitor", "rds-csi-controller"]
    assert service_monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    service = rendered["Service", "rds-csi-controller-metrics"]
    assert service_monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert service_monitor["spec"]["namespaceSelector"] == {"matchNames": ["rds-csi"]}
    assert service_monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s"}]
    pod_monitor = rendered["PodMonitor", "rds-csi-node"]
    assert pod_monitor["spec"]["podMetricsEndpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s"}]
    for group in ("regular", "diskless"):
        pod_labels = rendered["DaemonSet", "rds-csi-node-" + group]["spec"]["template"]["metadata"]["labels"]
        assert pod_monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()

    custom = render(
        tmp_path,
        csi_driver_grafana_dashboard=True,
        csi_driver_grafana_dashboard_label="dashboards",
        csi_driver_grafana_dashboard_label_value="rds",
    )
    labels = custom["ConfigMap", "rds-csi-driver-dashboard"]["metadata"]["labels"]
    assert (labels["dashboards"], "grafana_dashboard" in labels) == ("rds", False)


def test_monitors_need_metrics(tmp_path: Path) -> None:
    settings = dict(SETTINGS, csi_driver_metrics_enabled=False, csi_driver_pod_monitor=True)
    with pytest.raises(AssertionError) as raised:
        run_deploy(tmp_path, dict(settings, csi_driver_render_dir=str(tmp_path / "out")))
    assert "which csi_driver_metrics_enabled=false turns off" in str(raised.value)


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
        assert len(stored) == 27
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


@pytest.mark.slow
def test_apply_skips_monitors_until_their_crds_exist(tmp_path: Path) -> None:
    fake = KubeApiFake().start()
    try:
        settings = dict(SETTINGS, **OBSERVABILITY, csi_driver_kubeconfig=str(fake.write_kubeconfig(tmp_path / "kc")))

        first = run_deploy(tmp_path, settings)
        skipped = task_result(first, "Say which monitors are skipped")["results"]
        assert [item["msg"] for item in skipped] == [
            "Skipping the %s: the Prometheus Operator's CRD %s is not in the cluster. Install the Prometheus "
            "Operator (for example with kube-prometheus-stack) and run the role again, or scrape without it: "
            "docs/driver-deployment.md, Metrics." % (monitor, crd)
            for monitor, crd in zip(
                (
                    "ServiceMonitor rds-csi/rds-csi-controller (the controller's metrics)",
                    "PodMonitor rds-csi/rds-csi-node (the node plugins' metrics)",
                ),
                MONITOR_CRDS,
            )
        ]
        stored = fake.objects()
        assert not [key for key in stored if key[0].startswith("monitoring.coreos.com/")]
        dashboard = stored["v1/configmaps", "rds-csi", "rds-csi-driver-dashboard"]
        assert dashboard["data"] == {"rds-csi-driver.json": DASHBOARD.read_text()}
        assert ("v1/services", "rds-csi", "rds-csi-controller-metrics") in stored

        for crd in MONITOR_CRDS:
            fake.put(
                "apiextensions.k8s.io/v1/customresourcedefinitions",
                None,
                crd,
                {
                    "apiVersion": "apiextensions.k8s.io/v1",
                    "kind": "CustomResourceDefinition",
                    "metadata": {"name": crd},
                    "spec": {"group": "monitoring.coreos.com", "scope": "Namespaced"},
                },
            )
        second = run_deploy(tmp_path, settings)
        assert not task_result(second, "Say which monitors are skipped").get("results")
        stored = fake.objects()
        service_monitor = stored["monitoring.coreos.com/v1/servicemonitors", "rds-csi", "rds-csi-controller"]
        pod_monitor = stored["monitoring.coreos.com/v1/podmonitors", "rds-csi", "rds-csi-node"]
        assert service_monitor["metadata"]["labels"]["release"] == pod_monitor["metadata"]["labels"]["release"]

        assert changed(run_deploy(tmp_path, settings)) == 0
        assert fake.objects() == stored
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
