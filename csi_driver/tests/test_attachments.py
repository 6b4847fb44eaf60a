"""Attachment state that survives restarts (issue 14, P-7): through the CSI socket, with a kubeconfig to the
Kubernetes API fake (the real ``kubernetes`` client; this test plays the external-attacher) or with the
standalone state file."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Optional

import grpc
import pytest
from csi_helpers import RWX, Csi, block, create_request, error_of, publish_request
from kubernetes import client, config
from rds_csi.proto import csi_pb2

from tests.integration.kube_api_fake import KubeApiFake

DRIVER = "rds.csi.srvlab.io"
NODES = ("node-a", "node-b", "node-c")


class Attacher:
    """What the AD controller and the external-attacher do with VolumeAttachments around the CSI calls."""

    def __init__(self, fake: KubeApiFake, kubeconfig: Path, pv_prefix: str = "pv-") -> None:
        self.fake = fake
        self.pv_prefix = pv_prefix  # "": PVs named by the volume ID, as the old driver's (events find claims there)
        api_client = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
        self.storage: Any = client.StorageV1Api(api_client)

    def volume(
        self, volume_id: str, rwx_block: bool = False, timeout: str = "300", claim_ref: Optional[dict[str, str]] = None
    ) -> None:
        self.fake.put(
            "v1/persistentvolumes",
            None,
            self.pv_prefix + volume_id,
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": self.pv_prefix + volume_id},
                "spec": {
                    **({"claimRef": claim_ref} if claim_ref else {}),
                    "accessModes": ["ReadWriteMany" if rwx_block else "ReadWriteOnce"],
                    "volumeMode": "Block" if rwx_block else "Filesystem",
                    "csi": {
                        "driver": DRIVER,
                        "volumeHandle": volume_id,
                        "volumeAttributes": {"migrationTimeoutSeconds": timeout},
                    },
                },
            },
        )

    def attach(self, csi: Csi, volume_id: str, node: str, capability: Any = None, created: str = "") -> None:
        name = "va-%s-%s" % (volume_id[-8:], node)
        metadata: dict[str, Any] = {"name": name, "finalizers": ["external-attacher/rds-csi-srvlab-io"]}
        if created:
            metadata["creationTimestamp"] = created
        self.storage.create_volume_attachment(
            {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "VolumeAttachment",
                "metadata": metadata,
                "spec": {
                    "attacher": DRIVER,
                    "nodeName": node,
                    "source": {"persistentVolumeName": self.pv_prefix + volume_id},
                },
            }
        )
        csi.controller.ControllerPublishVolume(publish_request(volume_id, node, capability))
        self.storage.patch_volume_attachment_status(name, {"status": {"attached": True}})

    def detach(self, csi: Csi, volume_id: str, node: str) -> None:
        name = "va-%s-%s" % (volume_id[-8:], node)
        self.storage.delete_volume_attachment(name)
        csi.controller.ControllerUnpublishVolume(
            csi_pb2.ControllerUnpublishVolumeRequest(volume_id=volume_id, node_id=node)
        )
        self.storage.patch_volume_attachment(name, {"metadata": {"finalizers": None}})


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[tuple[KubeApiFake, Path]]:
    fake = KubeApiFake().start()
    for node in NODES:
        fake.put("v1/nodes", None, node, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})
    kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")
    yield fake, kubeconfig
    fake.stop()


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached within %.0f s" % timeout
        time.sleep(0.05)


def published(csi: Csi, volume_id: str) -> list[str]:
    for entry in csi.controller.ListVolumes(csi_pb2.ListVolumesRequest()).entries:
        if entry.volume.volume_id == volume_id:
            return sorted(entry.status.published_node_ids)
    raise AssertionError("volume %s not listed" % volume_id)


def test_a_restarted_controller_keeps_fencing_from_the_volume_attachments(
    start_driver: Callable[..., Csi], kube: tuple[KubeApiFake, Path]
) -> None:
    fake, kubeconfig = kube
    attacher = Attacher(fake, kubeconfig)
    csi = start_driver(kubeconfig=str(kubeconfig), events=False)
    volume_id = csi.controller.CreateVolume(create_request("pvc-restart")).volume.volume_id
    attacher.volume(volume_id)
    attacher.attach(csi, volume_id, "node-a")

    again = start_driver(kubeconfig=str(kubeconfig), events=False)  # a second replica, or the restarted one
    eventually(lambda: published(again, volume_id) == ["node-a"])
    code, message = error_of(lambda: again.controller.ControllerPublishVolume(publish_request(volume_id, "node-b")))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "node-a" in message and "node-b" in message
    code, message = error_of(lambda: again.controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=volume_id)))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "node-a" in message
    again.controller.ControllerPublishVolume(publish_request(volume_id, "node-a"))  # the same node: idempotent

    # The sequential handoff: node-a's unpublish lets node-b in at once, while node-a's VolumeAttachment
    # still exists, marked for deletion; node-c is refused once node-b holds it.
    attacher.detach(again, volume_id, "node-a")
    attacher.attach(again, volume_id, "node-b")
    code, _message = error_of(lambda: again.controller.ControllerPublishVolume(publish_request(volume_id, "node-c")))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    pv = fake.objects()["v1/persistentvolumes", None, "pv-" + volume_id]
    assert pv["metadata"]["annotations"][DRIVER + "/attached-node"] == "node-b"


def test_handoff_does_not_cover_a_reattached_node(
    start_driver: Callable[..., Csi], kube: tuple[KubeApiFake, Path]
) -> None:
    """The old driver's hole: A unpublished, A attached again inside the window, C must still be refused."""
    fake, kubeconfig = kube
    attacher = Attacher(fake, kubeconfig)
    csi = start_driver(kubeconfig=str(kubeconfig), events=False)
    volume_id = csi.controller.CreateVolume(create_request("pvc-hole")).volume.volume_id
    attacher.volume(volume_id)
    attacher.attach(csi, volume_id, "node-a")
    attacher.detach(csi, volume_id, "node-a")
    attacher.attach(csi, volume_id, "node-a")
    code, _message = error_of(lambda: csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-c")))
    assert code == grpc.StatusCode.FAILED_PRECONDITION


def test_a_migration_times_out_after_a_restart_from_the_volume_attachments(
    start_driver: Callable[..., Csi], kube: tuple[KubeApiFake, Path]
) -> None:
    fake, kubeconfig = kube
    attacher = Attacher(fake, kubeconfig)
    csi = start_driver(kubeconfig=str(kubeconfig), events=False)
    capability = block(RWX)
    volume_id = csi.controller.CreateVolume(create_request("pvc-migrate", capability=capability)).volume.volume_id
    attacher.volume(volume_id, rwx_block=True, timeout="30")
    attacher.attach(csi, volume_id, "node-a", capability, created="2020-01-01T00:00:00Z")
    long_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    attacher.attach(csi, volume_id, "node-b", capability, created=long_ago)

    again = start_driver(kubeconfig=str(kubeconfig), events=False)
    eventually(lambda: published(again, volume_id) == ["node-a", "node-b"])
    code, message = error_of(
        lambda: again.controller.ControllerPublishVolume(publish_request(volume_id, "node-b", capability))
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "timeout of 30 s" in message
    again.controller.ControllerPublishVolume(publish_request(volume_id, "node-a", capability))
    code, _message = error_of(
        lambda: again.controller.ControllerPublishVolume(publish_request(volume_id, "node-c", capability))
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION


def test_the_api_down_fails_closed_and_releases_nothing(
    start_driver: Callable[..., Csi], kube: tuple[KubeApiFake, Path]
) -> None:
    fake, kubeconfig = kube
    attacher = Attacher(fake, kubeconfig)
    csi = start_driver(kubeconfig=str(kubeconfig), events=False)
    volume_id = csi.controller.CreateVolume(create_request("pvc-down")).volume.volume_id
    attacher.volume(volume_id)
    attacher.attach(csi, volume_id, "node-a")
    fake.stop()
    code, _message = error_of(lambda: csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-b")))
    assert code == grpc.StatusCode.UNAVAILABLE
    assert published(csi, volume_id) == ["node-a"]  # the cache is kept: nothing released by an API error


def test_standalone_attachments_survive_a_restart_in_the_state_file(
    start_driver: Callable[..., Csi], socket_dir: Path
) -> None:
    csi = start_driver()
    volume_id = csi.controller.CreateVolume(create_request("pvc-standalone")).volume.volume_id
    csi.controller.ControllerPublishVolume(publish_request(volume_id, "node-a"))
    assert (socket_dir / "attachments.json").exists()

    again = start_driver()
    assert published(again, volume_id) == ["node-a"]
    code, message = error_of(lambda: again.controller.ControllerPublishVolume(publish_request(volume_id, "node-b")))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "node-a" in message
    again.controller.ControllerUnpublishVolume(
        csi_pb2.ControllerUnpublishVolumeRequest(volume_id=volume_id, node_id="node-a")
    )
    again.controller.ControllerPublishVolume(publish_request(volume_id, "node-b"))
