"""The driver's Prometheus metrics (P-9.1): one registry of its own, every metric defined here once.

Names that mean what one of the replaced Go driver's metrics meant keep its name (``rds_csi_...``),
so existing dashboards and alerts keep working. Everything else the driver measures is here too;
other modules import the metric objects and only observe. ``serve`` publishes the registry over
HTTP for Prometheus; values are only ever read from memory on a scrape, never from the RDS.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

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
# Attachments and live migrations (attachments.py; the old driver's names, P-7)
ATTACH_TOTAL = Counter(
    "rds_csi_attachment_attach",
    "ControllerPublish attachment decisions, by status (success, conflict, error).",
    ["status"],
    registry=REGISTRY,
)
DETACH_TOTAL = Counter(
    "rds_csi_attachment_detach",
    "ControllerUnpublish attachment releases, by status (success, error).",
    ["status"],
    registry=REGISTRY,
)
CONFLICTS_TOTAL = Counter(
    "rds_csi_attachment_conflicts", "Publishes refused because other nodes hold the volume.", registry=REGISTRY
)
RECONCILE_TOTAL = Counter(
    "rds_csi_attachment_reconcile",
    "Attachments changed by reconciliation, by action (released).",
    ["action"],
    registry=REGISTRY,
)
ATTACH_DURATION = Histogram(
    "rds_csi_attachment_operation_duration_seconds",
    "Seconds one attachment decision (publish or unpublish) took.",
    registry=REGISTRY,
)
STALE_CLEARED = Counter(
    "rds_csi_attachment_stale_cleared",
    "Attachments of nodes that no longer exist, cleared.",
    registry=REGISTRY,
)
MIGRATIONS_TOTAL = Counter(
    "rds_csi_migration_migrations",
    "Live migrations ended, by result (completed, failed, cancelled).",
    ["result"],
    registry=REGISTRY,
)
MIGRATION_DURATION = Histogram(
    "rds_csi_migration_duration_seconds",
    "Seconds from a live migration's start (the target's attach) to the source's detach.",
    buckets=(15, 30, 60, 90, 120, 180, 300, 600),
    registry=REGISTRY,
)
MIGRATION_ACTIVE = Gauge(
    "rds_csi_migration_active_migrations",
    "RWX block volumes attached to two nodes now (from the attachment state, so rebuilt after a restart).",
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


def add_prerendered(source: Callable[[], bytes]) -> None:
    """Serve ``source()``'s exposition text after the registry's on every scrape: families that change
    only when their owner re-reads them (the appliance's) are formatted once per reading, not per scrape."""
    _PRERENDERED.append(source)


def exposition() -> bytes:
    """What a scrape returns: the registry's families, then each pre-rendered source's."""
    return generate_latest(REGISTRY) + b"".join(source() for source in _PRERENDERED)


_PRERENDERED: list[Callable[[], bytes]] = []


class _ScrapeHandler(BaseHTTPRequestHandler):
    timeout = 10  # seconds a client may take: one slow client cannot hold the endpoint for long

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] not in ("/metrics", "/"):
            self.send_error(404, "Prometheus metrics are at /metrics")
            return
        body = exposition()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged: one line per scrape would drown the driver's own."""


def serve(host: str, port: int) -> Endpoint:
    """Serve the metrics at ``http://host:port/metrics`` (port 0: any free port) on one daemon thread.

    One thread answers every scrape in turn: a thread per scrape (prometheus_client's own server) let
    glibc keep a malloc arena per short-lived thread, which grew the controller by about 20 MiB."""
    server = HTTPServer((host, port), _ScrapeHandler)
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    return Endpoint(str(bound_host), int(bound_port), server, thread)
