"""srvlab.rds.nqn_filter run by ansible-playbook against a sysfs tree built by the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.playbooks import run_playbook
from tests.unit.plugins.module_utils.test_nqn_filter import CSI_NQN, SYSTEM_NQN, build_sysfs


def test_nqn_filter_writes_once_refuses_system_volumes_and_keeps_the_identity(tmp_path: Path) -> None:
    sysfs = build_sysfs(tmp_path / "sys", {"nvme0": SYSTEM_NQN, "nvme3": CSI_NQN})
    config = tmp_path / "etc" / "srvlab-rds" / "node.yaml"
    hostnqn = tmp_path / "etc" / "nvme" / "hostnqn"
    hostid = tmp_path / "etc" / "nvme" / "hostid"
    paths: dict[str, Any] = {
        "sysfs_root": str(sysfs),
        "config_file": str(config),
        "hostnqn_file": str(hostnqn),
        "hostid_file": str(hostid),
    }
    tasks: list[dict[str, Any]] = [
        {"register": "too_wide", "srvlab.rds.nqn_filter": dict(paths, managed_nqn_prefix="nqn.2000-02.com.mikrotik:")},
        {"register": "invalid", "srvlab.rds.nqn_filter": dict(paths, managed_nqn_prefix="pvc-")},
        {"register": "predicted", "check_mode": True, "srvlab.rds.nqn_filter": dict(paths, host_identity=True)},
        {"register": "first", "srvlab.rds.nqn_filter": dict(paths, host_identity=True)},
        {"register": "second", "srvlab.rds.nqn_filter": dict(paths, host_identity=True)},
    ]
    run = run_playbook(tmp_path, tasks, extra_args=("--diff",))
    assert run["too_wide"]["failed"]
    assert "Refusing managed NQN prefix 'nqn.2000-02.com.mikrotik:'" in run["too_wide"]["msg"]
    assert SYSTEM_NQN + " (nvme0)" in run["too_wide"]["msg"]
    assert CSI_NQN not in run["too_wide"]["msg"]
    assert "must start with 'nqn.'" in run["invalid"]["msg"]
    assert run["predicted"]["changed"]
    assert run["first"]["changed"] and not run["second"]["changed"]
    assert run["first"]["connected_nqns"] == [SYSTEM_NQN, CSI_NQN]
    assert config.read_text().endswith('managed_nqn_prefix: "nqn.2000-02.com.mikrotik:pvc-"\n')
    assert hostnqn.read_text() == "nqn.2014-08.org.nvmexpress:uuid:%s\n" % hostid.read_text().strip()
    assert run["second"]["hostnqn"] == run["first"]["hostnqn"]
    # Check mode wrote nothing: the identity it predicted was a different random one, never stored.
    assert run["predicted"]["hostid"] != run["first"]["hostid"]
    assert "managed_nqn_prefix" in run.stdout  # the diff of the config file

    hostnqn.write_text("nqn.2014-08.org.nvmexpress:uuid:hand-made\n")
    hostid.unlink()
    config.write_text("zone: rack-1\n")
    again = run_playbook(tmp_path, [tasks[-1]])
    assert again["second"]["changed"]
    assert hostnqn.read_text() == "nqn.2014-08.org.nvmexpress:uuid:hand-made\n"  # never rewritten
    assert hostid.exists()
    assert config.read_text() == 'zone: rack-1\nmanaged_nqn_prefix: "nqn.2000-02.com.mikrotik:pvc-"\n'
