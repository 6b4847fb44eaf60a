"""An HTTP-level Kubernetes API fake (kmock's in-memory emulator) for tests that use the real client.

The ``kubernetes`` client (and ``kubernetes.core.k8s`` on top of it) talks to it over HTTP on
loopback, through a generated kubeconfig, so nothing in the client is patched. It serves the
objects a test stores with ``put`` (PersistentVolumes for the orphans tests) and the kinds the
csi_driver role applies, with API discovery for all of them.

Beyond kmock's emulator it does what a real API server and its controllers do for those clients:

- ``dryRun=All`` writes (``kubernetes.core.k8s`` in check mode) answer as the real write would
  and store nothing;
- lists carry their kind (``DeploymentList``), which ``kubernetes.core.k8s_info`` reads;
- Deployments and DaemonSets roll out at once: ``metadata.generation`` counts spec changes and
  the status reports every replica (``scheduled_nodes`` per DaemonSet) ready at that generation,
  which is what the rollout waits check;
- object metadata as the server keeps it: a created object gets a ``uid``, a
  ``creationTimestamp`` and its namespace; every create and every patch that changes an object
  gets the next ``resourceVersion`` (a patch that changes nothing keeps it, a patch naming another
  ``resourceVersion`` is a 409 Conflict), and lists carry the latest one;
- Events are validated as the server validates core v1 Events: the involved object's namespace
  must be the Event's (``default`` or none for a cluster-scoped object).

Patches are applied as JSON merge patches (RFC 7386), as ``kubernetes.core.k8s`` sends with
``apply: true``; a strategic merge patch (what the ``kubernetes`` client sends for a dict body, such
as an Event's count bump) is the same for maps and scalars and is applied the same way. JSON patches
(a list of operations) are refused with 415.

Watches behave as the server's do for the client's ``watch.Watch().stream``: every change is an event
stamped with the ``resourceVersion`` it made (a delete makes one too); a watch from a
``resourceVersion`` streams the changes after it, from the last ``HISTORY`` per resource (an older one
is an ``ERROR`` event with a 410 Gone Status, as after the server's compaction; ``compact`` forces
one); a watch without one starts with the current objects as ``ADDED``; ``timeoutSeconds`` ends the
stream. VolumeAttachments and Leases are served like any other kind (a delete of an object with
finalizers marks it with a ``deletionTimestamp``, as the external-attacher's finalizer needs).

Namespace objects are served here, not by kmock: kmock reads any ``/api/v1/namespaces/<x>`` path
as a namespace scope, so it cannot address the Namespace objects themselves.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import copy
import json
import re
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Optional

import aiohttp.web
import attrs
import kmock
import yaml
from kmock._internal import aiobus

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
_READ = ("get", "list", "watch")
_WRITE = ("create", "update", "patch", "delete")
_VERBS = set(_READ + _WRITE)
HISTORY = 20_000  # watch events kept per resource for watches that resume from a resourceVersion
_NAMESPACE_PATH = re.compile(r"/api/v1/namespaces(?:/(?P<name>[^/]+))?/?")

# (resource, kind, namespaced) of every kind the fake serves.
KINDS: tuple[tuple[str, str, bool], ...] = (
    ("v1/namespaces", "Namespace", False),
    ("v1/nodes", "Node", False),
    ("v1/persistentvolumes", "PersistentVolume", False),
    ("v1/secrets", "Secret", True),
    ("v1/configmaps", "ConfigMap", True),
    ("v1/serviceaccounts", "ServiceAccount", True),
    ("apps/v1/deployments", "Deployment", True),
    ("apps/v1/daemonsets", "DaemonSet", True),
    ("storage.k8s.io/v1/storageclasses", "StorageClass", False),
    ("storage.k8s.io/v1/csidrivers", "CSIDriver", False),
    ("storage.k8s.io/v1/volumeattachments", "VolumeAttachment", False),
    ("snapshot.storage.k8s.io/v1/volumesnapshotclasses", "VolumeSnapshotClass", False),
    ("rbac.authorization.k8s.io/v1/clusterroles", "ClusterRole", False),
    ("rbac.authorization.k8s.io/v1/clusterrolebindings", "ClusterRoleBinding", False),
    ("rbac.authorization.k8s.io/v1/roles", "Role", True),
    ("rbac.authorization.k8s.io/v1/rolebindings", "RoleBinding", True),
    ("v1/persistentvolumeclaims", "PersistentVolumeClaim", True),
    ("v1/pods", "Pod", True),
    ("v1/events", "Event", True),
    ("v1/services", "Service", True),
    ("apiextensions.k8s.io/v1/customresourcedefinitions", "CustomResourceDefinition", False),
    ("monitoring.coreos.com/v1/servicemonitors", "ServiceMonitor", True),
    ("monitoring.coreos.com/v1/podmonitors", "PodMonitor", True),
    ("storage.k8s.io/v1/volumeattachments", "VolumeAttachment", False),
    ("coordination.k8s.io/v1/leases", "Lease", True),
)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _rollout_status(kind: str, spec: dict[str, Any], generation: int, scheduled_nodes: int) -> dict[str, Any]:
    if kind == "deployment":
        replicas = int(spec.get("replicas", 1))
        return {
            "observedGeneration": generation,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
        }
    return {
        "observedGeneration": generation,
        "desiredNumberScheduled": scheduled_nodes,
        "currentNumberScheduled": scheduled_nodes,
        "updatedNumberScheduled": scheduled_nodes,
        "numberReady": scheduled_nodes,
        "numberAvailable": scheduled_nodes,
    }


def _check_event(event: dict[str, Any], namespace: str) -> None:
    """The core v1 Event rule of the server: the involved object's namespace is the Event's, or empty for
    a cluster-scoped object whose Event is in ``default``."""
    involved = event.get("involvedObject", {}).get("namespace", "")
    if (involved and involved != namespace) or (not involved and namespace not in ("", "default")):
        name = event.get("metadata", {}).get("name", "")
        raise kmock.KubernetesError(
            422, "Invalid", "Event %r is invalid: involvedObject.namespace: does not match event.namespace" % name
        )


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Status",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
    }


class Journal:
    """The watch stream of one resource: kmock's events, each stamped with the resourceVersion it made,
    the last ``HISTORY`` of them kept for watches that resume from a resourceVersion."""

    def __init__(self, emulator: ClusterEmulator, resource: Any) -> None:
        self.emulator = emulator
        self.resource = resource
        self.bus: aiobus.Bus[dict[str, Any]] = aiobus.Bus()
        self.events: collections.deque[tuple[int, dict[str, Any]]] = collections.deque(maxlen=HISTORY)
        self.expired_before = 0  # a watch from an older resourceVersion is 410 Gone
        self._last: dict[tuple[Optional[str], str], dict[str, Any]] = {}

    async def put(self, event: dict[str, Any]) -> None:
        """Called by kmock under its lock for every create, patch and delete."""
        raw = copy.deepcopy(event["object"])
        metadata = raw.setdefault("metadata", {})
        key = (metadata.get("namespace"), str(metadata.get("name")))
        last = self._last.get(key)
        if event["type"] == "MODIFIED" and last == raw:
            return  # a patch that changed nothing: the server sends no event
        stale = last is not None and last.get("metadata", {}).get("resourceVersion") == metadata.get("resourceVersion")
        if event["type"] == "DELETED" or stale:
            metadata["resourceVersion"] = self.emulator.next_version()
            if event["type"] != "DELETED":  # kmock marked it for deletion without a new version
                self.emulator.objects[self.resource, key[0], key[1]].patch(
                    {"metadata": {"resourceVersion": metadata["resourceVersion"]}}
                )
        if event["type"] == "DELETED":
            self._last.pop(key, None)
        else:
            self._last[key] = raw
        if len(self.events) == self.events.maxlen:
            self.expired_before = self.events[0][0]
        stamped = {"type": event["type"], "object": raw}
        self.events.append((int(metadata["resourceVersion"]), stamped))
        await self.bus.put(stamped)

    def compact(self) -> None:
        if self.events:
            self.expired_before = self.events[-1][0]
        self.events.clear()

    def since(self, version: int) -> Optional[list[dict[str, Any]]]:
        """The events after ``version``, or None when they are no longer kept."""
        if version < self.expired_before:
            return None
        return [event for stamp, event in self.events if stamp > version]


@attrs.define(kw_only=True)
class ClusterEmulator(kmock.KubernetesEmulator):
    """kmock's emulator plus dry-run writes, instant rollouts and a count of real writes."""

    scheduled_nodes: int = 1
    writes: int = 0
    resource_version: int = 0
    namespaces: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    journals: dict[Any, Journal] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self._buses = _Journals(self)

    def journal(self, resource: Any) -> Journal:
        resource = kmock.resource(resource) if isinstance(resource, str) else resource
        if resource not in self.journals:
            self.journals[resource] = Journal(self, resource)
        return self.journals[resource]

    def stamp_new(self, body: dict[str, Any], namespace: Optional[str]) -> None:
        """Give an object being created what the server adds: uid, creationTimestamp, namespace, resourceVersion."""
        metadata = body.setdefault("metadata", {})
        metadata.setdefault("uid", str(uuid.uuid4()))
        metadata.setdefault("creationTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        if namespace:
            metadata.setdefault("namespace", namespace)
        metadata["resourceVersion"] = self.next_version()

    def next_version(self) -> str:
        self.resource_version += 1
        return str(self.resource_version)

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        found = _NAMESPACE_PATH.fullmatch(raw_request.path)
        if found is None:
            return await super().__call__(raw_request)
        body = await raw_request.read()
        data = json.loads(body) if body else {}
        status, answer = self._namespace_request(
            raw_request.method, found.group("name"), data, bool(raw_request.query.get("dryRun"))
        )
        return aiohttp.web.json_response(answer, status=status)

    def _namespace_request(
        self, method: str, name: Optional[str], data: dict[str, Any], dry_run: bool
    ) -> tuple[int, dict[str, Any]]:
        if method == "GET":
            return self._namespace_read(name)
        if method == "POST" and name is None:
            name = str(data.get("metadata", {}).get("name", ""))
            if name in self.namespaces:
                return 409, _status(409, "AlreadyExists", "namespaces %r already exists" % name)
            result: Optional[dict[str, Any]] = dict(data, status={"phase": "Active"})
        elif name is None or name not in self.namespaces:
            return 404, _status(404, "NotFound", "namespaces %r not found" % name)
        elif method == "PATCH":
            result = merge_patch(self.namespaces[name], data)
        elif method == "DELETE":
            result = None
        else:
            return 405, _status(405, "MethodNotAllowed", "%s is not served for namespaces" % method)
        answer = copy.deepcopy(result if result is not None else self.namespaces[name])
        if not dry_run:
            self.writes += 1
            if result is None:
                del self.namespaces[name]
            else:
                self.namespaces[name] = result
        return 201 if method == "POST" else 200, answer

    def _namespace_read(self, name: Optional[str]) -> tuple[int, dict[str, Any]]:
        if name is None:
            items = [copy.deepcopy(self.namespaces[key]) for key in sorted(self.namespaces)]
            return 200, {"apiVersion": "v1", "kind": "NamespaceList", "metadata": {}, "items": items}
        if name not in self.namespaces:
            return 404, _status(404, "NotFound", "namespaces %r not found" % name)
        return 200, copy.deepcopy(self.namespaces[name])

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        writing = request.resource is not None and request.action in (
            kmock.action.CREATE,
            kmock.action.UPDATE,
            kmock.action.DELETE,
        )
        if writing and request.params.get("dryRun"):
            return aiohttp.web.json_response(await self._dry_run(request))
        if writing:
            self._check_and_stamp(request)
        spec_before = self._spec(request) if writing else None
        response = await super()._handle(request)
        if writing and response.status < 300:
            self.writes += 1
            await self._roll_out(request, spec_before)
        return response

    async def _serve_list(self, request: kmock.Request) -> Any:
        """A list as the real server answers it: with the list's kind, apiVersion and resourceVersion."""
        listing: dict[str, Any] = dict(await super()._serve_list(request))  # type: ignore[arg-type]
        resource = request.resource
        assert resource is not None  # a list request names its resource
        group = "%s/%s" % (resource.group, resource.version) if resource.group else resource.version
        metadata = {"resourceVersion": str(self.resource_version)}
        return dict(listing, apiVersion=group, kind="%sList" % self.resources[resource].kind, metadata=metadata)

    async def _serve_watch(self, request: kmock.Request) -> Any:
        """A watch as the server streams it: from a resourceVersion (410 Gone when too old) or from the current
        objects, until ``timeoutSeconds``."""
        yield b""  # the headers go out at once, as kmock does
        assert request.resource is not None  # a watch names its resource
        journal = self.journal(request.resource)
        version = str(request.params.get("resourceVersion") or "0")
        timeout = float(request.params.get("timeoutSeconds") or 0) or None
        async with self._lock:
            marker = await journal.bus.mark()
            if version == "0":
                backlog: Optional[list[dict[str, Any]]] = [
                    {"type": "ADDED", "object": copy.deepcopy(stored.raw)}
                    for (resource, _namespace, _name), stored in self.objects.items()
                    if resource == request.resource and not stored.deleted
                ]
            else:
                backlog = journal.since(int(version))
        try:
            if backlog is None:
                yield {"type": "ERROR", "object": _status(410, "Expired", "too old resource version: %s" % version)}
                return
            for event in backlog:
                if self._watched(request, event):
                    yield event
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return
                try:
                    event = await asyncio.wait_for(journal.bus.get(since=marker), left)
                except asyncio.TimeoutError:
                    return
                if self._watched(request, event):
                    yield event
        finally:
            await journal.bus.unmark(marker)

    @staticmethod
    def _watched(request: kmock.Request, event: dict[str, Any]) -> bool:
        metadata = event["object"].get("metadata", {})
        return (request.namespace is None or metadata.get("namespace") == request.namespace) and (
            request.name is None or metadata.get("name") == request.name
        )

    def _check_and_stamp(self, request: kmock.Request) -> None:
        """Refuse what the real server refuses, and stamp what it stamps, before kmock stores the write.
        Runs on the event loop without awaiting, so no other request changes the object meanwhile."""
        if request.action == kmock.action.DELETE:
            return
        data = request.data
        if not isinstance(data, dict):
            raise kmock.KubernetesError(415, "UnsupportedMediaType", "Only merge patches are served by the fake.")
        if request.action == kmock.action.CREATE:
            namespace = data.get("metadata", {}).get("namespace")
            if request.namespace and namespace and namespace != request.namespace:
                raise kmock.KubernetesError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            if request.resource is not None and request.resource.plural == "events":
                _check_event(data, request.namespace or namespace or "")
            self.stamp_new(data, request.namespace)
            return
        stored = self._stored(request)
        if stored is None:
            return  # kmock answers 404
        current = stored.get("metadata", {}).get("resourceVersion")
        expected = data.get("metadata", {}).get("resourceVersion")
        if expected is not None and expected != current:
            raise kmock.KubernetesError(
                409,
                "Conflict",
                "Operation cannot be fulfilled: the object has been modified; please apply your changes to the "
                "latest version and try again",
            )
        if merge_patch(stored, data) != stored:
            data.setdefault("metadata", {})["resourceVersion"] = self.next_version()

    def _key(self, request: kmock.Request) -> Any:
        metadata = (request.data or {}).get("metadata", {}) if request.action == kmock.action.CREATE else {}
        return (
            request.resource,
            request.namespace or metadata.get("namespace"),
            request.name or metadata.get("name"),
        )

    def _stored(self, request: kmock.Request) -> Optional[dict[str, Any]]:
        key = self._key(request)
        if key not in self.objects or self.objects[key].deleted:
            return None
        stored: dict[str, Any] = copy.deepcopy(self.objects[key].raw)
        return stored

    def _spec(self, request: kmock.Request) -> Any:
        stored = self._stored(request)
        return None if stored is None else stored.get("spec")

    async def _dry_run(self, request: kmock.Request) -> dict[str, Any]:
        async with self._lock:
            stored = self._stored(request)
        if request.action == kmock.action.CREATE:
            if stored is not None:
                raise kmock.KubernetesError(409, "AlreadyExists", "The object already exists.")
            return dict(request.data)
        if stored is None:
            raise kmock.KubernetesObjectNotFoundError()
        if request.action == kmock.action.DELETE:
            return stored
        result: dict[str, Any] = merge_patch(stored, request.data)
        return result

    async def _roll_out(self, request: kmock.Request, spec_before: Any) -> None:
        assert request.resource is not None  # checked by the caller
        kind = {"deployments": "deployment", "daemonsets": "daemonset"}.get(str(request.resource.plural))
        if kind is None or request.action == kmock.action.DELETE:
            return
        async with self._lock:
            stored = self._stored(request)
            if stored is None:
                return
            generation = int(stored.get("metadata", {}).get("generation", 0))
            if spec_before is None or stored.get("spec") != spec_before:
                generation += 1
            status = _rollout_status(kind, stored.get("spec", {}), generation, self.scheduled_nodes)
            if stored.get("status") == status and stored.get("metadata", {}).get("generation") == generation:
                return  # the controller has nothing to write
            metadata = {"generation": generation, "resourceVersion": self.next_version()}
            self.objects[self._key(request)].patch({"metadata": metadata, "status": status})


class _Journals(collections.defaultdict):  # type: ignore[type-arg]
    """kmock's per-resource buses, replaced by journals that stamp and keep what they carry."""

    def __init__(self, emulator: ClusterEmulator) -> None:
        super().__init__()
        self.emulator = emulator

    def __missing__(self, resource: Any) -> Journal:
        return self.emulator.journal(resource)


class KubeApiFake:
    def __init__(self, scheduled_nodes: int = 1) -> None:
        self._scheduled_nodes = scheduled_nodes
        self._ready = threading.Event()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stop: Optional[asyncio.Event] = None
        self._emulator: Optional[ClusterEmulator] = None
        self._url = ""
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, name="kube-api-fake", daemon=True)

    @property
    def url(self) -> str:
        return self._url

    @property
    def writes(self) -> int:
        """Real (not dry-run) create, update, patch and delete requests served so far."""
        return self._running()[0].writes

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

    def _running(self) -> tuple[ClusterEmulator, asyncio.AbstractEventLoop]:
        if self._emulator is None or self._loop is None:
            raise RuntimeError("The Kubernetes API fake is not running.")
        return self._emulator, self._loop

    def put(self, resource: str, namespace: Optional[str], name: str, body: dict[str, Any]) -> None:
        """Store an object, for example ``put("v1/persistentvolumes", None, "pv-1", {...})``."""
        emulator, loop = self._running()

        async def store() -> None:
            async with emulator._lock:
                emulator.stamp_new(body, namespace)
                emulator.objects[resource, namespace, name] = body
                await emulator.journal(resource).put({"type": "ADDED", "object": body})

        asyncio.run_coroutine_threadsafe(store(), loop).result(START_TIMEOUT)

    def compact(self) -> None:
        """Forget every watch event so far, as the server's compaction does: a watch resuming from an older
        resourceVersion gets 410 Gone."""
        emulator, loop = self._running()

        async def forget() -> None:
            async with emulator._lock:
                for journal in emulator.journals.values():
                    journal.compact()

        asyncio.run_coroutine_threadsafe(forget(), loop).result(START_TIMEOUT)

    def objects(self) -> dict[tuple[str, Optional[str], str], dict[str, Any]]:
        """Every stored object by (``group/version/plural``, namespace, name)."""
        emulator, loop = self._running()

        async def read() -> dict[tuple[str, Optional[str], str], dict[str, Any]]:
            found = {}
            for (resource, namespace, name), stored in emulator.objects.items():
                if not stored.deleted:
                    group = "%s/%s" % (resource.group, resource.version) if resource.group else resource.version
                    found["%s/%s" % (group, resource.plural), namespace, name] = copy.deepcopy(stored.raw)
            for name, namespace_object in emulator.namespaces.items():
                found["v1/namespaces", None, name] = copy.deepcopy(namespace_object)
            return found

        return asyncio.run_coroutine_threadsafe(read(), loop).result(START_TIMEOUT)

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
        emulator = ClusterEmulator(scheduled_nodes=self._scheduled_nodes)
        for resource, kind, namespaced in KINDS:
            emulator.resources[resource] = kmock.ResourceInfo(kind=kind, namespaced=namespaced, verbs=_VERBS)
        async with emulator, kmock.Server(emulator) as server:
            self._emulator = emulator
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._url = str(server.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()


def main() -> None:
    """Serve until SIGTERM or SIGINT, for Molecule scenarios: ``python -m tests.integration.kube_api_fake``."""
    parser = argparse.ArgumentParser(description="Kubernetes API fake on a free loopback port.")
    parser.add_argument("--kubeconfig", type=Path, required=True, help="kubeconfig to write once it listens")
    parser.add_argument("--scheduled-nodes", type=int, default=1, help="nodes each DaemonSet reports ready")
    args = parser.parse_args()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stopping.set())
    fake = KubeApiFake(scheduled_nodes=args.scheduled_nodes).start()
    try:
        partial = args.kubeconfig.with_suffix(".partial")
        fake.write_kubeconfig(partial).rename(args.kubeconfig)
        stopping.wait()
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
