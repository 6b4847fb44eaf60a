"""The demo's volume lifecycle, driven through the driver's CSI socket exactly as the sidecars and
the kubelet would: create, publish, stage with a real filesystem, write, read back, expand,
snapshot, restore, unstage, delete. Prints one line per step and a short report.

Runs as root (staging mounts a real filesystem) with the interpreter that has the driver's wheel
installed, so the protobuf stubs are the wheel's own. Exit status 0 only when every step succeeded
and the restored volume holds the bytes written before the snapshot.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
from rds_csi.proto import csi_pb2, csi_pb2_grpc

GIB = 1024**3
DATA_BYTES = 8 * 1024 * 1024
CAP_SYS_RESOURCE = 24
T = TypeVar("T")


@dataclass
class Step:
    name: str
    detail: str
    milliseconds: float


class Lifecycle:
    def __init__(self, channel: grpc.Channel, node_id: str, work: Path, fs_type: str) -> None:
        self.identity = csi_pb2_grpc.IdentityStub(channel)
        self.controller = csi_pb2_grpc.ControllerStub(channel)
        self.node = csi_pb2_grpc.NodeStub(channel)
        self.node_id = node_id
        self.work = work
        self.capability = csi_pb2.VolumeCapability(
            mount=csi_pb2.VolumeCapability.MountVolume(fs_type=fs_type),
            access_mode=csi_pb2.VolumeCapability.AccessMode(
                mode=csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER
            ),
        )
        self.steps: list[Step] = []

    def step(self, name: str, action: Callable[[], T], describe: Callable[[T], str]) -> T:
        started = time.perf_counter()
        result = action()
        elapsed = (time.perf_counter() - started) * 1000
        self.steps.append(Step(name, describe(result), elapsed))
        print("  %-22s %8.1f ms  %s" % (name, elapsed, describe(result)), flush=True)
        return result

    def paths(self, volume_id: str) -> tuple[str, str]:
        staging = self.work / "staging" / volume_id
        target = self.work / "pods" / volume_id / "mount"
        staging.mkdir(parents=True, exist_ok=True)  # the kubelet creates the staging directory
        target.parent.mkdir(parents=True, exist_ok=True)
        return str(staging), str(target)

    def create(self, name: str, size: int, source: Any = None) -> Any:
        request = csi_pb2.CreateVolumeRequest(
            name=name, capacity_range=csi_pb2.CapacityRange(required_bytes=size), volume_capabilities=[self.capability]
        )
        if source is not None:
            request.volume_content_source.CopyFrom(source)
        return self.controller.CreateVolume(request).volume

    def attach(self, volume: Any) -> str:
        """ControllerPublish, NodeStage and NodePublish; returns the pod's mount path."""
        published = self.step(
            "controller publish",
            lambda: self.controller.ControllerPublishVolume(
                csi_pb2.ControllerPublishVolumeRequest(
                    volume_id=volume.volume_id,
                    node_id=self.node_id,
                    volume_capability=self.capability,
                    volume_context=volume.volume_context,
                )
            ),
            lambda response: "nqn %s" % response.publish_context.get("nqn", "?"),
        )
        staging, target = self.paths(volume.volume_id)
        self.step(
            "node stage",
            lambda: self.node.NodeStageVolume(
                csi_pb2.NodeStageVolumeRequest(
                    volume_id=volume.volume_id,
                    publish_context=published.publish_context,
                    staging_target_path=staging,
                    volume_capability=self.capability,
                    volume_context=volume.volume_context,
                )
            ),
            lambda _response: "mounted %s" % mount_source(staging),
        )
        self.step(
            "node publish",
            lambda: self.node.NodePublishVolume(
                csi_pb2.NodePublishVolumeRequest(
                    volume_id=volume.volume_id,
                    publish_context=published.publish_context,
                    staging_target_path=staging,
                    target_path=target,
                    volume_capability=self.capability,
                    volume_context=volume.volume_context,
                )
            ),
            lambda _response: "bind mount at %s" % target,
        )
        return target

    def detach(self, volume_id: str) -> None:
        staging, target = self.paths(volume_id)
        self.step(
            "node unpublish",
            lambda: self.node.NodeUnpublishVolume(
                csi_pb2.NodeUnpublishVolumeRequest(volume_id=volume_id, target_path=target)
            ),
            lambda _response: "target %s" % ("gone" if not os.path.exists(target) else "STILL PRESENT"),
        )
        self.step(
            "node unstage",
            lambda: self.node.NodeUnstageVolume(
                csi_pb2.NodeUnstageVolumeRequest(volume_id=volume_id, staging_target_path=staging)
            ),
            lambda _response: "unmounted, NVMe/TCP disconnected",
        )
        self.step(
            "controller unpublish",
            lambda: self.controller.ControllerUnpublishVolume(
                csi_pb2.ControllerUnpublishVolumeRequest(volume_id=volume_id, node_id=self.node_id)
            ),
            lambda _response: "released node %s" % self.node_id,
        )

    def delete(self, volume_id: str) -> None:
        self.step(
            "delete volume",
            lambda: self.controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=volume_id)),
            lambda _response: "%s removed with its file" % volume_id,
        )

    def stats(self, volume_id: str, target: str) -> Any:
        return self.step(
            "node volume stats",
            lambda: self.node.NodeGetVolumeStats(
                csi_pb2.NodeGetVolumeStatsRequest(volume_id=volume_id, volume_path=target)
            ),
            describe_stats,
        )

    def run(self) -> bool:
        self.step(
            "plugin info",
            lambda: self.identity.GetPluginInfo(csi_pb2.GetPluginInfoRequest()),
            lambda response: "%s %s" % (response.name, response.vendor_version),
        )
        name = "pvc-%s" % uuid.uuid4()
        volume = self.step(
            "create volume",
            lambda: self.create(name, GIB),
            lambda v: "%s, %s" % (v.volume_id, size_text(v.capacity_bytes)),
        )
        target = self.attach(volume)
        payload = os.urandom(DATA_BYTES)
        digest = self.step("write data", lambda: write_file(Path(target) / "data.bin", payload), lambda d: d[:16])
        self.step(
            "read back",
            lambda: read_digest(Path(target) / "data.bin"),
            lambda d: "sha256 %s %s" % (d[:16], "matches" if d == digest else "DIFFERS"),
        )
        self.stats(volume.volume_id, target)
        self.step(
            "controller expand",
            lambda: self.controller.ControllerExpandVolume(
                csi_pb2.ControllerExpandVolumeRequest(
                    volume_id=volume.volume_id,
                    capacity_range=csi_pb2.CapacityRange(required_bytes=2 * GIB),
                    volume_capability=self.capability,
                )
            ),
            lambda r: "%s, node expansion required: %s" % (size_text(r.capacity_bytes), r.node_expansion_required),
        )
        staging, _target = self.paths(volume.volume_id)
        self.step(
            "node expand",
            lambda: self.node.NodeExpandVolume(
                csi_pb2.NodeExpandVolumeRequest(
                    volume_id=volume.volume_id,
                    volume_path=target,
                    staging_target_path=staging,
                    capacity_range=csi_pb2.CapacityRange(required_bytes=2 * GIB),
                    volume_capability=self.capability,
                )
            ),
            lambda r: "filesystem grown to %s" % size_text(r.capacity_bytes),
        )
        self.stats(volume.volume_id, target)
        self.detach(volume.volume_id)
        snapshot = self.step(
            "create snapshot",
            lambda: (
                self.controller.CreateSnapshot(
                    csi_pb2.CreateSnapshotRequest(source_volume_id=volume.volume_id, name="snapshot-%s" % uuid.uuid4())
                ).snapshot
            ),
            lambda s: "%s, ready %s" % (s.snapshot_id, s.ready_to_use),
        )
        source = csi_pb2.VolumeContentSource(
            snapshot=csi_pb2.VolumeContentSource.SnapshotSource(snapshot_id=snapshot.snapshot_id)
        )
        restored = self.step(
            "restore from snapshot",
            lambda: self.create("pvc-%s" % uuid.uuid4(), 2 * GIB, source),
            lambda v: "%s, %s" % (v.volume_id, size_text(v.capacity_bytes)),
        )
        restored_target = self.attach(restored)
        restored_digest = self.step(
            "read restored data",
            lambda: read_digest(Path(restored_target) / "data.bin"),
            lambda d: "sha256 %s %s" % (d[:16], "matches" if d == digest else "DIFFERS"),
        )
        self.detach(restored.volume_id)
        for volume_id in (restored.volume_id, volume.volume_id):
            self.delete(volume_id)
        self.step(
            "delete snapshot",
            lambda: self.controller.DeleteSnapshot(csi_pb2.DeleteSnapshotRequest(snapshot_id=snapshot.snapshot_id)),
            lambda _response: snapshot.snapshot_id,
        )
        return restored_digest == digest


