"""Which nodes a volume is published to, and the fencing rules (P-7.1 to P-7.3, P-7.6).

The controller calls only ``publish``, ``unpublish`` and ``published_nodes``; a reconciler releases
an attachment through ``release``. ``AttachmentManager`` makes every decision under one lock from
the attachments a ``Ledger`` holds (the cluster's VolumeAttachments, ``attachment_cluster``; or the
standalone state file, ``attachment_file``) plus this process's own publishes in flight (granted,
not yet seen as an attached VolumeAttachment). ``decide`` is the pure rule.

Rules:

- RWO: one node; the same node again is idempotent; another node is FailedPrecondition naming both.
- RWX (block only): at most two nodes, a live migration. It starts when the second node attaches
  (the newer attachment's creation: a migration's start is the target's arrival, not the source's
  age) and times out after ``migrationTimeoutSeconds``; after that the target's publish is refused and
  the migration reported failed; the source's unpublish completes it.
- Sequential handoff grace: when this controller unpublishes node A, A's VolumeAttachment (that
  exact object, by uid) usually is still in the cache, marked for deletion, until the
  external-attacher removes its finalizer. For ``handoff_grace`` seconds after the unpublish, that
  object counts as released **only while it carries a deletionTimestamp**. A new publish to A
  clears the record at once (the old driver kept detach times after a re-attach, which let a third
  node take an attached RWO volume inside the window), and a new VolumeAttachment of A (another uid)
  is never covered. After the grace the cache is the truth again: a VolumeAttachment still there
  30 s after its unpublish means the detach did not finish, and the volume stays held.
- A blocking node whose Node object is gone for ``deleted_node_grace`` seconds is released
  (StaleAttachmentCleared); before that the publish is refused with the time left.
- Nothing is released because of an API error: a Ledger that cannot answer raises Unavailable.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Optional, Protocol

import grpc

from rds_csi import events, metrics
from rds_csi.errors import CsiError
from rds_csi.nodes import NodeRegistry
from rds_csi.params import DEFAULT_MIGRATION_TIMEOUT, migration_timeout_of

LOG = logging.getLogger("rds_csi.attachments")
MAX_RWX_NODES = 2  # a live migration: source and target


@dataclass(frozen=True)
class Attachment:
    node_id: str
    readonly: Optional[bool]  # None: not known (rebuilt from a VolumeAttachment)
    multi_writer: bool  # MULTI_NODE_MULTI_WRITER on a block volume
    since: float = 0.0  # epoch seconds the attachment began
    uid: str = ""  # the VolumeAttachment's uid, when it comes from one
    deleting: bool = False  # the VolumeAttachment is marked for deletion


class Decision(Enum):
    ALREADY = "already"
    ATTACH = "attach"
    MIGRATE = "migrate"  # the second node of a RWX block volume: a migration starts


@dataclass(frozen=True)
class Migration:
    source: Attachment
    target: Attachment
    timeout: int

    def timed_out(self, now: float) -> bool:
        return now - self.target.since > self.timeout


def migration_of(current: tuple[Attachment, ...], timeout: int) -> Optional[Migration]:
    if len(current) != MAX_RWX_NODES:
        return None
    source, target = sorted(current, key=lambda held: held.since)
    return Migration(source, target, timeout)


def decide(
    volume_id: str,
    current: tuple[Attachment, ...],
    wanted: Attachment,
    *,
    now: float = 0.0,
    timeout: int = DEFAULT_MIGRATION_TIMEOUT,
) -> Decision:
    """Grant, confirm or refuse ``wanted`` given the volume's current attachments."""
    for held in current:
        if held.node_id == wanted.node_id:
            if None not in (held.readonly, wanted.readonly) and held.readonly != wanted.readonly:
                raise CsiError(
                    grpc.StatusCode.ALREADY_EXISTS,
                    "Volume %s is already published to node %s with readonly=%s; it cannot be published there "
                    "again with readonly=%s. Unpublish it first."
                    % (volume_id, held.node_id, held.readonly, wanted.readonly),
                )
            migration = migration_of(current, timeout)
            if migration is not None and migration.target.node_id == wanted.node_id and migration.timed_out(now):
                raise _timed_out(volume_id, migration)
            return Decision.ALREADY
    if not current:
        return Decision.ATTACH
    others = ", ".join(held.node_id for held in current)
    if wanted.multi_writer and all(held.multi_writer for held in current):
        if len(current) < MAX_RWX_NODES:
            return Decision.MIGRATE
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


