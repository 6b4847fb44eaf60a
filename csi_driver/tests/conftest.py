"""Fixtures: the RDS emulator in process, the driver serving on a unix socket, gRPC stubs to it.

The gRPC stubs must exist before this file loads: `./tasks unit` runs csi_driver/build_proto.py
first (pytest loads this conftest before any hook of its could generate them).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from csi_helpers import Csi, NodeHarness, free_port
from rds_emulator.server import EmulatorServer

GIB = 1024**3
# Storage fencing needs every node's host NQN; a node started on the fabric uses the fabric's (its own file).
HOST_NQNS = {
    node: "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000000%d" % n
    for n, node in enumerate(("node-a", "node-b", "node-c"), 1)
}


@pytest.fixture
def emulator_max_sessions() -> int:
    return 8


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    """A short directory for unix sockets (their paths are limited to 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="rds-csi-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def driver_config(emulator: EmulatorServer, client_key: tuple[Path, Path], socket_dir: Path) -> Any:
    from rds_csi.config import Config, validate

    host, port = emulator.address
    return validate(
        Config(
            mode="all",
            endpoint="unix://%s/csi.sock" % socket_dir,
            node_id="node-a",
            node_ids=("node-b", "node-c"),
            node_host_nqns=tuple("%s=%s" % pair for pair in HOST_NQNS.items()),
            rds_address=host,
            rds_port=port,
            rds_key_file=str(client_key[0]),
            rds_host_key=emulator.host_public_key_line,
            rds_connect_timeout=3.0,
            rds_command_timeout=5.0,
            nvme_address="10.0.0.5",
            host_nqn_file=str(socket_dir / "no-hostnqn"),
            metrics_address="127.0.0.1",
            metrics_port=free_port(),
        )
    )


@pytest.fixture
def start_driver(driver_config: Any, emulator: EmulatorServer, tmp_path: Path) -> Iterator[Callable[..., Csi]]:
    """Start the driver in process with optional config changes; stopped after the test."""
    import dataclasses

    from rds_csi.proto import csi_pb2_grpc, health_pb2_grpc
    from rds_csi.server import Driver

    started: list[tuple[Any, grpc.Channel]] = []

    def start(retry: Any = None, **changes: Any) -> Csi:
        changes.setdefault("metrics_port", free_port())
        driver = Driver(dataclasses.replace(driver_config, **changes), retry=retry)
        driver.start()
        channel = grpc.insecure_channel(driver.address)
        grpc.channel_ready_future(channel).result(timeout=10)
        started.append((driver, channel))
        return Csi(
            identity=csi_pb2_grpc.IdentityStub(channel),
            controller=csi_pb2_grpc.ControllerStub(channel),
            node=csi_pb2_grpc.NodeStub(channel),
            health=health_pb2_grpc.HealthStub(channel),
            emulator=emulator,
            state=tmp_path / "state",
        )

    yield start
    for driver, channel in started:
        channel.close()
        driver.stop(grace=1.0)


@pytest.fixture
def csi(start_driver: Callable[..., Csi]) -> Csi:
    return start_driver()


@pytest.fixture
def loop_device(tmp_path: Path) -> Iterator[Callable[[int], str]]:
    """Attach sparse files to loop devices (root); every mount of them is unmounted and every loop
    detached after the test, also when it fails."""
    from ansible_collections.srvlab.rds.plugins.module_utils.node_mounts import DeviceNumber, read_mountinfo

    attached: list[str] = []

    def attach(size: int) -> str:
        backing = tmp_path / ("loop-%d.img" % len(attached))
        with open(backing, "wb") as handle:
            handle.truncate(size)
        device = subprocess.run(
            ["losetup", "--find", "--show", str(backing)], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()
        attached.append(device)
        return device

    yield attach
    for device in reversed(attached):
        unmount_everything_of(DeviceNumber.of_node(device), read_mountinfo)
        subprocess.run(["losetup", "--detach", device], check=False, timeout=30)


def unmount_everything_of(device: Any, read_mountinfo: Callable[[], Any]) -> None:
    """Unmount every mount of ``device``, newest first (test cleanup)."""
    for entry in reversed(read_mountinfo()):
        if entry.device == device:
            subprocess.run(["umount", entry.mount_point], check=False, timeout=30)


@pytest.fixture
def runner() -> Any:
    from ansible_collections.srvlab.rds.plugins.module_utils.node_commands import SubprocessRunner

    return SubprocessRunner()


@pytest.fixture
def node_fabric(emulator: EmulatorServer, tmp_path: Path) -> Iterator[Any]:
    """A test fabric on the emulator's exports (case A naming); every loop it attached is detached
    after the test, once the mounts under the test's directory are gone."""
    from ansible_collections.srvlab.rds.plugins.module_utils.node_mounts import read_mountinfo
    from rds_emulator.nvme_fabric.fabric import TestFabric

    node = tmp_path / "node"
    fabric = TestFabric.create(tmp_path / "fabric", tmp_path / "state", node / "sys", node / "dev")
    try:
        yield fabric
    finally:
        unmount_everything_under(str(tmp_path), read_mountinfo)
        fabric.teardown()


def unmount_everything_under(directory: str, read_mountinfo: Callable[[], Any]) -> None:
    """Unmount every mount point under ``directory``, newest first (test cleanup)."""
    for entry in reversed(read_mountinfo()):
        if entry.mount_point.startswith(directory + "/"):
            subprocess.run(["umount", entry.mount_point], check=False, timeout=30)


@pytest.fixture
def start_node_driver(
    driver_config: Any, node_fabric: Any, emulator: EmulatorServer, tmp_path: Path
) -> Iterator[Callable[..., NodeHarness]]:
    """Start the driver in mode ``all`` with the node service on the fabric's nvme, sysfs and /dev."""
    import dataclasses

    from rds_csi.proto import csi_pb2_grpc, health_pb2_grpc
    from rds_csi.server import Driver

    node = tmp_path / "node"
    host_nqn_file = node / "hostnqn"
    host_nqn_file.write_text(node_fabric.config.hostnqn + "\n")
    nvme = node_fabric.write_nvme_executable(node / "bin" / "nvme")
    started: list[tuple[Any, grpc.Channel]] = []

    def start(**changes: Any) -> NodeHarness:
        settings: dict[str, Any] = {
            "nvme_binary": str(nvme),
            "sysfs_root": str(node_fabric.config.sysfs_root),
            "dev_root": str(node_fabric.config.dev_root),
            "host_nqn_file": str(host_nqn_file),
            "device_wait_timeout": 10.0,
            "metrics_port": free_port(),
        }
        config = dataclasses.replace(driver_config, **{**settings, **changes})
        driver = Driver(config)
        driver.start()
        # A later start (a restart) binds the same socket path; without a channel-local pool gRPC would
        # reuse the earlier driver's connection to that path.
        channel = grpc.insecure_channel(driver.address, options=[("grpc.use_local_subchannel_pool", 1)])
        grpc.channel_ready_future(channel).result(timeout=10)
        started.append((driver, channel))
        csi = Csi(
            identity=csi_pb2_grpc.IdentityStub(channel),
            controller=csi_pb2_grpc.ControllerStub(channel),
            node=csi_pb2_grpc.NodeStub(channel),
            health=health_pb2_grpc.HealthStub(channel),
            emulator=emulator,
            state=tmp_path / "state",
        )
        return NodeHarness(csi=csi, fabric=node_fabric, work=tmp_path / "kubelet")

    yield start
    for driver, channel in started:
        channel.close()
        driver.stop(grace=1.0)
