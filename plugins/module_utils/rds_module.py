# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glue shared by the RDS modules: connection options, the client they build, and error messages.

The options are documented in the ``srvlab.rds.connection`` doc fragment. Library exceptions are
turned into ``fail_json`` messages here and nowhere else.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Dict, Mapping, Optional

from ansible.module_utils.basic import AnsibleModule, env_fallback  # type: ignore[import-untyped]
from ansible_collections.srvlab.rds.plugins.module_utils.library_errors import LibraryError
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import ManagedPolicy, check_policy
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import (
    AuthenticationError,
    HostKeyError,
    RdsTimeoutError,
    UnreachableError,
    UnsupportedVersionError,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import DEFAULT_NQN_PREFIX, VOLUME_SLOT_PREFIX
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshSettings, SshTransport

CONNECTION_ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = {
    "host": {"type": "str", "required": True, "fallback": (env_fallback, ["RDS_HOST"])},
    "port": {"type": "int", "default": 22, "fallback": (env_fallback, ["RDS_PORT"])},
    "username": {"type": "str", "default": "admin", "fallback": (env_fallback, ["RDS_USERNAME"])},
    "private_key_file": {"type": "path", "fallback": (env_fallback, ["RDS_PRIVATE_KEY_FILE"])},
    "password": {"type": "str", "no_log": True, "fallback": (env_fallback, ["RDS_PASSWORD"])},
    "host_key": {"type": "str", "no_log": False, "fallback": (env_fallback, ["RDS_HOST_KEY"])},
    "known_hosts_file": {"type": "path"},
    "host_key_checking": {"type": "bool", "default": True},
    "timeout": {"type": "int", "default": 30},
}

MANAGED_ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = {
    "managed_slot_prefix": {"type": "str", "default": VOLUME_SLOT_PREFIX},
    "managed_nqn_prefix": {"type": "str", "default": DEFAULT_NQN_PREFIX},
}


def argument_spec(*specs: Mapping[str, Dict[str, Any]], managed: bool = False) -> Dict[str, Dict[str, Any]]:
    """The connection options (and the managed-prefix options when asked) plus the module's own."""
    merged: Dict[str, Dict[str, Any]] = dict(CONNECTION_ARGUMENT_SPEC)
    if managed:
        merged.update(MANAGED_ARGUMENT_SPEC)
    for spec in specs:
        clash = set(spec) & set(merged)
        if clash:
            raise ValueError("Module options %s clash with the shared RDS options." % ", ".join(sorted(clash)))
        merged.update(spec)
    return merged


def ssh_settings(params: Mapping[str, Any]) -> SshSettings:
    timeout = float(params["timeout"])
    return SshSettings(
        host=params["host"],
        port=params["port"],
        username=params["username"],
        private_key_file=params.get("private_key_file"),
        password=params.get("password"),
        host_key=params.get("host_key"),
        known_hosts_file=params.get("known_hosts_file"),
        verify_host_key=params["host_key_checking"],
        connect_timeout=timeout,
        command_timeout=timeout,
    )


def managed_policy(params: Mapping[str, Any]) -> ManagedPolicy:
    """The task's managed prefixes (and base paths, for the modules that have the option); an empty prefix is
    refused because it would claim every disk."""
    policy = ManagedPolicy(slot_prefix=params["managed_slot_prefix"], nqn_prefix=params["managed_nqn_prefix"])
    base_paths = params.get("managed_base_paths")
    if base_paths is not None:
        policy = replace(policy, base_paths=tuple(path.rstrip("/") for path in base_paths))
    check_policy(policy)
    return policy


def error_message(error: LibraryError, host: str) -> str:
    """One sentence (or two) saying what failed and what the operator can do about it."""
    cause = getattr(error, "cause", None)  # ApplyError: its message names the disk, the cause picks the fix
    return _hinted(str(error), cause if isinstance(cause, LibraryError) else error, host)


def _hinted(text: str, error: LibraryError, host: str) -> str:
    text = text.rstrip()
    if not text.endswith((".", "?", "!")):
        text += "."
    if isinstance(error, HostKeyError):
        return "%s Check host_key or known_hosts_file against the RDS at %s." % (text, host)
    if isinstance(error, AuthenticationError):
        return "%s Check username, private_key_file and password for the RDS at %s." % (text, host)
    if isinstance(error, (UnreachableError, RdsTimeoutError)):
        return "%s Check host, port and timeout, and that the RDS at %s is reachable." % (text, host)
    if isinstance(error, UnsupportedVersionError):
        return "%s (RDS at %s)" % (text, host)
    return text


def run_rds_module(module: AnsibleModule, body: Callable[[RdsClient], Dict[str, Any]]) -> None:
    """Connect, run ``body`` and exit with its result; every library error becomes ``fail_json``."""
    params = module.params
    transport: Optional[SshTransport] = None
    try:
        settings = ssh_settings(params)
        if not settings.verify_host_key:
            module.warn(
                "Host key checking is off for the RDS at %s: anyone on the network path can impersonate it."
                % settings.host
            )
        transport = SshTransport(settings)
        result = body(RdsClient(transport))
    except LibraryError as error:
        module.fail_json(msg=error_message(error, params["host"]), error_type=type(error).__name__)
    finally:
        if transport is not None:
            transport.close()
    module.exit_json(**result)
