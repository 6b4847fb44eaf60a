#!/usr/bin/python
# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: E402  (Ansible wants the imports below DOCUMENTATION, EXAMPLES and RETURN)
from __future__ import annotations

DOCUMENTATION = r"""
module: host_key_info
short_description: Read the SSH host key a MikroTik RDS offers, to pin it
version_added: 0.1.0
description:
  - Opens an SSH key exchange with the RDS (no login) with the same
    SSH library and algorithm preferences as the collection's transport, and returns the host key it offers as an
    OpenSSH public key line with its SHA256 fingerprint (as C(ssh-keygen -l) prints it).
  - What the network path returns is only trustworthy once the operator has compared the fingerprint with the one the
    appliance shows on a trusted console. With O(expected), a different key fails the task.
author:
  - srvlab developers (@srvlab)
requirements:
  - paramiko
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: Reads only.
options:
  host:
    description: Address of the RDS.
    type: str
    required: true
  port:
    description: SSH port of the RDS, 1 to 65535.
    type: int
    default: 22
  timeout:
    description: Seconds for the TCP connection and the key exchange, 1 to 3600.
    type: int
    default: 30
  expected:
    description:
      - The pinned host key line (C(ssh-ed25519 AAAA...)). When given, the task fails unless the RDS offers this key.
    type: str
"""

EXAMPLES = r"""
- name: Show the key to compare with the appliance's console
  srvlab.rds.host_key_info:
    host: rds.example.net
  delegate_to: localhost
  register: rds_key
"""

RETURN = r"""
host_key:
  description: The offered key as an OpenSSH public key line, without comment.
  returned: success
  type: str
  sample: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ5Qz0e2k9Xb0W8Q1yq0bQ6n6Qj3pV2Yp7u9q0Wl8m2D
fingerprint:
  description: SHA256 fingerprint of the offered key, C(SHA256:) and unpadded base64.
  returned: success
  type: str
  sample: SHA256:0QJx3cYlqKq3p0wqk7dQm5Wc1b2JmS6sX3Wq8Gd9yBc
matches_expected:
  description: Whether the offered key is O(expected); null without O(expected).
  returned: success
  type: bool
"""

import socket
import traceback
from typing import Any, Dict, Optional

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # type: ignore[import-untyped]
from ansible_collections.srvlab.rds.plugins.module_utils.module_input import new_module
from ansible_collections.srvlab.rds.plugins.module_utils.rds_module import connection_problems
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_public_key import fingerprint

PARAMIKO_IMPORT_ERROR: Optional[str] = None
try:
    import paramiko
except ImportError:
    PARAMIKO_IMPORT_ERROR = traceback.format_exc()


def offered_key(host: str, port: int, timeout: float) -> Any:
    sock = socket.create_connection((host, port), timeout=timeout)
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = timeout
        transport.start_client(timeout=timeout)
        return transport.get_remote_server_key()
    finally:
        transport.close()
        sock.close()


def endpoint_problems(params: Dict[str, Any]) -> str:
    """Why host, port or timeout cannot work, in the RDS modules' words, or an empty string.

    The key exchange logs in as nobody, so the shared check gets a user name that always passes.
    """
    return " ".join(connection_problems(dict(params, username="host-key-info")))


def run(module: AnsibleModule) -> Dict[str, Any]:
    params = module.params
    problems = endpoint_problems(params)
    if problems:
        module.fail_json(msg=problems)
    try:
        key = offered_key(params["host"], params["port"], float(params["timeout"]))
    except (OSError, paramiko.SSHException, EOFError) as error:
        module.fail_json(
            msg="Cannot read the SSH host key of the RDS at %s:%d: %s. Check host, port and that the RDS is reachable."
            % (params["host"], params["port"], error)
        )
    line = "%s %s" % (key.get_name(), key.get_base64())
    result: Dict[str, Any] = {
        "changed": False,
        "host_key": line,
        "fingerprint": fingerprint(key.asbytes()),
        "matches_expected": None,
    }
    expected = params["expected"]
    if expected:
        words = expected.split()
        result["matches_expected"] = words[:2] == line.split()
        if not result["matches_expected"]:
            module.fail_json(
                msg="The RDS at %s:%d offers the host key %s (%s), not the pinned one. If the appliance was "
                "reinstalled or its key regenerated, compare this fingerprint with its console "
                "and pin the new key; otherwise the connection may be intercepted."
                % (params["host"], params["port"], result["fingerprint"], line),
                **result,
            )
    return result


def main() -> None:
    module = new_module(
        {
            "host": {"type": "str", "required": True},
            "port": {"type": "int", "default": 22},
            "timeout": {"type": "int", "default": 30},
            "expected": {"type": "str"},
        },
        supports_check_mode=True,
    )
    if PARAMIKO_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("paramiko"), exception=PARAMIKO_IMPORT_ERROR)
    module.exit_json(**run(module))


if __name__ == "__main__":
    main()
