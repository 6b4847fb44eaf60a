"""The NVMe modules' pure parts: which actions each state needs, the target address, the NQN, the prefix, the facts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.nqn_filter import render_config
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_module import facts, managed_prefix, target_nqn
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_sysfs import Subsystem, find_subsystem, resolve
from ansible_collections.srvlab.rds.plugins.modules.nvme_connection import plan, target_address

from tests.unit.module_utils.test_nvme_sysfs import TARGET, VOLUME_NQN, FakeSysfs


def subsystem_with(tmp_path: Path, *states: str, traddr: str = TARGET) -> Optional[Subsystem]:
    sysfs = FakeSysfs(tmp_path)
    sysfs.subsystem(0, VOLUME_NQN)
    for instance, state in enumerate(states):
        sysfs.controller(instance, 0, state=state, traddr=traddr)
    return find_subsystem(sysfs.config, VOLUME_NQN)


@pytest.mark.parametrize(
    ("state", "controllers", "address", "actions"),
    [
        ("present", (), TARGET, ["connect"]),
        ("present", ("live",), TARGET, []),
        ("present", ("connecting",), TARGET, []),
        ("present", ("live",), None, []),
        ("present", ("live",), "10.9.9.9", ["connect"]),
        ("present", ("deleting",), TARGET, ["connect"]),
        ("absent", (), None, []),
        ("absent", ("live",), None, ["disconnect"]),
        ("absent", ("deleting (no IO)",), None, ["disconnect"]),
        ("reconnected", (), TARGET, ["connect"]),
        ("reconnected", ("connecting",), TARGET, ["disconnect", "connect"]),
    ],
)
def test_each_state_plans_the_actions_it_needs(
    tmp_path: Path, state: str, controllers: tuple[str, ...], address: Optional[str], actions: List[str]
) -> None:
    subsystem = subsystem_with(tmp_path, *controllers)
    assert plan(state, subsystem, address, 4420) == actions
    assert plan(state, None, address, 4420) == (["connect"] if state in ("present", "reconnected") else [])


def test_an_unknown_state_is_refused_rather_than_planned_as_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Unknown state 'info'"):
        plan("info", subsystem_with(tmp_path, "live"), TARGET, 4420)


def test_the_task_names_the_subsystem_by_nqn_or_by_volume_id() -> None:
    assert target_nqn({"nqn": VOLUME_NQN, "volume_id": None}) == VOLUME_NQN
    assert target_nqn({"nqn": None, "volume_id": "PVC-ABC"}) == "nqn.2000-02.com.mikrotik:pvc-abc"


def test_the_managed_prefix_comes_from_the_task_then_the_config_file_then_the_default(tmp_path: Path) -> None:
    config = tmp_path / "node.yaml"
    params: dict[str, Any] = {"managed_nqn_prefix": None, "config_file": str(config)}
    assert managed_prefix(params) == "nqn.2000-02.com.mikrotik:pvc-"
    config.write_text(render_config(None, "nqn.2000-02.com.mikrotik:csi-"))
    assert managed_prefix(params) == "nqn.2000-02.com.mikrotik:csi-"
    assert managed_prefix(dict(params, managed_nqn_prefix="nqn.x:y-")) == "nqn.x:y-"


def test_a_reconnect_takes_address_and_port_from_the_existing_controller(tmp_path: Path) -> None:
    subsystem = subsystem_with(tmp_path, "connecting", traddr="fd00::5")
    params: dict[str, Any] = {"state": "reconnected", "address": None, "port": None}
    assert target_address(params, subsystem) == ("fd00::5", 4420)
    assert target_address(dict(params, address="10.0.0.6", port=4421), subsystem) == ("10.0.0.6", 4421)
    assert target_address(dict(params, state="present"), subsystem) == (None, 4420)
    assert target_address(params, None) == (None, 4420)


def test_facts_name_the_controllers_and_why_the_device_is_missing(tmp_path: Path) -> None:
    sysfs = FakeSysfs(tmp_path)
    sysfs.subsystem(2, VOLUME_NQN)
    sysfs.controller(3, 2, state="connecting")
    reported = facts(resolve(sysfs.config, VOLUME_NQN))
    assert reported == {
        "connected": True,
        "subsystem": "nvme-subsys2",
        "controllers": [
            {
                "name": "nvme3",
                "state": "connecting",
                "transport": "tcp",
                "address": TARGET,
                "port": "4420",
                "source_address": "",
                "host_nqn": reported["controllers"][0]["host_nqn"],
            }
        ],
        "device": None,
        "device_problem": "controllers nvme3 connecting (tcp 10.0.0.5:4420); no namespace disk yet",
    }
    assert reported["controllers"][0]["host_nqn"].startswith("nqn.2014-08.org.nvmexpress:uuid:")
