# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A volume's attachments as Kubernetes has them, and clearing a stale one the way the external-attacher does.

Contract with the external-attacher (kubernetes-csi/external-attacher, ``pkg/controller``): it adds the
finalizer ``external-attacher/<driver name with every character outside [a-zA-Z0-9-] turned into ->`` to
each VolumeAttachment it attaches. When the attach/detach controller deletes the VolumeAttachment, the
API server only sets ``deletionTimestamp``; the attacher then calls ControllerUnpublishVolume and, once
that succeeded, marks the object detached: first the status (``attached: false``, no ``detachError``, no
``attachmentMetadata``), then the finalizer is removed, and the API server removes the object. A failing
ControllerUnpublishVolume (the RDS down, the node gone) is retried with backoff and saved as
``detachError``, and the object stays: that is the stuck attachment.

``clear`` follows the same path: delete (so a working attacher runs ControllerUnpublishVolume and the
controller narrows the export's allowed hosts), wait, and only if the object is still there mark it
detached itself in the attacher's order. The attacher then finds no finalizer and treats the object as
detached; the attach/detach controller sees the VolumeAttachment gone, which is what a finished detach
looks like to it, and attaches the volume where its pods now run.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional, Tuple

from ansible_collections.srvlab.rds.plugins.module_utils.kube_volumes import (
    DRIVER_NAME,
    PAGE_SIZE,
    KubeError,
    driver_volumes,
    storage_api,
)

ATTACHED_NODE_ANNOTATION = "rds.csi.srvlab.io/attached-node"
ATTACHED_AT_ANNOTATION = "rds.csi.srvlab.io/attached-at"
OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service"
MERGE_PATCH = "application/merge-patch+json"
POLL_INTERVAL = 1.0


def attacher_finalizer(driver: str) -> str:
    """The finalizer the external-attacher puts on the VolumeAttachments of ``driver``."""
    name = re.sub(r"[^a-zA-Z0-9-]", "-", driver)
    return "external-attacher/" + (name + "X" if name.endswith("-") else name)


@dataclass(frozen=True)
class NodeStatus:
    """A node as the cluster has it; ``ready`` is None when the Node has no Ready condition (or is gone)."""

    name: str
    exists: bool
    ready: Optional[bool]
    out_of_service: bool

    @property
    def stale(self) -> bool:
        """Whether an attachment to this node may be cleared without ``force``: gone, not Ready, or fenced."""
        return not self.exists or self.ready is not True or self.out_of_service

    def as_dict(self) -> Dict[str, Any]:
        return {"exists": self.exists, "ready": self.ready, "out_of_service": self.out_of_service}


@dataclass(frozen=True)
class Attachment:
    """A VolumeAttachment of the driver for one PersistentVolume."""

    name: str
    node: str
    attached: bool
    deletion_timestamp: Optional[str]
    finalizers: Tuple[str, ...]
    attach_error: Optional[str]
    detach_error: Optional[str]
    resource_version: str

    def as_dict(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "node": self.node,
            "attached": self.attached,
            "deletion_timestamp": self.deletion_timestamp,
            "finalizers": list(self.finalizers),
            "attach_error": self.attach_error,
            "detach_error": self.detach_error,
        }


@dataclass(frozen=True)
class VolumeRecord:
    """The PersistentVolume of a volume ID and the attachment annotations the driver writes for humans."""

    name: str
    attached_node: Optional[str]
    attached_at: Optional[str]

    def as_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "attached_node": self.attached_node, "attached_at": self.attached_at}


@dataclass(frozen=True)
class Clearing:
    """What clearing one attachment did (or would do): ``deleted`` the object, ``marked_detached`` it."""

    attachment: Attachment
    deleted: bool
    marked_detached: bool
    remaining: bool

    def as_dict(self) -> Dict[str, Any]:
        return {
            "name": self.attachment.name,
            "node": self.attachment.node,
            "deleted": self.deleted,
            "marked_detached": self.marked_detached,
            "remaining": self.remaining,
        }


