"""StorageClass parameters and the volume_context they become (P-3).

Keys and defaults are the old driver's, so existing PersistentVolumes and StorageClasses keep
working; values are validated before anything reaches the RDS.

The claim's name and namespace, which the external-provisioner adds to the parameters with
``--extra-create-metadata``, are kept in the volume_context too, so that the node knows the claim to
post events on (claims.py). Only CreateVolume sees them: a context rebuilt from the RDS (ListVolumes,
ControllerGetVolume) lacks them, and the node then reads the claim from the PV.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional

from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import DEFAULT_BASE_PATH, path_problem

from rds_csi.claims import PVC_NAME_KEY, PVC_NAMESPACE_KEY, Claim, claim_of
from rds_csi.errors import invalid

MIGRATION_TIMEOUT_RANGE = (30, 3600)
DEFAULT_MIGRATION_TIMEOUT = 300
FILESYSTEMS = ("ext4", "xfs")
# Keys the external-provisioner and snapshotter add themselves.
_SIDECAR_PREFIX = "csi.storage.k8s.io/"
# The driver creates directories and files under a volume path, so it takes a narrower set of names
# than RouterOS allows.
_PATH_NAMES = re.compile(r"/[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*\Z")
_KNOWN = {
    "volumePath",
    "nvmeAddress",
    "nvmePort",
    "ctrlLossTmo",
    "reconnectDelay",
    "keepAliveTmo",
    "migrationTimeoutSeconds",
}


@dataclass(frozen=True)
class VolumeParams:
    volume_path: str
    nvme_address: str
    nvme_port: int
    ctrl_loss_tmo: int = -1
    reconnect_delay: int = 5
    keep_alive_tmo: Optional[int] = None
    migration_timeout: int = DEFAULT_MIGRATION_TIMEOUT
    claim: Optional[Claim] = None

    def context(self, nqn: str) -> dict[str, str]:
        context = {
            "nvmeAddress": self.nvme_address,
            "nvmePort": str(self.nvme_port),
            "nqn": nqn,
            "volumePath": self.volume_path,
            "ctrlLossTmo": str(self.ctrl_loss_tmo),
            "reconnectDelay": str(self.reconnect_delay),
            "migrationTimeoutSeconds": str(self.migration_timeout),
        }
        if self.keep_alive_tmo is not None:
            context["keepAliveTmo"] = str(self.keep_alive_tmo)
        if self.claim is not None:
            context[PVC_NAME_KEY] = self.claim.name
            context[PVC_NAMESPACE_KEY] = self.claim.namespace
        return context


VOLUME_PATH_RULE = "use an absolute RDS path of letters, digits, '.', '_' and '-', such as %s" % DEFAULT_BASE_PATH


def is_volume_path(path: str) -> bool:
    """Whether the driver may keep backing files under ``path`` (StorageClass volumePath, the base path)."""
    return path_problem(path) is None and _PATH_NAMES.match(path) is not None


def parse_params(parameters: dict[str, str], base_path: str, nvme_address: str, nvme_port: int) -> VolumeParams:
    """Validate StorageClass parameters; defaults come from the driver's configuration."""
    unknown = sorted(key for key in parameters if key not in _KNOWN and not key.startswith(_SIDECAR_PREFIX))
    if unknown:
        raise invalid(
            "Unknown StorageClass parameter(s) %s; supported: %s." % (", ".join(unknown), ", ".join(sorted(_KNOWN)))
        )
    volume_path = parameters.get("volumePath", base_path).rstrip("/") or base_path
    if not is_volume_path(volume_path):
        raise invalid("StorageClass parameter volumePath=%r: %s." % (volume_path, VOLUME_PATH_RULE))
    fstype = parameters.get(_SIDECAR_PREFIX + "fstype", "")
    if fstype and fstype not in FILESYSTEMS:
        raise invalid("Filesystem %r is not supported; use one of %s." % (fstype, ", ".join(FILESYSTEMS)))
    return VolumeParams(
        volume_path=volume_path,
        nvme_address=parameters.get("nvmeAddress", nvme_address),
        nvme_port=_integer(parameters, "nvmePort", nvme_port, 1, 65535),
        ctrl_loss_tmo=_integer(parameters, "ctrlLossTmo", -1, -1, 2**31 - 1),
        reconnect_delay=_integer(parameters, "reconnectDelay", 5, 1, 3600),
        keep_alive_tmo=_integer(parameters, "keepAliveTmo", 0, 1, 3600) if parameters.get("keepAliveTmo") else None,
        migration_timeout=migration_timeout_of(parameters),
        claim=claim_of(parameters),
    )


def migration_timeout_of(values: Mapping[str, str]) -> int:
    """migrationTimeoutSeconds of StorageClass parameters or a volume context (P-7.3)."""
    return _integer(values, "migrationTimeoutSeconds", DEFAULT_MIGRATION_TIMEOUT, *MIGRATION_TIMEOUT_RANGE)


def _integer(parameters: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    text = parameters.get(key)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise invalid("StorageClass parameter %s=%r is not an integer." % (key, text)) from None
    if not low <= value <= high:
        raise invalid("StorageClass parameter %s=%d is outside the accepted range %d to %d." % (key, value, low, high))
    return value