def _timed_out(volume_id: str, migration: Migration) -> CsiError:
    return CsiError(
        grpc.StatusCode.FAILED_PRECONDITION,
        "The live migration of volume %s from node %s to node %s started %s and exceeded its timeout of %d s "
        "(migrationTimeoutSeconds); refusing node %s. Detach one of the two nodes (finish or cancel the "
        "migration), or use a StorageClass with a longer migrationTimeoutSeconds."
        % (
            volume_id,
            migration.source.node_id,
            migration.target.node_id,
            events.timestamp(migration.target.since),
            migration.timeout,
            migration.target.node_id,
        ),
    )


class Ledger(Protocol):
    """The attachments that survive this process. Every read raises Unavailable when it cannot answer."""

    def held(self, volume_id: str) -> tuple[Attachment, ...]: ...

    def volumes(self) -> list[str]: ...

    def timeout(self, volume_id: str) -> Optional[str]:
        """The volume's migrationTimeoutSeconds as its PV or record keeps it, if any."""

    def attached(self, volume_id: str, attachment: Attachment, timeout: int) -> None: ...

    def detached(self, volume_id: str, node_id: str) -> None: ...

    def confirmed(self, volume_id: str, node_id: str) -> Optional[bool]:
        """True: the attachment is recorded; False: it was recorded and is gone; None: never seen."""


class Attachments(Protocol):
    def publish(self, volume_id: str, wanted: Attachment, context: Mapping[str, str]) -> Decision: ...

    def unpublish(self, volume_id: str, node_id: str) -> bool: ...

    def published_nodes(self, volume_id: str) -> list[str]: ...


@dataclass
class _Grant:
    attachment: Attachment
    seen: bool = False  # the Ledger showed it since


