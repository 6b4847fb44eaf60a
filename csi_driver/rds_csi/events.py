"""Kubernetes events (P-7.8): the driver's one recorder, used by the controller and the node.

Events go on the volume's PersistentVolumeClaim (claims.py finds it), on this node's Node object
for an orphaned connection without a claim, and on the controller's own Pod for the RDS connection.
They are core ``v1`` Events, posted with the ``kubernetes`` client the way client-go's recorder
posts them:

- a repeat (same object, type, reason, message and source) bumps ``count`` and ``lastTimestamp`` of
  the Event already posted with a strategic merge patch, instead of creating another Event;
- similar events (same object, type and reason) with ``SIMILAR_LIMIT`` different messages within
  ``SIMILAR_WINDOW`` become one Event whose message says it is combined, bumped from then on;
- each object has a token bucket (``SPAM_BURST`` events, then one per ``SPAM_REFILL`` seconds):
  what exceeds it is not sent, though it still counts in the next ``count`` that is.

Posting never blocks or fails an RPC: an event joins a bounded queue, and a daemon thread resolves
its object (which may ask the API) and sends it. A failing API is logged once per transition and
counted in ``rds_csi_events_failed_total``; what was sent, created or bumped, in
``rds_csi_events_posted_total``. Without a Kubernetes API (no kubeconfig, or events turned off) the
recorder only logs each event at debug level.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Optional, TypeVar, Union

from rds_csi import DRIVER_NAME, metrics
from rds_csi.claims import Claim, Claims

LOG = logging.getLogger("rds_csi.events")
NORMAL = "Normal"
WARNING = "Warning"
# client-go's recorder defaults (k8s.io/client-go/tools/record/events_cache.go).
SIMILAR_LIMIT = 10
SIMILAR_WINDOW = 600.0
SPAM_BURST = 25
SPAM_REFILL = 300.0
CACHE_SIZE = 4096
COMBINED = "(combined from similar events): "
QUEUE_SIZE = 1000
MESSAGE_LIMIT = 1024  # what events.k8s.io allows a note; a longer message is cut
REQUEST_TIMEOUT = 5.0  # seconds per API request of the recorder's thread


@dataclass(frozen=True)
class Reason:
    name: str
    type: str


# Every reason the driver posts (the Go driver's names), with the event type it is posted as.
CONNECTION_FAILURE = Reason("ConnectionFailure", WARNING)
CONNECTION_RECOVERY = Reason("ConnectionRecovery", NORMAL)
MOUNT_FAILURE = Reason("MountFailure", WARNING)
STALE_MOUNT_DETECTED = Reason("StaleMountDetected", WARNING)
ORPHAN_DETECTED = Reason("OrphanDetected", WARNING)
ORPHAN_CLEANED = Reason("OrphanCleaned", NORMAL)
RDS_DISCONNECTED = Reason("RDSDisconnected", WARNING)
RDS_RECONNECTED = Reason("RDSReconnected", NORMAL)
STORAGE_FENCED = Reason("StorageFenced", NORMAL)
VOLUME_ATTACHED = Reason("VolumeAttached", NORMAL)
VOLUME_DETACHED = Reason("VolumeDetached", NORMAL)
ATTACHMENT_CONFLICT = Reason("AttachmentConflict", WARNING)
MIGRATION_STARTED = Reason("MigrationStarted", NORMAL)
MIGRATION_COMPLETED = Reason("MigrationCompleted", NORMAL)
MIGRATION_FAILED = Reason("MigrationFailed", WARNING)
STALE_ATTACHMENT_CLEARED = Reason("StaleAttachmentCleared", WARNING)


@dataclass(frozen=True)
class ObjectRef:
    """An event's involvedObject (all core v1 kinds)."""

    kind: str
    name: str
    namespace: str = ""
    uid: str = ""

    @property
    def event_namespace(self) -> str:
        """Events of a cluster-scoped object live in ``default``, as kubelet posts a Node's."""
        return self.namespace or "default"

    def body(self) -> dict[str, str]:
        body = {"apiVersion": "v1", "kind": self.kind, "name": self.name}
        if self.namespace:
            body["namespace"] = self.namespace
        if self.uid:
            body["uid"] = self.uid
        return body


def claim_ref(claim: Claim) -> ObjectRef:
    return ObjectRef("PersistentVolumeClaim", claim.name, claim.namespace, claim.uid)


def node_ref(node_name: str) -> ObjectRef:
    # kubelet's convention for a Node's events (its UID is its name), which kubectl describe node finds.
    return ObjectRef("Node", node_name, uid=node_name)


# The pure part: what client-go's EventCorrelator decides, for one event at a time.


