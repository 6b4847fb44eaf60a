"""CSI Controller service: volumes, capacity and publish (P-5.2 to P-5.5, P-7.1/P-7.2/P-7.6).

Snapshot RPCs are served by ``snapshots.Snapshots``; this class only forwards them. Every RPC
validates its arguments first (InvalidArgument), then holds the volume's in-flight slot (Aborted
when busy) while it talks to the RDS.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Optional

import grpc
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import (
    RdsClient,
    RetryPolicy,
    Survey,
    check_room,
    pool_of,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import Disk, DiskSpec, ExportSpec
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import AlreadyExistsError, NotFoundError
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import backing_file, nqn_for
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshTransport, TransportObserver
from google.protobuf.wrappers_pb2 import Int64Value

from rds_csi import metrics, naming, pagination, volume_health
from rds_csi.appliance import ApplianceCollector
from rds_csi.attachments import Attachment, Attachments
from rds_csi.capabilities import RWX_BLOCK, AccessType, access_type, require_supported, unsupported_reason
from rds_csi.config import Config
from rds_csi.errors import CsiError, invalid, not_found, rpc
from rds_csi.events import Recorder
from rds_csi.fencing import StorageFencing, storage_fencing
from rds_csi.naming import Source
from rds_csi.nodes import NodeRegistry
from rds_csi.params import VolumeParams, parse_params
from rds_csi.proto import csi_pb2, csi_pb2_grpc
from rds_csi.sizes import DEFAULT_SIZE, MAX_SIZE, fits, size_for
from rds_csi.snapshots import Snapshots, driver_snapshot
from rds_csi.topology import ZONE_KEY
from rds_csi.volumes import Backend, file_disk

_RPC = csi_pb2.ControllerServiceCapability.RPC
CAPABILITIES = (
    _RPC.CREATE_DELETE_VOLUME,
    _RPC.PUBLISH_UNPUBLISH_VOLUME,
    _RPC.LIST_VOLUMES,
    _RPC.LIST_VOLUMES_PUBLISHED_NODES,
    _RPC.GET_CAPACITY,
    _RPC.CREATE_DELETE_SNAPSHOT,
    _RPC.LIST_SNAPSHOTS,
    _RPC.CLONE_VOLUME,
    _RPC.PUBLISH_READONLY,
    _RPC.EXPAND_VOLUME,
    _RPC.GET_VOLUME,
    _RPC.VOLUME_CONDITION,
)


class Controller(csi_pb2_grpc.ControllerServicer):  # type: ignore[misc]
    talks_to_rds = True  # its RPCs' RouterOS round trips are counted (errors.rpc)

    def __init__(self, backend: Backend, fencing: Optional[StorageFencing] = None) -> None:
        self.backend = backend
        self.fencing = fencing or StorageFencing(None, None)
        self.store = backend.store
        self.snapshots = Snapshots(backend)

    @rpc
    def ControllerGetCapabilities(self, request: Any, context: grpc.ServicerContext) -> Any:
        return csi_pb2.ControllerGetCapabilitiesResponse(
            capabilities=[csi_pb2.ControllerServiceCapability(rpc=_RPC(type=kind)) for kind in CAPABILITIES]
        )

    # Volumes

    @rpc
    def CreateVolume(self, request: Any, context: grpc.ServicerContext) -> Any:
        if not request.name:
            raise invalid("CreateVolume: name is required.")
        what = "CreateVolume %s" % request.name
        require_supported(request.volume_capabilities, what)
        config = self.backend.config
        params = parse_params(dict(request.parameters), config.base_path, config.nvme_address, config.nvme_port)
        self._check_topology(request.accessibility_requirements)
        volume_id = naming.volume_id_for(request.name)
        source = _source_of(request)
        with self.backend.inflight.hold(volume_id, source.object_id if source else ""):
            disk = self._create(volume_id, params, request.capacity_range, source)
        return csi_pb2.CreateVolumeResponse(volume=self.backend.volume_message(disk, params))

    @rpc
    def DeleteVolume(self, request: Any, context: grpc.ServicerContext) -> Any:
        volume_id = request.volume_id
        if not volume_id:
            raise invalid("DeleteVolume: volume_id is required.")
        if not naming.is_volume_id(volume_id):
            return csi_pb2.DeleteVolumeResponse()  # not an ID this driver issues: nothing of ours to delete
        with self.backend.inflight.hold(volume_id):
            nodes = self.backend.attachments.published_nodes(volume_id)
            if nodes:
                raise CsiError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    "DeleteVolume: volume %s is still published to node(s) %s; unpublish it first."
                    % (volume_id, ", ".join(nodes)),
                )
            hint = self.backend.removal_hint(volume_id)
            found = self.store.survey(slots=[volume_id], files=[hint])
            disk = file_disk(found.disks.get(volume_id))
            if disk is not None:
                self.backend.require_managed(disk, "DeleteVolume")
            self.backend.remove(disk, found, hint)
        return csi_pb2.DeleteVolumeResponse()

    @rpc
    def ControllerExpandVolume(self, request: Any, context: grpc.ServicerContext) -> Any:
        volume_id = request.volume_id
        if not volume_id:
            raise invalid("ControllerExpandVolume: volume_id is required.")
        if not request.HasField("capacity_range"):
            raise invalid("ControllerExpandVolume %s: capacity_range is required." % volume_id)
        size = size_for(request.capacity_range)
        block = request.HasField("volume_capability") and access_type(request.volume_capability) is AccessType.BLOCK
        with self.backend.inflight.hold(volume_id):
            disk = self.backend.require_volume(volume_id, "ControllerExpandVolume")
            if disk.size is None or disk.size < size:
                disk = self.store.resize_disk(volume_id, size, current=disk)
        return csi_pb2.ControllerExpandVolumeResponse(
            capacity_bytes=disk.size or size, node_expansion_required=not block
        )

    @rpc
    def ValidateVolumeCapabilities(self, request: Any, context: grpc.ServicerContext) -> Any:
        if not request.volume_id:
            raise invalid("ValidateVolumeCapabilities: volume_id is required.")
        if not request.volume_capabilities:
            raise invalid("ValidateVolumeCapabilities %s: volume_capabilities is required." % request.volume_id)
        self.backend.require_volume(request.volume_id, "ValidateVolumeCapabilities")
        reasons = [reason for reason in map(unsupported_reason, request.volume_capabilities) if reason]
        if reasons:
            return csi_pb2.ValidateVolumeCapabilitiesResponse(message="; ".join(reasons))
        confirmed = csi_pb2.ValidateVolumeCapabilitiesResponse.Confirmed(
            volume_context=dict(request.volume_context),
            volume_capabilities=list(request.volume_capabilities),
            parameters=dict(request.parameters),
        )
        return csi_pb2.ValidateVolumeCapabilitiesResponse(confirmed=confirmed)

    @rpc
    def ListVolumes(self, request: Any, context: grpc.ServicerContext) -> Any:
        if request.starting_token:
            pagination.decode(request.starting_token)  # a bad token is Aborted before the RDS is asked
        disks, next_token = pagination.page(
            self.backend.managed_volumes(), lambda disk: disk.slot, request.max_entries, request.starting_token
        )
        entries = []
        for disk in disks:
            status = csi_pb2.ListVolumesResponse.VolumeStatus(
                published_node_ids=self.backend.attachments.published_nodes(disk.slot)
            )
            volume = self.backend.volume_message(disk, self.backend.params_of(disk))
            entries.append(csi_pb2.ListVolumesResponse.Entry(volume=volume, status=status))
        return csi_pb2.ListVolumesResponse(entries=entries, next_token=next_token)

    @rpc
    def ControllerGetVolume(self, request: Any, context: grpc.ServicerContext) -> Any:
        """The volume, its nodes and its health. Read-only: it holds no in-flight slot, so the health monitor's
        polling never makes a concurrent change Aborted."""
        volume_id = request.volume_id
        if not volume_id:
            raise invalid("ControllerGetVolume: volume_id is required.")
        facts = self.backend.volume_facts(volume_id)
        if not facts.known:
            raise not_found("ControllerGetVolume: volume %s does not exist on the RDS." % volume_id)
        config = self.backend.config
        found = volume_health.problems(facts, config.managed_nqn_prefix, config.nvme_port)
        status = csi_pb2.ControllerGetVolumeResponse.VolumeStatus(
            published_node_ids=facts.published_nodes,
            volume_condition=csi_pb2.VolumeCondition(
                abnormal=bool(found), message=" ".join(found) or volume_health.HEALTHY
            ),
        )
        return csi_pb2.ControllerGetVolumeResponse(volume=self.backend.facts_message(facts), status=status)

    @rpc
    def GetCapacity(self, request: Any, context: grpc.ServicerContext) -> Any:
        config = self.backend.config
        if any(unsupported_reason(capability) for capability in request.volume_capabilities):
            return csi_pb2.GetCapacityResponse(available_capacity=0)
        segments = dict(request.accessible_topology.segments)
        if segments.get(ZONE_KEY, config.zone) != config.zone:
            return csi_pb2.GetCapacityResponse(available_capacity=0)
        params = parse_params(dict(request.parameters), config.base_path, config.nvme_address, config.nvme_port)
        pool = pool_of(params.volume_path)
        capacity = self.store.pool_capacity(pool)
        metrics.RDS_POOL_SIZE.labels(pool).set(capacity.size)
        metrics.RDS_POOL_FREE.labels(pool).set(capacity.free)
        return csi_pb2.GetCapacityResponse(
            available_capacity=capacity.free,
            maximum_volume_size=Int64Value(value=min(capacity.free, MAX_SIZE)),
            minimum_volume_size=Int64Value(value=DEFAULT_SIZE),
        )

    # Publish

    @rpc
    def ControllerPublishVolume(self, request: Any, context: grpc.ServicerContext) -> Any:
        volume_id, node_id = request.volume_id, request.node_id
        if not volume_id or not node_id:
            raise invalid("ControllerPublishVolume: volume_id and node_id are required.")
        if not request.HasField("volume_capability"):
            raise invalid("ControllerPublishVolume %s: volume_capability is required." % volume_id)
        reason = unsupported_reason(request.volume_capability)
        if reason:
            raise invalid("ControllerPublishVolume %s: %s." % (volume_id, reason))
        with self.backend.inflight.hold(volume_id):
            disk = self.backend.require_volume(volume_id, "ControllerPublishVolume")
            if not self.backend.nodes.exists(node_id):
                raise not_found(
                    "ControllerPublishVolume %s: node %s is not known to the driver (no Kubernetes Node of that name, "
                    "or not in the configured node_ids)." % (volume_id, node_id)
                )
            capability = request.volume_capability
            multi_writer = capability.access_mode.mode == RWX_BLOCK and access_type(capability) is AccessType.BLOCK
            self.backend.attachments.publish(
                volume_id, Attachment(node_id, request.readonly, multi_writer), request.volume_context
            )
            self.fencing.after_publish(disk, self.backend.attachments.published_nodes(volume_id))
        context_in = dict(request.volume_context)
        return csi_pb2.ControllerPublishVolumeResponse(
            publish_context={
                "nvmeAddress": context_in.get("nvmeAddress") or self.backend.config.nvme_address,
                "nvmePort": str(disk.export.port or self.backend.config.nvme_port),
                "nqn": disk.export.nqn or nqn_for(volume_id),
            }
        )

    @rpc
    def ControllerUnpublishVolume(self, request: Any, context: grpc.ServicerContext) -> Any:
        if not request.volume_id or not request.node_id:
            raise invalid("ControllerUnpublishVolume: volume_id and node_id are required.")
        with self.backend.inflight.hold(request.volume_id):
            self.backend.attachments.unpublish(request.volume_id, request.node_id)
            self.fencing.after_unpublish(
                request.volume_id, request.node_id, self.backend.attachments.published_nodes(request.volume_id)
            )
        return csi_pb2.ControllerUnpublishVolumeResponse()

    # Snapshots

    @rpc
    def CreateSnapshot(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.snapshots.create(request)

    @rpc
    def DeleteSnapshot(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.snapshots.delete(request)

    @rpc
    def ListSnapshots(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.snapshots.listing(request)

    # Internals

    def _check_topology(self, requirement: Any) -> None:
        requisite = list(requirement.requisite)
        zone = self.backend.config.zone
        if requisite and not any(dict(item.segments).get(ZONE_KEY) == zone for item in requisite):
            raise CsiError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "CreateVolume: this RDS serves topology %s=%s, which none of the requisite topologies allows."
                % (ZONE_KEY, zone),
            )

    def _create(self, volume_id: str, params: VolumeParams, capacity_range: Any, source: Optional[Source]) -> Disk:
        """One survey (the disk, a source, the directory until seen, the pool for a copy), then one create."""
        directory = params.volume_path
        check_directory = not self.backend.directory_known(directory)
        found = self.store.survey(
            slots=[volume_id] + ([source.object_id] if source else []),
            files=[directory] if check_directory else [],
            pool=pool_of(directory) if source else None,
        )
        source_disk = self._source_disk(source, found) if source else None
        size = size_for(capacity_range, minimum=max(DEFAULT_SIZE, (source_disk.size or 0) if source_disk else 0))
        spec = DiskSpec(
            slot=volume_id,
            file_path=backing_file(directory, volume_id),
            size=size,
            export=ExportSpec(
                enabled=True,
                port=params.nvme_port,
                nqn=nqn_for(volume_id),
                allowed_host_nqns=self.fencing.initial_hosts(),
            ),
            comment=naming.source_comment(source),
        )
        existing = found.disks.get(volume_id)
        if existing is not None:
            return _same_volume(existing, spec, capacity_range)
        if check_directory:
            self._ensure_directory(directory, found)
        if source_disk is not None and found.capacity is not None:
            check_room(found.capacity, spec)
        try:
            return self.store.create_disk(spec, source_disk)
        except AlreadyExistsError:
            # Another CreateVolume for the same name won the race: answer as for a repeated call.
            again = self.store.survey(slots=[volume_id]).disks.get(volume_id)
            if again is None:
                raise
            return _same_volume(again, spec, capacity_range)
        except NotFoundError:
            # The volume directory vanished since this process saw it: create it again, once.
            self.backend.ensure_directory(directory)
            return self.store.create_disk(spec, source_disk)

    def _ensure_directory(self, directory: str, found: Survey) -> None:
        entry = found.files.get(directory)
        if entry is not None and entry.type == "directory":
            self.backend.remember_directory(directory, exists=True)
        else:
            self.backend.ensure_directory(directory)

    def _source_disk(self, source: Source, found: Survey) -> Disk:
        found_disk = found.disks.get(source.object_id)
        if source.kind == "snapshot":
            snapshot = driver_snapshot(found_disk)
            if snapshot is None:
                raise not_found("CreateVolume: snapshot %s does not exist on the RDS." % source.object_id)
            return snapshot
        disk = file_disk(found_disk)
        if disk is None or not naming.is_volume_id(disk.slot) or not self.backend.policy.is_managed(disk):
            raise not_found("CreateVolume: source volume %s does not exist on the RDS." % source.object_id)
        return disk


def _same_volume(existing: Disk, spec: DiskSpec, capacity_range: Any) -> Disk:
    """A repeated CreateVolume gets the existing volume; another size, file or content source is AlreadyExists."""
    if existing.file_path != spec.file_path or not fits(existing.size or 0, capacity_range):
        raise CsiError(
            grpc.StatusCode.ALREADY_EXISTS,
            "CreateVolume: volume %s already exists with file %s and %d bytes, which does not match this request "
            "(file %s, %d bytes); use another name."
            % (spec.slot, existing.file_path, existing.size or 0, spec.file_path, spec.size),
        )
    if existing.comment != spec.comment:
        raise CsiError(
            grpc.StatusCode.ALREADY_EXISTS,
            "CreateVolume: volume %s already exists with another content source (%r); use another name."
            % (spec.slot, existing.comment),
        )
    return existing


def _source_of(request: Any) -> Optional[Source]:
    if not request.HasField("volume_content_source"):
        return None
    content = request.volume_content_source
    kind = content.WhichOneof("type")
    if kind == "snapshot":
        if not content.snapshot.snapshot_id:
            raise invalid("CreateVolume %s: the snapshot source needs a snapshot_id." % request.name)
        return Source("snapshot", content.snapshot.snapshot_id)
    if kind == "volume":
        if not content.volume.volume_id:
            raise invalid("CreateVolume %s: the volume source needs a volume_id." % request.name)
        return Source("volume", content.volume.volume_id)
    raise invalid("CreateVolume %s: volume_content_source names neither a snapshot nor a volume." % request.name)


def add_controller(
    server: grpc.Server,
    config: Config,
    attachments: Attachments,
    nodes: NodeRegistry,
    retry: Optional[RetryPolicy],
    *,
    observer: TransportObserver,
    recorder: Optional[Recorder] = None,
) -> tuple[SshTransport, Optional[ApplianceCollector]]:
    """Serve the Controller service on ``server``; returns the RDS connection for the caller to close
    and the appliance collector (None when metrics or collection are off) for the caller to run."""
    transport = SshTransport(config.ssh_settings(), observer=observer)
    client = RdsClient(transport, retry=retry)
    backend = Backend(config=config, store=client, attachments=attachments, nodes=nodes)
    controller = Controller(backend, storage_fencing(config, client, recorder))
    csi_pb2_grpc.add_ControllerServicer_to_server(controller, server)
    if not (config.metrics and config.appliance_metrics_interval > 0):
        return transport, None
    # Without retries: a failed round ends, the next one tries again.
    collection = client.with_retry(RetryPolicy(attempts=1))
    collector = ApplianceCollector(collection, replace(backend, store=collection), config.appliance_metrics_interval)
    return transport, collector