def write_file(path: Path, payload: bytes) -> str:
    with path.open("wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    return hashlib.sha256(payload).hexdigest()


def read_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mount_source(path: str) -> str:
    """The device mounted at ``path``, from the kernel's mount table."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == path:
            separator = fields.index("-")
            return "%s (%s)" % (fields[separator + 2], fields[separator + 1])
    return "nothing"


def describe_stats(response: Any) -> str:
    parts = []
    for usage in response.usage:
        unit = "bytes" if usage.unit == csi_pb2.VolumeUsage.BYTES else "inodes"
        if unit == "bytes":
            parts.append("%s of %s used" % (size_text(usage.used), size_text(usage.total)))
        else:
            parts.append("%d of %d inodes" % (usage.used, usage.total))
    condition = "abnormal: " + response.volume_condition.message if response.volume_condition.abnormal else "healthy"
    return ", ".join([*parts, condition])


def size_text(size: int) -> str:
    return "%.2f GiB" % (size / GIB) if size >= GIB else "%.1f MiB" % (size / 1024**2)


def pick_filesystem() -> str:
    """ext4 grows online only with CAP_SYS_RESOURCE, which some sandboxes withhold even from root;
    xfs_growfs needs CAP_SYS_ADMIN only. A privileged node plugin container has both."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            if int(line.split()[1], 16) >> CAP_SYS_RESOURCE & 1:
                return "ext4"
            print("  (this machine withholds CAP_SYS_RESOURCE, which growing a mounted ext4 needs: using xfs)")
            return "xfs"
    return "ext4"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True, help="the driver's socket, unix:///path")
    parser.add_argument("--node-id", required=True)
    parser.add_argument("--work-dir", type=Path, required=True, help="where staging and target paths are made")
    parser.add_argument(
        "--fs-type",
        default="auto",
        choices=("auto", "ext4", "xfs"),
        help="auto: ext4 where the kernel allows growing it online here (CAP_SYS_RESOURCE), otherwise xfs",
    )
    options = parser.parse_args()
    fs_type = options.fs_type if options.fs_type != "auto" else pick_filesystem()
    channel = grpc.insecure_channel(options.endpoint.replace("unix:///", "unix:/"))
    grpc.channel_ready_future(channel).result(timeout=30)
    lifecycle = Lifecycle(channel, options.node_id, options.work_dir, fs_type)
    started = time.perf_counter()
    try:
        intact = lifecycle.run()
    except grpc.RpcError as error:
        print("FAILED: %s: %s" % (error.code().name, error.details()), file=sys.stderr)
        return 1
    total = time.perf_counter() - started
    print(
        "Lifecycle (%s): %d steps through the CSI socket in %.1f s; data restored from the snapshot is %s."
        % (fs_type, len(lifecycle.steps), total, "intact" if intact else "DIFFERENT")
    )
    return 0 if intact else 1


if __name__ == "__main__":
    sys.exit(main())
