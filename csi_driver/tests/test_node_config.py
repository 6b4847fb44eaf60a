"""P-8.6 at start: a node takes its managed prefix from CSI_MANAGED_NQN_PREFIX or the file that
srvlab.rds.nqn_filter writes, never from a built-in default, and refuses to start without a valid one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rds_csi.config import ConfigError, load

PREFIX = "nqn.2000-02.com.mikrotik:pvc-"


def node_argv(node_file: Path) -> list[str]:
    return ["--mode", "node", "--node-id", "node-a", "--node-config-file", str(node_file)]


def test_prefix_from_the_node_file(tmp_path: Path) -> None:
    node_file = tmp_path / "node.yaml"
    node_file.write_text('# Managed by srvlab.rds.nqn_filter\nmanaged_nqn_prefix: "nqn.2000-02.com.mikrotik:pvc-a"\n')
    assert load(node_argv(node_file), {}).managed_nqn_prefix == "nqn.2000-02.com.mikrotik:pvc-a"
    from_env = load(node_argv(node_file), {"CSI_MANAGED_NQN_PREFIX": PREFIX})
    assert from_env.managed_nqn_prefix == PREFIX, "the environment wins over the node file"


@pytest.mark.parametrize("content", [None, "zone: rack-1\n", 'managed_nqn_prefix: "pvc-"\n'])
def test_node_refuses_to_start_without_a_valid_prefix(tmp_path: Path, content: str | None) -> None:
    node_file = tmp_path / "node.yaml"
    if content is not None:
        node_file.write_text(content)
    with pytest.raises(ConfigError) as raised:
        load(node_argv(node_file), {})
    assert "managed_nqn_prefix" in str(raised.value) and str(node_file) in str(raised.value)


def test_controller_keeps_the_default_prefix(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("unused")
    argv = ["--mode", "controller", "--rds-address", "10.0.0.1", "--rds-key-file", str(key), "--rds-host-key", "x"]
    assert load(argv, {}).managed_nqn_prefix == PREFIX


def test_node_settings_are_validated(tmp_path: Path) -> None:
    argv = [*node_argv(tmp_path / "none"), "--sysfs-root", "sys", "--device-wait-timeout", "0"]
    with pytest.raises(ConfigError) as raised:
        load(argv, {"CSI_MANAGED_NQN_PREFIX": PREFIX})
    assert "sysfs_root='sys'" in str(raised.value) and "device_wait_timeout" in str(raised.value)


def test_the_process_exits_2_naming_the_fix(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rds_csi", *node_argv(tmp_path / "node.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 2
    assert "CSI_MANAGED_NQN_PREFIX" in result.stderr and "srvlab.rds.nqn_filter" in result.stderr
