"""srvlab.rds.nvme_connection, srvlab.rds.nvme_connection_info and the NVMe host library against the test fabric (root).

The RDS emulator exports real disks; the fabric's ``nvme`` stand-in connects them as loop devices
and writes a kernel-shaped sysfs tree and ``/dev`` nodes. Everything above it is the production
code: ``ansible-playbook`` runs the module, which runs the stand-in through ``module.run_command``;
the library tests use the real ``SubprocessRunner``.
"""

from __future__ import annotations

import base64
import os
import re
import stat
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.node_commands import SubprocessRunner
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_cli import ConnectTarget
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_config import NvmeHostConfig
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_errors import (
    NvmeAuthenticationError,
    SubsystemNotFoundError,
    TargetRefusedError,
    UnmanagedNqnError,
)
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_host import NvmeHost
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_nqn import nqn_for
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_sysfs import block_device_nqn
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import DiskSpec, ExportSpec
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import MIN_DISK_SIZE
from rds_emulator.nvme_fabric import Naming, TestFabric
from rds_emulator.server import EmulatorServer

from tests.integration.conftest import BASE
from tests.integration.playbooks import run_playbook

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the test fabric needs root (losetup, mknod)")

PREFIX = "nqn.2000-02.com.mikrotik:pvc-"
VOLUME_ID = "pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11"
SYSTEM_NQN = "nqn.2000-02.com.mikrotik:diskless-node-1"
SECRET = "DHHC-1:00:maEDoOK4QP4p/Uj0I44vTRuHOSKSHFriz0F25SyLGfZIIHxf:"
MIB = 1024 * 1024
DISK_SIZE = MIN_DISK_SIZE  # sparse on the emulator and behind the loop device


@dataclass(frozen=True)
class Node:
    fabric: TestFabric
    config: NvmeHostConfig
    hostnqn_file: Path

    def module_options(self, **options: Any) -> dict[str, Any]:
        """The task's options: the node's paths pointed at the fabric, plus ``options``."""
        return dict(
            nvme_binary=self.config.nvme_binary,
            sysfs_root=self.config.sysfs_root,
            dev_root=self.config.dev_root,
            host_nqn_file=str(self.hostnqn_file),
            config_file=str(self.hostnqn_file.parent / "no-node.yaml"),
            device_timeout=10,
            **options,
        )

    def info_options(self, **options: Any) -> dict[str, Any]:
        """The info module's options: the fabric's sysfs and /dev, plus ``options``."""
        return dict(
            sysfs_root=self.config.sysfs_root,
            dev_root=self.config.dev_root,
            config_file=str(self.hostnqn_file.parent / "no-node.yaml"),
            **options,
        )


def export(rds: RdsClient, volume_id: str, password: str | None = None) -> str:
    nqn = nqn_for(volume_id)
    rds.add_disk(
        DiskSpec(
            slot=volume_id,
            file_path="%s/%s.img" % (BASE, volume_id),
            size=DISK_SIZE,
            export=ExportSpec(nqn=nqn, password=password),
        )
    )
    return nqn


def dhchap_secret(seed: int) -> str:
    """A well-formed DH-HMAC-CHAP key: 32 key bytes and their CRC-32, base64 (NVME_HOST.md §5)."""
    key = bytes((seed + index) % 256 for index in range(32))
    return "DHHC-1:00:%s:" % base64.b64encode(key + zlib.crc32(key).to_bytes(4, "little")).decode()


@contextmanager
def make_node(tmp_path: Path, emulator: EmulatorServer, naming: Naming) -> Iterator[Node]:
    """A fabric for one test; torn down (loop devices detached) when the ``with`` block ends, even on failure."""
    fabric = TestFabric.create(tmp_path / "fabric", emulator.state_dir, tmp_path / "sys", tmp_path / "dev", naming)
    try:
        nvme = fabric.write_nvme_executable(tmp_path / "bin" / "nvme")
        hostnqn_file = tmp_path / "etc" / "nvme" / "hostnqn"
        hostnqn_file.parent.mkdir(parents=True)
        hostnqn_file.write_text(fabric.config.hostnqn + "\n")
        config = NvmeHostConfig(nvme_binary=str(nvme), sysfs_root=str(tmp_path / "sys"), dev_root=str(tmp_path / "dev"))
        yield Node(fabric, config, hostnqn_file)
    finally:
        fabric.teardown()