@dataclass(frozen=True)
class Occurrence:
    subject: ObjectRef
    reason: Reason
    message: str
    at: float  # Unix time it happened


@dataclass(frozen=True)
class Write:
    """One request to send: a new Event, or a bump of the Event posted before under the same name."""

    namespace: str
    name: str
    event: dict[str, Any]  # the whole Event, also sent when a bump finds the Event expired
    bump: bool

    def patch(self) -> dict[str, Any]:
        return {key: self.event[key] for key in ("count", "lastTimestamp", "message")}


@dataclass
class _Seen:
    name: str
    count: int
    first: str


@dataclass
class _Similar:
    messages: set[str]
    last: float


@dataclass
class _Bucket:
    tokens: float
    at: float


K = TypeVar("K")
V = TypeVar("V")


class _Lru(Generic[K, V]):
    """A dict that forgets its least recently used key beyond ``size`` keys."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> Optional[V]:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


def timestamp(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


class Correlator:
    """Aggregation, count bumps and the spam filter of client-go's recorder (see the module's
    docstring). Not thread-safe: the recorder's one thread uses it."""

    def __init__(self, component: str, host: str) -> None:
        self.component = component
        self.host = host
        self._similar: _Lru[tuple[Any, ...], _Similar] = _Lru(CACHE_SIZE)
        self._seen: _Lru[tuple[Any, ...], _Seen] = _Lru(CACHE_SIZE)
        self._buckets: _Lru[tuple[Any, ...], _Bucket] = _Lru(CACHE_SIZE)

    def correlate(self, occurrence: Occurrence) -> Optional[Write]:
        """The request to send for ``occurrence``; None when the spam filter holds it back."""
        message, key = self._aggregate(occurrence)
        write = self._observe(occurrence, message, key)
        return write if self._accept(occurrence) else None

    def _object_key(self, occurrence: Occurrence) -> tuple[Any, ...]:
        subject = occurrence.subject
        return (self.component, self.host, subject.kind, subject.namespace, subject.name, subject.uid)

    def _aggregate(self, occurrence: Occurrence) -> tuple[str, tuple[Any, ...]]:
        """The message to post and the key a repeat is known by: past SIMILAR_LIMIT messages of one
        reason on one object within SIMILAR_WINDOW, a combined message under the reason's key."""
        similar_key = (*self._object_key(occurrence), occurrence.reason)
        record = self._similar.get(similar_key)
        if record is None or occurrence.at - record.last > SIMILAR_WINDOW:
            record = _Similar(set(), occurrence.at)
        record.messages.add(occurrence.message)
        record.last = occurrence.at
        self._similar.put(similar_key, record)
        if len(record.messages) < SIMILAR_LIMIT:
            return occurrence.message, (*similar_key, occurrence.message)
        record.messages.pop()  # the set never grows past the limit
        return COMBINED + occurrence.message, (*similar_key, None)

    def _observe(self, occurrence: Occurrence, message: str, key: tuple[Any, ...]) -> Write:
        subject = occurrence.subject
        now = timestamp(occurrence.at)
        seen = self._seen.get(key)
        if seen is None:
            seen = _Seen("%s.%x" % (subject.name, int(occurrence.at * 1e9)), 0, now)
        seen.count += 1
        self._seen.put(key, seen)
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": seen.name, "namespace": subject.event_namespace},
            "involvedObject": subject.body(),
            "reason": occurrence.reason.name,
            "message": message[:MESSAGE_LIMIT],
            "type": occurrence.reason.type,
            "count": seen.count,
            "firstTimestamp": seen.first,
            "lastTimestamp": now,
            "source": {"component": self.component, "host": self.host},
            "reportingComponent": self.component,
            "reportingInstance": self.host,
        }
        return Write(subject.event_namespace, seen.name, event, bump=seen.count > 1)

    def _accept(self, occurrence: Occurrence) -> bool:
        key = (*self._object_key(occurrence), occurrence.reason.type)
        bucket = self._buckets.get(key) or _Bucket(float(SPAM_BURST), occurrence.at)
        bucket.tokens = min(float(SPAM_BURST), bucket.tokens + (occurrence.at - bucket.at) / SPAM_REFILL)
        bucket.at = occurrence.at
        accepted = bucket.tokens >= 1.0
        if accepted:
            bucket.tokens -= 1.0
        self._buckets.put(key, bucket)
        return accepted


# The edge: the Kubernetes API.


