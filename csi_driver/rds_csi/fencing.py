"""Storage-side fencing (P-7.7): a volume's export admits exactly the host NQNs of the nodes it is
published to, so a node the controller fenced off cannot connect even if it tries.

The controller calls ``after_publish`` once a publish is granted and ``after_unpublish`` once a node
is released, with every node the volume is then published to (both during a migration); the export's
list is set before the RPC returns. With no node left it admits no one (``rds_host_list.fenced_hosts``).
A node's host NQN comes from this node's own host NQN file (mode all), ``node_host_nqns``, or the
topology segment its node plugin publishes, which kubelet copies to the Node's labels (topology.py).
A volume of the old driver (an empty list) gets its list at its next publish. Cost: at most one RDS
round trip per call, none when a publish finds the list already right.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Optional, Protocol

import grpc
from ansible_collections.srvlab.rds.plugins.module_utils.nqn_filter import read_text
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import Disk
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import NotFoundError, RdsError
from ansible_collections.srvlab.rds.plugins.module_utils.rds_host_list import NO_HOST_NQN, fenced_hosts
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import nqn_problem

from rds_csi import events, metrics
from rds_csi.config import Config, node_host_nqn_pairs
from rds_csi.errors import CsiError
from rds_csi.naming import is_volume_id
from rds_csi.topology import HOST_UUID_KEY, host_nqn_from_segments

LOG = logging.getLogger("rds_csi.fencing")
OFF_WARNING = (
    "storage fencing is OFF (storage_fencing=false): every volume's export keeps the hosts it has, so a node the "
    "controller fenced off can still connect to the RDS and write"
)


class FenceStore(Protocol):
    def set_allowed_hosts(self, slot: str, host_nqns: Sequence[str]) -> Disk: ...


class NodeLabels:
    """The host NQN a node plugin published as its topology segment, from the Node's labels."""

    def __init__(self, kubeconfig: str) -> None:
        from kubernetes import client, config  # noqa: PLC0415  (loaded only by drivers that use the API)

        if kubeconfig == "in-cluster":
            config.load_incluster_config()  # type: ignore[no-untyped-call]
        else:
            config.load_kube_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
        self._api: Any = client.CoreV1Api()
        self._api_error: type[Exception] = client.ApiException

    def host_nqn(self, node_id: str) -> Optional[str]:
        try:
            node = self._api.read_node(node_id, _request_timeout=10)
        except self._api_error as error:
            if getattr(error, "status", None) == 404:
                return None
            raise _unavailable(node_id, error) from error
        except Exception as error:  # connection refused, timeouts: fail closed
            raise _unavailable(node_id, error) from error
        return host_nqn_from_segments(node.metadata.labels or {})


class HostNqns:
    """A node's host NQN: this node's host NQN file (mode all), then ``node_host_nqns``, then the Node's labels."""

    def __init__(self, config: Config, labels: Optional[NodeLabels] = None) -> None:
        self._own_node = config.node_id if config.runs_node else ""
        self._own_file = config.host_nqn_file
        self._configured = node_host_nqn_pairs(config.node_host_nqns)
        self._labels = labels

    def host_nqn(self, node_id: str) -> Optional[str]:
        if node_id == self._own_node:
            own = (read_text(self._own_file) or "").strip()
            if own and nqn_problem(own) is None:
                return own
        if node_id in self._configured:
            return self._configured[node_id]
        return self._labels.host_nqn(node_id) if self._labels is not None else None