def _text(moment: Any) -> Optional[str]:
    if moment is None:
        return None
    return moment.isoformat() if isinstance(moment, datetime) else str(moment)


def _error_message(error: Any) -> Optional[str]:
    return None if error is None else (error.message or "")


class RefusedError(Exception):
    """Clearing was refused before anything changed; the message names the attachment and the way on."""


def plan_clearing(
    volume_id: str, attachments: List[Attachment], nodes: Dict[str, NodeStatus], node: Optional[str], force: bool
) -> Tuple[List[Attachment], List[Attachment]]:
    """The attachments to clear and the ones kept. Without ``node``: those whose node is stale. With ``node``:
    that node's, refused while the node is Ready (and not out of service) unless ``force``."""
    if node is None:
        clear = [attachment for attachment in attachments if nodes[attachment.node].stale]
        return clear, [attachment for attachment in attachments if attachment not in clear]
    clear = [attachment for attachment in attachments if attachment.node == node]
    if clear and not nodes[node].stale and not force:
        raise RefusedError(
            "VolumeAttachment %s of volume %s is on node %s, which is Ready and not tainted %s: it may still be "
            "using the volume. Make sure it is down (or taint it %s), or set force=true once you are sure it no "
            "longer writes to the volume; nothing was changed."
            % (clear[0].name, volume_id, node, OUT_OF_SERVICE_TAINT, OUT_OF_SERVICE_TAINT)
        )
    return clear, [attachment for attachment in attachments if attachment.node != node]


def attachment_from(item: Any) -> Attachment:
    status = item.status
    return Attachment(
        name=item.metadata.name,
        node=item.spec.node_name,
        attached=bool(status.attached) if status is not None else False,
        deletion_timestamp=_text(item.metadata.deletion_timestamp),
        finalizers=tuple(item.metadata.finalizers or ()),
        attach_error=_error_message(status.attach_error) if status is not None else None,
        detach_error=_error_message(status.detach_error) if status is not None else None,
        resource_version=item.metadata.resource_version or "",
    )


def node_status_from(name: str, node: Any) -> NodeStatus:
    if node is None:
        return NodeStatus(name, exists=False, ready=None, out_of_service=False)
    conditions = node.status.conditions if node.status is not None else None
    ready = next((condition.status == "True" for condition in conditions or [] if condition.type == "Ready"), None)
    taints = node.spec.taints if node.spec is not None else None
    fenced = any(taint.key == OUT_OF_SERVICE_TAINT for taint in taints or [])
    return NodeStatus(name, exists=True, ready=ready, out_of_service=fenced)


