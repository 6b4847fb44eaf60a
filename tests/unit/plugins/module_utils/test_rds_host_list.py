"""The allowed-host list's one syntax: rendered, parsed back, and "no one" that never reads as "anyone"."""

from __future__ import annotations

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_host_list import (
    NO_HOST_NQN,
    fenced_hosts,
    parse_host_list,
    render_host_list,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import host_uuid_of, nqn_problem

HOST_A = "nqn.2014-08.org.nvmexpress:uuid:0b0d7b2e-54a2-4a6f-8f63-0b43f3c2b0a1"
HOST_B = "nqn.2014-08.org.nvmexpress:uuid:9c1e2f3a-1111-4b2c-8d3e-4f5a6b7c8d9e"


@pytest.mark.parametrize(
    "hosts",
    [(), (HOST_A,), (HOST_A, HOST_B), (NO_HOST_NQN,)],
)
def test_a_rendered_list_parses_back_to_the_same_hosts(hosts: tuple[str, ...]) -> None:
    assert set(parse_host_list(render_host_list(hosts))) == set(hosts)


def test_rendering_is_sorted_without_duplicates() -> None:
    assert render_host_list([HOST_B, HOST_A, HOST_B]) == HOST_A + "," + HOST_B
    assert render_host_list([]) == ""


@pytest.mark.parametrize(
    ("printed", "hosts"),
    [
        ("", ()),
        (HOST_A, (HOST_A,)),
        (" %s , %s " % (HOST_A, HOST_B), (HOST_A, HOST_B)),
        ("%s,,%s," % (HOST_A, HOST_B), (HOST_A, HOST_B)),
    ],
)
def test_parsing_drops_blanks_and_empty_entries(printed: str, hosts: tuple[str, ...]) -> None:
    assert parse_host_list(printed) == hosts


def test_no_one_is_a_list_that_is_never_empty() -> None:
    assert fenced_hosts([]) == (NO_HOST_NQN,)
    assert render_host_list(fenced_hosts([])) == NO_HOST_NQN
    assert fenced_hosts([HOST_B, HOST_A]) == (HOST_A, HOST_B)


def test_the_no_one_nqn_is_valid_and_not_a_host_form() -> None:
    assert nqn_problem(NO_HOST_NQN) is None
    assert host_uuid_of(NO_HOST_NQN) is None, "nvme-cli generates uuid host NQNs; no host presents this one"
