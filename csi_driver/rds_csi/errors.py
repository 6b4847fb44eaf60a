"""Exception type to gRPC status code, in one place (A-4, P-5.8).

Service code raises ``CsiError`` for CSI-level decisions and lets the library's errors (one base,
``LibraryError``, each with a family) propagate; ``rpc`` turns either into a status with a nil
response and logs the call.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from ansible_collections.srvlab.rds.plugins.module_utils import rds_errors
from ansible_collections.srvlab.rds.plugins.module_utils.library_errors import ErrorFamily, LibraryError

from rds_csi import metrics

LOG = logging.getLogger("rds_csi.rpc")
R = TypeVar("R")
# The RPCs that change a volume, by the operation label of rds_csi_volume_operations_total.
VOLUME_OPERATIONS = {
    "CreateVolume": "create",
    "DeleteVolume": "delete",
    "ControllerExpandVolume": "expand",
    "ControllerPublishVolume": "publish",
    "ControllerUnpublishVolume": "unpublish",
    "CreateSnapshot": "snapshot_create",
    "DeleteSnapshot": "snapshot_delete",
    "NodeStageVolume": "stage",
    "NodeUnstageVolume": "unstage",
    "NodePublishVolume": "node_publish",
    "NodeUnpublishVolume": "node_unpublish",
    "NodeExpandVolume": "node_expand",
}


class CsiError(Exception):
    """A CSI-level refusal with the status code the CO expects."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def invalid(message: str) -> CsiError:
    return CsiError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> CsiError:
    return CsiError(grpc.StatusCode.NOT_FOUND, message)


# One row per family of library error (library_errors.ErrorFamily). Retries can cure UNAVAILABLE and
# DEADLINE_EXCEEDED; FAILED_PRECONDITION needs an operator.
_FAMILY_CODES: dict[ErrorFamily, grpc.StatusCode] = {
    ErrorFamily.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorFamily.ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    ErrorFamily.NO_SPACE: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorFamily.INVALID: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorFamily.PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorFamily.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    ErrorFamily.TIMEOUT: grpc.StatusCode.DEADLINE_EXCEEDED,
    ErrorFamily.LIMIT: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorFamily.INTERNAL: grpc.StatusCode.INTERNAL,
}
# What an operator checks when the RDS connection fails, by the kind of failure.
_RDS_ADVICE: tuple[tuple[type[rds_errors.RdsError], str], ...] = (
    (rds_errors.AuthenticationError, " Check the driver's RDS user, key or password."),
    (rds_errors.HostKeyError, " Check the pinned host key or known_hosts file given to the driver."),
    (
        rds_errors.RdsConnectionError,
        " The RDS is unreachable or dropped the connection; the CO retries, check the appliance and network.",
    ),
)


def status_for(error: BaseException) -> tuple[grpc.StatusCode, str]:
    """The gRPC status code and message for an exception raised while serving an RPC."""
    if isinstance(error, CsiError):
        return error.code, str(error)
    if isinstance(error, LibraryError):
        code = _FAMILY_CODES[error.family]
        if code is grpc.StatusCode.INTERNAL and isinstance(error, rds_errors.RdsError):
            return code, "RDS operation failed: %s" % error
        advice = next((text for kind, text in _RDS_ADVICE if isinstance(error, kind)), "")
        return code, str(error) + advice
    return grpc.StatusCode.INTERNAL, "Internal error in the driver (%s): %s" % (type(error).__name__, error)


def rpc(method: Callable[[Any, Any, grpc.ServicerContext], R]) -> Callable[[Any, Any, grpc.ServicerContext], R]:
    """Wrap a servicer method: map exceptions to a status (nil response), log one line per call and
    count it in the metrics (status code, duration, the RDS round trips it needed)."""
    name = method.__name__

    @functools.wraps(method)
    def serve(self: Any, request: Any, context: grpc.ServicerContext) -> R:
        started = time.monotonic()
        metrics.RDS.begin_rpc()
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
            _count(self, name, started, code.name)
            context.abort(code, message)
        LOG.info("rpc done", extra={"fields": _fields(name, request, started, "OK", "")})
        _count(self, name, started, "OK")
        return response

    return serve


def _count(servicer: Any, name: str, started: float, code: str) -> None:
    seconds = time.monotonic() - started
    trips = metrics.RDS.end_rpc()
    metrics.RPC_TOTAL.labels(name, code).inc()
    metrics.RPC_DURATION.labels(name).observe(seconds)
    if getattr(servicer, "talks_to_rds", False):
        metrics.RPC_RDS_ROUND_TRIPS.labels(name).observe(trips)
    operation = VOLUME_OPERATIONS.get(name)
    if operation is not None:
        metrics.VOLUME_OPERATIONS.labels(operation, metrics.SUCCESS if code == "OK" else metrics.FAILURE).inc()
        metrics.VOLUME_OPERATION_DURATION.labels(operation).observe(seconds)


def _fields(name: str, request: Any, started: float, code: str, message: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"rpc": name, "code": code, "ms": round((time.monotonic() - started) * 1000, 1)}
    for key in ("name", "volume_id", "snapshot_id", "source_volume_id", "node_id"):
        value = getattr(request, key, "")
        if value:
            fields[key] = value
    if message:
        fields["error"] = message
    return fields
