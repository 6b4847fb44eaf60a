"""CSI Node service, the part this issue needs: NodeGetInfo and NodeGetCapabilities.

Staging and publishing (P-6) are a later issue; until then the node advertises no capability
and the other Node RPCs answer UNIMPLEMENTED (the generated servicer's default).
"""

from __future__ import annotations

from typing import Any

import grpc

from rds_csi.errors import rpc
from rds_csi.proto import csi_pb2, csi_pb2_grpc
from rds_csi.volumes import TOPOLOGY_KEY


class Node(csi_pb2_grpc.NodeServicer):  # type: ignore[misc]
    def __init__(self, node_id: str, zone: str) -> None:
        self.node_id = node_id
        self.zone = zone

    @rpc
    def NodeGetInfo(self, request: Any, context: grpc.ServicerContext) -> Any:
        return csi_pb2.NodeGetInfoResponse(
            node_id=self.node_id, accessible_topology=csi_pb2.Topology(segments={TOPOLOGY_KEY: self.zone})
        )

    @rpc
    def NodeGetCapabilities(self, request: Any, context: grpc.ServicerContext) -> Any:
        return csi_pb2.NodeGetCapabilitiesResponse()
