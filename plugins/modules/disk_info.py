#!/usr/bin/python
# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: E402  (Ansible wants the imports below DOCUMENTATION, EXAMPLES and RETURN)
from __future__ import annotations

DOCUMENTATION = r"""
module: disk_info
short_description: Disks, pool capacity and version of a MikroTik RDS
version_added: 0.1.0
description:
  - Lists the disks of a MikroTik ROSE Data Server with exact sizes, all of them or by slot or slot regex, managed
    by the CSI driver or not, together with the storage pool's capacity and the appliance's RouterOS version.
  - Works on every RouterOS version. On a version newer than the collection knows (after 7.24) it warns once,
    naming the version, after confirming the disk field names on the RDS.
author:
  - srvlab developers (@srvlab)
extends_documentation_fragment:
  - srvlab.rds.connection
  - srvlab.rds.connection.managed
attributes:
  check_mode:
    support: full
    description: The module only reads.
  diff_mode:
    support: none
    description: The module only reads.
options:
  slot:
    description:
      - Only the disk with this exact slot. Mutually exclusive with O(slot_regex).
    type: str
  slot_regex:
    description:
      - Only disks whose slot matches this RouterOS regular expression, for example C(^pvc-).
    type: str
  managed:
    description:
      - V(true) returns only disks managed by the CSI driver, V(false) only unmanaged ones; omitted returns both.
    type: bool
  file_disks_only:
    description:
      - Return only file-backed disks (not the pool's physical disks and partitions).
    type: bool
    default: true
  pool:
    description:
      - Mount point of the storage pool whose capacity is returned.
    type: str
    default: storage-pool
"""

EXAMPLES = r"""
# A play on the controller sets the connection options once for every module of the srvlab.rds.rds group.
- name: Inspect the RDS
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/srvlab.rds.rds:
      host: rds.example.net
      host_key: "{{ lookup('ansible.builtin.file', 'rds_host_key.pub') }}"
      private_key_file: ~/.ssh/rds_ed25519
  tasks:
    - name: Everything the CSI driver manages
      srvlab.rds.disk_info:
        managed: true
      register: rds

# The tasks below go into a play with the module_defaults above; they do not repeat the connection options.
- name: One disk
  srvlab.rds.disk_info:
    slot: pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11
  register: one

- name: Free space of another pool
  srvlab.rds.disk_info:
    slot_regex: ^pvc-
    pool: nvme-pool
  register: pool
"""

RETURN = r"""
disks:
  description:
    - The matching disks, sorted by slot, with exact sizes in bytes.
    - Same fields as RV(srvlab.rds.disk#module:after).
  returned: success
  type: list
  elements: dict
  sample:
    - slot: pvc-a
      type: file
      file_path: /storage-pool/metal-csi/pvc-a.img
      size: 10737418240
      size_exact: true
      comment: ""
      disabled: false
      nvme_export: true
      nvme_port: 4420
      nvme_nqn: nqn.2000-02.com.mikrotik:pvc-a
      nvme_allowed_host_nqns: []
      nvme_has_password: false
      managed: true
pool:
  description: Capacity of the storage pool, in bytes.
  returned: success
  type: dict
  contains:
    name:
      description: Mount point of the pool.
      type: str
    size:
      description: Total size.
      type: int
    free:
      description: Free space.
      type: int
    used:
      description: Used space.
      type: int
  sample: {name: storage-pool, size: 1099511627776, free: 987842478080, used: 111669149696}
version:
  description: The RouterOS version the RDS runs.
  returned: success
  type: str
  sample: "7.24 (stable)"
"""

from typing import Any, Dict

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]
from ansible_collections.srvlab.rds.plugins.module_utils.module_input import new_module
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk_plan import disk_to_dict
from ansible_collections.srvlab.rds.plugins.module_utils.rds_module import argument_spec, managed_policy, run_rds_module

ARGUMENT_SPEC = argument_spec(
    {
        "slot": {"type": "str"},
        "slot_regex": {"type": "str"},
        "managed": {"type": "bool"},
        "file_disks_only": {"type": "bool", "default": True},
        "pool": {"type": "str", "default": "storage-pool"},
    },
    managed=True,
)


def run(module: AnsibleModule, client: RdsClient) -> Dict[str, Any]:
    params = module.params
    policy = managed_policy(params)
    version = client.version()
    if params["slot"] is not None:
        found = client.get_disk(params["slot"])
        disks = [found] if found is not None else []
    else:
        disks = client.list_disks(params["slot_regex"], file_disks_only=params["file_disks_only"])
    if params["managed"] is not None:
        disks = [disk for disk in disks if policy.is_managed(disk) == params["managed"]]
    capacity = client.pool_capacity(params["pool"])
    return {
        "changed": False,
        "version": str(version),
        "disks": [disk_to_dict(disk, policy) for disk in sorted(disks, key=lambda disk: disk.slot)],
        "pool": {"name": capacity.pool, "size": capacity.size, "free": capacity.free, "used": capacity.used},
    }


def main() -> None:
    module = new_module(ARGUMENT_SPEC, supports_check_mode=True, mutually_exclusive=[("slot", "slot_regex")])
    run_rds_module(module, lambda client: run(module, client))


if __name__ == "__main__":
    main()
