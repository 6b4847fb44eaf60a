#!/usr/bin/python
# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: E402  (Ansible wants the imports below DOCUMENTATION, EXAMPLES and RETURN)
from __future__ import annotations

DOCUMENTATION = r"""
module: orphans
short_description: Find and remove RDS disks and backing files that no PersistentVolume uses
version_added: 0.1.0
description:
  - Compares the disks on a MikroTik RDS and the C(.img) files under the managed base path with the cluster's
    PersistentVolumes of the CSI driver, and reports orphaned disks (managed disks no PersistentVolume names) and
    orphaned backing files (files no disk uses and no PersistentVolume names).
  - With O(state=absent) removes the orphans whose backing file is older than O(grace_period). Snapshot disks, files
    any disk uses (snapshot disks included), and unmanaged disks are never removed. A file or disk whose age cannot
    be read is never removed.
  - The RDS prints creation times in its own clock without a time zone; they are read as UTC. Keep O(grace_period)
    well above the largest possible offset (the default of a day is).
author:
  - srvlab developers (@srvlab)
requirements:
  - kubernetes (Python package)
extends_documentation_fragment:
  - srvlab.rds.connection
  - srvlab.rds.connection.managed
  - srvlab.rds.kubernetes
attributes:
  check_mode:
    support: full
    description: Nothing is removed; C(removed_disks) and C(removed_files) list what would be.
  diff_mode:
    support: none
    description: Removals are listed in C(removed_disks) and C(removed_files).
options:
  state:
    description:
      - V(present) only reports. V(absent) removes the orphans older than O(grace_period).
    type: str
    choices: [present, absent]
    default: present
  grace_period:
    description:
      - Minimum age in seconds of an orphan's backing file before it is removed, so a volume being created (disk made,
        PersistentVolume not yet) is never taken for an orphan.
    type: int
    default: 86400
  base_path:
    description:
      - Directory of the driver's backing files on the RDS.
    type: str
    default: /storage-pool/metal-csi
  driver_name:
    description:
      - CSI driver whose PersistentVolumes count.
    type: str
    default: rds.csi.srvlab.io
"""

EXAMPLES = r"""
# A play on the controller sets the connection options once for every module of the srvlab.rds.rds group.
- name: Find what the CSI driver left behind
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/srvlab.rds.rds:
      host: rds.example.net
      host_key: "{{ lookup('ansible.builtin.file', 'rds_host_key.pub') }}"
      private_key_file: ~/.ssh/rds_ed25519
  tasks:
    - name: Report orphans
      srvlab.rds.orphans:
        kubeconfig: ~/.kube/config
      register: orphans

# The task below goes into a play with the module_defaults above; it does not repeat the connection options.
- name: Remove orphans older than a week
  srvlab.rds.orphans:
    kubeconfig: ~/.kube/config
    state: absent
    grace_period: 604800
"""

RETURN = r"""
orphan_disks:
  description: Managed disks that no PersistentVolume names, sorted by slot.
  returned: success
  type: list
  elements: dict
  contains:
    kind:
      description: C(disk).
      type: str
    slot:
      description: Slot of the disk.
      type: str
    file_path:
      description: Backing file.
      type: str
    size:
      description: Size in bytes.
      type: int
    created:
      description: Creation time of the backing file (ISO 8601, UTC), or null when unknown.
      type: str
    age_seconds:
      description: Age of the backing file, or null when unknown.
      type: int
    removable:
      description: Whether O(state=absent) removes it (old enough).
      type: bool
    reason:
      description: Why it is not removable; empty when it is.
      type: str
  sample:
    - kind: disk
      slot: pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11
      file_path: /storage-pool/metal-csi/pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11.img
      size: 10737418240
      created: "2025-11-11T14:32:41+00:00"
      age_seconds: 864000
      removable: true
      reason: ""
orphan_files:
  description: C(.img) files under O(base_path) that no disk uses and no PersistentVolume names; same fields.
  returned: success
  type: list
  elements: dict
  sample: []
removed_disks:
  description: Slots removed (or that would be, in check mode), with their backing files.
  returned: success
  type: list
  elements: str
  sample: ["pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11"]
removed_files:
  description: Orphaned files removed (or that would be, in check mode).
  returned: success
  type: list
  elements: str
  sample: []
persistent_volumes:
  description: Number of PersistentVolumes of O(driver_name) found.
  returned: success
  type: int
  sample: 42
"""

from datetime import datetime, timezone
from typing import Any, Dict, Set

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]
from ansible_collections.srvlab.rds.plugins.module_utils.kube_volumes import (
    DRIVER_NAME,
    KUBERNETES_ARGUMENT_SPEC,
    KubeError,
    core_api,
    volume_handles,
)
from ansible_collections.srvlab.rds.plugins.module_utils.module_input import new_module
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_module import argument_spec, managed_policy, run_rds_module
from ansible_collections.srvlab.rds.plugins.module_utils.rds_orphans import find_orphans, under
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import DEFAULT_BASE_PATH

ARGUMENT_SPEC = argument_spec(
    {
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        "grace_period": {"type": "int", "default": 86400},
        "base_path": {"type": "str", "default": DEFAULT_BASE_PATH},
        "driver_name": {"type": "str", "default": DRIVER_NAME},
        **KUBERNETES_ARGUMENT_SPEC,
    },
    managed=True,
)


def run(module: AnsibleModule, client: RdsClient, handles: Set[str]) -> Dict[str, Any]:
    params = module.params
    base_path = params["base_path"]
    disks = client.list_disks()
    files = [entry for entry in client.list_files() if under(entry.path, base_path)]
    orphans = find_orphans(
        disks,
        files,
        handles,
        policy=managed_policy(params),
        base_path=base_path,
        now=datetime.now(timezone.utc),
        grace_seconds=params["grace_period"],
    )
    removing = [orphan for orphan in orphans if orphan.removable] if params["state"] == "absent" else []
    if not module.check_mode:
        for orphan in removing:
            if orphan.kind == "disk":
                client.remove_disk(orphan.slot, remove_file=True, file_path=orphan.file_path)
            else:
                client.remove_file(orphan.file_path)
    return {
        "changed": bool(removing),
        "orphan_disks": [orphan.as_dict() for orphan in orphans if orphan.kind == "disk"],
        "orphan_files": [orphan.as_dict() for orphan in orphans if orphan.kind == "file"],
        "removed_disks": [orphan.slot for orphan in removing if orphan.kind == "disk"],
        "removed_files": [orphan.file_path for orphan in removing if orphan.kind == "file"],
        "persistent_volumes": len(handles),
    }


def main() -> None:
    module = new_module(ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    if params["grace_period"] < 0:
        module.fail_json(msg="grace_period must be zero or more seconds, got %d." % params["grace_period"])
    try:
        api = core_api(params["kubeconfig"], params["context"], float(params["timeout"]))
        handles = volume_handles(api, params["driver_name"], float(params["timeout"]))
    except KubeError as error:
        module.fail_json(msg="%s Nothing was compared or removed; fix the cluster access and run again." % error)
    run_rds_module(module, lambda client: run(module, client, handles))


if __name__ == "__main__":
    main()
