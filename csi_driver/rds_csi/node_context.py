"""What a node RPC needs from its request, as pure functions: the NVMe target from the contexts,
the volume's NQN, the capability's filesystem and options.

Contexts: ControllerPublishVolume's ``publish_context`` (``nvmeAddress``, ``nvmePort``, ``nqn``)
wins over the PV's ``volume_context`` (P-3 keys); a PV of the old driver may lack the newer keys,
so every tuning key has the P-6.2 default (``ctrlLossTmo`` -1, ``reconnectDelay`` 5, keep-alive
left to nvme-cli).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.srvlab.rds.plugins.module_utils.nvme_cli import ConnectTarget
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_nqn import nqn_for
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import DEFAULT_NVME_PORT

from rds_csi.capabilities import AccessType, access_type, unsupported_reason
from rds_csi.errors import invalid

DEFAULT_FSTYPE = "ext4"


def volume_nqn(volume_id: str, publish_context: Mapping[str, str], volume_context: Mapping[str, str]) -> str:
    return publish_context.get("nqn") or volume_context.get("nqn") or nqn_for(volume_id)


def connect_target(
    volume_id: str, publish_context: Mapping[str, str], volume_context: Mapping[str, str], host_nqn: str
) -> ConnectTarget:
    """The NVMe/TCP target of a volume; InvalidArgument names a missing or malformed key."""
    what = "NodeStageVolume %s" % volume_id

    def value(key: str) -> str:
        return publish_context.get(key) or volume_context.get(key) or ""

    address = value("nvmeAddress")
    if not address:
        raise invalid("%s: nvmeAddress is missing from publish_context and volume_context." % what)
    keep_alive = value("keepAliveTmo")
    return ConnectTarget(
        nqn=volume_nqn(volume_id, publish_context, volume_context),
        traddr=address,
        trsvcid=_integer(what, "nvmePort", value("nvmePort"), DEFAULT_NVME_PORT),
        hostnqn=host_nqn or None,
        ctrl_loss_tmo=_integer(what, "ctrlLossTmo", value("ctrlLossTmo"), -1),
        reconnect_delay=_integer(what, "reconnectDelay", value("reconnectDelay"), 5),
        keep_alive_tmo=_integer(what, "keepAliveTmo", keep_alive, 0) if keep_alive else None,
    )


def _integer(what: str, key: str, text: str, default: int) -> int:
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise invalid("%s: %s=%r in the volume context is not an integer." % (what, key, text)) from None


def checked_capability(capability: Any, what: str) -> AccessType:
    """The capability's access type; InvalidArgument when it is missing or not supported."""
    reason = unsupported_reason(capability)
    if reason:
        raise invalid("%s: %s." % (what, reason))
    kind = access_type(capability)
    assert kind is not None  # unsupported_reason refuses a capability without an access type
    return kind


def fstype_of(capability: Any) -> str:
    return str(capability.mount.fs_type) or DEFAULT_FSTYPE
