# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node side: the one exception hierarchy of the NVMe host library.

The CSI node service maps these to gRPC codes and the ``nvme_connection`` module to ``fail_json``
messages, each in one place. ``transient`` says whether the same call may succeed later without
an operator changing anything (a target that is briefly unreachable, a device still appearing).

Messages never contain a DH-CHAP secret: errors are built from redacted command lines.
"""

from __future__ import annotations

from ansible_collections.srvlab.rds.plugins.module_utils.library_errors import ErrorFamily, LibraryError


class NvmeError(LibraryError):
    """Base of every error raised by the NVMe host library."""


class InvalidPrefixError(NvmeError):
    """A managed NQN prefix that is not a valid NQN prefix (P-8.6)."""

    family = ErrorFamily.INVALID


class UnmanagedNqnError(NvmeError):
    """A disconnect of an NQN outside the managed prefix was refused (P-8.6, P-11.2)."""

    family = ErrorFamily.PRECONDITION

    def __init__(self, nqn: str, prefix: str) -> None:
        super().__init__(
            "Refusing to disconnect %s: it is not under the managed NQN prefix %s, so it may be a system volume "
            "(the root or /var of a diskless node). Disconnect it by hand, or with srvlab.rds.nvme_connection "
            "force=true if you are sure." % (nqn, prefix)
        )
        self.nqn = nqn
        self.prefix = prefix


class NotConnectedError(NvmeError):
    """An operation that needs a connected subsystem found none."""

    family = ErrorFamily.PRECONDITION

    def __init__(self, nqn: str, action: str) -> None:
        super().__init__(
            "Cannot %s %s: the node has no controller for this subsystem; connect it first." % (action, nqn)
        )
        self.nqn = nqn


class DeviceNotReadyError(NvmeError):
    """The namespace's block device did not appear before the deadline; ``seen`` says what sysfs showed."""

    family = ErrorFamily.UNAVAILABLE
    transient = True

    def __init__(self, nqn: str, nsid: int, timeout: float, seen: str) -> None:
        super().__init__(
            "The block device of %s namespace %d did not appear within %g s: %s." % (nqn, nsid, timeout, seen)
        )
        self.nqn = nqn
        self.nsid = nsid
        self.seen = seen


class NvmeCliError(NvmeError):
    """nvme-cli failed; ``command`` is the redacted command line and ``output`` what it printed."""

    def __init__(self, message: str, command: str = "", output: str = "") -> None:
        super().__init__(message)
        self.command = command
        self.output = output


class NvmeCliNotFound(NvmeCliError):
    """The nvme binary is missing."""

    family = ErrorFamily.PRECONDITION


class NvmeCliTimeout(NvmeCliError):
    """nvme-cli did not finish before its deadline and was killed."""

    family = ErrorFamily.UNAVAILABLE
    transient = True


class FabricsUnavailableError(NvmeCliError):
    """The nvme-core/nvme-fabrics/nvme-tcp kernel modules are not loaded."""

    family = ErrorFamily.PRECONDITION


class ConnectError(NvmeCliError):
    """``nvme connect`` failed."""


class TargetUnreachableError(ConnectError):
    """No TCP connection to the target address: timeout, no route, network down."""

    family = ErrorFamily.UNAVAILABLE
    transient = True


class TargetRefusedError(ConnectError):
    """The address answered but refused the TCP connection: no NVMe/TCP listener on that port."""

    family = ErrorFamily.UNAVAILABLE
    transient = True


class SubsystemNotFoundError(ConnectError):
    """The target refused the NVMe Connect: no such subsystem, or this host NQN is not allowed."""

    family = ErrorFamily.NOT_FOUND


class NvmeAuthenticationError(ConnectError):
    """DH-HMAC-CHAP authentication failed (wrong, missing or malformed secret)."""

    family = ErrorFamily.PRECONDITION


class InvalidConnectOptionsError(ConnectError):
    """The kernel refused the connect options (bad host ID, host NQN/host ID conflict, unsupported option)."""

    family = ErrorFamily.INVALID


def describe_output(stdout: str, stderr: str) -> str:
    """nvme-cli's messages on one line, for error texts."""
    lines = [line.strip() for line in (stderr + "\n" + stdout).splitlines() if line.strip()]
    return "; ".join(lines) if lines else "no output"