@pytest.fixture
def node(tmp_path: Path, emulator: EmulatorServer) -> Iterator[Node]:
    with make_node(tmp_path, emulator, Naming.MULTIPATH_SINGLE_CONTROLLER) as made:
        yield made


def is_block_device(path: str) -> bool:
    return stat.S_ISBLK(os.stat(path).st_mode)


@pytest.mark.slow
def test_module_inspects_connects_reconnects_and_disconnects(tmp_path: Path, rds: RdsClient, node: Node) -> None:
    nqn = export(rds, VOLUME_ID)
    system_file = tmp_path / "system.img"
    system_file.write_bytes(b"\0" * MIB)
    node.fabric.add_system_subsystem(SYSTEM_NQN, system_file)
    volume = node.module_options(volume_id=VOLUME_ID)
    inspect = node.info_options(volume_id=VOLUME_ID)
    tasks: list[dict[str, Any]] = [
        {"register": "before", "srvlab.rds.nvme_connection_info": inspect},
        {
            "register": "predicted",
            "check_mode": True,
            "srvlab.rds.nvme_connection": dict(volume, state="present", address="127.0.0.1"),
        },
        {"register": "after_check", "srvlab.rds.nvme_connection_info": inspect},
        {"register": "connected", "srvlab.rds.nvme_connection": dict(volume, state="present", address="127.0.0.1")},
        {"register": "again", "srvlab.rds.nvme_connection": dict(volume, state="present", address="127.0.0.1")},
        {"register": "reconnected", "srvlab.rds.nvme_connection": dict(volume, state="reconnected")},
        {"register": "refused", "srvlab.rds.nvme_connection": node.module_options(nqn=SYSTEM_NQN, state="absent")},
        {
            "register": "predicted_absent",
            "check_mode": True,
            "srvlab.rds.nvme_connection": dict(volume, state="absent"),
        },
        {"register": "still", "srvlab.rds.nvme_connection_info": inspect},
        {"register": "disconnected", "srvlab.rds.nvme_connection": dict(volume, state="absent")},
        {"register": "gone", "srvlab.rds.nvme_connection": dict(volume, state="absent")},
        {"register": "system", "srvlab.rds.nvme_connection_info": node.info_options(nqn=SYSTEM_NQN)},
    ]
    run = run_playbook(tmp_path, tasks, extra_args=("--diff",))

    assert not run["before"]["changed"]
    assert (run["before"]["nqn"], run["before"]["connected"], run["before"]["device"]) == (nqn, False, None)
    assert run["before"]["device_problem"] == "no subsystem with this NQN is connected"
    assert run["predicted"]["changed"] and run["predicted"]["actions"] == ["connect"]
    assert not run["after_check"]["connected"]

    connected = run["connected"]
    assert connected["changed"] and connected["actions"] == ["connect"], connected
    assert connected["connected"] and connected["managed"]
    controller = connected["controllers"][0]
    assert (controller["state"], controller["address"], controller["port"]) == ("live", "127.0.0.1", "4420")
    assert controller["host_nqn"] == node.fabric.config.hostnqn
    device = connected["device"]
    # Case B: the system volume holds nvme0 and nvme-subsys0, so the volume's disk is named after subsystem 1.
    assert (device["name"], device["path"]) == ("nvme1n1", node.config.dev_root + "/nvme1n1")
    assert device["size_bytes"] == DISK_SIZE and device["nsid"] == 1
    assert connected["device_problem"] is None

    assert not run["again"]["changed"] and run["again"]["actions"] == []
    assert run["reconnected"]["changed"] and run["reconnected"]["actions"] == ["disconnect", "connect"]
    assert run["reconnected"]["connected"] and run["reconnected"]["device"]["size_bytes"] == DISK_SIZE

    assert run["refused"]["failed"]
    assert "Refusing to disconnect %s" % SYSTEM_NQN in run["refused"]["msg"]
    assert PREFIX in run["refused"]["msg"]
    assert run["predicted_absent"]["changed"] and run["predicted_absent"]["actions"] == ["disconnect"]
    assert run["still"]["connected"]
    facts = ("nqn", "managed", "managed_nqn_prefix", "connected", "subsystem", "controllers", "device")
    assert {key: run["still"][key] for key in facts} == {key: run["reconnected"][key] for key in facts}
    assert run["still"]["device_problem"] is None
    inspections = ("before", "after_check", "still", "system")
    assert not any(run[name]["changed"] or "actions" in run[name] or "diff" in run[name] for name in inspections)

    assert run["disconnected"]["changed"] and not run["disconnected"]["connected"]
    assert run["disconnected"]["device"] is None
    assert not run["gone"]["changed"]
    assert run["system"]["connected"] and not run["system"]["managed"]
    assert run["system"]["device"] is not None and is_block_device(run["system"]["device"]["path"])
    assert "(new) 127.0.0.1:4420" in run.stdout  # the check-mode diff
    assert "nvme1 live 127.0.0.1:4420" in run.stdout  # the diff of the disconnect
    assert node.fabric.device_path(nqn) is None


