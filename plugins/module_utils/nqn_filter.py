# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node side: the managed-NQN-prefix configuration, the NVMe state in sysfs, and the host NQN and ID.

Runs on nodes, so it stays compatible with Python 3.9 and needs nothing beyond the standard
library (no PyYAML on a diskless node's image).

The configuration file (default ``/etc/srvlab-rds/node.yaml``) is YAML the node plugin reads with
``--config``; this module manages its ``managed_nqn_prefix:`` line and keeps every other line::

    # Managed by srvlab.rds.nqn_filter; read by the rds.csi.srvlab.io node plugin (--config).
    managed_nqn_prefix: "nqn.2000-02.com.mikrotik:pvc-"
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import List, Optional, Tuple

from ansible_collections.srvlab.rds.plugins.module_utils.nvme_config import HOSTID_FILE, HOSTNQN_FILE, NvmeHostConfig
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_sysfs import read_controllers
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import InvalidValueError
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import (
    NQN_BASE,
    VOLUME_SLOT_PREFIX,
    host_uuid_of,
    nqn_for,
    nqn_problem,
    uuid_host_nqn,
)

DEFAULT_CONFIG_FILE = "/etc/srvlab-rds/node.yaml"
DEFAULT_HOSTNQN_FILE = HOSTNQN_FILE
DEFAULT_HOSTID_FILE = HOSTID_FILE
CONFIG_KEY = "managed_nqn_prefix"
HEADER = "# Managed by srvlab.rds.nqn_filter; read by the rds.csi.srvlab.io node plugin (--config)."
# The NQN of a CSI volume (P-3): nqn.2000-02.com.mikrotik:<volume id>, the volume ID being the
# external-provisioner's pvc-<uuid>. A connected NQN of any other shape is not a CSI volume.
CSI_VOLUME_NQN = re.compile(
    re.escape(NQN_BASE + VOLUME_SLOT_PREFIX) + r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"
)
EXAMPLE_CSI_NQN = nqn_for(VOLUME_SLOT_PREFIX + "00000000-0000-0000-0000-000000000000")
_LINE = re.compile(r"(?P<key>[A-Za-z_][A-Za-z0-9_-]*)\s*:\s*(?P<value>.*)\Z")


@dataclass(frozen=True)
class Connection:
    """An NVMe controller the node has, as sysfs shows it."""

    controller: str
    subsystem_nqn: str
    transport: str
    state: str


@dataclass(frozen=True)
class HostIdentity:
    hostnqn: str
    hostid: str


def is_csi_volume_nqn(nqn: str) -> bool:
    return CSI_VOLUME_NQN.match(nqn) is not None


def conflicting_connections(prefix: str, connections: List[Connection]) -> List[Connection]:
    """Connected subsystems the prefix would claim although they are not CSI volumes (system volumes)."""
    return [
        item
        for item in connections
        if item.subsystem_nqn.startswith(prefix) and not is_csi_volume_nqn(item.subsystem_nqn)
    ]


def read_connections(sysfs_root: str) -> List[Connection]:
    """The node's NVMe controllers from ``<root>/class/nvme/nvme*/``, those that name a subsystem."""
    return [
        Connection(controller.name, controller.subsystem_nqn, controller.transport, controller.state)
        for controller in read_controllers(NvmeHostConfig(sysfs_root=sysfs_root))
        if controller.subsystem_nqn
    ]


def render_config(existing: Optional[str], prefix: str) -> str:
    """The configuration text with ``managed_nqn_prefix`` set to ``prefix`` and every other line kept."""
    line = "%s: %s" % (CONFIG_KEY, json.dumps(prefix))
    if not existing:
        return "%s\n%s\n" % (HEADER, line)
    lines = existing.splitlines()
    replaced = False
    for index, current in enumerate(lines):
        match = _LINE.match(current)
        if match and match.group("key").replace("-", "_") == CONFIG_KEY:
            lines[index] = line
            replaced = True
    if not replaced:
        lines.append(line)
    return "\n".join(lines) + "\n"


def configured_prefix(text: Optional[str]) -> Optional[str]:
    """The prefix a configuration text sets, or ``None``."""
    for current in (text or "").splitlines():
        match = _LINE.match(current)
        if match and match.group("key").replace("-", "_") == CONFIG_KEY:
            return _scalar(match.group("value"))
    return None


def plan_identity(hostnqn: Optional[str], hostid: Optional[str], new_uuid: str) -> Tuple[HostIdentity, bool, bool]:
    """The host NQN and ID to have, and whether each file must be written.

    Existing values are never rewritten. A missing one is derived from the other when the host NQN
    is of the ``uuid:`` form, so the pair stays consistent; otherwise ``new_uuid`` is used.
    """
    hostnqn = (hostnqn or "").strip()
    hostid = (hostid or "").strip()
    problem = nqn_problem(hostnqn) if hostnqn else None
    if problem:
        raise InvalidValueError(
            "The node's host NQN %r is not a valid NQN (%s); it is never rewritten, so fix or remove the file by hand."
            % (hostnqn, problem)
        )
    if not hostid:
        hostid = host_uuid_of(hostnqn) or new_uuid
        write_hostid = True
    else:
        write_hostid = False
    write_hostnqn = not hostnqn
    if write_hostnqn:
        hostnqn = uuid_host_nqn(hostid)
    return HostIdentity(hostnqn, hostid), write_hostnqn, write_hostid


def new_host_uuid() -> str:
    return str(uuid.uuid4())


def read_text(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _scalar(value: str) -> str:
    value = value.strip()
    if value.startswith('"'):
        try:
            return str(json.loads(value))
        except ValueError:
            return value
    if value.startswith("'") and value.endswith("'") and len(value) >= 2:
        return value[1:-1].replace("''", "'")
    return value.split(" #", 1)[0].strip()
