"""Planning of disks and exports: pure functions, checked against an in-memory RDS."""

from __future__ import annotations

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk_plan import (
    CreateDisk,
    DesiredDisk,
    DesiredExport,
    GrowDisk,
    PlanOptions,
    RemoveDisk,
    SetComment,
    SetExport,
    apply_plan,
    describe,
    plan_disk,
    plan_disks,
    plan_export,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import InvalidValueError

from tests.unit.plugins.fake_rds import GIB, FakeRds, disk

DEFAULTS = PlanOptions()
FORCE = PlanOptions(force=True)


def test_creation_fills_file_path_and_nqn_from_the_slot() -> None:
    plan = plan_disk(None, DesiredDisk("pvc-1", size=GIB, nvme_export=True), DEFAULTS)
    (action,) = plan.actions
    assert isinstance(action, CreateDisk)
    assert action.spec.file_path == "/storage-pool/metal-csi/pvc-1.img"
    assert action.spec.export is not None
    assert (action.spec.export.nqn, action.spec.export.port) == ("nqn.2000-02.com.mikrotik:pvc-1", 4420)
    assert plan.after is not None and plan.after.export.enabled and plan.after.size == GIB


def test_creation_without_size_names_the_disk_and_the_fix() -> None:
    with pytest.raises(InvalidValueError, match=r"Disk 'pvc-1' does not exist on the RDS; give size"):
        plan_disk(None, DesiredDisk("pvc-1"), DEFAULTS)


@pytest.mark.parametrize(
    ("desired", "expected"),
    [
        (DesiredDisk("pvc-1", size=2 * GIB), [GrowDisk(2 * GIB)]),
        (DesiredDisk("pvc-1", comment="new"), [SetComment("new")]),
        (DesiredDisk("pvc-1", size=GIB, comment="", nvme_export=None), []),
        (DesiredDisk("pvc-1", nvme_export=True, nvme_port=4421), "export"),
    ],
)
def test_modification_changes_only_what_differs(desired: DesiredDisk, expected: object) -> None:
    plan = plan_disk(disk("pvc-1"), desired, DEFAULTS)
    if expected == "export":
        (action,) = plan.actions
        assert isinstance(action, SetExport) and action.export.port == 4421
        assert plan.after is not None and plan.after.export.nqn == "nqn.2000-02.com.mikrotik:pvc-1"
    else:
        assert list(plan.actions) == expected


def test_an_existing_disk_is_never_moved() -> None:
    with pytest.raises(InvalidValueError, match=r"'pvc-1' already exists with backing file .* cannot be moved"):
        plan_disk(disk("pvc-1"), DesiredDisk("pvc-1", file_path="/storage-pool/other/pvc-1.img"), DEFAULTS)


def test_shrinking_needs_force_and_is_refused_for_exported_disks() -> None:
    with pytest.raises(InvalidValueError, match=r"Refusing to shrink disk 'pvc-1' from 2GiB to 1GiB.*force: true"):
        plan_disk(disk("pvc-1", size=2 * GIB), DesiredDisk("pvc-1", size=GIB), DEFAULTS)
    with pytest.raises(InvalidValueError, match=r"exported disk 'pvc-1'.*Stop exporting it first"):
        plan_disk(disk("pvc-1", size=2 * GIB, exported=True), DesiredDisk("pvc-1", size=GIB), FORCE)
    with pytest.raises(InvalidValueError, match=r"cannot shrink file disk 'pvc-1' in place"):
        plan_disk(disk("pvc-1", size=2 * GIB), DesiredDisk("pvc-1", size=GIB), FORCE)


def test_rounded_sizes_within_their_rounding_are_equal() -> None:
    rounded = disk("pvc-1", size=10 * GIB + 1000, size_exact=False)
    assert not plan_disk(rounded, DesiredDisk("pvc-1", size=10 * GIB), DEFAULTS).actions


def test_nqn_change_of_an_exported_disk_needs_force() -> None:
    current = disk("pvc-1", exported=True)
    desired = DesiredDisk("pvc-1", nvme_nqn="nqn.2000-02.com.mikrotik:pvc-other")
    with pytest.raises(InvalidValueError, match=r"change the NQN of exported disk 'pvc-1'.*force: true"):
        plan_disk(current, desired, DEFAULTS)
    assert plan_disk(current, desired, FORCE).changed


def test_invalid_nqn_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(InvalidValueError, match=r"not a valid NVMe qualified name"):
        plan_disk(None, DesiredDisk("pvc-1", size=GIB, nvme_export=True, nvme_nqn="pvc-1"), DEFAULTS)
    with pytest.raises(InvalidValueError, match=r"port 70000 of disk 'pvc-1' is out of range"):
        plan_disk(None, DesiredDisk("pvc-1", size=GIB, nvme_export=True, nvme_port=70000), DEFAULTS)


def test_unmanaged_disks_are_removed_only_with_force() -> None:
    system = disk("diskless-node-1", exported=True, nqn="nqn.2000-02.com.mikrotik:diskless-node-1")
    with pytest.raises(InvalidValueError, match=r"Refusing to remove disk 'diskless-node-1': it is not managed"):
        plan_disk(system, DesiredDisk("diskless-node-1", present=False), DEFAULTS)
    plan = plan_disk(system, DesiredDisk("diskless-node-1", present=False), FORCE)
    assert plan.actions == (RemoveDisk(True, system.file_path),)
    assert plan.after is None


def test_removal_can_keep_the_file_and_absent_disks_plan_nothing() -> None:
    keep = PlanOptions(remove_file=False)
    assert plan_disk(disk("pvc-1"), DesiredDisk("pvc-1", present=False), keep).actions[0] == RemoveDisk(
        False, "/storage-pool/metal-csi/pvc-1.img"
    )
    assert not plan_disk(None, DesiredDisk("pvc-1", present=False), DEFAULTS).changed


def test_duplicate_slots_in_list_mode_are_refused() -> None:
    with pytest.raises(InvalidValueError, match=r"Slot 'pvc-1' is declared more than once"):
        plan_disks({}, [DesiredDisk("pvc-1", size=GIB), DesiredDisk("pvc-1", size=GIB)], DEFAULTS)


def test_applying_a_plan_reaches_the_predicted_state_and_a_second_plan_writes_nothing() -> None:
    rds = FakeRds.holding(disk("pvc-1"), disk("pvc-gone"))
    desired = [
        DesiredDisk("pvc-1", size=3 * GIB, comment='quote " semicolon ; [find]\nnext', nvme_export=True),
        DesiredDisk("pvc-2", size=GIB),
        DesiredDisk("pvc-gone", present=False),
    ]
    plans = plan_disks(rds.disks, desired, DEFAULTS)
    for plan in plans:
        assert apply_plan(rds, plan) == plan.after
    assert rds.writes == ["resize pvc-1", "comment pvc-1", "export pvc-1", "add pvc-2", "remove pvc-gone"]
    rds.read_only = True
    again = plan_disks(rds.disks, desired, DEFAULTS)
    assert not any(plan.changed for plan in again)
    for plan in again:
        apply_plan(rds, plan)


def test_export_plan_compares_host_lists_as_sets_and_keeps_secrets_unless_asked() -> None:
    hosts = ("nqn.2014-08.org.nvmexpress:uuid:b", "nqn.2014-08.org.nvmexpress:uuid:a")
    rds = FakeRds.holding(disk("pvc-1"))
    desired = DesiredExport("pvc-1", allowed_host_nqns=hosts, password="s3cret")
    plan = plan_export(rds.disks["pvc-1"], desired, DEFAULTS)
    assert plan.after is not None and plan.after.export.has_password
    assert apply_plan(rds, plan) == plan.after
    rds.read_only = True
    reordered = DesiredExport("pvc-1", allowed_host_nqns=tuple(reversed(hosts)), password="s3cret")
    assert not plan_export(rds.disks["pvc-1"], reordered, DEFAULTS).changed
    rds.read_only = False
    always = DesiredExport("pvc-1", password="other", update_password=True)
    assert plan_export(rds.disks["pvc-1"], always, DEFAULTS).changed
    removal = DesiredExport("pvc-1", password="")
    assert plan_export(rds.disks["pvc-1"], removal, DEFAULTS).changed


def test_export_of_a_missing_disk_says_how_to_create_it() -> None:
    with pytest.raises(InvalidValueError, match=r"Disk 'pvc-1' does not exist.*srvlab.rds.disk"):
        plan_export(None, DesiredExport("pvc-1"), DEFAULTS)


def test_descriptions_never_carry_the_secret() -> None:
    rds = FakeRds.holding(disk("pvc-1"))
    plan = plan_export(rds.disks["pvc-1"], DesiredExport("pvc-1", password="s3cret"), DEFAULTS)
    assert all("s3cret" not in describe(action) for action in plan.actions)
