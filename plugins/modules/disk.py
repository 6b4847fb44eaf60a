#!/usr/bin/python
# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: E402  (Ansible wants the imports below DOCUMENTATION, EXAMPLES and RETURN)
from __future__ import annotations

DOCUMENTATION = r"""
module: disk
short_description: File-backed disks and their NVMe/TCP export on a MikroTik RDS
version_added: 0.1.0
description:
  - Creates, modifies in place and removes file-backed disks on a MikroTik ROSE Data Server, keyed by O(slot).
  - An existing disk is never re-created; changing one field changes only that field. Growing is allowed;
    shrinking is refused, because the RDS cannot shrink a file disk.
  - Declarative list mode (O(disks)) plans many disks from a single read of the RDS.
  - The plan is computed from one read of the RDS before anything changes, so every failure that read can foresee
    (not enough free space in the pool, a backing file that exists already or belongs to another disk, a path outside
    the managed base paths or outside every storage pool) fails before anything changes, in check mode too.
  - When a change fails part way, C(changed) is true if anything was applied, and the failure lists what was
    (RV(applied)). Directories created for a disk that could not be created are removed again.
author:
  - srvlab developers (@srvlab)
extends_documentation_fragment:
  - srvlab.rds.connection
  - srvlab.rds.connection.managed
attributes:
  check_mode:
    support: full
    description: Nothing changes on the RDS; C(changed), C(after) and C(actions) are predicted.
  diff_mode:
    support: full
    description: Returns the disk before and after (all declared disks in list mode).
options:
  slot:
    description:
      - Slot (name) of the disk on the RDS. For disks of the CSI driver this is the volume ID, C(pvc-<uuid>).
      - Exactly one of O(slot) and O(disks) is required.
    type: str
  state:
    description:
      - Whether the disk should exist.
      - V(absent) also removes the backing file unless O(remove_file=false), including a file left behind earlier
        at O(file_path) (or C(<base_path>/<slot>.img)) that no disk uses.
    type: str
    choices: [present, absent]
    default: present
  # file_path to nvme_nqn are documented once here; the entries of disks repeat them by YAML alias.
  file_path: &file_path
    description:
      - Absolute path of the backing C(.img) file on the RDS.
      - Defaults to C(<base_path>/<slot>.img). An existing disk cannot be moved.
      - Must lie under one of O(managed_base_paths), or O(force=true) is needed; a path outside every storage pool
        of the RDS is refused.
      - Missing directories below the pool are created with the disk.
      - With O(state=absent) for a disk that no longer exists, a backing file left at this path (by
        O(remove_file=false)) that no disk uses is removed.
    type: str
  size: &size
    description:
      - Exact size, in bytes or with a binary unit C(K), C(M), C(G), C(T), C(P), C(Ki) to C(Pi) or C(KiB) to C(PiB),
        all powers of 1024 as in Ansible's C(human_to_bytes) (C(10G), C(10Gi), C(10GiB), C(1.5T)).
      - Decimal-looking and lower-case units (C(10GB), C(10gb)), fractions that are not a whole number of bytes and
        sizes under 300 MiB (the smallest filesystem C(mkfs.xfs) makes) are refused with the table of accepted forms;
        see the Sizes section of docs/modules.md.
      - Required to create a disk. A bigger size grows the disk.
    type: raw
  comment: &comment
    description:
      - Comment of the disk, stored verbatim (quotes, semicolons, brackets, dollar signs, newlines and spaces).
    type: str
  nvme_export: &nvme_export
    description:
      - Whether the disk is exported over NVMe/TCP. Omitted leaves the export as it is.
    type: bool
  nvme_port: &nvme_port
    description:
      - NVMe/TCP port of the export (1 to 65535); C(4420) when the disk is first exported and this is omitted.
      - Only for an exported disk; given with O(nvme_export=false) (or for a disk that is not and will not be
        exported) it fails rather than being ignored.
    type: int
  nvme_nqn: &nvme_nqn
    description:
      - Subsystem NQN of the export; C(nqn.2000-02.com.mikrotik:<slot>) when the disk is first exported and this is
        omitted.
      - Changing the NQN of an exported disk needs O(force=true).
    type: str
  disks:
    description:
      - Declarative list mode. Every entry declares one disk; the whole list is planned from one read of the RDS.
      - Mutually exclusive with O(slot), O(file_path), O(size), O(comment), O(nvme_export), O(nvme_port) and
        O(nvme_nqn). O(force), O(remove_file) and O(base_path) apply to every entry.
    type: list
    elements: dict
    suboptions:
      slot:
        description: Slot of the disk.
        type: str
        required: true
      state:
        description: Whether the disk should exist; defaults to O(state).
        type: str
        choices: [present, absent]
      file_path: *file_path
      size: *size
      comment: *comment
      nvme_export: *nvme_export
      nvme_port: *nvme_port
      nvme_nqn: *nvme_nqn
  create:
    description:
      - Whether a disk that does not exist may be created. With V(false) a missing disk fails the task instead,
        which is what a repair wants (a mistyped slot must not create a new disk).
    type: bool
    default: true
  force:
    description:
      - Allow destructive or unusual changes. Needed to remove a disk outside the managed slot and NQN prefixes, to
        change or stop the export of such a disk, to change the NQN of an exported disk, and to place or remove a
        backing file outside O(managed_base_paths).
      - Shrinking is never possible, because the RDS cannot shrink a file disk.
    type: bool
    default: false
  remove_file:
    description:
      - With O(state=absent), also remove the backing file.
    type: bool
    default: true
  base_path:
    description:
      - Directory of backing files when O(file_path) is omitted.
    type: str
    default: /storage-pool/metal-csi
  managed_base_paths:
    description:
      - Directories where backing files may live without O(force). Each must lie inside a storage pool.
      - Defaults to O(base_path) alone.
    type: list
    elements: str
"""