class AttachmentApi:
    """The Kubernetes calls of the attachment repair, over one ApiClient (from ``kube_volumes.core_api``)."""

    def __init__(self, core: Any, driver: str = DRIVER_NAME, timeout: float = 30.0) -> None:
        self.core = core
        self.storage = storage_api(core)
        self.driver = driver
        self.timeout = timeout

    def volume(self, volume_id: str) -> Optional[VolumeRecord]:
        """The PersistentVolume whose volume handle is ``volume_id``, or None."""
        for volume in driver_volumes(self.core, self.driver, self.timeout):
            if volume.spec.csi.volume_handle == volume_id:
                annotations = volume.metadata.annotations or {}
                return VolumeRecord(
                    volume.metadata.name,
                    annotations.get(ATTACHED_NODE_ANNOTATION),
                    annotations.get(ATTACHED_AT_ANNOTATION),
                )
        return None

    def attachments(self, pv_name: str) -> List[Attachment]:
        """The driver's VolumeAttachments of the PersistentVolume ``pv_name``, sorted by node."""
        found = []
        token = None
        while True:
            page = self._call(
                "list VolumeAttachments",
                self.storage.list_volume_attachment,
                limit=PAGE_SIZE,
                _continue=token,
            )
            if page is None:
                raise KubeError(
                    "The cluster does not serve VolumeAttachments (storage.k8s.io/v1); check the API server."
                )
            for item in page.items or []:
                if item.spec.attacher == self.driver and item.spec.source.persistent_volume_name == pv_name:
                    found.append(attachment_from(item))
            token = page.metadata._continue if page.metadata is not None else None
            if not token:
                return sorted(found, key=lambda attachment: (attachment.node, attachment.name))

    def node(self, name: str) -> NodeStatus:
        node = self._call("read Node %s" % name, self.core.read_node, name)
        return node_status_from(name, node)

    def clear(self, attachment: Attachment, wait: float) -> Clearing:
        """Delete the attachment, give the external-attacher ``wait`` seconds, then mark it detached itself."""
        deleted = attachment.deletion_timestamp is None
        if deleted:
            what = "delete VolumeAttachment %s" % attachment.name
            self._call(what, self.storage.delete_volume_attachment, attachment.name)
        current = self._wait_gone(attachment.name, wait)
        if current is None:
            return Clearing(attachment, deleted, marked_detached=False, remaining=False)
        self._mark_detached(current)
        current = self._wait_gone(attachment.name, 0.0)
        return Clearing(attachment, deleted, marked_detached=True, remaining=current is not None)

    def forget_node(self, volume: VolumeRecord, node: str) -> bool:
        """Drop the PV's attachment annotations when they still name ``node``; whether they did."""
        if volume.attached_node != node:
            return False
        body = {"metadata": {"annotations": {ATTACHED_NODE_ANNOTATION: None, ATTACHED_AT_ANNOTATION: None}}}
        self._call(
            "remove the annotations %s and %s of PersistentVolume %s"
            % (ATTACHED_NODE_ANNOTATION, ATTACHED_AT_ANNOTATION, volume.name),
            self.core.patch_persistent_volume,
            volume.name,
            body,
            _content_type=MERGE_PATCH,
        )
        return True

    def _mark_detached(self, attachment: Attachment) -> None:
        """The attacher's own order: status first, then the finalizer, so the object never goes while attached.
        The resourceVersion makes a concurrent change by the attacher a conflict instead of a lost write."""
        finalizer = attacher_finalizer(self.driver)
        status = {
            "metadata": {"resourceVersion": attachment.resource_version},
            "status": {"attached": False, "detachError": None, "attachmentMetadata": None},
        }
        what = "mark VolumeAttachment %s detached" % attachment.name
        patched = self._call(
            what,
            self.storage.patch_volume_attachment_status,
            attachment.name,
            status,
            _content_type=MERGE_PATCH,
        )
        if patched is None:
            return
        remaining = [name for name in attachment.finalizers if name != finalizer]
        body = {"metadata": {"resourceVersion": patched.metadata.resource_version, "finalizers": remaining or None}}
        self._call(
            "remove the finalizer %s of VolumeAttachment %s" % (finalizer, attachment.name),
            self.storage.patch_volume_attachment,
            attachment.name,
            body,
            _content_type=MERGE_PATCH,
        )

    def _wait_gone(self, name: str, wait: float) -> Optional[Attachment]:
        """The attachment as it is after up to ``wait`` seconds, or None once it is gone."""
        deadline = time.monotonic() + wait
        while True:
            item = self._call(
                "read VolumeAttachment %s" % name,
                self.storage.read_volume_attachment,
                name,
            )
            if item is None or time.monotonic() >= deadline:
                return None if item is None else attachment_from(item)
            time.sleep(POLL_INTERVAL)

    def _call(self, what: str, request: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``request(*args, **kwargs)``; None when the object does not exist (404), KubeError naming ``what``
        otherwise."""
        try:
            return request(*args, _request_timeout=self.timeout, **kwargs)
        except Exception as error:  # ApiException, urllib3 errors
            if getattr(error, "status", None) == 404:
                return None
            raise KubeError("Cannot %s: %s" % (what, _reason(error))) from error


def _reason(error: Exception) -> str:
    status = getattr(error, "status", None)
    if status is None:
        return str(error)
    return "the API server answered %s %s" % (status, getattr(error, "reason", "") or "")
