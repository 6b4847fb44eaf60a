# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glue shared by the RDS modules: connection options, the client they build, and error messages.

The options are documented in the ``srvlab.rds.connection`` doc fragment. Library exceptions are
turned into ``fail_json`` messages here and nowhere else.
"""

from __future__ import annotations

import getpass
from dataclasses import replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ansible.module_utils.basic import AnsibleModule, env_fallback  # type: ignore[import-untyped]
from ansible_collections.srvlab.rds.plugins.module_utils.library_errors import LibraryError
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import ManagedPolicy, check_policy
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import (
    AuthenticationError,
    HostKeyError,
    InvalidValueError,
    RdsTimeoutError,
    UnreachableError,
    UnsupportedVersionError,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import DEFAULT_NQN_PREFIX, VOLUME_SLOT_PREFIX
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import (
    JumpAuthenticationError,
    JumpHost,
    JumpHostKeyError,
    JumpKeyPassphraseError,
    JumpUnreachableError,
    KeyPassphraseError,
    SshSettings,
    SshTransport,
)

CONNECTION_ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = {
    "host": {"type": "str", "required": True, "fallback": (env_fallback, ["RDS_HOST"])},
    "port": {"type": "int", "default": 22, "fallback": (env_fallback, ["RDS_PORT"])},
    "username": {"type": "str", "default": "admin", "fallback": (env_fallback, ["RDS_USERNAME"])},
    "private_key_file": {"type": "path", "fallback": (env_fallback, ["RDS_PRIVATE_KEY_FILE"])},
    "private_key_passphrase": {
        "type": "str",
        "no_log": True,
        "fallback": (env_fallback, ["RDS_PRIVATE_KEY_PASSPHRASE"]),
    },
    "use_agent": {"type": "bool", "default": True, "fallback": (env_fallback, ["RDS_USE_AGENT"])},
    "password": {"type": "str", "no_log": True, "fallback": (env_fallback, ["RDS_PASSWORD"])},
    "host_key": {"type": "str", "no_log": False, "fallback": (env_fallback, ["RDS_HOST_KEY"])},
    "known_hosts_file": {"type": "path"},
    "host_key_checking": {"type": "bool", "default": True},
    "timeout": {"type": "int", "default": 30},
    "jump_host": {"type": "str", "fallback": (env_fallback, ["RDS_JUMP_HOST"])},
    "jump_port": {"type": "int", "default": 22, "fallback": (env_fallback, ["RDS_JUMP_PORT"])},
    "jump_username": {"type": "str", "fallback": (env_fallback, ["RDS_JUMP_USERNAME"])},
    "jump_private_key_file": {"type": "path", "fallback": (env_fallback, ["RDS_JUMP_PRIVATE_KEY_FILE"])},
    "jump_private_key_passphrase": {
        "type": "str",
        "no_log": True,
        "fallback": (env_fallback, ["RDS_JUMP_PRIVATE_KEY_PASSPHRASE"]),
    },
    "jump_host_key": {"type": "str", "no_log": False, "fallback": (env_fallback, ["RDS_JUMP_HOST_KEY"])},
    "jump_known_hosts_file": {"type": "path", "fallback": (env_fallback, ["RDS_JUMP_KNOWN_HOSTS_FILE"])},
    "jump_host_key_checking": {"type": "bool", "default": True},
}
TIMEOUT_RANGE = (1, 3600)
# Options that only mean something with a jump host; setting one without jump_host is a mistake.
_JUMP_ONLY = (
    "jump_username",
    "jump_private_key_file",
    "jump_private_key_passphrase",
    "jump_host_key",
    "jump_known_hosts_file",
)

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
    """The transport's settings; raises InvalidValueError naming every connection option that is wrong."""
    problems = connection_problems(params)
    if problems:
        raise InvalidValueError(" ".join(problems))
    timeout = float(params["timeout"])
    return SshSettings(
        host=params["host"],
        port=params["port"],
        username=params["username"],
        private_key_file=params.get("private_key_file") or None,
        private_key_passphrase=params.get("private_key_passphrase") or None,
        password=params.get("password") or None,
        host_key=params.get("host_key") or None,
        known_hosts_file=params.get("known_hosts_file") or None,
        verify_host_key=params["host_key_checking"],
        connect_timeout=timeout,
        command_timeout=timeout,
        use_agent=bool(params.get("use_agent")),
        jump=_jump_host(params),
    )


def _jump_host(params: Mapping[str, Any]) -> Optional[JumpHost]:
    if not params.get("jump_host"):
        return None
    return JumpHost(
        host=params["jump_host"],
        port=params.get("jump_port") or 22,
        username=params.get("jump_username") or _local_user(),
        private_key_file=params.get("jump_private_key_file") or None,
        private_key_passphrase=params.get("jump_private_key_passphrase") or None,
        host_key=params.get("jump_host_key") or None,
        known_hosts_file=params.get("jump_known_hosts_file") or None,
        verify_host_key=params.get("jump_host_key_checking", True),
    )


