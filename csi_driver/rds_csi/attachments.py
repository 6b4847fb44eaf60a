"""Which nodes a volume is published to, and the fencing decision (P-7.1, P-7.2).

``Attachments`` is the seam for the attachment manager of a later issue (VolumeAttachment rebuild
after a restart, migration timeouts, storage-side fencing): the controller calls only
``publish``, ``unpublish`` and ``published_nodes``. ``InMemoryAttachments`` keeps the state of
this process, which is what conformance needs; ``decide`` is the pure rule both share.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import grpc

from rds_csi.errors import CsiError

MAX_RWX_NODES = 2  # a live migration: source and target


@dataclass(frozen=True)
class Attachment:
    node_id: str
    readonly: bool
    multi_writer: bool  # MULTI_NODE_MULTI_WRITER on a block volume


class Decision(Enum):
    ALREADY = "already"
    ATTACH = "attach"


def decide(volume_id: str, current: tuple[Attachment, ...], wanted: Attachment) -> Decision:
    """Grant, confirm or refuse ``wanted`` given the volume's current attachments."""
    for held in current:
        if held.node_id == wanted.node_id:
            if held == wanted:
                return Decision.ALREADY
            raise CsiError(
                grpc.StatusCode.ALREADY_EXISTS,
                "Volume %s is already published to node %s with readonly=%s; it cannot be published there again "
                "with readonly=%s. Unpublish it first." % (volume_id, held.node_id, held.readonly, wanted.readonly),
            )
    if not current:
        return Decision.ATTACH
    others = ", ".join(held.node_id for held in current)
    if wanted.multi_writer and all(held.multi_writer for held in current):
        if len(current) < MAX_RWX_NODES:
            return Decision.ATTACH
        raise CsiError(
            grpc.StatusCode.FAILED_PRECONDITION,
            "Volume %s is already attached to %d nodes (%s), the most a ReadWriteMany block volume may have "
            "(a live migration); refusing node %s. Finish or cancel the migration first."
            % (volume_id, len(current), others, wanted.node_id),
        )
    raise CsiError(
        grpc.StatusCode.FAILED_PRECONDITION,
        "Volume %s is a single-node volume already published to node %s; refusing node %s. Detach it from %s "
        "(delete the pod or VolumeAttachment there) before using it on %s."
        % (volume_id, others, wanted.node_id, others, wanted.node_id),
    )


class Attachments(Protocol):
    def publish(self, volume_id: str, wanted: Attachment) -> Decision: ...

    def unpublish(self, volume_id: str, node_id: str) -> bool: ...

    def published_nodes(self, volume_id: str) -> list[str]: ...


class InMemoryAttachments:
    """Attachments of this controller process, guarded by one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_volume: dict[str, tuple[Attachment, ...]] = {}

    def publish(self, volume_id: str, wanted: Attachment) -> Decision:
        with self._lock:
            current = self._by_volume.get(volume_id, ())
            decision = decide(volume_id, current, wanted)
            if decision is Decision.ATTACH:
                self._by_volume[volume_id] = (*current, wanted)
            return decision

    def unpublish(self, volume_id: str, node_id: str) -> bool:
        with self._lock:
            current = self._by_volume.get(volume_id, ())
            kept = tuple(held for held in current if held.node_id != node_id)
            if kept:
                self._by_volume[volume_id] = kept
            else:
                self._by_volume.pop(volume_id, None)
            return len(kept) != len(current)

    def published_nodes(self, volume_id: str) -> list[str]:
        with self._lock:
            return [held.node_id for held in self._by_volume.get(volume_id, ())]
