"""CSI Node service (P-6): the gRPC layer. Each RPC validates its request (InvalidArgument, C-2),
holds the volume's in-flight slot (Aborted when busy) and calls one operation of node_stage,
node_publish or node_stats. Creating it cleans the node's orphaned connections (P-8.6).

Only NodeStageVolume takes the volume's NQN from the contexts; every later RPC uses the NQN it
recorded (node_runtime's stage records). Stats and expand decide whether this node has the volume
before they look at the path's form (C-2). NodeStageVolume and NodePublishVolume remember the claim
their volume_context names, for the events posted on it (claims.py).
"""

from __future__ import annotations

import os
from typing import Any

import grpc

from rds_csi import node_publish, node_stage, node_stats
from rds_csi.capabilities import AccessType
from rds_csi.errors import invalid, rpc
from rds_csi.inflight import InFlight
from rds_csi.node_context import checked_capability, connect_target, fstype_of, volume_nqn
from rds_csi.node_runtime import LOG, NodeRuntime
from rds_csi.proto import csi_pb2, csi_pb2_grpc
from rds_csi.topology import ZONE_KEY, host_segments

_RPC = csi_pb2.NodeServiceCapability.RPC
CAPABILITIES = (_RPC.STAGE_UNSTAGE_VOLUME, _RPC.EXPAND_VOLUME, _RPC.GET_VOLUME_STATS, _RPC.VOLUME_CONDITION)
_UNIT = csi_pb2.VolumeUsage


