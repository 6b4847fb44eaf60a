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
- name: The CSI driver's account, logging in with its key only
  srvlab.rds.routeros_user:
    host: rds.example.net
    host_key: "{{ rds_host_key }}"
    private_key_file: ~/.ssh/rds_admin_ed25519
    name: rds-csi
    group: rds-csi
    public_keys:
      - "{{ lookup('ansible.builtin.file', 'files/rds-csi.pub') }}"
    user_password: "{{ lookup('ansible.builtin.password', '/dev/null length=32') }}"
  delegate_to: localhost
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

from typing import Any, Dict, List, Sequence

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import RdsError, classify
from ansible_collections.srvlab.rds.plugins.module_utils.rds_module import argument_spec, run_rds_module
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_command import (
    Command,
    build,
    equals,
    print_detail,
)
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_output import Item, parse_detail
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_public_key import PublicKey

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
KEY_MARKER = "srvlab.rds"


def key_comment(user: str, key: PublicKey) -> str:
    """Names a key this module added (RouterOS never prints a key back); removal also matches the user."""
    return "%s %s %s" % (KEY_MARKER, user, key.fingerprint)


def read_account(client: RdsClient, name: str, group: str) -> Dict[str, Any]:
    groups = _print(client, "/user group", "name", group)
    users = _print(client, "/user", "name", name)
    keys = _print(client, "/user ssh-keys", "user", name)
    return {
        "group": _group_view(groups[0]) if groups else None,
        "user": _user_view(users[0]) if users else None,
        "keys": sorted(
            (
                {
                    "fingerprint": item.comment.split()[-1],
                    "key_type": item.fields.get("key-type", ""),
                    "key_owner": item.fields.get("key-owner", ""),
                }
                for item in keys
                if item.comment.split()[:2] == [KEY_MARKER, name] and len(item.comment.split()) == 3
            ),
            key=lambda key: key["fingerprint"],
        ),
    }


def plan_present(current: Dict[str, Any], params: Dict[str, Any], keys: Sequence[PublicKey]) -> List[Command]:
    name, group, comment = params["name"], params["group"], params["comment"]
    policy = ",".join(sorted(set(params["group_policy"])))
    commands: List[Command] = []
    if current["group"] is None:
        commands.append(build("/user group", "add", args={"name": group, "policy": policy, "comment": comment}))
    elif current["group"]["policy"] != sorted(set(params["group_policy"])) or current["group"]["comment"] != comment:
        commands.append(
            build("/user group", "set", target=[equals("name", group)], args={"policy": policy, "comment": comment})
        )
    user = current["user"]
    if user is None:
        args: Dict[str, Any] = {"name": name, "group": group, "comment": comment}
        if params["user_password"]:
            args["password"] = params["user_password"]
        commands.append(build("/user", "add", args=args, secret_args=["password"]))
    elif (user["group"], user["comment"], user["disabled"]) != (group, comment, False):
        commands.append(
            build(
                "/user",
                "set",
                target=[equals("name", name)],
                args={"group": group, "comment": comment, "disabled": False},
            )
        )
    present = {key["fingerprint"] for key in current["keys"]}
    wanted = {key.fingerprint for key in keys}
    for key in keys:
        if key.fingerprint not in present:
            commands.append(
                build("/user ssh-keys", "add", args={"user": name, "key": key.line, "comment": key_comment(name, key)})
            )
            present.add(key.fingerprint)
    for fingerprint in sorted(present - wanted):
        commands.append(
            build(
                "/user ssh-keys",
                "remove",
                target=[equals("user", name), equals("comment", "%s %s %s" % (KEY_MARKER, name, fingerprint))],
            )
        )
    return commands


def plan_absent(current: Dict[str, Any], client: RdsClient, params: Dict[str, Any]) -> List[Command]:
    commands: List[Command] = []
    if current["user"] is not None:
        commands.append(build("/user", "remove", target=[equals("name", params["name"])]))
    members = [
        item for item in _print(client, "/user", "group", params["group"]) if item.fields.get("name") != params["name"]
    ]
    if current["group"] is not None and not members:
        commands.append(build("/user group", "remove", target=[equals("name", params["group"])]))
    return commands


def predict(
    current: Dict[str, Any], params: Dict[str, Any], keys: Sequence[PublicKey], commands: Sequence[Command]
) -> Dict[str, Any]:
    if params["state"] == "absent":
        removes_group = any(command.menu == "/user group" and command.verb == "remove" for command in commands)
        return {"group": None if removes_group else current["group"], "user": None, "keys": []}
    return {
        "group": {"name": params["group"], "policy": sorted(set(params["group_policy"])), "comment": params["comment"]},
        "user": {"name": params["name"], "group": params["group"], "comment": params["comment"], "disabled": False},
        "keys": sorted(
            (
                {"fingerprint": key.fingerprint, "key_type": key.key_type, "key_owner": key.owner}
                for key in _unique(keys)
            ),
            key=lambda key: key["fingerprint"],
        ),
    }


def run(module: AnsibleModule, client: RdsClient) -> Dict[str, Any]:
    params = module.params
    try:
        keys = [PublicKey(line) for line in params["public_keys"]]
    except ValueError as error:
        module.fail_json(msg="User %r: %s" % (params["name"], error))
    current = read_account(client, params["name"], params["group"])
    if params["state"] == "present":
        commands = plan_present(current, params, keys)
    else:
        commands = plan_absent(current, client, params)
    expected = predict(current, params, keys, commands)
    after = expected
    if commands and not module.check_mode:
        for command in commands:
            _execute(client, command)
        after = read_account(client, params["name"], params["group"])
        if _comparable(after) != _comparable(expected):
            raise RdsError(
                "The RDS accepted the changes to user %r but shows %r instead of %r."
                % (params["name"], after, expected)
            )
    result: Dict[str, Any] = {
        "changed": bool(commands),
        "before": current,
        "after": after,
        "commands": [command.render_for_log() for command in commands],
        "diff": {"before": current, "after": after},
    }
    return result


def _comparable(account: Dict[str, Any]) -> Dict[str, Any]:
    """Key owners are what RouterOS read from the key line; compare what this module controls."""
    return dict(account, keys=[key["fingerprint"] for key in account["keys"]])


def _unique(keys: Sequence[PublicKey]) -> List[PublicKey]:
    seen: Dict[str, PublicKey] = {}
    for key in keys:
        seen.setdefault(key.fingerprint, key)
    return list(seen.values())


def _print(client: RdsClient, menu: str, field: str, value: str) -> List[Item]:
    return parse_detail(_execute(client, print_detail(menu, [equals(field, value)])))


def _execute(client: RdsClient, command: Command) -> str:
    shown = command.render_for_log()
    result = client.transport.run(command.render(), log_as=shown)
    error = classify(result.output, result.exit_status, shown)
    if error is not None:
        raise error
    return result.output


def _group_view(item: Item) -> Dict[str, Any]:
    policy = [word for word in item.fields.get("policy", "").split(",") if word and not word.startswith("!")]
    return {"name": item.fields.get("name", ""), "policy": sorted(policy), "comment": item.comment}


def _user_view(item: Item) -> Dict[str, Any]:
    return {
        "name": item.fields.get("name", ""),
        "group": item.fields.get("group", ""),
        "comment": item.comment,
        "disabled": item.fields.get("disabled") == "yes" or "X" in item.flags,
    }


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    run_rds_module(module, lambda client: run(module, client))


if __name__ == "__main__":
    main()
