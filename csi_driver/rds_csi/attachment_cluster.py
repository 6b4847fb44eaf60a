"""The attachment ledger from the Kubernetes API (P-7.4): the driver's VolumeAttachments and its PVs.

Both are listed, then watched from the list's resourceVersion; a watch ends every ``RESYNC`` seconds
and the objects are listed again (a 410 Gone does the same). Only an attached VolumeAttachment holds
its volume; the PV gives the volume handle and the access mode (RWO unless it is ReadWriteMany and
Block). Until both lists have been read, and from an API error until the next successful list,
every read raises Unavailable: the cache is kept, never emptied, so nothing is released because the
API failed. PV annotations ``rds.csi.srvlab.io/attached-node`` and ``/attached-at`` are written for
humans and never read (P-11.3).
"""

from __future__ import annotations

import calendar
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Optional

import grpc

from rds_csi.attachments import Attachment
from rds_csi.errors import CsiError
from rds_csi.events import timestamp

LOG = logging.getLogger("rds_csi.attachment_cluster")
DRIVER = "rds.csi.srvlab.io"
NODE_ANNOTATION = DRIVER + "/attached-node"
AT_ANNOTATION = DRIVER + "/attached-at"
RESYNC = 300  # seconds a watch runs before the objects are listed again
RETRY = 1.0  # seconds after an API error before listing again
REQUEST_TIMEOUT = 10


class Informer:
    """One kind's objects by name, listed then watched on a daemon thread."""

    def __init__(self, name: str, list_call: Callable[..., Any], keep: Callable[[dict[str, Any]], bool]) -> None:
        self.name = name
        self._list = list_call
        self._keep = keep
        self.objects: dict[str, dict[str, Any]] = {}
        self.synced = False
        self.error = "not listed yet"
        self.changed: Callable[[], None] = lambda: None
        self.lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="informer-" + name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                version = self._relist()
                self._watch(version)
            except Exception as error:  # the API is unreachable or refused: fail closed until the next list
                with self.lock:
                    if self.synced:
                        LOG.warning("%s watch failed: %s", self.name, error)
                    self.synced = False
                    self.error = str(error)
                self._stopping.wait(RETRY)

    def _relist(self) -> str:
        response = self._list(_preload_content=False, _request_timeout=REQUEST_TIMEOUT)
        listing = json.loads(response.data)
        with self.lock:
            self.objects = {item["metadata"]["name"]: item for item in listing.get("items", []) if self._keep(item)}
            self.synced = True
        self.changed()
        return str(listing.get("metadata", {}).get("resourceVersion", ""))

    def _watch(self, version: str) -> None:
        response = self._list(
            watch=True,
            resource_version=version,
            timeout_seconds=RESYNC,
            _preload_content=False,
            _request_timeout=(REQUEST_TIMEOUT, RESYNC + REQUEST_TIMEOUT),
        )
        try:
            for line in _lines(response):
                if self._stopping.is_set():
                    return
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    return  # 410 Gone and its kin: list again
                self._apply(event["type"], event["object"])
        finally:
            response.release_conn()

    def _apply(self, kind: str, item: dict[str, Any]) -> None:
        name = item["metadata"]["name"]
        with self.lock:
            if kind == "DELETED" or not self._keep(item):
                self.objects.pop(name, None)
            else:
                self.objects[name] = item
        self.changed()


def _lines(response: Any) -> Any:
    pending = b""
    for chunk in response.stream(amt=65536, decode_content=True):
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if line.strip():
                yield line


