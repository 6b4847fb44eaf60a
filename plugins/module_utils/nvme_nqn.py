# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node side: the NQN rules shared by the driver and the modules (one copy, A-2).

- A CSI volume's NQN is ``nqn.2000-02.com.mikrotik:<volume id>``, lower-cased (P-3).
- The managed prefix (P-8.6) starts with ``nqn.``, contains ``:``, is at most 223 bytes and has no
  spaces or control characters. Only NQNs under it are ever disconnected without ``force``.
"""

from __future__ import annotations

from ansible_collections.srvlab.rds.plugins.module_utils.nvme_errors import InvalidPrefixError
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import DEFAULT_NQN_PREFIX, MAX_NQN_BYTES

NQN_BASE = "nqn.2000-02.com.mikrotik:"
__all__ = ["DEFAULT_NQN_PREFIX", "MAX_NQN_BYTES", "NQN_BASE", "check_prefix", "is_managed", "nqn_for"]


def nqn_for(volume_id: str) -> str:
    """The subsystem NQN the RDS exports a CSI volume under."""
    return (NQN_BASE + volume_id).lower()


def check_prefix(prefix: str) -> None:
    """Raises InvalidPrefixError unless ``prefix`` is a valid managed NQN prefix."""
    if not prefix.startswith("nqn.") or ":" not in prefix or len(prefix.encode("utf-8")) > MAX_NQN_BYTES:
        raise InvalidPrefixError(
            "The managed NQN prefix %r is not valid: it must start with 'nqn.', contain ':' and be at most %d bytes, "
            "such as %s." % (prefix, MAX_NQN_BYTES, DEFAULT_NQN_PREFIX)
        )
    if any(ord(char) < 32 or char.isspace() for char in prefix):
        raise InvalidPrefixError("The managed NQN prefix %r must not contain spaces or control characters." % prefix)


def is_managed(nqn: str, prefix: str) -> bool:
    return nqn.startswith(prefix)