class StorageFencing:
    def __init__(
        self,
        store: Optional[FenceStore],
        host_nqns: Optional[HostNqns],
        recorder: Optional[events.Recorder] = None,
    ) -> None:
        """Fencing on with a store and a host NQN source; ``StorageFencing(None, None)`` is off."""
        self._store = store
        self._host_nqns = host_nqns
        self._recorder = recorder

    @property
    def enabled(self) -> bool:
        return self._store is not None and self._host_nqns is not None

    def initial_hosts(self) -> Optional[tuple[str, ...]]:
        """The allowed hosts a new volume is created with: no one until it is published (None: fencing off)."""
        return fenced_hosts(()) if self.enabled else None

    def after_publish(self, disk: Disk, node_ids: Sequence[str]) -> None:
        """``disk`` (as this publish read it) admits exactly ``node_ids``; no round trip when it already does."""
        if not self.enabled:
            return
        wanted = self._hosts("ControllerPublishVolume", disk.slot, node_ids)
        current = set(disk.export.allowed_host_nqns)
        if current == set(wanted):
            return
        self._set(disk.slot, wanted)
        dropped = current - set(wanted) - {NO_HOST_NQN}
        if dropped:
            self._fenced(disk.slot, node_ids, "host(s) %s" % ", ".join(sorted(dropped)))

    def after_unpublish(self, volume_id: str, released: str, node_ids: Sequence[str]) -> None:
        """The volume's export admits only ``node_ids``, no longer ``released``; a volume that is gone needs nothing."""
        if not self.enabled or not is_volume_id(volume_id):
            return
        wanted = self._hosts("ControllerUnpublishVolume", volume_id, node_ids)
        try:
            self._set(volume_id, wanted)
        except NotFoundError:
            return
        self._fenced(volume_id, node_ids, "node %s" % released)

    def _hosts(self, what: str, volume_id: str, node_ids: Sequence[str]) -> tuple[str, ...]:
        assert self._host_nqns is not None
        hosts = []
        for node_id in node_ids:
            host = self._host_nqns.host_nqn(node_id)
            if host is None:
                raise CsiError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    "%s %s: storage fencing needs the NVMe host NQN of node %s, which is unknown. Run the node "
                    "plugin on that node so that its topology segment %s (the UUID of a host NQN of the form "
                    "nqn.2014-08.org.nvmexpress:uuid:<uuid>) reaches the Node's labels, or, without Kubernetes, "
                    "add %s=<host NQN> to node_host_nqns." % (what, volume_id, node_id, HOST_UUID_KEY, node_id),
                )
            hosts.append(host)
        return fenced_hosts(hosts)

    def _set(self, volume_id: str, hosts: tuple[str, ...]) -> None:
        assert self._store is not None
        try:
            self._store.set_allowed_hosts(volume_id, hosts)
        except NotFoundError:
            raise
        except RdsError:
            metrics.STORAGE_FENCE_UPDATES.labels(metrics.FAILURE).inc()
            raise
        metrics.STORAGE_FENCE_UPDATES.labels(metrics.SUCCESS).inc()
        LOG.info("export allowed hosts set", extra={"fields": {"volume": volume_id, "hosts": ",".join(hosts)}})

    def _fenced(self, volume_id: str, node_ids: Sequence[str], dropped: str) -> None:
        if self._recorder is None:
            return
        admitted = "node(s) %s" % ", ".join(node_ids) if node_ids else "no node"
        self._recorder.on_volume(
            volume_id,
            events.STORAGE_FENCED,
            "The RDS export of volume %s now admits only %s; %s can no longer connect."
            % (volume_id, admitted, dropped),
        )


def storage_fencing(config: Config, store: FenceStore, recorder: Optional[events.Recorder]) -> StorageFencing:
    """The controller's fencing as configured; off is logged as a warning (at every start)."""
    if not config.storage_fencing:
        LOG.warning(OFF_WARNING)
        return StorageFencing(None, None)
    labels = NodeLabels(config.kubeconfig) if config.kubeconfig else None
    return StorageFencing(store, HostNqns(config, labels), recorder)


def _unavailable(node_id: str, error: Exception) -> CsiError:
    return CsiError(
        grpc.StatusCode.UNAVAILABLE,
        "Cannot read node %s's host NQN label with the Kubernetes API (%s); storage fencing refuses to change the "
        "export until the API answers." % (node_id, error),
    )
