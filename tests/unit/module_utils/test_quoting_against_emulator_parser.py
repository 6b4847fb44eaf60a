"""Property tests: values quoted by the library reach the emulator's own RouterOS parser intact.

The emulator's command-line parser is an independent implementation of the console grammar, so
a value that changed the structure of a command (ended it, nested a command, substituted a
variable, asked for help) would show up here as a different menu, verb, argument set or filter.
"""

import re

from ansible_collections.srvlab.rds.plugins.module_utils.routeros_command import (
    build,
    equals,
    matches,
    print_detail,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rds_emulator.commandline import Condition as ParsedCondition
from rds_emulator.commandline import Filter, Operator, parse

CONSOLE_SPECIALS = ' "\\$?;[]{}=~\n\r\t\x07\x1b\x7f#/:,.-_'
VALUES = st.one_of(
    st.text(alphabet=CONSOLE_SPECIALS + "ab09€漢"),
    st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\0")),
)


@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(slot=VALUES, comment=VALUES, nqn=VALUES, path=VALUES)
def test_values_round_trip_and_never_change_structure(slot: str, comment: str, nqn: str, path: str) -> None:
    change = build("/disk", "set", target=[equals("slot", slot)], args={"comment": comment, "nvme-tcp-server-nqn": nqn})
    parsed = parse(change.render())
    assert (parsed.menu, parsed.verb) == ("/disk", "set")
    assert parsed.items == (Filter((ParsedCondition("slot", Operator.EQUALS, slot),)),)
    assert dict(parsed.args) == {"comment": comment, "nvme-tcp-server-nqn": nqn}
    assert parsed.where is None

    copy = build(
        "/disk",
        "add",
        args={"type": "file", "copy-from": (equals("slot", slot),), "file-path": path, "slot": nqn},
    )
    parsed = parse(copy.render())
    assert (parsed.menu, parsed.verb) == ("/disk", "add")
    assert dict(parsed.args) == {
        "type": "file",
        "copy-from": Filter((ParsedCondition("slot", Operator.EQUALS, slot),)),
        "file-path": path,
        "slot": nqn,
    }

    pattern = "^" + re.escape(slot)
    listing = print_detail("/disk", [matches("slot", pattern), equals("comment", comment)])
    parsed = parse(listing.render())
    assert (parsed.menu, parsed.verb) == ("/disk", "print")
    assert parsed.where == Filter(
        (
            ParsedCondition("slot", Operator.MATCHES, pattern),
            ParsedCondition("comment", Operator.EQUALS, comment),
        )
    )
    assert not parsed.args and not parsed.items
