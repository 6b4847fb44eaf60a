#!/usr/bin/python
# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: E402  (Ansible wants the imports below DOCUMENTATION, EXAMPLES and RETURN)
from __future__ import annotations

DOCUMENTATION = r"""
module: nqn_filter
short_description: The managed-NQN-prefix configuration of a node, and its NVMe host NQN and host ID
version_added: 0.1.0
description:
  - Runs on a Kubernetes node. Writes the managed NQN prefix the C(rds.csi.srvlab.io) node plugin reads from its
    configuration file (the C(managed_nqn_prefix) key of O(config_file), given to the driver with C(--config)).
    The node plugin only connects, disconnects and repairs NVMe subsystems whose NQN starts with this prefix.
  - Validates the prefix (starts with C(nqn.), contains C(:), at most 223 bytes) and refuses a prefix that matches
    an NQN the node has connected but that is not a CSI volume, such as a diskless node's system volume.
  - Optionally creates the node's C(/etc/nvme/hostnqn) and C(/etc/nvme/hostid), once; existing files are never
    rewritten, so the identity stays unique and stable.
author:
  - srvlab developers (@srvlab)
attributes:
  check_mode:
    support: full
    description: Nothing is written; C(changed) and the resulting values are predicted.
  diff_mode:
    support: full
    description: Shows the configuration file and the identity files before and after.
options:
  managed_nqn_prefix:
    description:
      - NQN prefix of the subsystems the CSI node plugin may manage.
    type: str
    default: nqn.2000-02.com.mikrotik:pvc-
  config_file:
    description:
      - The node plugin's configuration file. Only its C(managed_nqn_prefix) line is managed; other lines are kept.
    type: path
    default: /etc/srvlab-rds/node.yaml
  sysfs_root:
    description:
      - Where sysfs is mounted; the connected subsystems are read from C(<sysfs_root>/class/nvme/nvme*/subsysnqn).
    type: path
    default: /sys
  host_identity:
    description:
      - Create O(hostnqn_file) and O(hostid_file) when missing. Existing files are never changed.
    type: bool
    default: false
  hostnqn_file:
    description: The node's NVMe host NQN file.
    type: path
    default: /etc/nvme/hostnqn
  hostid_file:
    description: The node's NVMe host ID file.
    type: path
    default: /etc/nvme/hostid
"""

EXAMPLES = r"""
- name: Let the node plugin manage only CSI volumes, and give the node its NVMe identity
  srvlab.rds.nqn_filter:
    managed_nqn_prefix: nqn.2000-02.com.mikrotik:pvc-
    host_identity: true
  become: true

- name: A diskless node whose image keeps configuration under /run/overlay
  srvlab.rds.nqn_filter:
    config_file: /run/overlay/etc/srvlab-rds/node.yaml
"""

RETURN = r"""
managed_nqn_prefix:
  description: The prefix now configured.
  returned: success
  type: str
  sample: nqn.2000-02.com.mikrotik:pvc-
config_file:
  description: The configuration file written.
  returned: success
  type: str
  sample: /etc/srvlab-rds/node.yaml
previous_prefix:
  description: The prefix the file held before, or null.
  returned: success
  type: str
  sample: null
connected_nqns:
  description: Subsystem NQNs the node has NVMe controllers for, as sysfs shows them.
  returned: success
  type: list
  elements: str
  sample: ["nqn.2000-02.com.mikrotik:diskless-node-1"]
hostnqn:
  description: The node's host NQN (existing or generated).
  returned: success and O(host_identity=true)
  type: str
  sample: nqn.2014-08.org.nvmexpress:uuid:6c5fbd37-0d8b-4c9e-a2de-4c1bb0f1d3a7
hostid:
  description: The node's host ID (existing or generated).
  returned: success and O(host_identity=true)
  type: str
  sample: 6c5fbd37-0d8b-4c9e-a2de-4c1bb0f1d3a7
"""

import os
from typing import Any, Dict, List, Optional, Tuple

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]
from ansible_collections.srvlab.rds.plugins.module_utils.library_errors import LibraryError
from ansible_collections.srvlab.rds.plugins.module_utils.module_input import new_module
from ansible_collections.srvlab.rds.plugins.module_utils.nqn_filter import (
    DEFAULT_CONFIG_FILE,
    DEFAULT_HOSTID_FILE,
    DEFAULT_HOSTNQN_FILE,
    EXAMPLE_CSI_NQN,
    configured_prefix,
    conflicting_connections,
    new_host_uuid,
    plan_identity,
    read_connections,
    read_text,
    render_config,
)
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_nqn import check_prefix
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import DEFAULT_NQN_PREFIX

