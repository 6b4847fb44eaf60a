"""CSI Identity service (P-5.1)."""

from __future__ import annotations

from typing import Any, Callable

import grpc
from google.protobuf.wrappers_pb2 import BoolValue

from rds_csi import DRIVER_NAME, __version__
from rds_csi.errors import rpc
from rds_csi.proto import csi_pb2, csi_pb2_grpc

_SERVICE = csi_pb2.PluginCapability.Service


class Identity(csi_pb2_grpc.IdentityServicer):  # type: ignore[misc]
    """``ready`` answers Probe with the plugin's own health: serving and not stopping, its configuration
    and (on a node) its local prerequisites having been checked at start. It never asks the RDS: an
    appliance outage would make the CO's liveness probe restart a healthy controller over and over.
    The RPCs that need the RDS answer Unavailable instead, and the transport logs the outage once."""

    def __init__(self, controller: bool, ready: Callable[[], bool]) -> None:
        self.controller = controller
        self.ready = ready

    @rpc
    def GetPluginInfo(self, request: Any, context: grpc.ServicerContext) -> Any:
        return csi_pb2.GetPluginInfoResponse(name=DRIVER_NAME, vendor_version=__version__)

    @rpc
    def GetPluginCapabilities(self, request: Any, context: grpc.ServicerContext) -> Any:
        kinds = [_SERVICE.VOLUME_ACCESSIBILITY_CONSTRAINTS]
        if self.controller:
            kinds.insert(0, _SERVICE.CONTROLLER_SERVICE)
        capabilities = [csi_pb2.PluginCapability(service=_SERVICE(type=kind)) for kind in kinds]
        if self.controller:
            expansion = csi_pb2.PluginCapability.VolumeExpansion(type=csi_pb2.PluginCapability.VolumeExpansion.ONLINE)
            capabilities.append(csi_pb2.PluginCapability(volume_expansion=expansion))
        return csi_pb2.GetPluginCapabilitiesResponse(capabilities=capabilities)

    @rpc
    def Probe(self, request: Any, context: grpc.ServicerContext) -> Any:
        return csi_pb2.ProbeResponse(ready=BoolValue(value=self.ready()))
