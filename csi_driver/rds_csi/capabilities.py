"""Volume capabilities this driver supports, and the checks on them (P-7.2).

Single-node access modes work with both access types. MULTI_NODE_MULTI_WRITER is accepted only
for block volumes (KubeVirt live migration): two nodes writing one ordinary filesystem corrupt it.
Other multi-node modes are refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any, Optional

from rds_csi.errors import invalid
from rds_csi.params import FILESYSTEMS
from rds_csi.proto import csi_pb2

Mode = csi_pb2.VolumeCapability.AccessMode
SINGLE_NODE_MODES = frozenset(
    {
        Mode.SINGLE_NODE_WRITER,
        Mode.SINGLE_NODE_READER_ONLY,
        Mode.SINGLE_NODE_SINGLE_WRITER,
        Mode.SINGLE_NODE_MULTI_WRITER,
    }
)
RWX_BLOCK = Mode.MULTI_NODE_MULTI_WRITER


class AccessType(Enum):
    BLOCK = "block"
    MOUNT = "mount"


def access_type(capability: Any) -> Optional[AccessType]:
    which = capability.WhichOneof("access_type")
    return AccessType(which) if which else None


def unsupported_reason(capability: Any) -> Optional[str]:
    """Why this capability cannot be served, or None when it can."""
    kind = access_type(capability)
    if kind is None:
        return "a volume capability must say block or mount access"
    mode = capability.access_mode.mode
    if kind is AccessType.MOUNT and capability.mount.fs_type and capability.mount.fs_type not in FILESYSTEMS:
        return "filesystem %r is not supported; use one of %s" % (capability.mount.fs_type, ", ".join(FILESYSTEMS))
    if mode in SINGLE_NODE_MODES:
        return None
    if mode == RWX_BLOCK:
        if kind is AccessType.BLOCK:
            return None
        return (
            "MULTI_NODE_MULTI_WRITER (ReadWriteMany) is accepted only for block volumes: two nodes mounting one "
            "ext4/xfs filesystem corrupt it; use volumeMode: Block or a single-node access mode"
        )
    return "access mode %s is not supported; use a single-node mode, or MULTI_NODE_MULTI_WRITER with block access" % (
        Mode.Mode.Name(mode)
    )


def require_supported(capabilities: Iterable[Any], what: str) -> list[Any]:
    """Check capabilities for a request; InvalidArgument names what is wrong."""
    listed = list(capabilities)
    if not listed:
        raise invalid("%s: volume_capabilities is required." % what)
    for capability in listed:
        reason = unsupported_reason(capability)
        if reason:
            raise invalid("%s: %s." % (what, reason))
    return listed
