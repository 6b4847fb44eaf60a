#!/usr/bin/python
# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: E402  (Ansible wants the imports below DOCUMENTATION, EXAMPLES and RETURN)
from __future__ import annotations

DOCUMENTATION = r"""
module: routeros_user
short_description: A RouterOS user, its group and its SSH public keys on a MikroTik RDS
version_added: 0.1.0
description:
  - Manages a RouterOS user with its own group and SSH public keys, such as the account the CSI driver logs in
    with (the C(srvlab.rds.rds_storage) role uses it).
  - Keys are added with C(/user ssh-keys add user=... key="<public key line>"). RouterOS never prints a key back, so
    each key this module adds carries the comment C(srvlab.rds <user> SHA256:<fingerprint>); keys without such a comment
    (added by hand) are left alone.
  - Once a user has a key, RouterOS refuses its password; the password is sent only when the user is created.
author:
  - srvlab developers (@srvlab)
extends_documentation_fragment:
  - srvlab.rds.connection
attributes:
  check_mode:
    support: full
    description: Nothing changes; C(changed), C(commands) and C(after) are predicted.
  diff_mode:
    support: full
    description: The group, user and managed keys before and after.
options:
  name:
    description: Name of the RouterOS user.
    type: str
    required: true
  group:
    description: Name of the user group, created for this user with O(group_policy).
    type: str
    required: true
  group_policy:
    description:
      - Policies the group grants, compared as a set. C(ssh) is needed to log in; the CSI driver needs C(read) and
        C(write) besides.
    type: list
    elements: str
    default: [ssh, read, write, test]
  comment:
    description: Comment of the user and of the group.
    type: str
    default: ""
  public_keys:
    description:
      - OpenSSH public key lines (C(ssh-ed25519 AAAA... comment)) the user logs in with.
      - Keys this module added earlier that are not in the list are removed.
    type: list
    elements: str
    default: []
  user_password:
    description:
      - Password set when the user is created, never compared or changed afterwards (RouterOS does not print it).
        RouterOS refuses it anyway once the user has a key.
    type: str
  state:
    description:
      - V(absent) removes the user with its keys, and the group when no other user is in it.
    type: str
    choices: [present, absent]
    default: present
"""

EXAMPLES = r"""
# A play on the controller sets the connection options once for every module of the srvlab.rds.rds group.
- name: Accounts on the RDS
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/srvlab.rds.rds:
      host: rds.example.net
      host_key: "{{ lookup('ansible.builtin.file', 'rds_host_key.pub') }}"
      private_key_file: ~/.ssh/rds_admin_ed25519
  tasks:
    - name: The CSI driver's account, logging in with its key only
      srvlab.rds.routeros_user:
        name: rds-csi
        group: rds-csi
        public_keys:
          - "{{ lookup('ansible.builtin.file', 'files/rds-csi.pub') }}"
        user_password: "{{ lookup('ansible.builtin.password', '/dev/null length=32') }}"

# The task below goes into a play with the module_defaults above; it does not repeat the connection options.
- name: Remove an account that is no longer used
  srvlab.rds.routeros_user:
    name: old-backup
    group: old-backup
    state: absent
"""

RETURN = r"""
before:
  description: The account before the change.
  returned: success
  type: dict
  contains:
    group:
      description: The group (C(name), C(policy) as a sorted list, C(comment)), or null.
      type: dict
    user:
      description: The user (C(name), C(group), C(comment), C(disabled)), or null.
      type: dict
    keys:
      description: The keys of the user that this module manages (C(fingerprint), C(key_type), C(key_owner)).
      type: list
      elements: dict
after:
  description: The account after the change as the RDS reports it (predicted in check mode); as RV(before).
  returned: success
  type: dict
commands:
  description: The RouterOS commands sent (to be sent in check mode), secrets masked.
  returned: success
  type: list
  elements: str
"""

from typing import Any, Dict

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]
from ansible_collections.srvlab.rds.plugins.module_utils.module_input import new_module
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_module import argument_spec, run_rds_module
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_account import (
    apply_account,
    plan_account,
    wanted_account,
)

ARGUMENT_SPEC = argument_spec(
    {
        "name": {"type": "str", "required": True},
        "group": {"type": "str", "required": True},
        "group_policy": {"type": "list", "elements": "str", "default": ["ssh", "read", "write", "test"]},
        "comment": {"type": "str", "default": ""},
        "public_keys": {"type": "list", "elements": "str", "default": [], "no_log": False},
        "user_password": {"type": "str", "no_log": True},
        "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    }
)


def run(module: AnsibleModule, client: RdsClient) -> Dict[str, Any]:
    params = module.params
    wanted = wanted_account(
        params["name"],
        params["group"],
        params["group_policy"],
        comment=params["comment"],
        public_keys=params["public_keys"],
        password=params["user_password"],
        present=params["state"] == "present",
    )
    plan = plan_account(client, wanted)
    after = plan.after
    if plan.steps and not module.check_mode:
        after = apply_account(client, plan)
    before, after_view = plan.before.to_dict(), after.to_dict()
    return {
        "changed": bool(plan.steps),
        "before": before,
        "after": after_view,
        "commands": plan.commands_for_log(),
        "diff": {"before": before, "after": after_view},
    }


def main() -> None:
    module = new_module(ARGUMENT_SPEC, supports_check_mode=True)
    run_rds_module(module, lambda client: run(module, client))


if __name__ == "__main__":
    main()
