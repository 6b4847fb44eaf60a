# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node side: nvme-cli 2.x command lines and what their output means (NVME_HOST.md §2).

Pure functions plus :func:`run_nvme`, which runs nvme-cli through a node_commands runner with the
configured timeout. Command lines that carry a DH-CHAP secret are redacted before they reach any
message or exception: the secret is only ever in the argv handed to the runner.

Only :class:`~nvme_host.NvmeHost` runs these commands; it holds the managed-prefix guard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple, Type

from ansible_collections.srvlab.rds.plugins.module_utils.node_commands import (
    CommandNotFound,
    CommandResult,
    CommandRunner,
    CommandTimeout,
)
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_config import NvmeHostConfig
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_errors import (
    ConnectError,
    FabricsUnavailableError,
    InvalidConnectOptionsError,
    NvmeAuthenticationError,
    NvmeCliError,
    NvmeCliNotFound,
    NvmeCliTimeout,
    SubsystemNotFoundError,
    TargetRefusedError,
    TargetUnreachableError,
    describe_output,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import DEFAULT_NVME_PORT, nqn_problem, port_problem

REDACTED = "********"
_SECRET_OPTIONS = ("--dhchap-secret=", "--dhchap-ctrl-secret=")
_DISCONNECTED = re.compile(r"disconnected (\d+) controller")
_DHCHAP_SECRET = re.compile(r"DHHC-1:[0-9a-fA-F]{2}:[A-Za-z0-9+/=]+:\Z")
# (substring of nvme-cli's lower-cased output, error class): first match wins (§2.4 failure table).
_CONNECT_FAILURES: Tuple[Tuple[str, Type[ConnectError]], ...] = (
    ("connection refused", TargetRefusedError),
    ("key was rejected", NvmeAuthenticationError),
    ("required key not available", NvmeAuthenticationError),
    ("authentication", NvmeAuthenticationError),
    ("connection timed out", TargetUnreachableError),
    ("no route to host", TargetUnreachableError),
    ("network is unreachable", TargetUnreachableError),
    ("host is unreachable", TargetUnreachableError),
    ("input/output error", SubsystemNotFoundError),
    ("invalid argument", InvalidConnectOptionsError),
    ("unknown parameter", InvalidConnectOptionsError),
    ("hostnqn already in use", InvalidConnectOptionsError),
    ("invalid interface", InvalidConnectOptionsError),
)
_FABRICS_MISSING = ("failed to scan topology", "failed to open /dev/nvme-fabrics", "failed to open nvme-fabrics device")


@dataclass(frozen=True)
class ConnectTarget:
    """What ``nvme connect`` needs for one NVMe/TCP subsystem (P-6.2 defaults: ctrl_loss_tmo -1, reconnect 5 s).

    ``hostnqn``/``hostid`` default to nvme-cli's own choice (``/etc/nvme/hostnqn`` and ``hostid``).
    The secrets are DH-HMAC-CHAP keys (``DHHC-1:...``); they are kept out of ``repr``.
    """

    nqn: str
    traddr: str
    trsvcid: int = DEFAULT_NVME_PORT
    transport: str = "tcp"
    hostnqn: Optional[str] = None
    hostid: Optional[str] = None
    ctrl_loss_tmo: int = -1
    reconnect_delay: int = 5
    keep_alive_tmo: Optional[int] = None
    dhchap_secret: Optional[str] = field(default=None, repr=False)
    dhchap_ctrl_secret: Optional[str] = field(default=None, repr=False)

    @property
    def secrets(self) -> Tuple[str, ...]:
        return tuple(secret for secret in (self.dhchap_secret, self.dhchap_ctrl_secret) if secret)

    def describe(self) -> str:
        return "%s at %s:%d" % (self.nqn, self.traddr, self.trsvcid)


def check_target(target: ConnectTarget) -> None:
    """Refuses options the kernel would refuse, with a message naming the subsystem and the option."""
    problems = []
    nqn_rule = nqn_problem(target.nqn)
    if nqn_rule:
        problems.append("the NQN is not valid: %s" % nqn_rule)
    if not target.traddr:
        problems.append("the target address is empty")
    port_rule = port_problem(target.trsvcid)
    if port_rule:
        problems.append("the port %d is out of range: %s" % (target.trsvcid, port_rule))
    if target.reconnect_delay <= 0:
        problems.append("reconnect_delay must be at least 1 s")
    if target.ctrl_loss_tmo < -1:
        problems.append("ctrl_loss_tmo must be -1 (reconnect forever), 0 or a number of seconds")
    if target.keep_alive_tmo is not None and target.keep_alive_tmo <= 0:
        problems.append("keep_alive_tmo must be at least 1 s")
    for name, secret in (("dhchap_secret", target.dhchap_secret), ("dhchap_ctrl_secret", target.dhchap_ctrl_secret)):
        if secret and not _DHCHAP_SECRET.match(secret):
            problems.append("%s is not a DH-HMAC-CHAP key of the form DHHC-1:<hh>:<base64>:" % name)
    if problems:
        raise InvalidConnectOptionsError("Cannot connect %s: %s." % (target.describe(), "; ".join(problems)))


def connect_argv(binary: str, target: ConnectTarget) -> List[str]:
    """``nvme connect`` with long options in ``--name=value`` form (a ``-1`` value cannot be taken for an option)."""
    argv = [
        binary,
        "connect",
        "--transport=%s" % target.transport,
        "--traddr=%s" % target.traddr,
        "--trsvcid=%d" % target.trsvcid,
        "--nqn=%s" % target.nqn,
        "--ctrl-loss-tmo=%d" % target.ctrl_loss_tmo,
        "--reconnect-delay=%d" % target.reconnect_delay,
    ]
    if target.hostnqn:
        argv.append("--hostnqn=%s" % target.hostnqn)
    if target.hostid:
        argv.append("--hostid=%s" % target.hostid)
    if target.keep_alive_tmo is not None:
        argv.append("--keep-alive-tmo=%d" % target.keep_alive_tmo)
    if target.dhchap_secret:
        argv.append("--dhchap-secret=%s" % target.dhchap_secret)
    if target.dhchap_ctrl_secret:
        argv.append("--dhchap-ctrl-secret=%s" % target.dhchap_ctrl_secret)
    return argv


def disconnect_argv(binary: str, nqn: str) -> List[str]:
    return [binary, "disconnect", "--nqn=%s" % nqn]


def rescan_argv(binary: str, controller_node: str) -> List[str]:
    return [binary, "ns-rescan", controller_node]


def redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def redacted_command(argv: Sequence[str]) -> str:
    """The command line for messages, with the value of every secret option replaced."""
    return " ".join(_redacted_word(word) for word in argv)


def is_already_connected(result: CommandResult) -> bool:
    """nvme-cli's own sysfs pre-check or the kernel's EALREADY (§2.4): the path exists already."""
    text = (result.stderr + result.stdout).lower()
    return "already connected" in text or "operation already in progress" in text


def connect_failure(result: CommandResult, target: ConnectTarget) -> NvmeCliError:
    """The exception for a failed ``nvme connect``, with the cause and what to do (§2.4 failure table)."""
    output = redact(describe_output(result.stdout, result.stderr), target.secrets)
    command = redacted_command(result.argv)
    lowered = output.lower()
    if any(marker in lowered for marker in _FABRICS_MISSING):
        return FabricsUnavailableError(
            "Cannot connect %s: the NVMe over TCP kernel modules are not loaded (%s). Load them with "
            "'modprobe nvme-tcp' and make them load at boot." % (target.describe(), output),
            command,
            output,
        )
    kind: Type[ConnectError] = ConnectError
    for marker, error_class in _CONNECT_FAILURES:
        if marker in lowered:
            kind = error_class
            break
    return kind(_connect_message(kind, target, output), command, output)


def parse_disconnected(stdout: str) -> Optional[int]:
    """The controller count of ``NQN:<nqn> disconnected <N> controller(s)``, if printed."""
    found = _DISCONNECTED.search(stdout)
    return int(found.group(1)) if found else None


def run_nvme(
    runner: CommandRunner, config: NvmeHostConfig, argv: Sequence[str], secrets: Sequence[str] = ()
) -> CommandResult:
    """Runs nvme-cli with the configured timeout; errors carry the redacted command line only."""
    try:
        result = runner.run(argv, timeout=config.command_timeout)
    except CommandTimeout as error:
        command = redacted_command(argv)
        raise NvmeCliTimeout(
            "%s did not finish within %g s and was killed; the target may be unreachable or the controller "
            "stuck (see dmesg)." % (command, config.command_timeout),
            command,
        ) from error
    except CommandNotFound as error:
        raise NvmeCliNotFound(
            "%s is not installed or not executable; install nvme-cli or set the nvme binary path." % argv[0],
            redacted_command(argv),
        ) from error
    return CommandResult(
        argv=list(argv),
        returncode=result.returncode,
        stdout=redact(result.stdout, secrets),
        stderr=redact(result.stderr, secrets),
    )


def _redacted_word(word: str) -> str:
    for option in _SECRET_OPTIONS:
        if word.startswith(option):
            return option + REDACTED
    return word


def _connect_message(kind: Type[ConnectError], target: ConnectTarget, output: str) -> str:
    where = "%s:%d" % (target.traddr, target.trsvcid)
    if kind is TargetRefusedError:
        return (
            "Cannot connect %s: %s refused the TCP connection (%s). Nothing listens for NVMe/TCP on that port; "
            "check the port and that the disk is exported." % (target.nqn, where, output)
        )
    if kind is TargetUnreachableError:
        return "Cannot connect %s: %s is unreachable (%s). Check the address, routing and firewall." % (
            target.nqn,
            where,
            output,
        )
    if kind is NvmeAuthenticationError:
        return (
            "Cannot connect %s at %s: DH-HMAC-CHAP authentication failed (%s). Check that the secret matches the "
            "export's nvme-password and that the kernel supports in-band authentication." % (target.nqn, where, output)
        )
    if kind is SubsystemNotFoundError:
        maybe_auth = ", or the DH-CHAP secret was rejected" if target.secrets else ""
        return (
            "Cannot connect %s: the target at %s refused the NVMe connect (%s): the subsystem is not exported "
            "there or host NQN %s is not allowed%s. Check the disk's export and its allowed host NQNs."
            % (target.nqn, where, output, target.hostnqn or "(nvme-cli's default)", maybe_auth)
        )
    if kind is InvalidConnectOptionsError:
        return (
            "Cannot connect %s at %s: the kernel refused the options (%s). A host NQN already used with another "
            "host ID (or the reverse) is refused while connected; see dmesg." % (target.nqn, where, output)
        )
    return "Cannot connect %s at %s: %s. See dmesg for the kernel's reason." % (target.nqn, where, output)
