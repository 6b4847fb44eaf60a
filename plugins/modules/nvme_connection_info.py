#!/usr/bin/python
# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: E402  (Ansible wants the imports below DOCUMENTATION, EXAMPLES and RETURN)
from __future__ import annotations

DOCUMENTATION = r"""
module: nvme_connection_info
short_description: Report a node's NVMe/TCP connection to one subsystem
version_added: 0.1.0
description:
  - Runs on a Kubernetes node. Reports how the node is connected to one NVMe/TCP subsystem of a MikroTik RDS
    (P-11.5), that is its controllers, their states and the namespace's block device. It never connects, disconnects or
    changes anything; M(srvlab.rds.nvme_connection) does.
  - The subsystem is named by O(nqn) or by the CSI O(volume_id), which maps to the NQN
    C(nqn.2000-02.com.mikrotik:<volume id>) as in the driver.
  - Everything comes from sysfs, read afresh, with the library the C(rds.csi.srvlab.io) node plugin uses. The block
    device is found from the NQN and NSID whatever the kernel named it (native multipath heads, per-controller
    disks, renumbered controllers). No nvme-cli command is run.
author:
  - srvlab developers (@srvlab)
extends_documentation_fragment:
  - srvlab.rds.nvme_target
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode runs it as usual.
  diff_mode:
    support: none
    description: The module only reads.
seealso:
  - module: srvlab.rds.nvme_connection
  - module: srvlab.rds.nqn_filter
"""

EXAMPLES = r"""
- name: Show how a volume is attached to this node
  srvlab.rds.nvme_connection_info:
    volume_id: pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11
  register: attachment
  become: true

- name: Fail when the volume's block device is not usable
  ansible.builtin.assert:
    that: attachment.device_problem is none
    fail_msg: "{{ attachment.nqn }}: {{ attachment.device_problem }}"

- name: Read a subsystem that is not a CSI volume by its NQN
  srvlab.rds.nvme_connection_info:
    nqn: nqn.2000-02.com.mikrotik:diskless-node-1
  register: system_volume
  become: true
"""

RETURN = r"""
nqn:
  description: The subsystem NQN.
  returned: always
  type: str
  sample: nqn.2000-02.com.mikrotik:pvc-0d6f1c52-7a1e-4b8e-9c55-2f0b7f1f0a11
managed:
  description: Whether the NQN is under the managed prefix, that is whether M(srvlab.rds.nvme_connection) may
    disconnect it without its C(force) option.
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
  description: Why the block device is not usable (what sysfs and the device directory show), or null when it is.
  returned: always
  type: str
  sample: controllers nvme3 connecting (tcp 10.0.0.5:4420); no namespace disk yet
"""

from typing import Any, Dict

from ansible_collections.srvlab.rds.plugins.module_utils.module_input import new_module
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_host import NvmeHost
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_module import (
    TARGET_ARGUMENT_SPEC,
    TARGET_OPTION_RULES,
    facts,
    host_paths,
    run_nvme_module,
)


def inspect(host: NvmeHost, nqn: str, nsid: int) -> Dict[str, Any]:
    return dict(facts(host.resolve(nqn, nsid)), changed=False)


def main() -> None:
    module = new_module(TARGET_ARGUMENT_SPEC, supports_check_mode=True, **TARGET_OPTION_RULES)
    nsid = module.params["nsid"]
    run_nvme_module(module, host_paths(module.params), lambda host, nqn: inspect(host, nqn, nsid))


if __name__ == "__main__":
    main()
