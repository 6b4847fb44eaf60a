"""Which node IDs exist, for ControllerPublishVolume (P-7.6).

With a kubeconfig (or in-cluster configuration) the Kubernetes Node objects decide; without one,
the node IDs configured for the driver. Errors talking to the API fail closed: the publish is
refused with Unavailable rather than granted on a guess.
"""

from __future__ import annotations

from typing import Any, Protocol

import grpc

from rds_csi.errors import CsiError


class NodeRegistry(Protocol):
    def exists(self, node_id: str) -> bool: ...


class StaticNodes:
    def __init__(self, node_ids: frozenset[str]) -> None:
        self.node_ids = node_ids

    def exists(self, node_id: str) -> bool:
        return node_id in self.node_ids


class KubernetesNodes:
    """Node objects read through the Kubernetes API (the ``kubernetes`` client is imported lazily)."""

    def __init__(self, kubeconfig: str) -> None:
        # The kubernetes client costs ~40 MiB of memory; only drivers that use the API load it.
        from kubernetes import client, config  # noqa: PLC0415

        if kubeconfig == "in-cluster":
            config.load_incluster_config()  # type: ignore[no-untyped-call]
        else:
            config.load_kube_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
        self._api: Any = client.CoreV1Api()
        self._api_error: type[Exception] = client.ApiException

    def exists(self, node_id: str) -> bool:
        try:
            self._api.read_node(node_id, _request_timeout=10)
        except self._api_error as error:
            if getattr(error, "status", None) == 404:
                return False
            raise self._unavailable(node_id, error) from error
        except Exception as error:  # connection refused, timeouts: fail closed
            raise self._unavailable(node_id, error) from error
        return True

    @staticmethod
    def _unavailable(node_id: str, error: Exception) -> CsiError:
        return CsiError(
            grpc.StatusCode.UNAVAILABLE,
            "Cannot check node %s with the Kubernetes API (%s); refusing to publish until the API answers."
            % (node_id, error),
        )
