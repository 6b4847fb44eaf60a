# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node side: the managed NQN prefix, checked with the one NQN rule of ``rds_rules``.

Only NQNs under the managed prefix (P-8.6) are ever disconnected without ``force``.
"""

from __future__ import annotations

from ansible_collections.srvlab.rds.plugins.module_utils.nvme_errors import InvalidPrefixError
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import DEFAULT_NQN_PREFIX, nqn_for, nqn_problem

__all__ = ["check_prefix", "is_managed", "nqn_for"]


def check_prefix(prefix: str) -> None:
    """Raises InvalidPrefixError unless ``prefix`` is a valid managed NQN prefix."""
    problem = nqn_problem(prefix)
    if problem:
        raise InvalidPrefixError(
            "The managed NQN prefix %r is not valid: %s, such as %s." % (prefix, problem, DEFAULT_NQN_PREFIX)
        )


def is_managed(nqn: str, prefix: str) -> bool:
    return nqn.startswith(prefix)
