"""The node NQN filter's pure parts: prefix rules, sysfs reading, the config file and the host identity."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.nqn_filter import (
    HEADER,
    Connection,
    configured_prefix,
    conflicting_connections,
    plan_identity,
    read_connections,
    render_config,
)
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_errors import InvalidPrefixError
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_nqn import check_prefix
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import InvalidValueError

CSI_NQN = "nqn.2000-02.com.mikrotik:pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11"
SYSTEM_NQN = "nqn.2000-02.com.mikrotik:diskless-node-1"
UUID = "6c5fbd37-0d8b-4c9e-a2de-4c1bb0f1d3a7"


def build_sysfs(root: Path, subsystems: dict[str, str]) -> Path:
    """``class/nvme/<controller>/{subsysnqn,transport,state}`` as the kernel lays it out."""
    for controller, nqn in subsystems.items():
        directory = root / "class" / "nvme" / controller
        directory.mkdir(parents=True)
        (directory / "subsysnqn").write_text(nqn + "\n")
        (directory / "transport").write_text("tcp\n")
        (directory / "state").write_text("live\n")
    return root


@pytest.mark.parametrize(
    "prefix",
    ["pvc-", "nqn.2000-02.com.mikrotik", "nqn.x:" + "a" * 220, "nqn.x:pvc -", "nqn.x:pvc\n"],
)
def test_invalid_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(InvalidPrefixError, match="managed NQN prefix"):
        check_prefix(prefix)


def test_sysfs_is_read_from_the_given_root(tmp_path: Path) -> None:
    root = build_sysfs(tmp_path, {"nvme0": SYSTEM_NQN, "nvme1": CSI_NQN})
    (root / "class" / "nvme" / "nvme-fabrics").mkdir()
    assert read_connections(str(root)) == [
        Connection("nvme0", SYSTEM_NQN, "tcp", "live"),
        Connection("nvme1", CSI_NQN, "tcp", "live"),
    ]
    assert read_connections(str(tmp_path / "missing")) == []


def test_a_prefix_matching_a_connected_system_volume_conflicts() -> None:
    connections = [Connection("nvme0", SYSTEM_NQN, "tcp", "live"), Connection("nvme1", CSI_NQN, "tcp", "live")]
    assert conflicting_connections("nqn.2000-02.com.mikrotik:", connections) == connections[:1]
    assert conflicting_connections("nqn.2000-02.com.mikrotik:pvc-", connections) == []


def test_config_keeps_other_lines_and_reads_back() -> None:
    fresh = render_config(None, "nqn.2000-02.com.mikrotik:pvc-")
    assert fresh == '%s\nmanaged_nqn_prefix: "nqn.2000-02.com.mikrotik:pvc-"\n' % HEADER
    edited = render_config("zone: rack-1\nmanaged-nqn-prefix: nqn.old:\n", "nqn.2000-02.com.mikrotik:pvc-")
    assert edited == 'zone: rack-1\nmanaged_nqn_prefix: "nqn.2000-02.com.mikrotik:pvc-"\n'
    assert configured_prefix(edited) == "nqn.2000-02.com.mikrotik:pvc-"
    assert configured_prefix("managed_nqn_prefix: 'nqn.a:b'  \n") == "nqn.a:b"
    assert render_config(edited, "nqn.2000-02.com.mikrotik:pvc-") == edited


def test_host_identity_is_generated_once_and_kept_consistent() -> None:
    identity, write_nqn, write_id = plan_identity(None, None, UUID)
    assert (identity.hostnqn, identity.hostid, write_nqn, write_id) == (
        "nqn.2014-08.org.nvmexpress:uuid:" + UUID,
        UUID,
        True,
        True,
    )
    kept, write_nqn, write_id = plan_identity(identity.hostnqn + "\n", UUID + "\n", "other")
    assert kept == identity and not write_nqn and not write_id
    derived, write_nqn, write_id = plan_identity("nqn.2014-08.org.nvmexpress:uuid:" + UUID.upper(), None, "other")
    assert derived.hostid == UUID and not write_nqn and write_id
    with pytest.raises(InvalidValueError, match="never rewritten"):
        plan_identity("garbage", None, UUID)
