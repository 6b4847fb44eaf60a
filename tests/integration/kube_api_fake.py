"""An HTTP-level Kubernetes API fake (kmock's in-memory emulator) for tests that use the real client.

The ``kubernetes`` client talks to it over HTTP on loopback, through a generated kubeconfig, so
nothing in the client is patched. It serves whatever objects a test stores: PersistentVolumes
today; Nodes, VolumeAttachments, Events and Leases are stored the same way with ``put``.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any, Optional

import kmock
import yaml

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


class KubeApiFake:
    def __init__(self) -> None:
        self._ready = threading.Event()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stop: Optional[asyncio.Event] = None
        self._emulator: Optional[kmock.KubernetesEmulator] = None
        self._url = ""
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, name="kube-api-fake", daemon=True)

    @property
    def url(self) -> str:
        return self._url

    def start(self) -> KubeApiFake:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise RuntimeError("The Kubernetes API fake did not start within %.0f s." % START_TIMEOUT)
        if self._error is not None:
            raise RuntimeError("The Kubernetes API fake failed to start: %s" % self._error)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(STOP_TIMEOUT)

    def put(self, resource: str, namespace: Optional[str], name: str, body: dict[str, Any]) -> None:
        """Store an object, for example ``put("v1/persistentvolumes", None, "pv-1", {...})``."""
        emulator = self._emulator
        loop = self._loop
        if emulator is None or loop is None:
            raise RuntimeError("The Kubernetes API fake is not running.")

        async def store() -> None:
            emulator.objects[resource, namespace, name] = body

        asyncio.run_coroutine_threadsafe(store(), loop).result(START_TIMEOUT)

    def add_persistent_volume(self, name: str, volume_handle: str, driver: str = "rds.csi.srvlab.io") -> None:
        self.put(
            "v1/persistentvolumes",
            None,
            name,
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": name},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "csi": {"driver": driver, "volumeHandle": volume_handle},
                },
                "status": {"phase": "Bound"},
            },
        )

    def write_kubeconfig(self, path: Path) -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self._url}}],
            "users": [{"name": "tester", "user": {"token": "not-checked"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "tester"}}],
            "current-context": "fake",
        }
        path.write_text(yaml.safe_dump(config))
        return path

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:
            self._error = error
            self._ready.set()

    async def _serve(self) -> None:
        async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
            self._emulator = emulator
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._url = str(server.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()
