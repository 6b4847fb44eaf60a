"""Issue 14's attachment events and metrics (P-7.8): each is posted on the volume's claim and counted when the
controller decides, through the CSI socket with a kubeconfig to the Kubernetes API fake (this test plays the
external-attacher, as test_attachments does)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from csi_helpers import RWX, Csi, block, create_request, error_of, publish_request
from kubernetes import client, config
from rds_csi import events, metrics
from test_attachments import NODES, Attacher, eventually, published
from test_events import Kube, on_claim

from tests.integration.kube_api_fake import KubeApiFake

pytestmark = pytest.mark.timeout(60)

CLAIM = ("apps", "data")
# What each step may change, read from the registry as deltas: (sample name, labels).
SAMPLES: dict[str, tuple[str, dict[str, str]]] = {
    "attached": ("rds_csi_attachment_attach_total", {"status": "success"}),
    "refused": ("rds_csi_attachment_attach_total", {"status": "conflict"}),
    "detached": ("rds_csi_attachment_detach_total", {"status": "success"}),
    "conflicts": ("rds_csi_attachment_conflicts_total", {}),
    "completed": ("rds_csi_migration_migrations_total", {"result": "completed"}),
    "failed": ("rds_csi_migration_migrations_total", {"result": "failed"}),
    "cancelled": ("rds_csi_migration_migrations_total", {"result": "cancelled"}),
    "stale": ("rds_csi_attachment_stale_cleared_total", {}),
    "fenced": ("rds_csi_storage_fence_updates_total", {"status": "success"}),
    "fence_failed": ("rds_csi_storage_fence_updates_total", {"status": "failure"}),
}


def readings() -> dict[str, float]:
    return {key: metrics.REGISTRY.get_sample_value(*sample) or 0.0 for key, sample in SAMPLES.items()}


def changed(before: dict[str, float]) -> dict[str, float]:
    """The samples that moved since ``before``, by how much."""
    return {key: value - before[key] for key, value in readings().items() if value != before[key]}


def active_migrations() -> float:
    return metrics.REGISTRY.get_sample_value("rds_csi_migration_active_migrations") or 0.0


@dataclass
class Cluster:
    kube: Kube
    attacher: Attacher
    claim_uid: str

    def volume(self, csi: Csi, name: str, capability: Any = None, timeout: str = "300") -> str:
        """A volume whose PV (named by the volume ID) is bound to CLAIM, as the old driver's PVs are."""
        volume_id = str(csi.controller.CreateVolume(create_request(name, capability=capability)).volume.volume_id)
        ref = {"kind": "PersistentVolumeClaim", "namespace": CLAIM[0], "name": CLAIM[1], "uid": self.claim_uid}
        self.attacher.volume(volume_id, rwx_block=capability is not None, timeout=timeout, claim_ref=ref)
        return volume_id

    def event(self, reason: events.Reason, *words: str) -> dict[str, Any]:
        """The one Event of ``reason``, on the claim, of the reason's type, naming ``words``."""
        found = self.kube.wait_for(reason.name, check=lambda event: all(word in event["message"] for word in words))
        assert on_claim(found, CLAIM[0], CLAIM[1], self.claim_uid), found
        assert found["type"] == reason.type, found
        return dict(found)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    fake = KubeApiFake().start()
    for node in NODES:
        fake.put("v1/nodes", None, node, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})
    kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")
    kube = Kube(fake, str(kubeconfig))
    yield Cluster(kube, Attacher(fake, kubeconfig, pv_prefix=""), kube.add_claim(*CLAIM))
    fake.stop()


