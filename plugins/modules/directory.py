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
  - Every path must lie in a storage pool of the RDS (a disk mounted at its first component); anything else, such as
    C(/etc/foo), is refused before anything is created.
  - A path, or one of its parents, that exists as a file (for example a disk's C(.img)) fails the task.
  - Plans from one read of the RDS; never removes anything.
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
    description: Absolute RouterOS paths inside a storage pool, such as C(/storage-pool/metal-csi).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
# The connection options are set once for the play through the action group.
- name: Prepare the RDS
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/srvlab.rds.rds:
      host: rds.example.net
      host_key: "{{ rds_host_key }}"
      private_key_file: ~/.ssh/rds_admin_ed25519
  tasks:
    - name: The CSI driver's base path
      srvlab.rds.directory:
        paths:
          - /storage-pool/metal-csi
"""

RETURN = r"""
created:
  description: The directories that did not exist, parents first (created, or to be created in check mode).
  returned: success
  type: list
  elements: str
  sample: [/storage-pool/metal-csi]
"""

from typing import Any, Dict, List

from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]
from ansible_collections.srvlab.rds.plugins.module_utils.module_input import new_module
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient, Survey, pool_of
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import check_path
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk_plan import directory_levels
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import AlreadyExistsError, InvalidValueError
from ansible_collections.srvlab.rds.plugins.module_utils.rds_module import argument_spec, run_rds_module

ARGUMENT_SPEC = argument_spec({"paths": {"type": "list", "elements": "str", "required": True}})


def levels_of(path: str) -> List[str]:
    """The directories from just below the pool down to ``path`` itself."""
    check_path(path)
    return directory_levels(path.rstrip("/") + "/entry")


def missing_levels(found: Survey, paths: List[str]) -> List[str]:
    """The directories to create, parents first; refuses paths outside every pool or through a file."""
    missing: List[str] = []
    for path in paths:
        if pool_of(path) not in found.capacities:
            raise InvalidValueError(
                "Directory %s is not in a storage pool of the RDS (no pool is mounted at /%s); give a path inside a "
                "pool, such as /storage-pool/metal-csi." % (path, pool_of(path))
            )
        for level in levels_of(path):
            entry = found.files.get(level)
            if entry is not None and entry.type != "directory":
                raise AlreadyExistsError(
                    "Cannot make directory %s: %s exists and is a file (%s), not a directory."
                    % (path, level, entry.type)
                )
            if entry is None and level not in missing:
                missing.append(level)
    return missing


def run(module: AnsibleModule, client: RdsClient) -> Dict[str, Any]:
    paths = [path.rstrip("/") or path for path in module.params["paths"]]
    levels = [level for path in paths for level in levels_of(path)]
    found = client.survey(files=list(dict.fromkeys(levels)), pools=list(dict.fromkeys(map(pool_of, paths))))
    missing = missing_levels(found, paths)
    if not module.check_mode:
        for level in missing:
            client.create_directory(level)
    return {"changed": bool(missing), "created": missing}


def main() -> None:
    module = new_module(ARGUMENT_SPEC, supports_check_mode=True)
    run_rds_module(module, lambda client: run(module, client))


if __name__ == "__main__":
    main()
