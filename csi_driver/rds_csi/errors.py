"""Exception type to gRPC status code, in one place (A-4, P-5.8).

Service code raises ``CsiError`` for CSI-level decisions and lets the library's ``RdsError``
hierarchy propagate; ``rpc`` turns either into a status with a nil response and logs the call.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from ansible_collections.srvlab.rds.plugins.module_utils import (
    node_commands,
    node_filesystems,
    node_mounts,
    nvme_errors,
    rds_errors,
)

LOG = logging.getLogger("rds_csi.rpc")
R = TypeVar("R")


class CsiError(Exception):
    """A CSI-level refusal with the status code the CO expects."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def invalid(message: str) -> CsiError:
    return CsiError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> CsiError:
    return CsiError(grpc.StatusCode.NOT_FOUND, message)


_RDS_CODES: tuple[tuple[type[rds_errors.RdsError], grpc.StatusCode, str], ...] = (
    (rds_errors.NotFoundError, grpc.StatusCode.NOT_FOUND, ""),
    (rds_errors.AlreadyExistsError, grpc.StatusCode.ALREADY_EXISTS, ""),
    (rds_errors.NoSpaceError, grpc.StatusCode.RESOURCE_EXHAUSTED, ""),
    (rds_errors.InvalidValueError, grpc.StatusCode.INVALID_ARGUMENT, ""),
    (rds_errors.InUseError, grpc.StatusCode.FAILED_PRECONDITION, ""),
    (
        rds_errors.AuthenticationError,
        grpc.StatusCode.UNAVAILABLE,
        " Check the driver's RDS user, key or password.",
    ),
    (
        rds_errors.HostKeyError,
        grpc.StatusCode.UNAVAILABLE,
        " Check the pinned host key or known_hosts file given to the driver.",
    ),
    (
        rds_errors.RdsConnectionError,
        grpc.StatusCode.UNAVAILABLE,
        " The RDS is unreachable or dropped the connection; the CO retries, check the appliance and network.",
    ),
    (rds_errors.UnsupportedVersionError, grpc.StatusCode.FAILED_PRECONDITION, ""),
)


# Node side (P-6): the first matching row wins, so subclasses come before their bases. Errors a
# retry can cure (a device still appearing, an unreachable target, a hung command) are Unavailable
# or DeadlineExceeded; what needs an operator is FailedPrecondition.
_NODE_CODES: tuple[tuple[type[Exception], grpc.StatusCode], ...] = (
    (node_mounts.MountStormError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (node_mounts.MountTableTimeout, grpc.StatusCode.UNAVAILABLE),
    (node_mounts.MountError, grpc.StatusCode.INTERNAL),
    (node_filesystems.ProbeError, grpc.StatusCode.UNAVAILABLE),
    (node_filesystems.CorruptFilesystemError, grpc.StatusCode.FAILED_PRECONDITION),
    (node_filesystems.FilesystemError, grpc.StatusCode.INTERNAL),
    (node_commands.CommandTimeout, grpc.StatusCode.DEADLINE_EXCEEDED),
    (node_commands.CommandNotFound, grpc.StatusCode.FAILED_PRECONDITION),
    (nvme_errors.UnmanagedNqnError, grpc.StatusCode.FAILED_PRECONDITION),
    (nvme_errors.NotConnectedError, grpc.StatusCode.FAILED_PRECONDITION),
    (nvme_errors.DeviceNotReadyError, grpc.StatusCode.UNAVAILABLE),
    (nvme_errors.TargetUnreachableError, grpc.StatusCode.UNAVAILABLE),
    (nvme_errors.TargetRefusedError, grpc.StatusCode.UNAVAILABLE),
    (nvme_errors.NvmeCliTimeout, grpc.StatusCode.UNAVAILABLE),
    (nvme_errors.SubsystemNotFoundError, grpc.StatusCode.NOT_FOUND),
    (nvme_errors.InvalidConnectOptionsError, grpc.StatusCode.INVALID_ARGUMENT),
    (nvme_errors.AuthenticationError, grpc.StatusCode.FAILED_PRECONDITION),
    (nvme_errors.FabricsUnavailableError, grpc.StatusCode.FAILED_PRECONDITION),
    (nvme_errors.NvmeCliNotFound, grpc.StatusCode.FAILED_PRECONDITION),
    (nvme_errors.NvmeError, grpc.StatusCode.INTERNAL),
)


def status_for(error: BaseException) -> tuple[grpc.StatusCode, str]:
    """The gRPC status code and message for an exception raised while serving an RPC."""
    if isinstance(error, CsiError):
        return error.code, str(error)
    if isinstance(error, rds_errors.RdsError):
        for kind, code, advice in _RDS_CODES:
            if isinstance(error, kind):
                return code, str(error) + advice
        return grpc.StatusCode.INTERNAL, "RDS operation failed: %s" % error
    for node_kind, node_code in _NODE_CODES:
        if isinstance(error, node_kind):
            return node_code, str(error)
    return grpc.StatusCode.INTERNAL, "Internal error in the driver (%s): %s" % (type(error).__name__, error)


def rpc(method: Callable[[Any, Any, grpc.ServicerContext], R]) -> Callable[[Any, Any, grpc.ServicerContext], R]:
    """Wrap a servicer method: map exceptions to a status (nil response) and log one line per call."""
    name = method.__name__

    @functools.wraps(method)
    def serve(self: Any, request: Any, context: grpc.ServicerContext) -> R:
        started = time.monotonic()
        try:
            response = method(self, request, context)
        except Exception as error:  # every failure becomes a status, never a crashed handler
            code, message = status_for(error)
            level = logging.ERROR if code == grpc.StatusCode.INTERNAL else logging.INFO
            LOG.log(
                level,
                "rpc failed",
                extra={"fields": _fields(name, request, started, code.name, message)},
                exc_info=code == grpc.StatusCode.INTERNAL,
            )
            context.abort(code, message)
        LOG.info("rpc done", extra={"fields": _fields(name, request, started, "OK", "")})
        return response

    return serve


def _fields(name: str, request: Any, started: float, code: str, message: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"rpc": name, "code": code, "ms": round((time.monotonic() - started) * 1000, 1)}
    for key in ("name", "volume_id", "snapshot_id", "source_volume_id", "node_id"):
        value = getattr(request, key, "")
        if value:
            fields[key] = value
    if message:
        fields["error"] = message
    return fields
