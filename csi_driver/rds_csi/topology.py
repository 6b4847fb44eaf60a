"""Topology segments: the zone every volume and node belongs to, and the segment through which a
node tells the controller its NVMe host NQN (for storage-side fencing, P-7.7).

Segments become Node labels, whose values are at most 63 characters of ``[A-Za-z0-9._-]``. A host
NQN does not fit, but the standard form ``nqn.2014-08.org.nvmexpress:uuid:<uuid>`` is fully given by
its UUID, which does. See docs/csi-driver.md "Host NQN".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Optional

ZONE_KEY = "topology.rds.csi.srvlab.io/zone"
HOST_UUID_KEY = "hostnqn.rds.csi.srvlab.io/uuid"
UUID_HOST_NQN = "nqn.2014-08.org.nvmexpress:uuid:"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def host_segments(host_nqn: str) -> dict[str, str]:
    """The topology segment that carries the host NQN, when it is of the UUID form."""
    if host_nqn.startswith(UUID_HOST_NQN) and _UUID.match(host_nqn[len(UUID_HOST_NQN) :]):
        return {HOST_UUID_KEY: host_nqn[len(UUID_HOST_NQN) :]}
    return {}


def host_nqn_from_segments(segments: Mapping[str, str]) -> Optional[str]:
    """The host NQN a node published with :func:`host_segments` (for the controller's fencing)."""
    uuid = segments.get(HOST_UUID_KEY, "")
    return UUID_HOST_NQN + uuid if _UUID.match(uuid) else None
