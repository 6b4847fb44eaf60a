# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The naming rules and defaults that existing volumes depend on, each written once.

They are the compatibility contract with the Go driver this collection replaces (see
docs/requirements.md, P-3): volume slots start with ``pvc-``, a volume's subsystem NQN is
``nqn.2000-02.com.mikrotik:<slot>`` in lower case, backing files live under
``/storage-pool/metal-csi`` by default and exports listen on port 4420. Every module, the CSI driver
and the node library import these names; the ``*_problem`` functions return why a value breaks a
rule (or None), so each caller words its own error around the object it checks.
"""

from __future__ import annotations

import re
from typing import Optional

NQN_BASE = "nqn.2000-02.com.mikrotik:"
VOLUME_SLOT_PREFIX = "pvc-"
DEFAULT_NQN_PREFIX = NQN_BASE + VOLUME_SLOT_PREFIX
MAX_NQN_BYTES = 223
DEFAULT_NVME_PORT = 4420
DEFAULT_POOL = "storage-pool"
DEFAULT_BASE_PATH = "/" + DEFAULT_POOL + "/metal-csi"
IMAGE_SUFFIX = ".img"
# mkfs.xfs (xfsprogs 5.19 and later; Debian 12 ships 6.1) refuses devices under 300 MiB; ext4 needs a
# few MiB for its journal. The CSI driver's smallest volume (1 GiB) is above it.
MIN_DISK_SIZE = 300 * 1024**2
MAX_DISK_SIZE = 2**63 - 1
# The NVMe specification's host NQN built from a UUID (what nvme gen-hostnqn writes).
UUID_HOST_NQN_BASE = "nqn.2014-08.org.nvmexpress:uuid:"

_ABSOLUTE_PATH = re.compile(r"/[^/\x00-\x1f]+(/[^/\x00-\x1f]+)*\Z")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def nqn_for(slot: str) -> str:
    """The subsystem NQN the RDS exports a volume's disk under."""
    return (NQN_BASE + slot).lower()


def uuid_host_nqn(host_uuid: str) -> str:
    return UUID_HOST_NQN_BASE + host_uuid


def host_uuid_of(host_nqn: str) -> Optional[str]:
    """The UUID of a host NQN of the UUID form, lower-cased; None for any other NQN."""
    if not host_nqn.startswith(UUID_HOST_NQN_BASE):
        return None
    rest = host_nqn[len(UUID_HOST_NQN_BASE) :].lower()
    return rest if _UUID.match(rest) else None


def nqn_problem(nqn: str) -> Optional[str]:
    """Why ``nqn`` is not an NVMe qualified name, or None. Prefixes of NQNs obey the same rule."""
    if not nqn.startswith("nqn.") or ":" not in nqn or len(nqn.encode("utf-8")) > MAX_NQN_BYTES:
        return "it must start with 'nqn.', contain ':' and be at most %d bytes" % MAX_NQN_BYTES
    if any(ord(char) < 32 or char.isspace() for char in nqn):
        return "it must not contain spaces or control characters"
    return None


def port_problem(port: int) -> Optional[str]:
    if not 1 <= port <= 65535:
        return "use 1 to 65535 (NVMe/TCP usually listens on %d)" % DEFAULT_NVME_PORT
    return None


def path_problem(path: str) -> Optional[str]:
    """Why ``path`` is not an absolute RDS path, or None."""
    if not _ABSOLUTE_PATH.match(path) or "/../" in path + "/" or "/./" in path + "/":
        return "use an absolute RDS path without '.', '..' or control characters, such as %s" % DEFAULT_BASE_PATH
    return None


def size_problem(size: int) -> Optional[str]:
    """Why a disk cannot have ``size`` bytes, or None: it must hold any filesystem the driver formats."""
    if size < MIN_DISK_SIZE:
        return (
            "a disk needs at least %d bytes (300 MiB), the smallest filesystem mkfs.xfs creates; "
            "give 300Mi or more" % MIN_DISK_SIZE
        )
    if size > MAX_DISK_SIZE:
        return "a disk holds at most %d bytes (8 EiB less one byte, the largest file size)" % MAX_DISK_SIZE
    return None


def slot_problem(slot: str) -> Optional[str]:
    """Why ``slot`` cannot name a disk, or None. A slot names the default backing file, so it holds no '/'."""
    if not isinstance(slot, str) or not slot.strip():
        return "a disk slot must be a non-empty name"
    if slot != slot.strip() or "/" in slot or any(ord(char) < 32 or ord(char) == 127 for char in slot):
        return "a disk slot must not contain '/', control characters or leading or trailing spaces"
    return None


def prefix_problem(prefix: str) -> Optional[str]:
    """Why ``prefix`` cannot mark what the driver manages, or None: an empty prefix would claim every disk."""
    if not prefix or not prefix.strip():
        return "an empty prefix would make every disk on the RDS managed"
    return None


def is_under(path: str, directory: str) -> bool:
    """Whether ``path`` lies inside ``directory`` (at any depth), comparing whole path components."""
    return path.startswith(directory.rstrip("/") + "/")


def backing_file(base_path: str, slot: str) -> str:
    """A volume's backing file: ``<base path>/<slot>.img``."""
    return "%s/%s%s" % (base_path.rstrip("/"), slot, IMAGE_SUFFIX)