EXAMPLES = r"""
# The connection options are set once for the play through the action group; every task below relies on them.
- name: Manage disks on the RDS
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/srvlab.rds.rds:
      host: rds.example.net
      host_key: "{{ rds_host_key }}"
      private_key_file: ~/.ssh/rds_ed25519
  tasks:
    - name: A 10 GiB disk exported over NVMe/TCP
      srvlab.rds.disk:
        slot: pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11
        size: 10GiB
        nvme_export: true

    - name: Grow a volume during a repair; a mistyped slot fails instead of creating a disk
      srvlab.rds.disk:
        slot: pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11
        size: 20GiB
        create: false

    - name: Many disks, planned from one read
      srvlab.rds.disk:
        disks:
          - slot: pvc-a
            size: 5GiB
            nvme_export: true
          - slot: pvc-b
            size: 20GiB
            comment: scratch
          - slot: pvc-old
            state: absent

    - name: Remove a hand-made disk but keep its file
      srvlab.rds.disk:
        slot: test-disk
        state: absent
        force: true
        remove_file: false

    - name: Remove the file that the task above kept, once nothing needs it
      srvlab.rds.disk:
        slot: test-disk
        state: absent
        file_path: /storage-pool/metal-csi/test-disk.img
"""

RETURN = r"""
before:
  description: The disk before the change (single mode); empty when it did not exist.
  returned: success and O(slot) is given
  type: dict
  sample: {}
after:
  description:
    - The disk after the change as the RDS reports it (predicted in check mode); empty when it does not exist.
    - Sizes are exact byte counts.
  returned: success and O(slot) is given
  type: dict
  contains:
    slot:
      description: Slot of the disk.
      type: str
    type:
      description: Disk type, C(file) for file-backed disks.
      type: str
    file_path:
      description: Backing file.
      type: str
    size:
      description: Size in bytes.
      type: int
    size_exact:
      description: Whether O(size) is the exact byte count (false when the RDS printed only a rounded size).
      type: bool
    comment:
      description: Comment.
      type: str
    disabled:
      description: Whether the disk is disabled.
      type: bool
    nvme_export:
      description: Whether the disk is exported over NVMe/TCP.
      type: bool
    nvme_port:
      description: Port of the export.
      type: int
    nvme_nqn:
      description: Subsystem NQN.
      type: str
    nvme_allowed_host_nqns:
      description: Host NQNs allowed to connect (empty allows any).
      type: list
      elements: str
    nvme_has_password:
      description: Whether in-band authentication is set.
      type: bool
    managed:
      description: Whether the disk is under the managed slot and NQN prefixes.
      type: bool
  sample:
    slot: pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11
    type: file
    file_path: /storage-pool/metal-csi/pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11.img
    size: 10737418240
    size_exact: true
    comment: ""
    disabled: false
    nvme_export: true
    nvme_port: 4420
    nvme_nqn: nqn.2000-02.com.mikrotik:pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11
    nvme_allowed_host_nqns: []
    nvme_has_password: false
    managed: true
actions:
  description: What was done (or would be done in check mode), in order. Sizes carry their exact byte count.
  returned: success and O(slot) is given
  type: list
  elements: str
  sample: ["grow to 20GiB (21474836480 bytes)", "export as nqn.2000-02.com.mikrotik:pvc-a on port 4420"]
applied:
  description:
    - On a failure, what was changed before it, each as the slot, a colon and the action.
    - C(changed) is true when it is not empty.
  returned: failure while applying
  type: list
  elements: str
  sample: ["pvc-a: create directory /storage-pool/metal-csi/team", "pvc-a: grow to 2GiB (2147483648 bytes)"]
disks:
  description: One entry per declared disk, in the order declared (list mode).
  returned: success and O(disks) is given
  type: list
  elements: dict
  contains:
    slot:
      description: Slot of the disk.
      type: str
    changed:
      description: Whether this disk changed (or would change).
      type: bool
    before:
      description: The disk before, in the form of RV(after); empty when it did not exist.
      type: dict
    after:
      description: The disk after, in the form of RV(after); empty when it does not exist.
      type: dict
    actions:
      description: What was done to this disk.
      type: list
      elements: str
"""

