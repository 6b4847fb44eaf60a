"""Request builders and status assertions shared by the conformance tests."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from rds_csi.proto import csi_pb2
from rds_emulator.server import EmulatorServer

GIB = 1024**3
BASE = "/storage-pool/metal-csi"
Mode = csi_pb2.VolumeCapability.AccessMode
RWO = Mode.SINGLE_NODE_WRITER
RWX = Mode.MULTI_NODE_MULTI_WRITER


def mount(mode: int = RWO, fs_type: str = "ext4") -> Any:
    return csi_pb2.VolumeCapability(
        mount=csi_pb2.VolumeCapability.MountVolume(fs_type=fs_type), access_mode=Mode(mode=mode)
    )


def block(mode: int = RWO) -> Any:
    return csi_pb2.VolumeCapability(block=csi_pb2.VolumeCapability.BlockVolume(), access_mode=Mode(mode=mode))


def create_request(name: str, size: int = GIB, capability: Any = None, **fields: Any) -> Any:
    return csi_pb2.CreateVolumeRequest(
        name=name,
        capacity_range=csi_pb2.CapacityRange(required_bytes=size),
        volume_capabilities=[capability if capability is not None else mount()],
        **fields,
    )


def from_snapshot(snapshot_id: str) -> Any:
    return csi_pb2.VolumeContentSource(snapshot=csi_pb2.VolumeContentSource.SnapshotSource(snapshot_id=snapshot_id))


def from_volume(volume_id: str) -> Any:
    return csi_pb2.VolumeContentSource(volume=csi_pb2.VolumeContentSource.VolumeSource(volume_id=volume_id))


def publish_request(volume_id: str, node_id: str, capability: Any = None, readonly: bool = False) -> Any:
    return csi_pb2.ControllerPublishVolumeRequest(
        volume_id=volume_id,
        node_id=node_id,
        volume_capability=capability if capability is not None else mount(),
        readonly=readonly,
    )


def free_port() -> int:
    """A TCP port on loopback that nothing listens on at this moment."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def status_of(call: Callable[[], Any]) -> grpc.StatusCode:
    """The status code of a call that must fail."""
    with pytest.raises(grpc.RpcError) as raised:
        call()
    error: Any = raised.value
    assert error.details(), "every error carries a message"
    return error.code()


def error_of(call: Callable[[], Any]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    error: Any = raised.value
    return error.code(), error.details()


@dataclass
class Csi:
    """gRPC stubs on the driver's socket, and the emulator behind it."""

    identity: Any
    controller: Any
    node: Any
    health: Any
    emulator: EmulatorServer
    state: Path

    def files(self) -> Path:
        return self.state / "files"

    def exports(self) -> dict[str, Any]:
        path = self.state / "exports.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def backing_file(self, volume_id: str) -> Path:
        return self.files() / BASE.strip("/") / (volume_id + ".img")


@dataclass
class NodeHarness:
    """The driver in mode ``all`` with the node service on the test fabric, the fabric, and the
    directory that plays kubelet's (staging and pod target paths)."""

    csi: Csi
    fabric: Any
    work: Path


@dataclass
class NodeVolume:
    """A volume created and published to node-a through the controller, with the paths a CO would
    use: the staging directory exists (the CO makes it), the target's parent exists, the target not."""

    harness: NodeHarness
    id: str
    publish_context: dict[str, str]
    volume_context: dict[str, str]
    staging: str
    target: str

    @property
    def nqn(self) -> str:
        return self.publish_context["nqn"]

    @classmethod
    def create(cls, harness: NodeHarness, name: str, capability: Any, size: int = GIB) -> NodeVolume:
        controller = harness.csi.controller
        volume = controller.CreateVolume(create_request(name, size=size, capability=capability)).volume
        published = controller.ControllerPublishVolume(publish_request(volume.volume_id, "node-a", capability))
        staging = harness.work / "plugins" / "staging" / volume.volume_id
        target_parent = harness.work / "pods" / volume.volume_id / "volumes"
        staging.mkdir(parents=True)
        target_parent.mkdir(parents=True)
        return cls(
            harness=harness,
            id=volume.volume_id,
            publish_context=dict(published.publish_context),
            volume_context=dict(volume.volume_context),
            staging=str(staging),
            target=str(target_parent / "target"),
        )

    def delete(self) -> None:
        controller = self.harness.csi.controller
        controller.ControllerUnpublishVolume(
            csi_pb2.ControllerUnpublishVolumeRequest(volume_id=self.id, node_id="node-a")
        )
        controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=self.id))


def node_stage(volume: NodeVolume, capability: Any, staging: str = "") -> Any:
    return csi_pb2.NodeStageVolumeRequest(
        volume_id=volume.id,
        publish_context=volume.publish_context,
        staging_target_path=staging or volume.staging,
        volume_capability=capability,
        volume_context=volume.volume_context,
    )


def node_publish(volume: NodeVolume, capability: Any, readonly: bool = False, target: str = "") -> Any:
    return csi_pb2.NodePublishVolumeRequest(
        volume_id=volume.id,
        publish_context=volume.publish_context,
        staging_target_path=volume.staging,
        target_path=target or volume.target,
        volume_capability=capability,
        readonly=readonly,
        volume_context=volume.volume_context,
    )


def node_unpublish(volume: NodeVolume, target: str = "") -> Any:
    return csi_pb2.NodeUnpublishVolumeRequest(volume_id=volume.id, target_path=target or volume.target)


def node_unstage(volume: NodeVolume, staging: str = "") -> Any:
    return csi_pb2.NodeUnstageVolumeRequest(volume_id=volume.id, staging_target_path=staging or volume.staging)


def mount_points(path: str) -> list[Any]:
    """The mountinfo entries mounted exactly at ``path``."""
    from ansible_collections.srvlab.rds.plugins.module_utils.node_mounts import mounts_at, read_mountinfo

    return mounts_at(read_mountinfo(), path)