@pytest.mark.slow
def test_module_repairs_a_volume_whose_controller_was_lost(tmp_path: Path, rds: RdsClient, node: Node) -> None:
    nqn = export(rds, VOLUME_ID)
    host = NvmeHost(node.config, PREFIX)
    host.connect(ConnectTarget(nqn=nqn, traddr="127.0.0.1"))
    first = host.wait_for_device(nqn, timeout=10)
    node.fabric.remove_device(nqn)  # the namespace vanished; the controller stays
    volume = node.module_options(volume_id=VOLUME_ID)
    tasks: list[dict[str, Any]] = [
        {"register": "broken", "check_mode": True, "srvlab.rds.nvme_connection_info": node.info_options(nqn=nqn)},
        {"register": "repaired", "srvlab.rds.nvme_connection": dict(volume, state="reconnected")},
    ]
    run = run_playbook(tmp_path, tasks)
    assert run["broken"]["connected"] and run["broken"]["device"] is None
    assert "no namespace disk yet" in run["broken"]["device_problem"]
    assert run["repaired"]["changed"] and run["repaired"]["actions"] == ["disconnect", "connect"]
    repaired = run["repaired"]["device"]
    assert repaired is not None and is_block_device(repaired["path"])
    assert first.size_bytes == repaired["size_bytes"]


@pytest.mark.slow
def test_the_force_option_allows_disconnecting_an_unmanaged_nqn(tmp_path: Path, node: Node) -> None:
    system_file = tmp_path / "system.img"
    system_file.write_bytes(b"\0" * MIB)
    node.fabric.add_system_subsystem(SYSTEM_NQN, system_file)
    options = node.module_options(nqn=SYSTEM_NQN, state="absent")
    run = run_playbook(
        tmp_path,
        [
            {"register": "unforced", "srvlab.rds.nvme_connection": options},
            {"register": "forced", "srvlab.rds.nvme_connection": dict(options, force=True)},
        ],
    )
    assert run["unforced"]["failed"] and "force=true" in run["unforced"]["msg"]
    assert run["forced"]["changed"] and not run["forced"]["connected"]


def test_module_kills_a_hung_nvme_cli_and_names_a_missing_one(tmp_path: Path, node: Node) -> None:
    hung = tmp_path / "bin" / "hung-nvme"
    hung.write_text("#!/bin/sh\nexec sleep 60\n")
    hung.chmod(0o755)
    connect = node.module_options(volume_id=VOLUME_ID, state="present", address="127.0.0.1", command_timeout=1)
    run = run_playbook(
        tmp_path,
        [
            {"register": "hung", "srvlab.rds.nvme_connection": dict(connect, nvme_binary=str(hung))},
            {"register": "missing", "srvlab.rds.nvme_connection": dict(connect, nvme_binary="/nonexistent/nvme")},
            {"register": "info_state", "srvlab.rds.nvme_connection": dict(connect, state="info")},
        ],
    )
    assert run["hung"]["failed"]
    assert "did not finish within 1 s and was killed" in run["hung"]["msg"]
    assert run["missing"]["failed"]
    assert "/nonexistent/nvme is not installed or not executable" in run["missing"]["msg"]
    assert run["info_state"]["failed"] and "present, absent, reconnected" in run["info_state"]["msg"]


