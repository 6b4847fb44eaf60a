"""The console line parser: structure, every escape, filters, and errors with positions."""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rds_emulator.commandline import Command, CommandSyntaxError, Condition, Filter, Operator, parse


def test_add_with_bare_and_quoted_values_keeps_argument_order() -> None:
    command = parse('/disk add type=file slot="pvc-1" file-size=10G file-path=/storage-pool/a.img')

    assert (command.menu, command.verb) == ("/disk", "add")
    assert list(command.args.items()) == [
        ("type", "file"),
        ("slot", "pvc-1"),
        ("file-size", "10G"),
        ("file-path", "/storage-pool/a.img"),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "/system resource print",
        "/system/resource/print",
        "system resource print",
        "  /system   resource print  ",
    ],
)
def test_menu_path_with_spaces_or_slashes(line: str) -> None:
    assert parse(line) == Command(menu="/system/resource", verb="print")


@pytest.mark.parametrize(
    ("escaped", "value"),
    [
        (r"\"", '"'),
        (r"\\", "\\"),
        (r"\n", "\n"),
        (r"\r", "\r"),
        (r"\t", "\t"),
        (r"\$", "$"),
        (r"\?", "?"),
        (r"\_", " "),
        (r"\a", "\a"),
        (r"\b", "\b"),
        (r"\f", "\f"),
        (r"\v", "\v"),
        (r"\41", "A"),
        (r"\1B", "\x1b"),
        (r"\0a", "\n"),
        (r"\C3\A9", "é"),
        (r"\ab", "\ab"),
    ],
)
def test_every_escape_decodes(escaped: str, value: str) -> None:
    command = parse(f'/disk set [find] comment="x{escaped}y"')

    assert command.args["comment"] == f"x{value}y"


def test_non_ascii_inside_quotes_is_kept() -> None:
    assert parse('/disk set [find] comment="žluťoučký 🐴"').args["comment"] == "žluťoučký 🐴"


def test_empty_values() -> None:
    command = parse('/disk set [find] comment="" nvme-tcp-server-nqn=')

    assert dict(command.args) == {"comment": "", "nvme-tcp-server-nqn": ""}


def test_find_forms() -> None:
    slot = Condition("slot", Operator.EQUALS, "a b")
    assert parse('/disk set [find slot="a b"] disabled=yes').items == (Filter((slot,)),)
    assert parse("/disk remove [find]").items == (Filter(),)
    assert parse('/disk remove [ find where slot~"^pvc-" and disabled=no ]').items == (
        Filter((Condition("slot", Operator.MATCHES, "^pvc-"), Condition("disabled", Operator.EQUALS, "no"))),
    )
    assert parse("/disk remove [find slot!=x comment=y]").items == (
        Filter((Condition("slot", Operator.DIFFERS, "x"), Condition("comment", Operator.EQUALS, "y"))),
    )


def test_copy_from_takes_a_find() -> None:
    command = parse("/disk add type=file copy-from=[find slot=src] slot=dst file-path=/storage-pool/d.img")

    assert command.args["copy-from"] == Filter((Condition("slot", Operator.EQUALS, "src"),))


def test_print_flags_and_where() -> None:
    command = parse('/disk print detail without-paging where slot~"pvc-[0-9a-f]+" and nvme-tcp-export=yes')

    assert command.flags == frozenset({"detail", "without-paging"})
    assert command.where == Filter(
        (
            Condition("slot", Operator.MATCHES, "pvc-[0-9a-f]+"),
            Condition("nvme-tcp-export", Operator.EQUALS, "yes"),
        )
    )


def test_monitor_traffic_item_and_flag() -> None:
    command = parse("/disk monitor-traffic pvc-1 once")

    assert command.items == ("pvc-1",)
    assert command.flags == frozenset({"once"})


def test_trailing_semicolon_and_newline_end_the_command() -> None:
    assert parse("/disk print;") == parse("/disk print\n") == Command(menu="/disk", verb="print")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("/disk foo", "bad command name foo (line 1 column 7)"),
        ("/disks print", "bad command name disks (line 1 column 2)"),
        ("/system print", "bad command name print (line 1 column 9)"),
        ("/disk set [frob] comment=x", "bad command name frob (line 1 column 12)"),
        ("/disk add bogus=1", "expected end of command (line 1 column 11)"),
        ("/disk print extra", "expected end of command (line 1 column 13)"),
        ("/disk print; /disk print", "expected end of command (line 1 column 14)"),
        ("/disk print\n/disk print", "expected end of command (line 2 column 1)"),
        ("/disk set [find bogus=1] comment=x", "expected end of command (line 1 column 17)"),
        ("/disk print where bogus=1", "syntax error (line 1 column 19)"),
        ("/disk print where slot=a or slot=b", "syntax error (line 1 column 26)"),
        ('/disk print where slot~"("', "syntax error (line 1 column 24)"),
        ("/disk print where", "syntax error (line 1 column 18)"),
        ('/disk set [find] comment="$x"', "syntax error (line 1 column 27)"),
        ('/disk set [find] comment="what?"', "syntax error (line 1 column 31)"),
        ("/disk print ?", "syntax error (line 1 column 13)"),
        ("/disk set [find] comment=$x", "syntax error (line 1 column 26)"),
        ('/disk set [find] comment="a\\qb"', "syntax error (line 1 column 28)"),
        ('/disk set [find] comment="a\\cb"', "syntax error (line 1 column 28)"),
        ('/disk set [find] comment="\\FF"', "syntax error (line 1 column 26)"),
        ('/disk set [find] comment="open', "syntax error (line 1 column 31)"),
        ('/disk set [find] comment="tab\there"', "syntax error (line 1 column 30)"),
        ("/disk set [find] comment=a=b", "syntax error (line 1 column 27)"),
        ("/disk set [find] comment=a]", "syntax error (line 1 column 27)"),
        ("/disk set [find slot=x comment=y", "syntax error (line 1 column 33)"),
        ("/disk", "syntax error (line 1 column 6)"),
        ("", "syntax error (line 1 column 1)"),
    ],
)
def test_errors_carry_the_console_text(line: str, message: str) -> None:
    with pytest.raises(CommandSyntaxError) as raised:
        parse(line)

    assert str(raised.value) == message


def test_semicolon_inside_quotes_is_part_of_the_value() -> None:
    assert parse('/disk set [find] comment="a;b [c] d=e"').args["comment"] == "a;b [c] d=e"


def test_regex_match_semantics() -> None:
    condition = Condition("slot", Operator.MATCHES, "^pvc-")

    assert condition.holds_for("pvc-1")
    assert not condition.holds_for("x-pvc-1")


@given(st.text(alphabet=st.sampled_from(list('/disk print set add[find]where slot~=!"\\$?;\n\t xé0A'))))
def test_any_line_parses_or_fails_with_a_console_error(line: str) -> None:
    try:
        parse(line)
    except CommandSyntaxError as error:
        assert re.fullmatch(r".+ \(line \d+ column \d+\)", str(error))


@given(st.text(st.characters(blacklist_categories=("Cs",))))
def test_arbitrary_text_parses_or_fails_with_a_console_error(line: str) -> None:
    with contextlib.suppress(CommandSyntaxError):
        parse(f"/disk print where comment={line}")
