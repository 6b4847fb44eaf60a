"""Topology segments: the zone every volume and node belongs to, and the segment through which a
node tells the controller its NVMe host NQN (for storage-side fencing, P-7.7).

Segments become Node labels, whose values are at most 63 characters of ``[A-Za-z0-9._-]``. A host
NQN does not fit, but the standard form ``nqn.2014-08.org.nvmexpress:uuid:<uuid>`` is fully given by
its UUID, which does. See docs/csi-driver.md "Host NQN".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional

from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import host_uuid_of, uuid_host_nqn

ZONE_KEY = "topology.rds.csi.srvlab.io/zone"
HOST_UUID_KEY = "hostnqn.rds.csi.srvlab.io/uuid"


def host_segments(host_nqn: str) -> dict[str, str]:
    """The topology segment that carries the host NQN, when it is of the UUID form."""
    host_uuid = host_uuid_of(host_nqn)
    return {HOST_UUID_KEY: host_uuid} if host_uuid is not None and host_nqn == uuid_host_nqn(host_uuid) else {}


def host_nqn_from_segments(segments: Mapping[str, str]) -> Optional[str]:
    """The host NQN a node published with :func:`host_segments` (for the controller's fencing)."""
    host_nqn = uuid_host_nqn(segments.get(HOST_UUID_KEY, ""))
    return host_nqn if host_uuid_of(host_nqn) is not None else None