def test_attach_conflict_detach_and_fencing(cluster: Cluster, start_driver: Callable[..., Csi]) -> None:
    csi = start_driver(kubeconfig=cluster.kube.kubeconfig)
    volume_id = cluster.volume(csi, "pvc-events-rwo")

    before = readings()
    cluster.attacher.attach(csi, volume_id, "node-a")
    assert changed(before) == {"attached": 1, "fenced": 1}
    cluster.event(events.VOLUME_ATTACHED, volume_id, "node-a")

    before = readings()
    code, message = error_of(lambda: csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-b")))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert changed(before) == {"refused": 1, "conflicts": 1}
    assert cluster.event(events.ATTACHMENT_CONFLICT, "node-a", "node-b")["message"] == message

    before = readings()
    cluster.attacher.detach(csi, volume_id, "node-a")
    assert changed(before) == {"detached": 1, "fenced": 1}
    cluster.event(events.VOLUME_DETACHED, volume_id, "node-a")
    cluster.event(events.STORAGE_FENCED, volume_id, "no node", "node-a")


def test_a_live_migration_starts_and_completes(cluster: Cluster, start_driver: Callable[..., Csi]) -> None:
    csi = start_driver(kubeconfig=cluster.kube.kubeconfig)
    capability = block(RWX)
    volume_id = cluster.volume(csi, "pvc-events-migrate", capability)
    cluster.attacher.attach(csi, volume_id, "node-a", capability)

    before, active = readings(), active_migrations()
    cluster.attacher.attach(csi, volume_id, "node-b", capability)
    assert changed(before) == {"attached": 1, "fenced": 1}
    assert active_migrations() == active + 1
    cluster.event(events.MIGRATION_STARTED, volume_id, "from node node-a to node node-b")

    before = readings()
    cluster.attacher.detach(csi, volume_id, "node-a")
    assert changed(before) == {"detached": 1, "completed": 1, "fenced": 1}
    assert active_migrations() == active
    cluster.event(events.MIGRATION_COMPLETED, volume_id, "from node node-a to node node-b")
    cluster.event(events.STORAGE_FENCED, volume_id, "node-b")


def test_a_timed_out_migration_fails_once_then_conflicts(
    cluster: Cluster, start_driver: Callable[..., Csi], socket_dir: Path
) -> None:
    """The migration started an hour ago (its VolumeAttachment says so), seen by a restarted controller (on
    its own socket: the first one still serves the fixture's)."""
    first = start_driver(kubeconfig=cluster.kube.kubeconfig, events=False)
    capability = block(RWX)
    volume_id = cluster.volume(first, "pvc-events-timeout", capability, timeout="30")
    cluster.attacher.attach(first, volume_id, "node-a", capability, created="2020-01-01T00:00:00Z")
    long_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    cluster.attacher.attach(first, volume_id, "node-b", capability, created=long_ago)

    csi = start_driver(kubeconfig=cluster.kube.kubeconfig, endpoint="unix://%s/again.sock" % socket_dir)
    eventually(lambda: published(csi, volume_id) == ["node-a", "node-b"])
    before = readings()
    code, message = error_of(
        lambda: csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-b", capability))
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert changed(before) == {"refused": 1, "conflicts": 1, "failed": 1}
    assert cluster.event(events.MIGRATION_FAILED, volume_id, "timeout of 30 s")["message"] == message

    before = readings()
    error_of(lambda: csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-c", capability)))
    assert changed(before) == {"refused": 1, "conflicts": 1}, "a failed migration is reported once"
    cluster.event(events.ATTACHMENT_CONFLICT, volume_id, "node-c")


def test_the_attachment_of_a_deleted_node_is_cleared(cluster: Cluster, start_driver: Callable[..., Csi]) -> None:
    csi = start_driver(kubeconfig=cluster.kube.kubeconfig, deleted_node_grace=0.0)
    volume_id = cluster.volume(csi, "pvc-events-stale")
    cluster.attacher.attach(csi, volume_id, "node-b")
    core: Any = client.CoreV1Api(config.new_client_from_config(config_file=cluster.kube.kubeconfig))  # type: ignore[no-untyped-call]
    core.delete_node("node-b")

    before = readings()
    cluster.attacher.attach(csi, volume_id, "node-c")
    assert changed(before) == {"attached": 1, "stale": 1, "fenced": 1}
    cluster.event(events.STALE_ATTACHMENT_CLEARED, volume_id, "node-b", "no longer exists")
    cluster.event(events.STORAGE_FENCED, volume_id, "node(s) node-c")
