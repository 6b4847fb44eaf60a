#!/usr/bin/python
# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: E402  (Ansible wants the imports below DOCUMENTATION, EXAMPLES and RETURN)
from __future__ import annotations

DOCUMENTATION = r"""
module: nvme_connection
short_description: Connect, reconnect or disconnect one NVMe/TCP subsystem on a node
version_added: 0.1.0
description:
  - Runs on a Kubernetes node, as root. The manual repair path for the node's NVMe/TCP connections to a MikroTik
    RDS (P-11.5) with the same library the C(rds.csi.srvlab.io) node plugin uses.
  - The subsystem is named by O(nqn) or by the CSI O(volume_id), which maps to the NQN
    C(nqn.2000-02.com.mikrotik:<volume id>) as in the driver.
  - The state comes from sysfs, read afresh; the namespace's block device is found from the NQN and NSID whatever
    the kernel named it (native multipath heads, per-controller disks, renumbered controllers).
  - Disconnecting (O(state=absent) or O(state=reconnected)) an NQN outside the managed prefix is refused unless
    O(force=true), so a diskless node's system volume is never disconnected by accident.
  - To only read the connection, use M(srvlab.rds.nvme_connection_info).
author:
  - srvlab developers (@srvlab)
extends_documentation_fragment:
  - srvlab.rds.nvme_target
attributes:
  check_mode:
    support: full
    description: Nothing is connected or disconnected; C(changed) and the actions are predicted.
  diff_mode:
    support: full
    description: Shows the connection (controllers, states, block device) before and after.
options:
  state:
    description:
      - V(present) connects unless an active controller to O(address) and O(port) exists (one that is connecting
        again after a path loss counts), then waits for the block device.
      - V(absent) disconnects every controller of the subsystem; nothing happens when none is connected.
      - V(reconnected) disconnects and connects again, always, to recover a connection that is stuck or whose device
        vanished. Address and port default to those of the existing controller.
    type: str
    choices: [present, absent, reconnected]
    default: present
  address:
    description:
      - The RDS NVMe/TCP address (traddr). Needed to connect, unless O(state=reconnected) finds it in sysfs.
    type: str
  port:
    description:
      - The NVMe/TCP port (trsvcid). Defaults to the existing controller's port for O(state=reconnected), else 4420.
    type: int
  host_nqn:
    description:
      - The host NQN to connect with. Defaults to the first line of O(host_nqn_file).
    type: str
  host_nqn_file:
    description:
      - The node's host NQN file, read when O(host_nqn) is not given.
    type: path
    default: /etc/nvme/hostnqn
  host_id:
    description:
      - The host ID to connect with. Omitted, nvme-cli reads C(/etc/nvme/hostid).
    type: str
  ctrl_loss_tmo:
    description:
      - Seconds the kernel keeps reconnecting after a path loss before it removes the controller; V(-1) forever.
    type: int
    default: -1
  reconnect_delay:
    description:
      - Seconds between reconnect attempts.
    type: int
    default: 5
  keep_alive_tmo:
    description:
      - Keep-alive timeout in seconds; omitted, the kernel default (5 s) applies.
    type: int
  dhchap_secret:
    description:
      - DH-HMAC-CHAP host key (C(DHHC-1:<hh>:<base64>:)) when the export requires in-band authentication.
      - Never logged nor shown in messages. nvme-cli receives it on its command line.
    type: str
  dhchap_ctrl_secret:
    description:
      - DH-HMAC-CHAP controller key, for bidirectional authentication.
    type: str
  force:
    description:
      - Allow disconnecting an NQN outside the managed prefix.
    type: bool
    default: false
  command_timeout:
    description:
      - Seconds each nvme-cli command may take before it is killed.
    type: float
    default: 30.0
  device_timeout:
    description:
      - Seconds to wait for the block device of O(nsid) after connecting. V(0) does not wait.
    type: float
    default: 30.0
  nvme_binary:
    description:
      - The nvme-cli executable, a name looked up in C(PATH) or a path.
    type: str
    default: nvme
notes:
  - Every nvme-cli run goes through C(timeout) from coreutils, which must be installed.
seealso:
  - module: srvlab.rds.nvme_connection_info
  - module: srvlab.rds.nqn_filter
"""

