"""The disk, disk_info and nvme_export modules' run functions against the in-memory RDS."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import InvalidValueError, UnreachableError
from ansible_collections.srvlab.rds.plugins.modules import disk as disk_module
from ansible_collections.srvlab.rds.plugins.modules import disk_info, nvme_export

from tests.unit.plugins.fake_rds import GIB, FakeRds, disk


class Failed(Exception):
    """fail_json was called; ``result`` holds what it was called with."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__(result.get("msg"))
        self.result = result


@dataclass
class StubModule:
    """What the run functions use of AnsibleModule: params (with the spec's defaults), check_mode, warn, fail_json."""

    params: dict[str, Any]
    check_mode: bool = False
    warnings: list[str] = field(default_factory=list)

    def warn(self, warning: str) -> None:
        self.warnings.append(warning)

    def fail_json(self, **result: Any) -> None:
        raise Failed(result)


def module(spec: dict[str, Any], check_mode: bool = False, **params: Any) -> StubModule:
    filled = {name: option.get("default") for name, option in spec.items()}
    filled.update(host="rds.test", **params)
    return StubModule(filled, check_mode)


def client(rds: FakeRds) -> RdsClient:
    return cast(RdsClient, rds)


def test_list_mode_reads_once_and_the_second_run_writes_nothing() -> None:
    rds = FakeRds()
    disks = [{"slot": "pvc-%d" % number, "size": "1G", "nvme_export": True} for number in range(5)]
    first = disk_module.run(module(disk_module.ARGUMENT_SPEC, disks=disks), client(rds))
    assert first["changed"] and len(rds.writes) == 5
    assert set(first["diff"]["after"]) == {"pvc-%d" % number for number in range(5)}
    rds.read_only = True
    rds.reads = 0
    second = disk_module.run(module(disk_module.ARGUMENT_SPEC, disks=disks), client(rds))
    assert not second["changed"] and rds.reads == 1
    assert second["diff"] == {"before": {}, "after": {}}


def test_check_mode_predicts_without_writing() -> None:
    rds = FakeRds.holding(disk("pvc-1"))
    rds.read_only = True
    result = disk_module.run(
        module(disk_module.ARGUMENT_SPEC, check_mode=True, slot="pvc-1", size="2GiB", comment="c"), client(rds)
    )
    assert result["changed"]
    assert result["after"]["size"] == 2 * GIB and result["after"]["comment"] == "c"
    assert result["before"]["size"] == GIB
    assert result["actions"] == ["grow to 2GiB (2147483648 bytes)", "set comment"]


def test_sizes_in_units_and_bytes_are_the_same_size() -> None:
    rds = FakeRds.holding(disk("pvc-1", size=GIB))
    rds.read_only = True
    for size in (GIB, str(GIB), "1G", "1GiB", "1024M", "1 GiB"):
        assert not disk_module.run(module(disk_module.ARGUMENT_SPEC, slot="pvc-1", size=size), client(rds))["changed"]


def test_managed_prefixes_come_from_the_task() -> None:
    rds = FakeRds.holding(disk("vol-1"))
    params: dict[str, Any] = {"slot": "vol-1", "state": "absent", "managed_slot_prefix": "vol-"}
    result = disk_module.run(module(disk_module.ARGUMENT_SPEC, **params), client(rds))
    assert result["changed"] and result["before"]["managed"]
    with pytest.raises(InvalidValueError, match="not managed"):
        rds2 = FakeRds.holding(disk("vol-1"))
        disk_module.run(module(disk_module.ARGUMENT_SPEC, slot="vol-1", state="absent"), client(rds2))


def test_disk_info_filters_managed_disks() -> None:
    rds = FakeRds.holding(disk("pvc-1"), disk("system", exported=True, nqn="nqn.2000-02.com.mikrotik:system"))
    result = disk_info.run(module(disk_info.ARGUMENT_SPEC, managed=False), client(rds))
    assert [entry["slot"] for entry in result["disks"]] == ["system"]
    assert result["version"] == "7.24" and result["pool"]["size"] == 1024 * GIB


def test_nvme_export_is_idempotent_and_honest_in_check_mode() -> None:
    rds = FakeRds.holding(disk("pvc-1"))
    params: dict[str, Any] = {"slot": "pvc-1", "allowed_host_nqns": ["nqn.2014-08.org.nvmexpress:uuid:a"]}
    rds.read_only = True
    predicted = nvme_export.run(module(nvme_export.ARGUMENT_SPEC, check_mode=True, **params), client(rds))
    assert predicted["changed"] and predicted["after"]["nvme_export"]
    rds.read_only = False
    applied = nvme_export.run(module(nvme_export.ARGUMENT_SPEC, **params), client(rds))
    assert applied["after"] == predicted["after"]
    rds.read_only = True
    assert not nvme_export.run(module(nvme_export.ARGUMENT_SPEC, **params), client(rds))["changed"]


def test_a_failure_in_list_mode_is_changed_and_names_what_was_applied_before_it() -> None:
    rds = FakeRds.holding(disk("pvc-2", size=GIB))
    disks = [{"slot": "pvc-1", "size": "1GiB"}, {"slot": "pvc-2", "size": "2GiB"}]

    rds.fail_writes_with = UnreachableError("The RDS at rds.test stopped answering")
    rds.fail_after_writes = 1
    with pytest.raises(Failed) as failure:
        disk_module.run(module(disk_module.ARGUMENT_SPEC, disks=disks), client(rds))
    result = failure.value.result
    assert result["changed"] and result["applied"] == [
        "pvc-1: create pvc-1 of 1GiB (1073741824 bytes) at /storage-pool/metal-csi/pvc-1.img"
    ]
    assert result["msg"].startswith("Error while changing disk 'pvc-2': The RDS at rds.test stopped answering.")
    assert "Applied before the failure: pvc-1: create pvc-1" in result["msg"]
    assert result["msg"].endswith("Check host, port and timeout, and that the RDS at rds.test is reachable.")


def test_a_failure_before_any_change_is_not_changed() -> None:
    rds = FakeRds.holding(disk("pvc-1", size=GIB))
    rds.fail_writes_with = UnreachableError("The RDS at rds.test stopped answering")
    with pytest.raises(Failed) as failure:
        disk_module.run(module(disk_module.ARGUMENT_SPEC, slot="pvc-1", size="2GiB"), client(rds))
    assert not failure.value.result["changed"] and failure.value.result["applied"] == []


def test_missing_directories_are_created_once_before_the_disks() -> None:
    rds = FakeRds()
    disks = [{"slot": "pvc-%d" % number, "size": "1GiB"} for number in range(3)]
    disk_module.run(module(disk_module.ARGUMENT_SPEC, disks=disks, base_path="/storage-pool/new"), client(rds))
    assert rds.writes == ["create directory /storage-pool/new", "create pvc-0", "create pvc-1", "create pvc-2"]
