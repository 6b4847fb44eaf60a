"""Planning of disks and exports: pure functions, fed by one survey of an in-memory RDS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import ManagedPolicy, RdsFile
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk_plan import (
    ApplyError,
    CreateDirectory,
    CreateDisk,
    DesiredDisk,
    DesiredExport,
    DiskPlan,
    GrowDisk,
    PlanOptions,
    PruneDirectory,
    RemoveDisk,
    RemoveFile,
    SetComment,
    SetExport,
    apply_plan,
    describe,
    plan_disks,
    plan_export,
    survey_request,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import (
    AlreadyExistsError,
    InvalidValueError,
    NoSpaceError,
    NotFoundError,
    UnreachableError,
)

from tests.unit.plugins.fake_rds import GIB, FakeRds, disk

DEFAULTS = PlanOptions()
FORCE = PlanOptions(force=True)
BASE = "/storage-pool/metal-csi"


def planned(rds: FakeRds, desired: Sequence[DesiredDisk], options: PlanOptions = DEFAULTS) -> list[DiskPlan]:
    """Plan as the module does: one survey of what the plan needs, then pure planning."""
    wanted = survey_request(desired, options)
    found = rds.survey(slots=wanted.slots, files=wanted.files, users_of=wanted.users_of, pools=wanted.pools)
    return plan_disks(found, desired, options)


def plan_one(rds: FakeRds, desired: DesiredDisk, options: PlanOptions = DEFAULTS) -> DiskPlan:
    return planned(rds, [desired], options)[0]


def test_creation_fills_file_path_and_nqn_from_the_slot() -> None:
    plan = plan_one(FakeRds(), DesiredDisk("pvc-1", size=GIB, nvme_export=True))
    (action,) = plan.actions
    assert isinstance(action, CreateDisk)
    assert action.spec.file_path == BASE + "/pvc-1.img"
    assert action.spec.export is not None
    assert (action.spec.export.nqn, action.spec.export.port) == ("nqn.2000-02.com.mikrotik:pvc-1", 4420)
    assert plan.after is not None and plan.after.export.enabled and plan.after.size == GIB


def test_creation_without_size_names_the_disk_and_the_fix() -> None:
    with pytest.raises(InvalidValueError, match=r"Disk 'pvc-1' does not exist on the RDS; give size"):
        plan_one(FakeRds(), DesiredDisk("pvc-1"))


def test_a_repair_never_creates() -> None:
    with pytest.raises(NotFoundError, match=r"Disk 'pvc-typo' does not exist on the RDS, and create is false"):
        plan_one(FakeRds(), DesiredDisk("pvc-typo", size=2 * GIB), PlanOptions(create=False))
    grow = plan_one(FakeRds.holding(disk("pvc-1")), DesiredDisk("pvc-1", size=2 * GIB), PlanOptions(create=False))
    assert grow.actions == (GrowDisk(2 * GIB),)


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
    plan = plan_one(FakeRds.holding(disk("pvc-1")), desired)
    if expected == "export":
        (action,) = plan.actions
        assert isinstance(action, SetExport) and action.export.port == 4421
        assert plan.after is not None and plan.after.export.nqn == "nqn.2000-02.com.mikrotik:pvc-1"
    else:
        assert list(plan.actions) == expected


def test_an_existing_disk_is_never_moved() -> None:
    with pytest.raises(InvalidValueError, match=r"'pvc-1' already exists with backing file .* cannot be moved"):
        plan_one(FakeRds.holding(disk("pvc-1")), DesiredDisk("pvc-1", file_path=BASE + "/other/pvc-1.img"))


@pytest.mark.parametrize("options", [DEFAULTS, FORCE])
@pytest.mark.parametrize("exported", [False, True])
def test_shrinking_is_refused_with_a_fix_that_works(options: PlanOptions, exported: bool) -> None:
    rds = FakeRds.holding(disk("pvc-1", size=2 * GIB, exported=exported))
    with pytest.raises(InvalidValueError) as refusal:
        plan_one(rds, DesiredDisk("pvc-1", size=GIB), options)
    message = str(refusal.value)
    assert "cannot shrink" in message and "create a smaller disk and copy the data" in message
    assert "force" not in message


def test_rounded_sizes_within_their_rounding_are_equal() -> None:
    rds = FakeRds.holding(disk("pvc-1", size=10 * GIB + 1000, size_exact=False))
    assert not plan_one(rds, DesiredDisk("pvc-1", size=10 * GIB)).actions


def test_nqn_change_of_an_exported_disk_needs_force() -> None:
    rds = FakeRds.holding(disk("pvc-1", exported=True))
    desired = DesiredDisk("pvc-1", nvme_nqn="nqn.2000-02.com.mikrotik:pvc-other")
    with pytest.raises(InvalidValueError, match=r"change the NQN of exported disk 'pvc-1'.*force: true"):
        plan_one(rds, desired)
    assert plan_one(rds, desired, FORCE).changed


@pytest.mark.parametrize(
    ("desired", "message"),
    [
        (DesiredDisk("pvc-1", size=GIB, nvme_export=True, nvme_nqn="pvc-1"), "not a valid NVMe qualified name"),
        (DesiredDisk("pvc-1", size=GIB, nvme_export=True, nvme_port=70000), "port 70000 of disk 'pvc-1' is out of"),
        (DesiredDisk("pvc-1", size=GIB, nvme_export=True, nvme_port=0), "port 0 of disk 'pvc-1' is out of range"),
        (DesiredDisk("pvc-1", size=GIB, nvme_export=False, nvme_port=4421), "nvme_port of disk 'pvc-1' applies only"),
        (DesiredDisk("pvc-1", size=GIB, nvme_port=4421), "apply only to an exported disk"),
        (DesiredDisk("pvc-1", size=GIB, file_path=BASE + "/pvc-1.raw"), "must end in .img"),
        (DesiredDisk("pvc-a/b", size=GIB), "must not contain '/'"),
    ],
)
def test_values_that_would_be_ignored_or_refused_fail_before_anything_is_sent(
    desired: DesiredDisk, message: str
) -> None:
    rds = FakeRds()
    rds.read_only = True
    with pytest.raises(InvalidValueError, match=message):
        plan_one(rds, desired)


def test_port_zero_is_refused_for_an_existing_export_too() -> None:
    rds = FakeRds.holding(disk("pvc-1", exported=True))
    with pytest.raises(InvalidValueError, match="port 0 of disk 'pvc-1' is out of range"):
        plan_one(rds, DesiredDisk("pvc-1", nvme_port=0))
    with pytest.raises(InvalidValueError, match="port 0 of disk 'pvc-1' is out of range"):
        plan_export(rds.disks["pvc-1"], DesiredExport("pvc-1", port=0), DEFAULTS)


def test_unmanaged_disks_are_removed_only_with_force() -> None:
    system = disk("diskless-node-1", exported=True, nqn="nqn.2000-02.com.mikrotik:diskless-node-1")
    rds = FakeRds.holding(system)
    with pytest.raises(InvalidValueError, match=r"Refusing to remove disk 'diskless-node-1': it is not managed"):
        plan_one(rds, DesiredDisk("diskless-node-1", present=False))
    plan = plan_one(rds, DesiredDisk("diskless-node-1", present=False), FORCE)
    assert plan.actions == (RemoveDisk(True, system.file_path),)
    assert plan.after is None


def test_the_export_of_an_unmanaged_disk_changes_only_with_force() -> None:
    system = disk("diskless-node-1", exported=True, nqn="nqn.2000-02.com.mikrotik:diskless-node-1")
    rds = FakeRds.holding(system)
    for desired in (DesiredDisk("diskless-node-1", nvme_export=False), DesiredDisk("diskless-node-1", nvme_port=4421)):
        with pytest.raises(InvalidValueError, match=r"change the export of disk 'diskless-node-1'.*force: true"):
            plan_one(rds, desired)
        assert plan_one(rds, desired, FORCE).changed
    with pytest.raises(InvalidValueError, match=r"change the export of disk 'diskless-node-1'"):
        plan_export(system, DesiredExport("diskless-node-1", enabled=False), DEFAULTS)
    assert not plan_export(system, DesiredExport("diskless-node-1"), DEFAULTS).changed


@pytest.mark.parametrize("prefix", ["", "  "])
def test_an_empty_managed_prefix_is_refused(prefix: str) -> None:
    from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import check_policy

    for policy in (ManagedPolicy(slot_prefix=prefix), ManagedPolicy(nqn_prefix=prefix)):
        with pytest.raises(InvalidValueError, match="empty prefix would make every disk on the RDS managed"):
            check_policy(policy)


def test_removal_can_keep_the_file_and_absent_disks_plan_nothing() -> None:
    keep = PlanOptions(remove_file=False)
    rds = FakeRds.holding(disk("pvc-1"))
    assert plan_one(rds, DesiredDisk("pvc-1", present=False), keep).actions[0] == RemoveDisk(False, BASE + "/pvc-1.img")
    assert not plan_one(FakeRds(), DesiredDisk("pvc-1", present=False)).changed


def test_a_file_kept_by_an_earlier_removal_is_named_and_removable() -> None:
    leftover = RdsFile(BASE + "/pvc-1.img", ".img file", GIB, "")
    rds = FakeRds.holding(files=(leftover,))
    with pytest.raises(AlreadyExistsError, match=r"state=absent file_path=/storage-pool/metal-csi/pvc-1.img"):
        plan_one(rds, DesiredDisk("pvc-1", size=GIB))
    removal = plan_one(rds, DesiredDisk("pvc-1", present=False))
    assert removal.actions == (RemoveFile(leftover.path),)
    apply_plan(rds, removal)
    assert plan_one(rds, DesiredDisk("pvc-1", size=GIB)).changed


def test_a_file_another_disk_uses_is_never_removed_or_reused() -> None:
    rds = FakeRds.holding(disk("pvc-2", file_path=BASE + "/shared.img"))
    with pytest.raises(AlreadyExistsError, match=r"already belongs to disk 'pvc-2'"):
        plan_one(rds, DesiredDisk("pvc-1", size=GIB, file_path=BASE + "/shared.img"))
    assert not plan_one(rds, DesiredDisk("pvc-1", present=False, file_path=BASE + "/shared.img")).changed


def test_backing_files_stay_in_the_managed_base_paths_and_in_a_pool() -> None:
    rds = FakeRds()
    elsewhere = DesiredDisk("pvc-1", size=GIB, file_path="/storage-pool/elsewhere/x.img")
    with pytest.raises(InvalidValueError, match=r"outside the managed base paths \(/storage-pool/metal-csi\)"):
        plan_one(rds, elsewhere)
    assert plan_one(rds, elsewhere, FORCE).actions[0] == CreateDirectory("/storage-pool/elsewhere")
    system = DesiredDisk("pvc-1", size=GIB, file_path="/etc/foo/x.img")
    with pytest.raises(InvalidValueError, match=r"not in a storage pool of the RDS \(no pool is mounted at /etc\)"):
        plan_one(rds, system, FORCE)


def test_removal_prunes_the_directories_it_leaves_empty_but_never_a_base_path() -> None:
    rds = FakeRds()
    elsewhere = DesiredDisk("pvc-1", size=GIB, file_path="/storage-pool/elsewhere/deep/x.img")
    deeper = DesiredDisk("pvc-2", size=GIB, file_path=BASE + "/deeper/pvc-2.img")
    neighbour = DesiredDisk("pvc-3", size=GIB, file_path="/storage-pool/elsewhere/y.img")
    for plan in planned(rds, [elsewhere, deeper, neighbour], FORCE):
        apply_plan(rds, plan)
    assert rds.directories == {BASE, BASE + "/deeper", "/storage-pool/elsewhere", "/storage-pool/elsewhere/deep"}
    removals = [replace(entry, present=False, size=None) for entry in (elsewhere, deeper)]
    plans = planned(rds, removals, FORCE)
    assert plans[0].actions[1:] == (
        PruneDirectory("/storage-pool/elsewhere/deep"),
        PruneDirectory("/storage-pool/elsewhere"),
    )
    assert plans[1].actions[1:] == (PruneDirectory(BASE + "/deeper"),)
    for plan in plans:
        apply_plan(rds, plan)
    # /storage-pool/elsewhere still holds pvc-3's file; the base path stays for the next disk.
    assert rds.directories == {BASE, "/storage-pool/elsewhere"}


def test_check_mode_foresees_a_full_pool_counting_the_list_in_order() -> None:
    rds = FakeRds.holding(disk("pvc-old", size=6 * GIB))
    rds.pool_size = 10 * GIB
    with pytest.raises(NoSpaceError, match=r"pool storage-pool for disk 'pvc-new': 5GiB \(5368709120 bytes\)"):
        planned(rds, [DesiredDisk("pvc-new", size=5 * GIB)])
    with pytest.raises(NoSpaceError, match=r"for disk 'pvc-old': 5GiB \(5368709120 bytes\) more needed, 4GiB free"):
        planned(rds, [DesiredDisk("pvc-old", size=11 * GIB)])
    freed_first = [DesiredDisk("pvc-old", present=False), DesiredDisk("pvc-new", size=5 * GIB)]
    assert all(plan.changed for plan in planned(rds, freed_first))


def test_duplicate_slots_and_shared_files_in_list_mode_are_refused() -> None:
    with pytest.raises(InvalidValueError, match=r"Slot 'pvc-1' is declared more than once"):
        planned(FakeRds(), [DesiredDisk("pvc-1", size=GIB), DesiredDisk("pvc-1", size=GIB)])
    same_file = [DesiredDisk("pvc-%d" % n, size=GIB, file_path=BASE + "/x.img") for n in (1, 2)]
    with pytest.raises(InvalidValueError, match=r"'pvc-1' and 'pvc-2' would share the backing file"):
        planned(FakeRds(), same_file)


def test_applying_a_plan_reaches_the_predicted_state_and_a_second_plan_writes_nothing() -> None:
    rds = FakeRds.holding(disk("pvc-1"), disk("pvc-gone"))
    desired = [
        DesiredDisk("pvc-1", size=3 * GIB, comment='quote " semicolon ; [find]\nnext', nvme_export=True),
        DesiredDisk("pvc-2", size=GIB),
        DesiredDisk("pvc-gone", present=False),
    ]
    for plan in planned(rds, desired):
        assert apply_plan(rds, plan) == plan.after
    assert rds.writes == ["resize pvc-1", "comment pvc-1", "export pvc-1", "create pvc-2", "remove pvc-gone"]
    rds.read_only = True
    again = planned(rds, desired)
    assert not any(plan.changed for plan in again)
    for plan in again:
        apply_plan(rds, plan)


def test_a_partial_failure_lists_what_was_applied() -> None:
    rds = FakeRds.holding(disk("pvc-1"))
    rds.fail_writes_with = UnreachableError("The RDS at rds.test stopped answering")
    rds.fail_after_writes = 1
    (plan,) = planned(rds, [DesiredDisk("pvc-1", size=2 * GIB, comment="c")])
    with pytest.raises(ApplyError) as failure:
        apply_plan(rds, plan)
    assert failure.value.applied == ("pvc-1: grow to 2GiB (2147483648 bytes)",)
    assert "Applied before the failure: pvc-1: grow to 2GiB" in str(failure.value)


def test_a_failed_create_removes_the_directories_it_made() -> None:
    rds = FakeRds()
    rds.pool_size = 4 * GIB
    (plan,) = planned(rds, [DesiredDisk("pvc-1", size=GIB, file_path=BASE + "/team/a/pvc-1.img")])
    assert plan.actions[:2] == (CreateDirectory(BASE + "/team"), CreateDirectory(BASE + "/team/a"))
    rds.pool_size = GIB // 2  # the pool filled up between the read and the create
    with pytest.raises(ApplyError) as failure:
        apply_plan(rds, plan)
    assert failure.value.applied == ()
    assert rds.directories == {BASE}


def test_export_plan_compares_host_lists_as_sets_and_keeps_secrets_unless_asked() -> None:
    hosts = ("nqn.2014-08.org.nvmexpress:uuid:b", "nqn.2014-08.org.nvmexpress:uuid:a")
    rds = FakeRds.holding(disk("pvc-1"))
    desired = DesiredExport("pvc-1", allowed_host_nqns=hosts, password="s3cret")
    plan = plan_export(rds.disks["pvc-1"], desired, DEFAULTS)
    assert plan.after is not None and plan.after.export.has_password
    assert apply_plan(rds, plan) == plan.after
    rds.read_only = True
    reordered = DesiredExport("pvc-1", allowed_host_nqns=tuple(reversed(hosts)), password="s3cret")
    kept = plan_export(rds.disks["pvc-1"], reordered, DEFAULTS)
    assert not kept.changed
    assert kept.warnings and "update_nvme_password: always" in kept.warnings[0] and "s3cret" not in kept.warnings[0]
    rds.read_only = False
    always = DesiredExport("pvc-1", password="other", update_password=True)
    assert plan_export(rds.disks["pvc-1"], always, DEFAULTS).changed
    removal = DesiredExport("pvc-1", password="")
    assert plan_export(rds.disks["pvc-1"], removal, DEFAULTS).changed


def test_export_of_a_missing_disk_says_how_to_create_it() -> None:
    with pytest.raises(NotFoundError, match=r"Disk 'pvc-1' does not exist.*srvlab.rds.disk"):
        plan_export(None, DesiredExport("pvc-1"), DEFAULTS)


def test_descriptions_never_carry_the_secret() -> None:
    rds = FakeRds.holding(disk("pvc-1"))
    plan = plan_export(rds.disks["pvc-1"], DesiredExport("pvc-1", password="s3cret"), DEFAULTS)
    assert all("s3cret" not in describe(action) for action in plan.actions)