class KubeApi:
    """The few API calls events need, with the real ``kubernetes`` client (imported here, as
    nodes.KubernetesNodes does, so that a driver without a kubeconfig never loads it). Reads return
    the JSON as sent; every call raises when the API does not answer or refuses."""

    def __init__(self, kubeconfig: str) -> None:
        from kubernetes import client, config  # noqa: PLC0415

        configuration = client.Configuration()
        if kubeconfig == "in-cluster":
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)  # type: ignore[no-untyped-call]
        configuration.retries = 0  # best effort: a failed event is counted, never retried in a loop
        self._api: Any = client.CoreV1Api(client.ApiClient(configuration))
        self._api_error: type[Exception] = client.ApiException

    def create_event(self, namespace: str, event: dict[str, Any]) -> None:
        _body(self._api.create_namespaced_event(namespace, event, **_RAW))

    def bump_event(self, write: Write) -> None:
        """Patch the count of the Event posted before; create it again when it has expired (an Event
        lives an hour by default) or was deleted."""
        try:
            _body(self._api.patch_namespaced_event(write.name, write.namespace, write.patch(), **_RAW))
        except self._api_error as error:
            if getattr(error, "status", None) != 404:
                raise
            self.create_event(write.namespace, write.event)

    def claim_ref(self, volume_id: str) -> Optional[Claim]:
        volume = self._read(lambda: self._api.read_persistent_volume(volume_id, **_RAW))
        ref = (volume or {}).get("spec", {}).get("claimRef") or {}
        if not ref.get("name") or not ref.get("namespace"):
            return None
        return Claim(str(ref["namespace"]), str(ref["name"]), str(ref.get("uid", "")))

    def claim_uid(self, claim: Claim) -> str:
        found = self._read(
            lambda: self._api.read_namespaced_persistent_volume_claim(claim.name, claim.namespace, **_RAW)
        )
        return str((found or {}).get("metadata", {}).get("uid", ""))

    def pod_uid(self, namespace: str, name: str) -> str:
        found = self._read(lambda: self._api.read_namespaced_pod(name, namespace, **_RAW))
        return str((found or {}).get("metadata", {}).get("uid", ""))

    def _read(self, call: Callable[[], Any]) -> Optional[dict[str, Any]]:
        """The object read, None when it does not exist."""
        try:
            data = _body(call())
        except self._api_error as error:
            if getattr(error, "status", None) == 404:
                return None
            raise
        found: dict[str, Any] = json.loads(data)
        return found


# The answer as sent (no model is built from it), within the recorder's deadline per request.
_RAW: dict[str, Any] = {"_request_timeout": REQUEST_TIMEOUT, "_preload_content": False}


def _body(response: Any) -> bytes:
    """Read an answer requested with _RAW and give its connection back to the pool."""
    try:
        return bytes(response.data)
    finally:
        response.release_conn()


# The recorder: the queue, its thread, and where each event goes.


@dataclass(frozen=True)
class _OnVolume:
    volume_id: str
    or_node: bool  # without a claim, on this node's Node object


@dataclass(frozen=True)
class _OnPod:
    pass


@dataclass(frozen=True)
class _Pending:
    target: Union[_OnVolume, _OnPod]
    reason: Reason
    message: str
    at: float


_STOP = object()


