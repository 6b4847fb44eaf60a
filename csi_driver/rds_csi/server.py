"""The gRPC server: services per mode, endpoint binding, graceful stop (P-8.7).

``Driver`` is what ``main`` runs and what the tests start in process; both bind the same
endpoint kinds (a unix socket, or TCP for tests) and talk to the RDS through one
``SshTransport`` whose session bound limits concurrent commands.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from concurrent import futures
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import grpc

from rds_csi import events, metrics
from rds_csi.attachments import AttachmentManager, Attachments
from rds_csi.config import Config, ConfigError, endpoint_tcp
from rds_csi.health import Health
from rds_csi.identity import Identity
from rds_csi.node import Node
from rds_csi.node_runtime import NodeRuntime
from rds_csi.nodes import KubernetesNodes, NodeRegistry, StaticNodes
from rds_csi.proto import csi_pb2_grpc, health_pb2_grpc

if TYPE_CHECKING:
    from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RetryPolicy
    from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshTransport

    from rds_csi.appliance import ApplianceCollector

LOG = logging.getLogger("rds_csi.server")
SHUTDOWN_GRACE = 25.0  # seconds for in-flight RPCs; the whole stop stays within Kubernetes' 30 s


class Driver:
    def __init__(
        self,
        config: Config,
        attachments: Optional[Attachments] = None,
        retry: Optional[RetryPolicy] = None,
    ) -> None:
        self.config = config
        self.events = _event_recorder(config)
        self.transport: Optional[SshTransport] = None
        self._ledger: Any = None  # the cluster ledger's informers, stopped with the driver
        self.collector: Optional[ApplianceCollector] = None
        self._serving = threading.Event()
        workers = max(16, config.rds_max_sessions * 2)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rpc"))
        services = ["csi.v1.Identity"]
        if config.runs_controller:
            self.transport = self._add_controller(attachments, retry)
            services.append("csi.v1.Controller")
        if config.runs_node:
            runtime = NodeRuntime.from_config(config, self.events)
            csi_pb2_grpc.add_NodeServicer_to_server(
                Node(config.node_id, config.zone, runtime, config.max_volumes_per_node), self.server
            )
            services.append("csi.v1.Node")
            metrics.STAGED_VOLUMES.set_function(runtime.records.count)
        identity = Identity(controller=config.runs_controller, ready=self._serving.is_set)
        csi_pb2_grpc.add_IdentityServicer_to_server(identity, self.server)
        self.health = Health(services)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.address = self._bind(config.endpoint)
        self.metrics_endpoint: Optional[metrics.Endpoint] = None

    def _add_controller(self, attachments: Optional[Attachments], retry: Optional[RetryPolicy]) -> SshTransport:
        # Imported here so that a node-only process never loads the SSH stack (paramiko and
        # cryptography, about 20 MiB of the node plugin's memory; P-11.6).
        from rds_csi.controller import add_controller  # noqa: PLC0415

        nodes = self._node_registry()
        transport, self.collector = add_controller(
            self.server,
            self.config,
            attachments or self._attachments(nodes),
            nodes,
            retry,
            observer=events.RdsEvents(self.events, self.config.rds_address),
            recorder=self.events,
        )
        metrics.RDS_CONNECTION_STATE.labels(self.config.rds_address).set_function(lambda: transport.connected)
        metrics.RDS_SESSIONS_IN_USE.set_function(lambda: transport.sessions_in_use)
        metrics.RDS_SESSIONS_LIMIT.set(self.config.rds_max_sessions)
        return transport

    def _attachments(self, nodes: NodeRegistry) -> AttachmentManager:
        """From the cluster's VolumeAttachments with a kubeconfig, else from the state file."""
        ledger: Any
        if self.config.kubeconfig:
            from rds_csi.attachment_cluster import ClusterLedger  # noqa: PLC0415

            ledger = ClusterLedger(self.config.kubeconfig)
            ledger.start()
            self._ledger = ledger
        else:
            from rds_csi.attachment_file import FileLedger  # noqa: PLC0415

            ledger = FileLedger(Path(self.config.attachment_state_path))
        return AttachmentManager(
            ledger,
            nodes,
            self.events,
            handoff_grace=self.config.handoff_grace,
            deleted_node_grace=self.config.deleted_node_grace,
        )

    def _node_registry(self) -> NodeRegistry:
        if self.config.kubeconfig:
            return KubernetesNodes(self.config.kubeconfig)
        known = set(self.config.node_ids)
        if self.config.node_id:
            known.add(self.config.node_id)
        return StaticNodes(frozenset(known))

    def _bind(self, endpoint: str) -> str:
        tcp = endpoint_tcp(endpoint)
        if tcp is not None:
            port = self.server.add_insecure_port(tcp)
            return "%s:%d" % (tcp.rpartition(":")[0], port)
        path = Path(endpoint[len("unix://") :] if endpoint.startswith("unix://") else endpoint[len("unix:") :])
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_socket():
            path.unlink()  # left by a previous run; the CO connects by path
        self.server.add_insecure_port("unix:" + str(path))
        return "unix:" + str(path)

    def start(self) -> None:
        if self.config.metrics:
            self.metrics_endpoint = _serve_metrics(self.config)
            LOG.info("metrics served", extra={"fields": {"url": self.metrics_endpoint.url}})
        self.server.start()
        self._serving.set()
        if self.collector is not None:
            self.collector.start()
        LOG.info("serving", extra={"fields": {"endpoint": self.address, "mode": self.config.mode}})

    def stop(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Refuse new RPCs, let in-flight ones finish within ``grace``, post their events in what is left
        of it, then close the RDS connection."""
        stop_by = time.monotonic() + grace
        self._serving.clear()
        if self.collector is not None:
            self.collector.stop()
        self.health.stop()
        self.server.stop(grace).wait(grace + 1)
        self.events.stop(max(0.0, stop_by - time.monotonic()))
        if self.transport is not None:
            self.transport.close()
        if self._ledger is not None:
            self._ledger.stop()
        if self.collector is not None:
            self.collector.join(2.0)  # closing the transport ended a command it was waiting on
        if self.metrics_endpoint is not None:
            self.metrics_endpoint.stop()
        if self.address.startswith("unix:"):
            Path(self.address[len("unix:") :]).unlink(missing_ok=True)
        LOG.info("stopped", extra={"fields": {"endpoint": self.address, "pid": os.getpid()}})


def _event_recorder(config: Config) -> events.Recorder:
    """Posting to the API with events on and a kubeconfig; otherwise logging only."""
    api = events.KubeApi(config.kubeconfig) if config.events and config.kubeconfig else None
    return events.Recorder(
        api,
        host=config.node_id or socket.gethostname(),
        node_name=config.node_id,
        pod_name=config.pod_name,
        pod_namespace=config.pod_namespace,
    )


def _serve_metrics(config: Config) -> metrics.Endpoint:
    try:
        return metrics.serve(config.metrics_address, config.served_metrics_port)
    except OSError as error:
        raise ConfigError(
            "The metrics endpoint cannot listen on %s port %d (%s): choose another --metrics-address or "
            "--metrics-port, or turn metrics off with --no-metrics."
            % (config.metrics_address, config.served_metrics_port, error)
        ) from error