class Node(csi_pb2_grpc.NodeServicer):  # type: ignore[misc]
    def __init__(self, node_id: str, zone: str, runtime: NodeRuntime, max_volumes: int) -> None:
        self.node_id = node_id
        self.zone = zone
        self.max_volumes = max_volumes  # 0: no limit, which NodeGetInfo says by leaving the field unset
        self.runtime = runtime
        self.inflight = InFlight()
        cleaned = runtime.clean_orphans()
        LOG.info("node ready", extra={"fields": {"host_nqn": runtime.host_nqn, "orphans_cleaned": len(cleaned)}})

    @rpc
    def NodeGetInfo(self, request: Any, context: grpc.ServicerContext) -> Any:
        segments = {ZONE_KEY: self.zone, **host_segments(self.runtime.host_nqn)}
        return csi_pb2.NodeGetInfoResponse(
            node_id=self.node_id,
            max_volumes_per_node=self.max_volumes,
            accessible_topology=csi_pb2.Topology(segments=segments),
        )

    @rpc
    def NodeGetCapabilities(self, request: Any, context: grpc.ServicerContext) -> Any:
        return csi_pb2.NodeGetCapabilitiesResponse(
            capabilities=[csi_pb2.NodeServiceCapability(rpc=_RPC(type=kind)) for kind in CAPABILITIES]
        )

    @rpc
    def NodeStageVolume(self, request: Any, context: grpc.ServicerContext) -> Any:
        runtime = self.runtime
        volume_id = _required(request, "NodeStageVolume", "volume_id", "staging_target_path")
        kind = _capability(request, "NodeStageVolume")
        staging = _path(request.staging_target_path)
        fstype = fstype_of(request.volume_capability)
        options = (
            node_stage.mount_options(fstype, list(request.volume_capability.mount.mount_flags))
            if kind is AccessType.MOUNT
            else []
        )
        target = connect_target(volume_id, request.publish_context, request.volume_context, runtime.host_nqn)
        runtime.events.claims.note(volume_id, request.volume_context)
        with self.inflight.hold(volume_id):
            device = node_stage.connect(runtime, target, volume_id)
            if kind is AccessType.MOUNT:
                stage = node_stage.FilesystemStage(volume_id, staging, fstype, options)
                node_stage.stage_filesystem(runtime, stage, device)
        return csi_pb2.NodeStageVolumeResponse()

    @rpc
    def NodeUnstageVolume(self, request: Any, context: grpc.ServicerContext) -> Any:
        runtime = self.runtime
        volume_id = _required(request, "NodeUnstageVolume", "volume_id", "staging_target_path")
        with self.inflight.hold(volume_id):
            node_stage.unstage(runtime, volume_id, _path(request.staging_target_path))
        return csi_pb2.NodeUnstageVolumeResponse()

    @rpc
    def NodePublishVolume(self, request: Any, context: grpc.ServicerContext) -> Any:
        runtime = self.runtime
        volume_id = _required(request, "NodePublishVolume", "volume_id", "staging_target_path", "target_path")
        kind = _capability(request, "NodePublishVolume")
        target = _path(request.target_path)
        if not os.path.isdir(os.path.dirname(target)):
            raise invalid(
                "NodePublishVolume %s: the parent of %s does not exist; the CO creates it." % (volume_id, target)
            )
        runtime.events.claims.note(volume_id, request.volume_context)
        with self.inflight.hold(volume_id):
            # The contexts only for a volume staged before stage records existed.
            nqn = runtime.records.read(volume_id) or volume_nqn(
                volume_id, request.publish_context, request.volume_context
            )
            if kind is AccessType.BLOCK:
                node_publish.publish_block(runtime, volume_id, nqn, target, request.readonly)
            else:
                staging = _path(request.staging_target_path)
                node_publish.publish_filesystem(runtime, volume_id, nqn, staging, target, read_only=request.readonly)
        return csi_pb2.NodePublishVolumeResponse()

    @rpc
    def NodeUnpublishVolume(self, request: Any, context: grpc.ServicerContext) -> Any:
        runtime = self.runtime
        volume_id = _required(request, "NodeUnpublishVolume", "volume_id", "target_path")
        with self.inflight.hold(volume_id):
            node_publish.unpublish(runtime, volume_id, _path(request.target_path))
        return csi_pb2.NodeUnpublishVolumeResponse()

    @rpc
    def NodeGetVolumeStats(self, request: Any, context: grpc.ServicerContext) -> Any:
        runtime = self.runtime
        volume_id = _required(request, "NodeGetVolumeStats", "volume_id", "volume_path")
        nqn = node_stats.staged_nqn(runtime, "NodeGetVolumeStats", volume_id)
        usage = node_stats.volume_stats(runtime, volume_id, nqn, _path(request.volume_path))
        entries = []
        if usage.total_bytes:
            entries.append(
                _UNIT(unit=_UNIT.BYTES, total=usage.total_bytes, available=usage.available_bytes, used=usage.used_bytes)
            )
        if usage.total_inodes:
            entries.append(
                _UNIT(
                    unit=_UNIT.INODES,
                    total=usage.total_inodes,
                    available=usage.available_inodes,
                    used=usage.used_inodes,
                )
            )
        condition = csi_pb2.VolumeCondition(
            abnormal=bool(usage.abnormal), message=usage.abnormal or "volume is healthy"
        )
        return csi_pb2.NodeGetVolumeStatsResponse(usage=entries, volume_condition=condition)

    @rpc
    def NodeExpandVolume(self, request: Any, context: grpc.ServicerContext) -> Any:
        runtime = self.runtime
        volume_id = _required(request, "NodeExpandVolume", "volume_id", "volume_path")
        block = False
        if request.HasField("volume_capability"):
            block = checked_capability(request.volume_capability, "NodeExpandVolume %s" % volume_id) is AccessType.BLOCK
        required = request.capacity_range.required_bytes if request.HasField("capacity_range") else 0
        with self.inflight.hold(volume_id):
            nqn = node_stats.staged_nqn(runtime, "NodeExpandVolume", volume_id)
            size = node_stats.expand(
                runtime, volume_id, nqn, _path(request.volume_path), required=required, block=block
            )
        return csi_pb2.NodeExpandVolumeResponse(capacity_bytes=size)


def _required(request: Any, rpc_name: str, *names: str) -> str:
    """The request's volume_id, after checking every named field is set (InvalidArgument names the first)."""
    for name in names:
        if not getattr(request, name):
            subject = "%s %s" % (rpc_name, request.volume_id) if request.volume_id else rpc_name
            raise invalid("%s: %s is required." % (subject, name))
    return str(request.volume_id)


def _capability(request: Any, rpc_name: str) -> AccessType:
    if not request.HasField("volume_capability"):
        raise invalid("%s %s: volume_capability is required." % (rpc_name, request.volume_id))
    return checked_capability(request.volume_capability, "%s %s" % (rpc_name, request.volume_id))


def _path(path: str) -> str:
    if not os.path.isabs(path):
        raise invalid("%r is not an absolute path; the CO passes absolute staging and target paths." % path)
    return os.path.normpath(path)