class Recorder:
    """The driver's event recorder (see the module's docstring). ``api`` None: log only."""

    def __init__(
        self, api: Optional[KubeApi], host: str, node_name: str = "", pod_name: str = "", pod_namespace: str = ""
    ) -> None:
        self._api = api
        self.claims = Claims(api)
        self._node_name = node_name
        self._pod = ObjectRef("Pod", pod_name, pod_namespace) if pod_name and pod_namespace else None
        self._correlator = Correlator(DRIVER_NAME, host)
        self._queue: queue.Queue[object] = queue.Queue()
        self._stopping = False
        self._deadline: Optional[float] = None
        self._failing = False
        self._overflowing = False
        self._thread: Optional[threading.Thread] = None
        if api is not None:
            self._thread = threading.Thread(target=self._work, name="events", daemon=True)
            self._thread.start()

    def on_volume(self, volume_id: str, reason: Reason, message: str) -> None:
        """An event on the volume's claim; not posted (debug log) when no claim is known."""
        self._post(_OnVolume(volume_id, or_node=False), reason, message)

    def on_volume_or_node(self, volume_id: Optional[str], reason: Reason, message: str) -> None:
        """An event on the volume's claim, or on this node's Node object when the volume has none."""
        self._post(_OnVolume(volume_id or "", or_node=True), reason, message)

    def on_pod(self, reason: Reason, message: str) -> None:
        """An event on the driver's own Pod; not posted (debug log) when its name is not configured."""
        if self._pod is None:
            LOG.debug("event not posted: pod_name and pod_namespace are not set", extra=_fields(reason, message))
            return
        self._post(_OnPod(), reason, message)

    def stop(self, timeout: float) -> None:
        """Post what is queued for up to ``timeout`` seconds, then abandon the rest."""
        self._stopping = True
        if self._thread is None:
            return
        self._deadline = time.monotonic() + timeout
        self._queue.put(_STOP)
        self._thread.join(timeout)
        left = self._queue.qsize()
        if self._thread.is_alive() or left > 1:
            LOG.warning("events abandoned at stop", extra={"fields": {"queued": max(0, left - 1)}})

    def _post(self, target: Union[_OnVolume, _OnPod], reason: Reason, message: str) -> None:
        if self._thread is None:
            LOG.debug("event not posted: no Kubernetes API", extra=_fields(reason, message))
            return
        if self._stopping:
            LOG.debug("event not posted: the driver is stopping", extra=_fields(reason, message))
            return
        if self._queue.qsize() >= QUEUE_SIZE:
            metrics.EVENTS_FAILED.labels(reason.name).inc()
            if not self._overflowing:
                self._overflowing = True
                LOG.warning("event queue full, events dropped", extra=_fields(reason, message))
            return
        self._overflowing = False
        self._queue.put(_Pending(target, reason, message, time.time()))

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP or (self._deadline is not None and time.monotonic() > self._deadline):
                return
            assert isinstance(item, _Pending)
            try:
                self._send(item)
            except Exception:  # a bug here must not end the thread and leave every later event queued
                LOG.exception("event not posted", extra=_fields(item.reason, item.message))

    def _send(self, pending: _Pending) -> None:
        assert self._api is not None  # the thread runs only with an API
        subject = self._subject(pending.target)
        if subject is None:
            LOG.debug("event not posted: no claim known for the volume", extra=_fields(pending.reason, pending.message))
            return
        write = self._correlator.correlate(Occurrence(subject, pending.reason, pending.message, pending.at))
        if write is None:
            LOG.debug("event held back by the spam filter", extra=_fields(pending.reason, pending.message))
            return
        try:
            if write.bump:
                self._api.bump_event(write)
            else:
                self._api.create_event(write.namespace, write.event)
        except Exception as error:  # any failure of the API: counted, logged once until it works again
            metrics.EVENTS_FAILED.labels(pending.reason.name).inc()
            if not self._failing:
                self._failing = True
                LOG.warning(
                    "events cannot be posted",
                    extra={"fields": {"reason": pending.reason.name, "event": write.name, "error": str(error)}},
                )
            return
        metrics.EVENTS_POSTED.labels(pending.reason.name).inc()
        if self._failing:
            self._failing = False
            LOG.info("events posted again", extra={"fields": {"event": write.name}})
        LOG.debug("event posted", extra={"fields": {"event": write.name, "count": write.event["count"]}})

    def _subject(self, target: Union[_OnVolume, _OnPod]) -> Optional[ObjectRef]:
        if isinstance(target, _OnPod):
            return self._pod_subject()
        claim = self.claims.of(target.volume_id) if target.volume_id else None
        if claim is not None:
            return claim_ref(claim)
        return node_ref(self._node_name) if target.or_node and self._node_name else None

    def _pod_subject(self) -> Optional[ObjectRef]:
        pod = self._pod
        if pod is None or pod.uid or self._api is None:
            return pod
        try:
            uid = self._api.pod_uid(pod.namespace, pod.name)
        except Exception as error:  # posted without the UID this time; asked again next time
            LOG.debug("pod lookup failed", extra={"fields": {"pod": pod.name, "error": str(error)}})
            return pod
        self._pod = ObjectRef(pod.kind, pod.name, pod.namespace, uid)
        return self._pod


def _fields(reason: Reason, message: str) -> dict[str, Any]:
    return {"fields": {"reason": reason.name, "message": message}}


class RdsEvents:
    """The controller's SSH transport observer: the metrics' own (metrics.RDS) for what it counts,
    plus RDSDisconnected and RDSReconnected on the controller's Pod when the RDS's reachability changes."""

    def __init__(self, recorder: Recorder, address: str) -> None:
        self._recorder = recorder
        self._address = address

    def command_done(self, seconds: float, ok: bool) -> None:
        metrics.RDS.command_done(seconds, ok)

    def connect_attempt(self, seconds: float, ok: bool, reconnect: bool) -> None:
        metrics.RDS.connect_attempt(seconds, ok, reconnect)

    def reachability_changed(self, reachable: bool, detail: str) -> None:
        if reachable:
            self._recorder.on_pod(RDS_RECONNECTED, "The RDS at %s is reachable again (%s)." % (self._address, detail))
        else:
            self._recorder.on_pod(
                RDS_DISCONNECTED,
                "The RDS at %s is unreachable: %s. Volumes cannot be created, deleted, expanded or published until "
                "it answers; check the appliance and the network." % (self._address, detail),
            )