def _local_user() -> str:
    """The jump host's user when jump_username is not given: the controller's user, as with OpenSSH."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        raise InvalidValueError(
            "jump_username is not set and the user running the module has no name; set jump_username."
        ) from None


def connection_problems(params: Mapping[str, Any]) -> List[str]:
    """A sentence for each connection option whose value cannot work: the option, the value, the fix."""
    problems = [
        _host_problem("host", params.get("host"), "the RDS's address or DNS name (or set RDS_HOST)"),
        _port_problem("port", params.get("port")),
        _text_problem("username", params.get("username"), "the RouterOS user to log in as"),
        _timeout_problem(params.get("timeout")),
    ]
    if params.get("jump_host") is not None and params.get("jump_host") != "":
        problems.append(_host_problem("jump_host", params["jump_host"], "the jump host's address or DNS name"))
        problems.append(_port_problem("jump_port", params.get("jump_port")))
        if params.get("jump_username") is not None:
            problems.append(_text_problem("jump_username", params["jump_username"], "the user on the jump host"))
    else:
        stray = [name for name in _JUMP_ONLY if params.get(name)]
        if stray:
            problems.append(
                "%s %s only with a jump host, but jump_host is not set; set jump_host or remove %s."
                % (", ".join(stray), "apply" if len(stray) > 1 else "applies", "them" if len(stray) > 1 else "it")
            )
    return [problem for problem in problems if problem]


def _host_problem(name: str, value: Any, what: str) -> str:
    problem = _text_problem(name, value, what)
    if problem:
        return problem
    try:
        value.encode("idna")
    except UnicodeError:
        return "%s=%r is not a valid host name or address; give %s." % (name, value, what)
    return ""


def _text_problem(name: str, value: Any, what: str) -> str:
    if value is None or not str(value).strip():
        return "%s is empty; give %s." % (name, what)
    if any(character.isspace() or not character.isprintable() for character in str(value)):
        return "%s=%r contains spaces or control characters; give %s." % (name, value, what)
    return ""


def _port_problem(name: str, value: Any) -> str:
    if value is None or not 1 <= value <= 65535:
        return "%s=%s is not a TCP port; use 1 to 65535 (SSH listens on 22 unless it was moved)." % (name, value)
    return ""


def _timeout_problem(value: Any) -> str:
    low, high = TIMEOUT_RANGE
    if value is None or not low <= value <= high:
        return (
            "timeout=%s is out of range; give the seconds to wait for the connection and for each command, "
            "%d to %d (the default is 30)." % (value, low, high)
        )
    return ""


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


# The fix each kind of connection failure calls for; the first class that matches wins, so a
# subclass (a failure at the jump host, an encrypted key) stands before its base.
_FIXES: Tuple[Tuple[type, str], ...] = (
    (
        JumpKeyPassphraseError,
        "Set jump_private_key_passphrase to the passphrase of jump_private_key_file (without "
        "jump_private_key_file, private_key_passphrase is the passphrase of private_key_file).",
    ),
    (JumpHostKeyError, "Check jump_host_key or jump_known_hosts_file (known_hosts_file when neither is set)."),
    (
        JumpAuthenticationError,
        "Check jump_username, jump_private_key_file (private_key_file when unset) and use_agent.",
    ),
    (JumpUnreachableError, "Check jump_host, jump_port and timeout, and that the jump host is reachable."),
    (
        KeyPassphraseError,
        "Set private_key_passphrase (or RDS_PRIVATE_KEY_PASSPHRASE) to the passphrase of private_key_file.",
    ),
    (HostKeyError, "Check host_key or known_hosts_file against the RDS at %(host)s."),
    (AuthenticationError, "Check username, private_key_file, use_agent and password for the RDS at %(host)s."),
    (UnreachableError, "Check host, port and timeout, and that the RDS at %(host)s is reachable."),
    (RdsTimeoutError, "Check host, port and timeout, and that the RDS at %(host)s is reachable."),
    (UnsupportedVersionError, "(RDS at %(host)s)"),
)


def _hinted(text: str, error: LibraryError, host: str) -> str:
    text = text.rstrip()
    if not text.endswith((".", "?", "!")):
        text += "."
    for kind, fix in _FIXES:
        if isinstance(error, kind):
            return "%s %s" % (text, fix % {"host": host})
    return text


def insecure_warnings(settings: SshSettings) -> List[str]:
    """A warning for each hop whose host key is not verified."""
    warnings = []
    if not settings.verify_host_key:
        warnings.append(
            "Host key checking is off for the RDS at %s: anyone on the network path can impersonate it." % settings.host
        )
    if settings.jump is not None and not settings.jump.verify_host_key:
        warnings.append(
            "Host key checking is off for the jump host %s: anyone on the path to it can impersonate it and "
            "read the connection to the RDS." % settings.jump.host
        )
    return warnings


def run_rds_module(module: AnsibleModule, body: Callable[[RdsClient], Dict[str, Any]]) -> None:
    """Connect, run ``body`` and exit with its result; every library error becomes ``fail_json``."""
    params = module.params
    transport: Optional[SshTransport] = None
    try:
        settings = ssh_settings(params)
        for warning in insecure_warnings(settings):
            module.warn(warning)
        transport = SshTransport(settings)
        client = RdsClient(transport)
        client.warning_sink = module.warn
        result = body(client)
    except LibraryError as error:
        module.fail_json(msg=error_message(error, params["host"]), error_type=type(error).__name__)
    finally:
        if transport is not None:
            transport.close()
    module.exit_json(**result)
