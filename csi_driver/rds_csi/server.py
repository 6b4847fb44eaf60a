"""The gRPC server: services per mode, endpoint binding, graceful stop (P-8.7).

``Driver`` is what ``main`` runs and what the tests start in process; both bind the same
endpoint kinds (a unix socket, or TCP for tests) and talk to the RDS through one
``SshTransport`` whose session bound limits concurrent commands.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent import futures
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import grpc

from rds_csi.attachments import Attachments, InMemoryAttachments
from rds_csi.config import Config, endpoint_tcp
from rds_csi.health import Health
from rds_csi.identity import Identity
from rds_csi.node import Node
from rds_csi.node_runtime import NodeRuntime
from rds_csi.nodes import KubernetesNodes, NodeRegistry, StaticNodes
from rds_csi.proto import csi_pb2_grpc, health_pb2_grpc

if TYPE_CHECKING:
    from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RetryPolicy
    from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshTransport

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
        self.transport: Optional[SshTransport] = None
        self._serving = threading.Event()
        workers = max(16, config.rds_max_sessions * 2)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rpc"))
        services = ["csi.v1.Identity"]
        if config.runs_controller:
            self.transport = self._add_controller(attachments or InMemoryAttachments(), retry)
            services.append("csi.v1.Controller")
        if config.runs_node:
            runtime = NodeRuntime.from_config(config)
            csi_pb2_grpc.add_NodeServicer_to_server(Node(config.node_id, config.zone, runtime), self.server)
            services.append("csi.v1.Node")
        identity = Identity(controller=config.runs_controller, ready=self._serving.is_set)
        csi_pb2_grpc.add_IdentityServicer_to_server(identity, self.server)
        self.health = Health(services)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.address = self._bind(config.endpoint)

    def _add_controller(self, attachments: Attachments, retry: Optional[RetryPolicy]) -> SshTransport:
        # Imported here so that a node-only process never loads the SSH stack (paramiko and
        # cryptography, about 20 MiB of the node plugin's memory; P-11.6).
        from rds_csi.controller import add_controller  # noqa: PLC0415

        return add_controller(self.server, self.config, attachments, self._node_registry(), retry)

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
        self.server.start()
        self._serving.set()
        LOG.info("serving", extra={"fields": {"endpoint": self.address, "mode": self.config.mode}})

    def stop(self, grace: float = SHUTDOWN_GRACE) -> None:
        """Refuse new RPCs, let in-flight ones finish within ``grace``, then close the RDS connection."""
        self._serving.clear()
        self.health.stop()
        self.server.stop(grace).wait(grace + 1)
        if self.transport is not None:
            self.transport.close()
        if self.address.startswith("unix:"):
            Path(self.address[len("unix:") :]).unlink(missing_ok=True)
        LOG.info("stopped", extra={"fields": {"endpoint": self.address, "pid": os.getpid()}})
