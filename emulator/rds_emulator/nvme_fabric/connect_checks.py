"""What `nvme connect` is checked against, in the order a host and a target would: nvme-cli's
own "already connected" pre-check, the kernel's option parsing, then the target's answer
(NVME_HOST.md §2.4, §5)."""

from __future__ import annotations

import errno
import uuid
from dataclasses import dataclass

from .dhchap import secret_error
from .errors import AlreadyConnected, ConnectRefused
from .exports import Export
from .state import FabricState

DEFAULT_TRSVCID = "4420"


@dataclass(frozen=True)
class ConnectRequest:
    """`nvme connect` options; 0 for reconnect_delay and kato means "not sent" (kernel default)."""

    nqn: str
    traddr: str
    trsvcid: str = DEFAULT_TRSVCID
    transport: str = "tcp"
    hostnqn: str | None = None
    hostid: str | None = None
    ctrl_loss_tmo: int = 600
    reconnect_delay: int = 0
    kato: int = 0
    dhchap_secret: str = ""
    dhchap_ctrl_secret: str = ""
    host_traddr: str = ""
    host_iface: str = ""


def check_not_connected(state: FabricState, request: ConnectRequest, *, any_host: bool = True) -> None:
    """nvme-cli's own pre-check: same subsystem and address in any state, under any host NQN
    (2.3 to 2.5) or under the connecting host only (2.6 on)."""
    for controller in state.controllers:
        if not any_host and controller.hostnqn != request.hostnqn:
            continue
        subsystem = state.subsystem(controller.subsystem)
        if (
            subsystem.nqn == request.nqn
            and controller.transport == request.transport
            and controller.traddr.lower() == request.traddr.lower()
            and controller.trsvcid == request.trsvcid
            and controller.host_traddr == request.host_traddr
            and controller.host_iface == request.host_iface
        ):
            raise AlreadyConnected


def check_host_options(state: FabricState, request: ConnectRequest) -> None:
    """What the kernel refuses with EINVAL before talking to the target."""
    if request.transport != "tcp":
        raise ConnectRefused(errno.EINVAL, f"no handler found for transport {request.transport}")
    if request.reconnect_delay < 0:
        raise ConnectRefused(errno.EINVAL, "Invalid reconnect_delay")
    try:
        hostid = str(uuid.UUID(request.hostid or ""))
    except ValueError:
        raise ConnectRefused(errno.EINVAL, f"unable to parse UUID {request.hostid!r}") from None
    for controller in state.controllers:
        if controller.hostnqn == request.hostnqn and controller.hostid != hostid:
            raise ConnectRefused(errno.EINVAL, f"found same hostnqn {request.hostnqn} but different hostid")
        if controller.hostid == hostid and controller.hostnqn != request.hostnqn:
            raise ConnectRefused(errno.EINVAL, f"found same hostid {hostid} but different hostnqn")
    for secret in (request.dhchap_secret, request.dhchap_ctrl_secret):
        problem = secret_error(secret) if secret else None
        if problem == errno.EINVAL:
            raise ConnectRefused(problem, "Invalid DH-CHAP secret")


def find_export(exports: dict[str, Export], request: ConnectRequest) -> Export:
    """What the target answers: refused port, unknown NQN or host, failed authentication."""
    if request.trsvcid not in {str(item.port) for item in exports.values()}:
        raise ConnectRefused(errno.ECONNREFUSED, "failed to connect socket: -111")
    export = exports.get(request.nqn)
    if export is None or str(export.port) != request.trsvcid:
        raise ConnectRefused(errno.EIO, f'Connect Invalid Data Parameter, subsysnqn "{request.nqn}"')
    if not export.allows_host(request.hostnqn or ""):
        raise ConnectRefused(
            errno.EIO, f"Connect for subsystem {request.nqn} is not allowed, hostnqn: {request.hostnqn}"
        )
    if export.dh_chap_secret:
        if request.dhchap_secret and secret_error(request.dhchap_secret) == errno.EKEYREJECTED:
            raise ConnectRefused(errno.EKEYREJECTED, "qid 0: authentication failed")
        if request.dhchap_secret != export.dh_chap_secret:
            raise ConnectRefused(errno.EIO, "qid 0: authentication failed, error 1")
    return export