EXAMPLES = r"""
- name: Recover a volume whose controller was removed after a long RDS outage
  srvlab.rds.nvme_connection:
    volume_id: pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11
    state: reconnected
    address: 10.0.0.5
  become: true

- name: Connect by NQN with in-band authentication
  srvlab.rds.nvme_connection:
    nqn: nqn.2000-02.com.mikrotik:pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11
    state: present
    address: 10.0.0.5
    port: 4420
    dhchap_secret: "{{ vault_dhchap_secret }}"
  become: true

- name: Disconnect a subsystem that is not a CSI volume (explicitly)
  srvlab.rds.nvme_connection:
    nqn: nqn.2000-02.com.mikrotik:scratch-disk
    state: absent
    force: true
  become: true
"""

RETURN = r"""
nqn:
  description: The subsystem NQN.
  returned: always
  type: str
  sample: nqn.2000-02.com.mikrotik:pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11
managed:
  description: Whether the NQN is under the managed prefix.
  returned: always
  type: bool
  sample: true
managed_nqn_prefix:
  description: The managed prefix used.
  returned: always
  type: str
  sample: nqn.2000-02.com.mikrotik:pvc-
connected:
  description: Whether at least one controller of the subsystem is active (live, connecting or resetting).
  returned: always
  type: bool
  sample: true
subsystem:
  description: The sysfs subsystem (C(nvme-subsysM)), or null when the host has none for the NQN.
  returned: always
  type: str
  sample: nvme-subsys0
controllers:
  description: The subsystem's controllers.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The controller (C(nvmeN)).
      type: str
      sample: nvme0
    state:
      description: The kernel state (live, connecting, resetting, deleting, ...).
      type: str
      sample: live
    transport:
      description: The transport.
      type: str
      sample: tcp
    address:
      description: The target address (traddr).
      type: str
      sample: 10.0.0.5
    port:
      description: The target port (trsvcid).
      type: str
      sample: "4420"
    source_address:
      description: The local address of a live TCP connection (kernel 6.1 and later), else empty.
      type: str
      sample: 10.0.0.21
    host_nqn:
      description: The host NQN the controller connected with.
      type: str
      sample: nqn.2014-08.org.nvmexpress:uuid:6c5fbd37-0d8b-4c9e-a2de-4c1bb0f1d3a7
  sample:
    - name: nvme0
      state: live
      transport: tcp
      address: 10.0.0.5
      port: "4420"
      source_address: 10.0.0.21
      host_nqn: nqn.2014-08.org.nvmexpress:uuid:6c5fbd37-0d8b-4c9e-a2de-4c1bb0f1d3a7
device:
  description: The namespace's block device, or null when sysfs shows none.
  returned: always
  type: dict
  contains:
    name:
      description: The disk name.
      type: str
      sample: nvme0n1
    path:
      description: The device node.
      type: str
      sample: /dev/nvme0n1
    major:
      description: Major device number.
      type: int
      sample: 259
    minor:
      description: Minor device number.
      type: int
      sample: 0
    size_bytes:
      description: Size in bytes.
      type: int
      sample: 10737418240
    nsid:
      description: The namespace ID.
      type: int
      sample: 1
device_problem:
  description: Why the block device is not usable yet (what sysfs and the device directory show), or null.
  returned: always
  type: str
  sample: null
actions:
  description: What the task did (or, in check mode, would do), in order.
  returned: always
  type: list
  elements: str
  sample: ["disconnect", "connect"]
"""

