"""Request builders and status assertions shared by the conformance tests."""

from __future__ import annotations

import json
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
