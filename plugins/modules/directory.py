#!/usr/bin/python
# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: E402  (Ansible wants the imports below DOCUMENTATION, EXAMPLES and RETURN)
from __future__ import annotations

DOCUMENTATION = r"""
module: directory
short_description: Directories below the storage pool of a MikroTik RDS
version_added: 0.1.0
description:
  - Creates each directory of O(paths) and its missing parents
    below the pool (C(/file add type=directory)), the way M(srvlab.rds.disk) does before creating a disk.
  - Never removes anything.
author:
  - srvlab developers (@srvlab)
extends_documentation_fragment:
  - srvlab.rds.connection
attributes:
  check_mode:
    support: full
    description: Nothing is created; RV(created) lists what would be.
  diff_mode:
    support: none
    description: The paths created are returned in RV(created); there is no before and after to show.
options:
  paths:
    description: Absolute RouterOS paths below the pool, such as C(/storage-pool/metal-csi).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: The CSI driver's base path
  srvlab.rds.directory:
    host: rds.example.net
    host_key: "{{ rds_host_key }}"
    private_key_file: ~/.ssh/rds_admin_ed25519
    paths:
      - /storage-pool/metal-csi
  delegate_to: localhost
"""

RETURN = r"""
created:
  description: The paths that did not exist (created, or to be created in check mode).
  returned: success
  type: list
  elements: str
  sample: [/storage-pool/metal-csi]
"""

from typing import Any, Dict

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_module import argument_spec, run_rds_module

ARGUMENT_SPEC = argument_spec({"paths": {"type": "list", "elements": "str", "required": True}})


def run(module: AnsibleModule, client: RdsClient) -> Dict[str, Any]:
    missing = [path for path in module.params["paths"] if client.get_file(path) is None]
    if not module.check_mode:
        for path in missing:
            client.ensure_directory(path)
    return {"changed": bool(missing), "created": missing}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    run_rds_module(module, lambda client: run(module, client))


if __name__ == "__main__":
    main()