ARGUMENT_SPEC = {
    "managed_nqn_prefix": {"type": "str", "default": DEFAULT_NQN_PREFIX},
    "config_file": {"type": "path", "default": DEFAULT_CONFIG_FILE},
    "sysfs_root": {"type": "path", "default": "/sys"},
    "host_identity": {"type": "bool", "default": False},
    "hostnqn_file": {"type": "path", "default": DEFAULT_HOSTNQN_FILE},
    "hostid_file": {"type": "path", "default": DEFAULT_HOSTID_FILE},
}


def write_file(module: AnsibleModule, path: str, content: str) -> None:
    """Write atomically, creating the parent directory; files are world-readable like /etc/nvme's."""
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    temporary = os.path.join(directory, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(content)
    os.chmod(temporary, 0o644)
    module.atomic_move(temporary, path)


def file_option_problems(params: Dict[str, Any]) -> List[str]:
    """A sentence for every file option that names a directory instead of a file."""
    examples = {
        "config_file": DEFAULT_CONFIG_FILE,
        "hostnqn_file": DEFAULT_HOSTNQN_FILE,
        "hostid_file": DEFAULT_HOSTID_FILE,
    }
    names = ["config_file"] + (["hostnqn_file", "hostid_file"] if params["host_identity"] else [])
    return [
        "%s %r names a directory; give the path of a file, such as %s." % (name, params[name], examples[name])
        for name in names
        if params[name].endswith("/") or os.path.isdir(params[name])
    ]


def run(module: AnsibleModule) -> Dict[str, Any]:
    params = module.params
    problems = file_option_problems(params)
    if problems:
        module.fail_json(msg=" ".join(problems))
    prefix = params["managed_nqn_prefix"]
    check_prefix(prefix)
    connections = read_connections(params["sysfs_root"])
    conflicts = conflicting_connections(prefix, connections)
    if conflicts:
        module.fail_json(
            msg="Refusing managed NQN prefix %r: the node has %s connected, which the prefix matches but which is not "
            "a CSI volume (a system volume of a diskless node?). The node plugin would disconnect it. Choose a "
            "narrower prefix such as %s."
            % (
                prefix,
                ", ".join("%s (%s)" % (item.subsystem_nqn, item.controller) for item in conflicts),
                DEFAULT_NQN_PREFIX,
            ),
            connected_nqns=[item.subsystem_nqn for item in connections],
        )
    if not EXAMPLE_CSI_NQN.startswith(prefix):
        module.warn("The managed NQN prefix %r matches no CSI volume NQN such as %s." % (prefix, EXAMPLE_CSI_NQN))
    config_file = params["config_file"]
    before_config = read_text(config_file)
    after_config = render_config(before_config, prefix)
    writes: List[Tuple[str, str]] = []
    if after_config != before_config:
        writes.append((config_file, after_config))
    result: Dict[str, Any] = {
        "managed_nqn_prefix": prefix,
        "previous_prefix": configured_prefix(before_config),
        "config_file": config_file,
        "connected_nqns": [item.subsystem_nqn for item in connections],
    }
    diffs = [_diff(config_file, before_config, after_config)]
    if params["host_identity"]:
        writes.extend(_identity(params, result, diffs))
    if writes and not module.check_mode:
        for path, content in writes:
            write_file(module, path, content)
    result["changed"] = bool(writes)
    result["diff"] = diffs
    return result


def _identity(params: Dict[str, Any], result: Dict[str, Any], diffs: List[Dict[str, Any]]) -> List[Tuple[str, str]]:
    hostnqn_before = read_text(params["hostnqn_file"])
    hostid_before = read_text(params["hostid_file"])
    identity, write_hostnqn, write_hostid = plan_identity(hostnqn_before, hostid_before, new_host_uuid())
    result.update(hostnqn=identity.hostnqn, hostid=identity.hostid)
    writes = []
    if write_hostnqn:
        writes.append((params["hostnqn_file"], identity.hostnqn + "\n"))
        diffs.append(_diff(params["hostnqn_file"], hostnqn_before, identity.hostnqn + "\n"))
    if write_hostid:
        writes.append((params["hostid_file"], identity.hostid + "\n"))
        diffs.append(_diff(params["hostid_file"], hostid_before, identity.hostid + "\n"))
    return writes


def _diff(path: str, before: Optional[str], after: str) -> Dict[str, Any]:
    return {"before_header": path, "after_header": path, "before": before or "", "after": after}


def main() -> None:
    module = new_module(ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = run(module)
    except LibraryError as error:
        module.fail_json(msg=str(error))
    except OSError as error:
        module.fail_json(
            msg="Cannot update the node's NVMe configuration: %s. Check the paths and permissions." % error
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