from typing import Any, Dict, List

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]
from ansible_collections.srvlab.rds.plugins.module_utils.module_input import new_module
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import ManagedPolicy
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk_plan import (
    ApplyError,
    DesiredDisk,
    DiskPlan,
    PlanOptions,
    apply_plan,
    check_supported,
    describe,
    disk_to_dict,
    plan_disks,
    survey_request,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_module import (
    argument_spec,
    error_message,
    managed_policy,
    run_rds_module,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import DEFAULT_BASE_PATH
from ansible_collections.srvlab.rds.plugins.module_utils.rds_sizes import parse_size

# One disk's options, declared once: the top-level options in single mode and the elements of
# the disks list in list mode, where the slot is required and the state defaults to the top-level one.
DISK_OPTIONS: Dict[str, Dict[str, Any]] = {
    "slot": {"type": "str"},
    "state": {"type": "str", "choices": ["present", "absent"]},
    "file_path": {"type": "str"},
    "size": {"type": "raw"},
    "comment": {"type": "str"},
    "nvme_export": {"type": "bool"},
    "nvme_port": {"type": "int"},
    "nvme_nqn": {"type": "str"},
}
DISK_FIELDS = tuple(name for name in DISK_OPTIONS if name not in ("slot", "state"))
DISK_ENTRY = dict(DISK_OPTIONS, slot=dict(DISK_OPTIONS["slot"], required=True))

ARGUMENT_SPEC = argument_spec(
    {
        **DISK_OPTIONS,
        "state": dict(DISK_OPTIONS["state"], default="present"),
        "disks": {"type": "list", "elements": "dict", "options": DISK_ENTRY},
        "create": {"type": "bool", "default": True},
        "force": {"type": "bool", "default": False},
        "remove_file": {"type": "bool", "default": True},
        "base_path": {"type": "str", "default": DEFAULT_BASE_PATH},
        "managed_base_paths": {"type": "list", "elements": "str"},
    },
    managed=True,
)


def desired_disk(entry: Dict[str, Any], default_state: str) -> DesiredDisk:
    slot = entry["slot"]
    size = entry.get("size")
    return DesiredDisk(
        slot=slot,
        present=(entry.get("state") or default_state) == "present",
        file_path=entry.get("file_path"),
        size=None if size is None else parse_size(size, "size of disk %r" % slot),
        comment=entry.get("comment"),
        nvme_export=entry.get("nvme_export"),
        nvme_port=entry.get("nvme_port"),
        nvme_nqn=entry.get("nvme_nqn"),
    )


def plan_options(params: Dict[str, Any]) -> PlanOptions:
    base_path = params["base_path"].rstrip("/") or params["base_path"]
    if params.get("managed_base_paths") is None:
        params = dict(params, managed_base_paths=[base_path])
    return PlanOptions(
        policy=managed_policy(params),
        force=params["force"],
        remove_file=params["remove_file"],
        base_path=base_path,
        create=params["create"],
    )


def execute(client: RdsClient, plans: List[DiskPlan], check_mode: bool, policy: ManagedPolicy) -> List[Dict[str, Any]]:
    """Apply each plan (unless in check mode) and describe it; stops at the first failure, which lists
    everything applied before it (in earlier plans and in the failing one)."""
    results: List[Dict[str, Any]] = []
    for plan in plans:
        try:
            after = plan.after if check_mode or not plan.changed else apply_plan(client, plan)
        except ApplyError as error:
            earlier = ["%s: %s" % (entry["slot"], action) for entry in results for action in entry["actions"]]
            raise ApplyError(plan.slot, earlier + list(error.applied), error.cause) from error.cause
        results.append(
            {
                "slot": plan.slot,
                "changed": plan.changed,
                "before": disk_to_dict(plan.before, policy),
                "after": disk_to_dict(after, policy),
                "actions": [describe(action) for action in plan.actions],
            }
        )
    return results


def plan(module: AnsibleModule, client: RdsClient, options: PlanOptions) -> List[DiskPlan]:
    """Plan every declared disk from one read of the RDS."""
    params = module.params
    if params["disks"] is not None:
        entries = params["disks"]
    else:
        entries = [dict({name: params[name] for name in DISK_FIELDS}, slot=params["slot"])]
    desired = [desired_disk(entry, params["state"]) for entry in entries]
    wanted = survey_request(desired, options)
    found = client.survey(slots=wanted.slots, files=wanted.files, users_of=wanted.users_of, pools=wanted.pools)
    plans = plan_disks(found, desired, options)
    check_supported(client.field_support(), plans)
    for entry in plans:
        for warning in entry.warnings:
            module.warn(warning)
    return plans


def run(module: AnsibleModule, client: RdsClient) -> Dict[str, Any]:
    options = plan_options(module.params)
    plans = plan(module, client, options)
    try:
        results = execute(client, plans, module.check_mode, options.policy)
    except ApplyError as error:
        module.fail_json(
            msg=error_message(error, module.params["host"]),
            error_type=type(error.cause).__name__,
            changed=bool(error.applied),
            applied=list(error.applied),
        )
    if module.params["disks"] is not None:
        changed = [entry for entry in results if entry["changed"]]
        return {
            "changed": bool(changed),
            "disks": results,
            "diff": {
                "before": {entry["slot"]: entry["before"] for entry in changed},
                "after": {entry["slot"]: entry["after"] for entry in changed},
            },
        }
    outcome: Dict[str, Any] = results[0]
    return {
        "changed": outcome["changed"],
        "before": outcome["before"],
        "after": outcome["after"],
        "actions": outcome["actions"],
        "diff": {"before": outcome["before"], "after": outcome["after"]},
    }


def main() -> None:
    module = new_module(
        ARGUMENT_SPEC,
        supports_check_mode=True,
        required_one_of=[("slot", "disks")],
        mutually_exclusive=[("slot", "disks")] + [("disks", name) for name in DISK_FIELDS],
    )
    run_rds_module(module, lambda client: run(module, client))


if __name__ == "__main__":
    main()
