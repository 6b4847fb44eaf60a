# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The value of an export's ``nvme-tcp-server-allow-host-name``: the one place that knows its syntax.

RouterOS documents the property only as a string of "hostnames allowed to connect", ``""`` by
default (ROUTEROS.md R-7.5). Whether it takes one value or a list, the separator, and whether an
empty value means "anyone" are unverified. This module assumes a comma-separated list of host
NQNs and that an empty value may mean anyone; a correction is an edit here and nowhere else
(docs/library.md "Allowed hosts").

``NO_HOST_NQN`` is the form that means "no one" whatever the empty value means: a list holding
only an NQN that no host uses (hosts use ``nqn.2014-08.org.nvmexpress:uuid:<uuid>``, the form
nvme-cli generates). Storage-side fencing sets it while a volume is published to no node.
"""

from __future__ import annotations

from typing import Iterable, Tuple

SEPARATOR = ","
NO_HOST_NQN = "nqn.2026-01.io.srvlab.rds:no-host"
"""Allowed hosts that admit no one: a valid NQN that no initiator presents."""


def render_host_list(host_nqns: Iterable[str]) -> str:
    """The property's value for exactly ``host_nqns`` (sorted, duplicates dropped); ``""`` for none,
    which RouterOS may read as "anyone": use ``fenced_hosts`` to admit no one."""
    return SEPARATOR.join(sorted(set(host_nqns)))


def parse_host_list(value: str) -> Tuple[str, ...]:
    """The host NQNs in a printed value, in order; blanks around entries and empty entries are dropped."""
    return tuple(entry.strip() for entry in value.split(SEPARATOR) if entry.strip())


def fenced_hosts(host_nqns: Iterable[str]) -> Tuple[str, ...]:
    """The allowed hosts that admit exactly ``host_nqns``: sorted, or ``(NO_HOST_NQN,)`` when there are none."""
    hosts = tuple(sorted(set(host_nqns)))
    return hosts or (NO_HOST_NQN,)
