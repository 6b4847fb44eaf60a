"""The printer's quoting parses back to the exact value (property test of our own encoder)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from rds_emulator.commandline import parse
from rds_emulator.quoting import is_bare, quote, render

_ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)))


@given(_ANY_TEXT)
def test_quoted_text_round_trips(value: str) -> None:
    assert parse(f"/disk set [find] comment={quote(value)}").args["comment"] == value


@given(_ANY_TEXT)
def test_rendered_text_round_trips_bare_or_quoted(value: str) -> None:
    shown = render(value)

    assert parse(f"/disk set [find slot={shown}] comment={shown}").args["comment"] == value
    assert shown.startswith('"') != is_bare(value)


def test_quote_escapes() -> None:
    assert quote('a"b\\c$d?e\nf\x00g\x7fh é') == '"a\\"b\\\\c\\$d\\?e\\nf\\00g\\7Fh é"'


def test_bare_rules() -> None:
    assert render("/storage-pool/a.img") == "/storage-pool/a.img"
    assert render("nqn.2000-02.com.mikrotik:x,y") == "nqn.2000-02.com.mikrotik:x,y"
    for special in [" ", '"', "\\", ";", "$", "?", "[", "]", "=", "{", "(", "é", "\t"]:
        assert render(f"a{special}b").startswith('"')
    assert render("") == '""'
    assert render("x", always_quote=True) == '"x"'