def _seconds(stamp: Optional[str]) -> float:
    if not stamp:
        return 0.0
    return float(calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")))


class ClusterLedger:
    def __init__(self, kubeconfig: str) -> None:
        # The kubernetes client costs ~40 MiB of memory; only drivers that use the API load it.
        from kubernetes import client, config  # noqa: PLC0415

        if kubeconfig == "in-cluster":
            config.load_incluster_config()  # type: ignore[no-untyped-call]
        else:
            config.load_kube_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
        self._core: Any = client.CoreV1Api()
        storage: Any = client.StorageV1Api()
        self.attachments = Informer(
            "volumeattachments", storage.list_volume_attachment, lambda item: item["spec"].get("attacher") == DRIVER
        )
        self.volumes_informer = Informer(
            "persistentvolumes",
            self._core.list_persistent_volume,
            lambda item: (item.get("spec", {}).get("csi") or {}).get("driver") == DRIVER,
        )
        self._lock = threading.Lock()
        self._index: Optional[dict[str, dict[str, Attachment]]] = None
        self._pv_of: dict[str, dict[str, Any]] = {}
        for informer in (self.attachments, self.volumes_informer):
            informer.changed = self._dirty

    def start(self) -> None:
        self.attachments.start()
        self.volumes_informer.start()

    def stop(self) -> None:
        self.attachments.stop()
        self.volumes_informer.stop()

    def _dirty(self) -> None:
        with self._lock:
            self._index = None

    def held(self, volume_id: str) -> tuple[Attachment, ...]:
        return tuple(self._built().get(volume_id, {}).values())

    def volumes(self) -> list[str]:
        return list(self._built())

    def confirmed(self, volume_id: str, node_id: str) -> Optional[bool]:
        """Whether node_id's VolumeAttachment of the volume exists (attached or not)."""
        return node_id in self._built().get(volume_id, {}) or node_id in self._pending(volume_id)

    def timeout(self, volume_id: str) -> Optional[str]:
        self._built()
        pv = self._pv_of.get(volume_id)
        return None if pv is None else pv["spec"]["csi"].get("volumeAttributes", {}).get("migrationTimeoutSeconds")

    def attached(self, volume_id: str, attachment: Attachment, timeout: int) -> None:
        self._annotate(volume_id, attachment.node_id, add=True)

    def detached(self, volume_id: str, node_id: str) -> None:
        self._annotate(volume_id, node_id, add=False)

    def _pending(self, volume_id: str) -> set[str]:
        with self.attachments.lock:
            items = list(self.attachments.objects.values())
        pv = self._pv_of.get(volume_id)
        name = pv["metadata"]["name"] if pv else None
        return {item["spec"].get("nodeName") for item in items if _pv_name(item) == name and name}

    def _built(self) -> dict[str, dict[str, Attachment]]:
        for informer in (self.attachments, self.volumes_informer):
            if not informer.synced:
                raise CsiError(
                    grpc.StatusCode.UNAVAILABLE,
                    "The controller cannot read the cluster's %s from the Kubernetes API (%s); publishes wait "
                    "until it can, and no attachment is released meanwhile." % (informer.name, informer.error),
                )
        with self._lock:
            if self._index is not None:
                return self._index
        with self.volumes_informer.lock:
            pvs = list(self.volumes_informer.objects.values())
        with self.attachments.lock:
            vas = list(self.attachments.objects.values())
        by_name = {pv["metadata"]["name"]: pv for pv in pvs}
        pv_of = {pv["spec"]["csi"]["volumeHandle"]: pv for pv in pvs}
        index: dict[str, dict[str, Attachment]] = {}
        for va in vas:
            if not (va.get("status") or {}).get("attached"):
                continue
            pv = by_name.get(_pv_name(va) or "")
            inline = ((va["spec"].get("source") or {}).get("inlineVolumeSpec") or {}).get("csi") or {}
            volume_id = pv["spec"]["csi"]["volumeHandle"] if pv else inline.get("volumeHandle")
            if not volume_id:
                LOG.warning("VolumeAttachment %s names no known PV; it cannot be matched", va["metadata"]["name"])
                continue
            spec = pv["spec"] if pv else {}
            metadata = va["metadata"]
            index.setdefault(volume_id, {})[va["spec"]["nodeName"]] = Attachment(
                node_id=va["spec"]["nodeName"],
                readonly=None,
                multi_writer="ReadWriteMany" in spec.get("accessModes", []) and spec.get("volumeMode") == "Block",
                since=_seconds(metadata.get("creationTimestamp")),
                uid=metadata.get("uid", ""),
                deleting=bool(metadata.get("deletionTimestamp")),
            )
        with self._lock:
            self._index = index
            self._pv_of = pv_of
        return index

    def _annotate(self, volume_id: str, node_id: str, add: bool) -> None:
        """Written for humans only; a failure is logged, never fatal."""
        pv = self._pv_of.get(volume_id)
        if pv is None:
            return
        nodes = {held.node_id for held in self.held(volume_id)} - {node_id}
        if add:
            nodes.add(node_id)
        patch = {
            "metadata": {
                "annotations": {
                    NODE_ANNOTATION: ",".join(sorted(nodes)) or None,
                    AT_ANNOTATION: timestamp(time.time()) if nodes else None,
                }
            }
        }
        try:
            self._core.patch_persistent_volume(pv["metadata"]["name"], patch, _request_timeout=REQUEST_TIMEOUT)
        except Exception as error:  # annotations are informational
            LOG.info("PV %s: attachment annotations not written: %s", pv["metadata"]["name"], error)


def _pv_name(va: dict[str, Any]) -> Optional[str]:
    return (va["spec"].get("source") or {}).get("persistentVolumeName")
