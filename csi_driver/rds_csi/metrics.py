"""The driver's Prometheus metrics (P-9.1): one registry of its own, every metric defined here once.

Names that mean what one of the replaced Go driver's metrics meant keep its name (``rds_csi_...``),
so existing dashboards and alerts keep working. Everything else the driver measures is here too;
other modules import the metric objects and only observe. ``serve`` publishes the registry over
HTTP for Prometheus; values are only ever read from memory on a scrape, never from the RDS.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

REGISTRY = CollectorRegistry(auto_describe=True)
SUCCESS = "success"
FAILURE = "failure"

# From milliseconds (a cached answer) to minutes (an mkfs or a large copy on the RDS).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
ROUND_TRIP_BUCKETS = (0, 1, 2, 3, 4, 6, 8, 12, 16, 32, 64)

# Per RPC
RPC_TOTAL = Counter(
    "rds_csi_rpc", "CSI RPCs served, by method and gRPC status code.", ["method", "code"], registry=REGISTRY
)
RPC_DURATION = Histogram(
    "rds_csi_rpc_duration_seconds",
    "Time to serve a CSI RPC, by method.",
    ["method"],
    buckets=DURATION_BUCKETS,
    registry=REGISTRY,
)
RPC_RDS_ROUND_TRIPS = Histogram(
    "rds_csi_rpc_rds_round_trips",
    "RouterOS commands one CSI RPC sent to the RDS, by method.",
    ["method"],
    buckets=ROUND_TRIP_BUCKETS,
    registry=REGISTRY,
)
VOLUME_OPERATIONS = Counter(
    "rds_csi_volume_operations",
    "Volume operations, by operation and status (success or failure).",
    ["operation", "status"],
    registry=REGISTRY,
)
VOLUME_OPERATION_DURATION = Histogram(
    "rds_csi_volume_operation_duration_seconds",
    "Time a volume operation took, by operation.",
    ["operation"],
    buckets=DURATION_BUCKETS,
    registry=REGISTRY,
)

# The RDS connection (controller)
RDS_CONNECTION_STATE = Gauge(
    "rds_csi_rds_connection_state",
    "1 while the SSH connection to the RDS at this address is up, 0 while it is down.",
    ["address"],
    registry=REGISTRY,
)
RDS_RECONNECTS = Counter(
    "rds_csi_rds_reconnect",
    "Attempts to connect to the RDS again after losing it, by status (success or failure).",
    ["status"],
    registry=REGISTRY,
)
RDS_RECONNECT_DURATION = Histogram(
    "rds_csi_rds_reconnect_duration_seconds",
    "Time one attempt to connect to the RDS again took.",
    buckets=DURATION_BUCKETS,
    registry=REGISTRY,
)
RDS_COMMANDS = Counter(
    "rds_csi_rds_commands",
    "RouterOS commands sent to the RDS, by purpose (rpc or collection) and status.",
    ["purpose", "status"],
    registry=REGISTRY,
)
RDS_COMMAND_DURATION = Histogram(
    "rds_csi_rds_command_duration_seconds",
    "Time one RouterOS command took, from waiting for a session to its last byte.",
    buckets=DURATION_BUCKETS,
    registry=REGISTRY,
)
RDS_SESSIONS_IN_USE = Gauge(
    "rds_csi_rds_sessions_in_use", "SSH sessions to the RDS open at this moment.", registry=REGISTRY
)
RDS_SESSIONS_LIMIT = Gauge(
    "rds_csi_rds_sessions_limit",
    "The driver's bound on SSH sessions to the RDS (rds_max_sessions); collection shares it.",
    registry=REGISTRY,
)
RDS_POOL_SIZE = Gauge(
    "rds_csi_rds_pool_size_bytes", "Size of a storage pool on the RDS, as last read.", ["pool"], registry=REGISTRY
)
RDS_POOL_FREE = Gauge(
    "rds_csi_rds_pool_free_bytes", "Free space of a storage pool on the RDS, as last read.", ["pool"], registry=REGISTRY
)

# Appliance collection (controller; the values it reads are yielded by appliance.APPLIANCE)
APPLIANCE_COLLECTIONS = Counter(
    "rds_csi_appliance_collections",
    "Rounds of appliance health and volume traffic collection, by status (success; partial: stopped at its "
    "deadline; failure: an error ended it, what it read before stays published).",
    ["status"],
    registry=REGISTRY,
)
APPLIANCE_COLLECTION_DURATION = Histogram(
    "rds_csi_appliance_collection_duration_seconds",
    "Time one round of appliance collection took.",
    buckets=DURATION_BUCKETS,
    registry=REGISTRY,
)
APPLIANCE_LAST_COLLECTION = Gauge(
    "rds_csi_appliance_last_collection_timestamp_seconds",
    "Unix time at which the last round of appliance collection that read the RDS (success or partial) ended.",
    registry=REGISTRY,
)

# Node
NVME_CONNECTS = Counter("rds_csi_nvme_connects", "NVMe/TCP connect attempts, by status.", ["status"], registry=REGISTRY)
NVME_CONNECT_DURATION = Histogram(
    "rds_csi_nvme_connect_duration_seconds",
    "Time from nvme connect to the volume's block device being ready.",
    buckets=DURATION_BUCKETS,
    registry=REGISTRY,
)
NVME_CONNECTIONS_ACTIVE = Gauge(
    "rds_csi_nvme_connections_active",
    "NVMe/TCP subsystems under the managed prefix this node is connected to.",
    registry=REGISTRY,
)
MOUNT_OPERATIONS = Counter(
    "rds_csi_mount_operations",
    "Mounts and unmounts on the node, by operation (mount, bind, unmount) and status.",
    ["operation", "status"],
    registry=REGISTRY,
)
STALE_MOUNTS_DETECTED = Counter(
    "rds_csi_stale_mounts_detected",
    "Staged or published mounts found stale (device vanished, or the NQN resolves elsewhere).",
    registry=REGISTRY,
)
ORPHANS_CLEANED = Counter(
    "rds_csi_orphans_cleaned", "Orphaned NVMe/TCP connections the node disconnected.", registry=REGISTRY
)
STAGED_VOLUMES = Gauge("rds_csi_node_staged_volumes", "Volumes staged on this node.", registry=REGISTRY)

# Events
STORAGE_FENCE_UPDATES = Counter(
    "rds_csi_storage_fence_updates",
    "Changes of a volume export's allowed hosts by storage-side fencing (P-7.7), by status.",
    ["status"],
    registry=REGISTRY,
)
EVENTS_POSTED = Counter(
    "rds_csi_events_posted",
    "Kubernetes events posted (a repeat that bumps an event's count counts too), by reason.",
    ["reason"],
    registry=REGISTRY,
)
EVENTS_FAILED = Counter(
    "rds_csi_events_failed",
    "Kubernetes events not posted: the API refused or did not answer, or the queue was full; by reason.",
    ["reason"],
    registry=REGISTRY,
)


@dataclass(frozen=True)
class Endpoint:
    """The running metrics endpoint: where it listens, and how to stop it."""

    host: str
    port: int
    _server: object
    _thread: threading.Thread

    @property
    def url(self) -> str:
        return "http://%s:%d/metrics" % (self.host if ":" not in self.host else "[%s]" % self.host, self.port)

    def stop(self) -> None:
        self._server.shutdown()  # type: ignore[attr-defined]
        self._server.server_close()  # type: ignore[attr-defined]
        self._thread.join(5)


class RdsObserver:
    """Counts what the SSH transport to the RDS does (ssh_transport.TransportObserver). A command sent
    while an RPC runs on the same thread counts as one of that RPC's round trips; every other command
    (the appliance collector's) counts as collection."""

    def __init__(self) -> None:
        self._local = threading.local()

    def command_done(self, seconds: float, ok: bool) -> None:
        trips = getattr(self._local, "trips", None)
        if trips is not None:
            trips[0] += 1
        purpose = "rpc" if trips is not None else "collection"
        RDS_COMMANDS.labels(purpose, SUCCESS if ok else FAILURE).inc()
        RDS_COMMAND_DURATION.observe(seconds)

    def connect_attempt(self, seconds: float, ok: bool, reconnect: bool) -> None:
        if reconnect:
            RDS_RECONNECTS.labels(SUCCESS if ok else FAILURE).inc()
            RDS_RECONNECT_DURATION.observe(seconds)

    def begin_rpc(self) -> None:
        self._local.trips = [0]

    def end_rpc(self) -> int:
        trips = getattr(self._local, "trips", None)
        self._local.trips = None
        return trips[0] if trips else 0


RDS = RdsObserver()


def serve(host: str, port: int) -> Endpoint:
    """Serve the registry at ``http://host:port/metrics`` (port 0: any free port) on a daemon thread."""
    server, thread = start_http_server(port, addr=host, registry=REGISTRY)
    bound_host, bound_port = server.server_address[:2]
    return Endpoint(str(bound_host), int(bound_port), server, thread)
