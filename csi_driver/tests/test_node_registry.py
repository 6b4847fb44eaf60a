"""P-7.6 with a kubeconfig: the Kubernetes Node objects decide which node IDs exist, and an API
that cannot be reached fails publish closed. The API is kmock's HTTP-level emulator; the driver's
real ``kubernetes`` client talks to it over loopback through a generated kubeconfig."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import grpc
import kmock
import pytest
import yaml
from csi_helpers import Csi, create_request, error_of, publish_request
from rds_csi.topology import host_segments

HOST_NQN = "nqn.2014-08.org.nvmexpress:uuid:4a3f9c2e-7d1b-4e8a-9b6c-2f0e5d7a1c3b"


class NodeApi:
    """kmock's Kubernetes emulator on a loopback port, in a thread of its own."""

    def __init__(self) -> None:
        self.url = ""
        self._ready = threading.Event()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stop: Optional[asyncio.Event] = None
        self._emulator: Optional[kmock.KubernetesEmulator] = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(10), "kmock did not start"

    def stop(self) -> None:
        if self._thread.is_alive() and self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def add_node(self, name: str, labels: Optional[dict[str, str]] = None) -> None:
        emulator, loop = self._emulator, self._loop
        assert emulator is not None and loop is not None
        body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}}}

        async def store() -> None:
            emulator.objects["v1/nodes", None, name] = body

        asyncio.run_coroutine_threadsafe(store(), loop).result(10)

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                    "users": [{"name": "tester", "user": {"token": "not-checked"}}],
                    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "tester"}}],
                    "current-context": "fake",
                }
            )
        )
        return path

    async def _serve(self) -> None:
        async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
            # The attachment manager lists and watches these (empty here) beside the Nodes.
            for resource, kind in (
                ("storage.k8s.io/v1/volumeattachments", "VolumeAttachment"),
                ("v1/persistentvolumes", "PersistentVolume"),
            ):
                emulator.resources[resource] = kmock.ResourceInfo(kind=kind, namespaced=False)
            self._emulator = emulator
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self.url = str(server.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()


@pytest.fixture
def node_api() -> Iterator[NodeApi]:
    api = NodeApi()
    api.start()
    yield api
    api.stop()


def test_kubernetes_nodes_decide_and_failures_fail_closed(start_driver: Any, node_api: NodeApi, tmp_path: Path) -> None:
    node_api.add_node("worker-1", host_segments(HOST_NQN))  # the label storage fencing reads
    csi: Csi = start_driver(kubeconfig=str(node_api.kubeconfig(tmp_path / "kubeconfig")))
    first = csi.controller.CreateVolume(create_request("pvc-k8s-1")).volume.volume_id
    second = csi.controller.CreateVolume(create_request("pvc-k8s-2")).volume.volume_id
    assert csi.controller.ControllerPublishVolume(publish_request(first, "worker-1")).publish_context["nqn"]
    assert csi.exports()["nqn.2000-02.com.mikrotik:" + first]["allowed_host_nqns"] == [HOST_NQN]
    code, message = error_of(lambda: csi.controller.ControllerPublishVolume(publish_request(first, "node-b")))
    assert code == grpc.StatusCode.NOT_FOUND and "node-b" in message, "configured IDs do not count with a kubeconfig"
    node_api.stop()
    code, message = error_of(lambda: csi.controller.ControllerPublishVolume(publish_request(second, "worker-1")))
    assert code == grpc.StatusCode.UNAVAILABLE and "refusing to publish" in message