from dataclasses import replace
from typing import Any, Dict, List, Optional, Tuple

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]
from ansible_collections.srvlab.rds.plugins.module_utils.module_input import new_module
from ansible_collections.srvlab.rds.plugins.module_utils.node_commands import DEFAULT_TIMEOUT
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_cli import ConnectTarget
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_config import HOSTNQN_FILE, read_host_file
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_errors import DeviceNotReadyError, UnmanagedNqnError
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_host import NvmeHost
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_module import (
    TARGET_OPTION_RULES,
    ModuleRunner,
    argument_spec,
    connected_first,
    facts,
    host_paths,
    run_nvme_module,
)
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_sysfs import Resolution, Subsystem
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import DEFAULT_NVME_PORT

ARGUMENT_SPEC = argument_spec(
    {
        "state": {"type": "str", "choices": ["present", "absent", "reconnected"], "default": "present"},
        "address": {"type": "str"},
        "port": {"type": "int"},
        "host_nqn": {"type": "str"},
        "host_nqn_file": {"type": "path", "default": HOSTNQN_FILE},
        "host_id": {"type": "str"},
        "ctrl_loss_tmo": {"type": "int", "default": -1},
        "reconnect_delay": {"type": "int", "default": 5},
        "keep_alive_tmo": {"type": "int"},
        "dhchap_secret": {"type": "str", "no_log": True},
        "dhchap_ctrl_secret": {"type": "str", "no_log": True},
        "force": {"type": "bool", "default": False},
        "command_timeout": {"type": "float", "default": DEFAULT_TIMEOUT},
        "device_timeout": {"type": "float", "default": 30.0},
        "nvme_binary": {"type": "str", "default": "nvme"},
    }
)


def plan(state: str, subsystem: Optional[Subsystem], address: Optional[str], port: int) -> List[str]:
    """The actions that bring the subsystem to ``state``: ``disconnect`` and/or ``connect``, in order."""
    has_controllers = subsystem is not None and bool(subsystem.controllers)
    if state == "present":
        if subsystem is None or not subsystem.connected:
            return ["connect"]
        return [] if address is None or subsystem.path_to(address, str(port)) is not None else ["connect"]
    if state == "absent":
        return ["disconnect"] if has_controllers else []
    if state == "reconnected":
        return (["disconnect"] if has_controllers else []) + ["connect"]
    raise ValueError("Unknown state %r: use present, absent or reconnected." % state)


def address_problem(address: Optional[str]) -> Optional[str]:
    """Why ``address`` cannot be a traddr on nvme's command line, or None."""
    if address is None:
        return None
    if (
        not address
        or len(address) > 255
        or any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in address)
    ):
        return (
            "address %r is not an IP address or host name; give the RDS's NVMe/TCP address, such as 10.0.0.5, "
            "without spaces or control characters" % address
        )
    return None


def run(module: AnsibleModule, host: NvmeHost, nqn: str) -> Dict[str, Any]:
    params = module.params
    problem = address_problem(params["address"])
    if problem:
        module.fail_json(msg=problem[0].upper() + problem[1:] + ".")
    before = host.resolve(nqn, params["nsid"])
    subsystem = connected_first(before.subsystems)
    address, port = target_address(params, subsystem)
    actions = plan(params["state"], subsystem, address, port)
    if "disconnect" in actions and not params["force"] and not host.is_managed(nqn):
        # The library refuses too; checking here first makes check mode refuse as well.
        raise UnmanagedNqnError(nqn, host.managed_prefix)
    if "connect" in actions and not address:
        module.fail_json(
            msg="Cannot connect %s: no address given and the node has no controller to take it from; set address." % nqn
        )
    result: Dict[str, Any] = {"changed": bool(actions), "actions": actions}
    if not actions or module.check_mode:
        result.update(facts(before))
        after_summary = _predicted(before, actions, "%s:%d" % (address, port))
    else:
        target = _connect_target(module, nqn, address or "", port) if "connect" in actions else None
        if "disconnect" in actions:
            host.disconnect(nqn, force=params["force"])
        if target is not None:
            host.connect(target)
        after = host.resolve(nqn, params["nsid"])
        if target is not None and params["device_timeout"] > 0 and not after.ready:
            try:
                host.wait_for_device(nqn, params["nsid"], params["device_timeout"])
            except DeviceNotReadyError as error:
                module.fail_json(msg=str(error), nqn=nqn, **dict(result, **facts(host.resolve(nqn, params["nsid"]))))
            after = host.resolve(nqn, params["nsid"])
        result.update(facts(after))
        after_summary = _summary(facts(after))
    result["diff"] = {"before": _summary(facts(before)), "after": after_summary}
    return result