class AttachmentManager:
    def __init__(
        self,
        ledger: Ledger,
        nodes: NodeRegistry,
        recorder: events.Recorder,
        *,
        handoff_grace: float,
        deleted_node_grace: float,
        clock: object = time.time,
    ) -> None:
        self.ledger = ledger
        self.nodes = nodes
        self.recorder = recorder
        self.handoff_grace = handoff_grace
        self.deleted_node_grace = deleted_node_grace
        self._now = clock
        self._lock = threading.RLock()
        self._grants: dict[tuple[str, str], _Grant] = {}
        self._handoffs: dict[tuple[str, str], float] = {}  # (volume, VolumeAttachment uid) -> unpublished at
        self._released: set[tuple[str, str]] = set()  # (volume, uid or node) cleared as stale
        self._gone_since: dict[str, float] = {}  # node -> first seen without a Node object
        self._timeouts: dict[str, int] = {}
        self._failed: set[tuple[str, str, float]] = set()  # migrations reported failed
        metrics.MIGRATION_ACTIVE.set_function(self.active_migrations)

    def _time(self) -> float:
        return float(self._now())  # type: ignore[operator]

    # The controller's calls

    def publish(self, volume_id: str, wanted: Attachment, context: Mapping[str, str]) -> Decision:
        started = time.monotonic()
        try:
            with self._lock:
                decision = self._publish(volume_id, wanted, context)
        except CsiError as error:
            metrics.ATTACH_TOTAL.labels(
                "conflict" if error.code is grpc.StatusCode.FAILED_PRECONDITION else "error"
            ).inc()
            raise
        finally:
            metrics.ATTACH_DURATION.observe(time.monotonic() - started)
        metrics.ATTACH_TOTAL.labels("success").inc()
        return decision

    def unpublish(self, volume_id: str, node_id: str) -> bool:
        started = time.monotonic()
        try:
            with self._lock:
                return self._unpublish(volume_id, node_id)
        except CsiError:
            metrics.DETACH_TOTAL.labels("error").inc()
            raise
        finally:
            metrics.ATTACH_DURATION.observe(time.monotonic() - started)

    def published_nodes(self, volume_id: str) -> list[str]:
        with self._lock:
            return [held.node_id for held in self._current(volume_id)]

    def release(self, volume_id: str, node_id: str, why: str) -> bool:
        """Stop counting ``node_id``'s attachment of the volume (a reconciler's decision); True when it held one."""
        with self._lock:
            found = [held for held in self._current(volume_id) if held.node_id == node_id]
            for held in found:
                self._released.add((volume_id, held.uid or held.node_id))
            self._grants.pop((volume_id, node_id), None)
            if found and not found[0].uid:
                self.ledger.detached(volume_id, node_id)
        if found:
            metrics.STALE_CLEARED.inc()
            metrics.RECONCILE_TOTAL.labels("released").inc()
            self.recorder.on_volume(
                volume_id,
                events.STALE_ATTACHMENT_CLEARED,
                "Attachment of volume %s to node %s cleared: %s." % (volume_id, node_id, why),
            )
        return bool(found)

    def active_migrations(self) -> int:
        with self._lock:
            try:
                volumes = set(self.ledger.volumes()) | {key[0] for key in self._grants}
                return sum(1 for volume in volumes if len(self._current(volume)) == MAX_RWX_NODES)
            except CsiError:
                return 0

    # Decisions

    def _publish(self, volume_id: str, wanted: Attachment, context: Mapping[str, str]) -> Decision:
        timeout = self._timeout(volume_id, context)
        now = self._time()
        wanted = replace(wanted, since=now)
        current = self._current(volume_id)
        try:
            decision = decide(volume_id, current, wanted, now=now, timeout=timeout)
        except CsiError as error:
            if error.code is not grpc.StatusCode.FAILED_PRECONDITION:
                raise
            if not self._clear_deleted_nodes(volume_id, current, wanted.node_id, now):
                self._refused(volume_id, current, timeout, now, error)
                raise
            current = self._current(volume_id)
            decision = decide(volume_id, current, wanted, now=now, timeout=timeout)
        for key in [key for key in self._handoffs if key[0] == volume_id]:
            if any(held.uid == key[1] and held.node_id == wanted.node_id for held in self.ledger.held(volume_id)):
                del self._handoffs[key]  # a re-attach ends the handoff at once
        if decision is Decision.ALREADY:
            return decision
        self._grants[volume_id, wanted.node_id] = _Grant(wanted)
        self.ledger.attached(volume_id, wanted, timeout)
        self.recorder.on_volume(
            volume_id, events.VOLUME_ATTACHED, "Volume %s attached to node %s." % (volume_id, wanted.node_id)
        )
        if decision is Decision.MIGRATE:
            source = current[0].node_id
            self.recorder.on_volume(
                volume_id,
                events.MIGRATION_STARTED,
                "Live migration of volume %s from node %s to node %s started (timeout %d s)."
                % (volume_id, source, wanted.node_id, timeout),
            )
        return decision

    def _unpublish(self, volume_id: str, node_id: str) -> bool:
        now = self._time()
        current = self._current(volume_id)
        migration = migration_of(current, self._timeout(volume_id, {}))
        mine = [held for held in current if held.node_id == node_id]
        self._grants.pop((volume_id, node_id), None)
        for held in self.ledger.held(volume_id):
            if held.node_id == node_id and held.uid:
                self._handoffs[volume_id, held.uid] = now
        self.ledger.detached(volume_id, node_id)
        metrics.DETACH_TOTAL.labels("success").inc()
        if not mine:
            return False
        self.recorder.on_volume(
            volume_id, events.VOLUME_DETACHED, "Volume %s detached from node %s." % (volume_id, node_id)
        )
        if migration is not None:
            self._ended(volume_id, migration, node_id, now)
        return True

    def _ended(self, volume_id: str, migration: Migration, node_id: str, now: float) -> None:
        key = (volume_id, migration.target.node_id, migration.target.since)
        if node_id == migration.source.node_id:
            metrics.MIGRATIONS_TOTAL.labels("completed").inc()
            metrics.MIGRATION_DURATION.observe(max(0.0, now - migration.target.since))
            self.recorder.on_volume(
                volume_id,
                events.MIGRATION_COMPLETED,
                "Live migration of volume %s from node %s to node %s completed in %.0f s."
                % (volume_id, migration.source.node_id, migration.target.node_id, now - migration.target.since),
            )
        elif key not in self._failed:
            metrics.MIGRATIONS_TOTAL.labels("cancelled").inc()
        self._failed.discard(key)

    def _refused(
        self, volume_id: str, current: tuple[Attachment, ...], timeout: int, now: float, error: CsiError
    ) -> None:
        metrics.CONFLICTS_TOTAL.inc()
        migration = migration_of(current, timeout)
        if migration is not None and migration.timed_out(now):
            key = (volume_id, migration.target.node_id, migration.target.since)
            if key not in self._failed:
                self._failed.add(key)
                metrics.MIGRATIONS_TOTAL.labels("failed").inc()
                self.recorder.on_volume(volume_id, events.MIGRATION_FAILED, str(error))
                return
        self.recorder.on_volume(volume_id, events.ATTACHMENT_CONFLICT, str(error))

    def _clear_deleted_nodes(
        self, volume_id: str, current: tuple[Attachment, ...], wanted_node: str, now: float
    ) -> bool:
        """Release blocking nodes whose Node object is gone for the grace period; True when one was."""
        cleared = False
        for held in current:
            if held.node_id == wanted_node:
                continue
            if self.nodes.exists(held.node_id):
                self._gone_since.pop(held.node_id, None)
                continue
            gone_since = self._gone_since.setdefault(held.node_id, now)
            if now - gone_since >= self.deleted_node_grace:
                cleared |= self.release(
                    volume_id,
                    held.node_id,
                    "its node no longer exists (no Node object for %.0f s)" % (now - gone_since),
                )
        return cleared

    def _current(self, volume_id: str) -> tuple[Attachment, ...]:
        """The ledger's attachments not handed off or released, plus this process's grants not yet in it."""
        now = self._time()
        kept: dict[str, Attachment] = {}
        for held in self.ledger.held(volume_id):
            if (volume_id, held.uid or held.node_id) in self._released:
                continue
            handed = self._handoffs.get((volume_id, held.uid)) if held.uid else None
            if handed is not None and held.deleting and now - handed < self.handoff_grace:
                continue
            kept.setdefault(held.node_id, held)
        for (volume, node_id), grant in list(self._grants.items()):
            if volume != volume_id:
                continue
            state = self.ledger.confirmed(volume_id, node_id)
            if state is False and grant.seen:
                del self._grants[volume, node_id]  # its VolumeAttachment came and went: detached
                continue
            grant.seen = grant.seen or state is True
            kept.setdefault(node_id, grant.attachment)
        self._handoffs = {key: at for key, at in self._handoffs.items() if now - at < self.handoff_grace}
        return tuple(sorted(kept.values(), key=lambda held: held.since))

    def _timeout(self, volume_id: str, context: Mapping[str, str]) -> int:
        if "migrationTimeoutSeconds" in context:
            self._timeouts[volume_id] = migration_timeout_of(context)
        elif volume_id not in self._timeouts:
            recorded = self.ledger.timeout(volume_id)
            self._timeouts[volume_id] = migration_timeout_of({"migrationTimeoutSeconds": recorded} if recorded else {})
        return self._timeouts[volume_id]