@pytest.mark.parametrize("naming", list(Naming))
def test_library_connects_finds_the_device_and_disconnects_in_every_naming_case(
    tmp_path: Path, emulator: EmulatorServer, rds: RdsClient, naming: Naming
) -> None:
    nqn = export(rds, VOLUME_ID)
    with make_node(tmp_path, emulator, naming) as node:
        host = NvmeHost(node.config, PREFIX, runner=SubprocessRunner())
        target = ConnectTarget(nqn=nqn, traddr="127.0.0.1", hostnqn=node.fabric.config.hostnqn)
        assert host.connect(target).created
        assert not host.connect(target).created
        device = host.wait_for_device(nqn, timeout=10)
        assert device.path == str(node.fabric.device_path(nqn))
        assert is_block_device(device.path) and device.size_bytes == DISK_SIZE
        assert block_device_nqn(node.config, device.major, device.minor) == nqn
        node.fabric.lose_controller(nqn)
        assert block_device_nqn(node.config, device.major, device.minor) is None
        node.fabric.reconnect_controller(nqn, new_name=True)  # renumbered: the old name must not be trusted
        renamed = host.wait_for_device(nqn, timeout=10)
        assert renamed.path == str(node.fabric.device_path(nqn))
        assert block_device_nqn(node.config, renamed.major, renamed.minor) == nqn
        assert host.orphans() == []
        with pytest.raises(UnmanagedNqnError):
            host.disconnect(SYSTEM_NQN)
        assert host.disconnect(nqn) == 1
        assert host.disconnect(nqn) == 0
        assert host.device(nqn) is None


def test_library_maps_fabric_refusals_and_keeps_the_secret_out(
    tmp_path: Path, emulator: EmulatorServer, rds: RdsClient, node: Node
) -> None:
    nqn = export(rds, VOLUME_ID, password=SECRET)
    host = NvmeHost(node.config, PREFIX)
    with pytest.raises(TargetRefusedError, match=re.escape("127.0.0.1:4421 refused the TCP connection")):
        host.connect(ConnectTarget(nqn=nqn, traddr="127.0.0.1", trsvcid=4421))
    with pytest.raises(SubsystemNotFoundError, match="not exported there or host NQN"):
        host.connect(ConnectTarget(nqn=nqn, traddr="127.0.0.1"))
    other = dhchap_secret(7)
    with pytest.raises(SubsystemNotFoundError, match="or the DH-CHAP secret was rejected") as rejected:
        host.connect(ConnectTarget(nqn=nqn, traddr="127.0.0.1", dhchap_secret=other))
    corrupt = "DHHC-1:00:" + SECRET[10:-1][::-1] + ":"  # the CRC no longer matches: the kernel's EKEYREJECTED
    with pytest.raises(NvmeAuthenticationError) as malformed:
        host.connect(ConnectTarget(nqn=nqn, traddr="127.0.0.1", dhchap_secret=corrupt))
    for secret, error in ((other, rejected.value), (corrupt, malformed.value)):
        assert secret not in str(error) and secret not in error.command and "********" in error.command
    assert host.connect(ConnectTarget(nqn=nqn, traddr="127.0.0.1", dhchap_secret=SECRET)).created
    assert is_block_device(host.wait_for_device(nqn, timeout=10).path)
    orphan_id = "pvc-7e0c2b14-5d3a-4f0e-8a61-93b2c4d5e6f7"
    orphan = export(rds, orphan_id)
    host.connect(ConnectTarget(nqn=orphan, traddr="127.0.0.1"))
    node.fabric.remove_device(orphan)
    assert [subsystem.nqn for subsystem in host.orphans()] == [orphan]