def _connect_target(module: AnsibleModule, nqn: str, address: str, port: int) -> ConnectTarget:
    params = module.params
    hostnqn = params["host_nqn"] or read_host_file(params["host_nqn_file"])
    if not hostnqn:
        module.fail_json(
            msg="Cannot connect %s: no host_nqn given and %s is missing or empty. Create the node's identity with "
            "srvlab.rds.nqn_filter host_identity=true, or set host_nqn." % (nqn, params["host_nqn_file"])
        )
    return ConnectTarget(
        nqn=nqn,
        traddr=address,
        trsvcid=port,
        hostnqn=hostnqn,
        hostid=params["host_id"],
        ctrl_loss_tmo=params["ctrl_loss_tmo"],
        reconnect_delay=params["reconnect_delay"],
        keep_alive_tmo=params["keep_alive_tmo"],
        dhchap_secret=params["dhchap_secret"],
        dhchap_ctrl_secret=params["dhchap_ctrl_secret"],
    )


def target_address(params: Dict[str, Any], subsystem: Optional[Subsystem]) -> Tuple[Optional[str], int]:
    """Address and port from the task, else (for a reconnect) from the subsystem's first controller."""
    existing = subsystem.controllers[0].address if subsystem and subsystem.controllers else None
    address = params["address"]
    port = params["port"]
    if params["state"] == "reconnected" and existing is not None:
        address = address or existing.traddr or None
        if port is None and existing.trsvcid.isdigit():
            port = int(existing.trsvcid)
    return address, port if port is not None else DEFAULT_NVME_PORT


def _summary(connection: Dict[str, Any]) -> Dict[str, Any]:
    device = connection["device"]
    return {
        "connected": connection["connected"],
        "controllers": [
            "%s %s %s:%s" % (item["name"], item["state"], item["address"], item["port"])
            for item in connection["controllers"]
        ],
        "device": None if device is None else "%s (%d:%d)" % (device["path"], device["major"], device["minor"]),
    }


def _predicted(before: Resolution, actions: List[str], target: str) -> Dict[str, Any]:
    """The diff's after side in check mode: what the actions would leave."""
    summary = _summary(facts(before))
    if not actions:
        return summary
    if actions[-1] == "disconnect":
        return {"connected": False, "controllers": [], "device": None}
    kept = summary["controllers"] if actions == ["connect"] else []
    return {"connected": True, "controllers": [*kept, "(new) %s" % target], "device": "(resolved after connecting)"}


def main() -> None:
    module = new_module(ARGUMENT_SPEC, supports_check_mode=True, **TARGET_OPTION_RULES)
    params = module.params
    binary = params["nvme_binary"]
    if not binary or any(ord(char) < 32 or ord(char) == 127 for char in binary):
        module.fail_json(msg="nvme_binary %r is not a program name or path; give nvme or its full path." % binary)
    config = replace(host_paths(params), nvme_binary=params["nvme_binary"], command_timeout=params["command_timeout"])
    run_nvme_module(module, config, lambda host, nqn: run(module, host, nqn), runner=ModuleRunner(module))


if __name__ == "__main__":
    main()
