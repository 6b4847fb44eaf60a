#!/usr/bin/python
# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: E402  (Ansible wants the imports below DOCUMENTATION, EXAMPLES and RETURN)
from __future__ import annotations

DOCUMENTATION = r"""
module: nvme_export
short_description: The NVMe/TCP export of an existing disk on a MikroTik RDS
version_added: 0.1.0
description:
  - Turns the NVMe/TCP export of an existing disk on or off and sets its port, subsystem NQN, allowed host NQNs and
    in-band authentication secret.
  - Idempotent; the RDS never prints the secret, so an existing secret is replaced only with
    O(update_nvme_password=always).
author:
  - srvlab developers (@srvlab)
extends_documentation_fragment:
  - srvlab.rds.connection
  - srvlab.rds.connection.managed
attributes:
  check_mode:
    support: full
    description: Nothing changes on the RDS; C(changed) and C(after) are predicted.
  diff_mode:
    support: full
    description: Returns the disk before and after; the secret never appears, only whether one is set.
options:
  slot:
    description: Slot of the disk, which must exist (see M(srvlab.rds.disk)).
    type: str
    required: true
  enabled:
    description: Whether the disk is exported.
    type: bool
    default: true
  nvme_port:
    description:
      - NVMe/TCP port (1 to 65535); the current one, or C(4420) when there is none, when omitted.
      - Fails with O(enabled=false), where it would have no effect.
      - Named apart from O(port), the SSH port of the RDS.
    type: int
  nvme_nqn:
    description:
      - Subsystem NQN; the current one, or C(nqn.2000-02.com.mikrotik:<slot>) when there is none, when omitted.
      - Changing the NQN of an exported disk needs O(force=true).
    type: str
  allowed_host_nqns:
    description:
      - Host NQNs allowed to connect. An empty list allows every host. Omitted leaves the list as it is.
      - Compared as a set, so order does not matter.
    type: list
    elements: str
  nvme_password:
    description:
      - In-band authentication secret of the export. An empty string removes it. Omitted leaves it as it is.
      - When the export already has a secret and O(update_nvme_password=on_create), it is not sent, and a warning
        says so.
      - Named apart from O(password), the SSH password of the RDS.
    type: str
  update_nvme_password:
    description:
      - V(on_create) sets O(nvme_password) only when the export has no secret yet (the RDS never shows the secret, so
        an existing one cannot be compared); V(always) sends it on every run, which always reports a change.
    type: str
    choices: [always, on_create]
    default: on_create
  force:
    description:
      - Allow changing the NQN of an exported disk (hosts connected to the old NQN lose the disk).
      - Allow any change to the export of a disk outside the managed slot and NQN prefixes (it may be a diskless
        node's system volume).
    type: bool
    default: false
"""

EXAMPLES = r"""
# The connection options are set once for the play through the action group; every task below relies on them.
- name: Export disks of the RDS
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/srvlab.rds.rds:
      host: rds.example.net
      host_key: "{{ rds_host_key }}"
      private_key_file: ~/.ssh/rds_ed25519
  tasks:
    - name: Export a disk to two hosts only
      srvlab.rds.nvme_export:
        slot: pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11
        allowed_host_nqns:
          - nqn.2014-08.org.nvmexpress:uuid:6c5fbd37-0d8b-4c9e-a2de-4c1bb0f1d3a7
          - nqn.2014-08.org.nvmexpress:uuid:2a0f4f55-5c53-4b8e-9f59-0c0a6a4f6e39
        nvme_password: "{{ vault_nvme_secret }}"

    - name: Stop exporting
      srvlab.rds.nvme_export:
        slot: pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11
        enabled: false
"""

RETURN = r"""
before:
  description: The disk before, as RV(srvlab.rds.disk#module:after) returns it.
  returned: success
  type: dict
  sample: {slot: pvc-a, nvme_export: false, nvme_port: 4420, nvme_nqn: "nqn.2000-02.com.mikrotik:pvc-a"}
after:
  description: The disk after (predicted in check mode), as RV(srvlab.rds.disk#module:after) returns it.
  returned: success
  type: dict
  sample: {slot: pvc-a, nvme_export: true, nvme_port: 4420, nvme_nqn: "nqn.2000-02.com.mikrotik:pvc-a"}
"""

from typing import Any, Dict

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]
from ansible_collections.srvlab.rds.plugins.module_utils.module_input import new_module
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk_plan import (
    DesiredExport,
    PlanOptions,
    apply_plan,
    check_supported,
    disk_to_dict,
    plan_export,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_module import argument_spec, managed_policy, run_rds_module

ARGUMENT_SPEC = argument_spec(
    {
        "slot": {"type": "str", "required": True},
        "enabled": {"type": "bool", "default": True},
        "nvme_port": {"type": "int"},
        "nvme_nqn": {"type": "str"},
        "allowed_host_nqns": {"type": "list", "elements": "str"},
        "nvme_password": {"type": "str", "no_log": True},
        "update_nvme_password": {
            "type": "str",
            "no_log": False,
            "choices": ["always", "on_create"],
            "default": "on_create",
        },
        "force": {"type": "bool", "default": False},
    },
    managed=True,
)


def run(module: AnsibleModule, client: RdsClient) -> Dict[str, Any]:
    params = module.params
    options = PlanOptions(policy=managed_policy(params), force=params["force"])
    hosts = params["allowed_host_nqns"]
    desired = DesiredExport(
        slot=params["slot"],
        enabled=params["enabled"],
        port=params["nvme_port"],
        nqn=params["nvme_nqn"],
        allowed_host_nqns=None if hosts is None else tuple(hosts),
        password=params["nvme_password"],
        update_password=params["update_nvme_password"] == "always",
    )
    plan = plan_export(client.get_disk(desired.slot), desired, options)
    check_supported(client.field_support(), [plan])
    for warning in plan.warnings:
        module.warn(warning)
    after = plan.after if module.check_mode or not plan.changed else apply_plan(client, plan)
    before_state = disk_to_dict(plan.before, options.policy)
    after_state = disk_to_dict(after, options.policy)
    return {
        "changed": plan.changed,
        "before": before_state,
        "after": after_state,
        "diff": {"before": before_state, "after": after_state},
    }


def main() -> None:
    module = new_module(ARGUMENT_SPEC, supports_check_mode=True)
    run_rds_module(module, lambda client: run(module, client))


if __name__ == "__main__":
    main()
