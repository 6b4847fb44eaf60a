"""Lines of several `;`-separated statements and `:put` (R-7.1): structure, texts and errors."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rds_emulator.commandline import Command, CommandSyntaxError, Filter, Statement, parse, parse_line

IDENTITY = Command(menu="/system/identity", verb="print")
DISK_PRINT = Command(menu="/disk", verb="print")


def commands(line: str) -> list[Command | None]:
    return [statement.command for statement in parse_line(line)]


def test_semicolons_separate_commands() -> None:
    assert commands("/system identity print; /disk print") == [IDENTITY, DISK_PRINT]
    assert commands("/system identity print;/disk print") == [IDENTITY, DISK_PRINT]


@pytest.mark.parametrize(
    "line",
    ["/disk print;", "/disk print ; ", "; /disk print", "/disk print;;", "/disk print\n", "/disk print;\r\n  \n;"],
)
def test_separators_and_blanks_around_one_command(line: str) -> None:
    assert commands(line) == [DISK_PRINT]


def test_empty_statements_between_separators_are_skipped() -> None:
    assert commands("/disk print ; ; /system identity print ;") == [DISK_PRINT, IDENTITY]


def test_each_statement_keeps_its_own_text() -> None:
    first, second = parse_line('  /disk set [find slot=a] comment="x;y" ;  /disk remove a  ')

    assert first.text == '/disk set [find slot=a] comment="x;y"'
    assert second.text == "/disk remove a"
    assert second.texts == ("/disk remove a",)


def test_put_of_a_command() -> None:
    (statement,) = parse_line(":put [ /disk add type=file slot=a file-path=/storage-pool/a.img file-size=1M ]")

    assert statement.put
    assert statement.command is not None
    assert (statement.command.menu, statement.command.verb) == ("/disk", "add")
    assert statement.command.args["slot"] == "a"
    assert statement.texts == (
        ":put [ /disk add type=file slot=a file-path=/storage-pool/a.img file-size=1M ]",
        "/disk add type=file slot=a file-path=/storage-pool/a.img file-size=1M",
    )


def test_put_of_a_command_with_find_and_where() -> None:
    (remove,) = parse_line(":put [/disk remove [find slot=a]]")
    (listing,) = parse_line(":put [/disk print where slot=a]")

    assert remove.command is not None and isinstance(remove.command.items[0], Filter)
    assert listing.command is not None and listing.command.where is not None


@pytest.mark.parametrize(("line", "literal"), [(":put hello", "hello"), (':put "a b\\n"', "a b\n"), (":put", "")])
def test_put_of_a_literal(line: str, literal: str) -> None:
    assert parse_line(line) == (Statement(command=None, text=line, put=True, literal=literal),)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("/disk print; /disk bogus", "bad command name bogus (line 1 column 20)"),
        ("/disk add type=file slot=a; /disk bogus", "bad command name bogus (line 1 column 35)"),
        ("/disk print; /disk print extra", "expected end of command (line 1 column 26)"),
        ('/disk print; /disk set [find] comment="$x"', "syntax error (line 1 column 40)"),
        ("/disk print\n/disk print", "expected end of command (line 2 column 1)"),
        ("/disk print; /disk print\n/disk print", "expected end of command (line 2 column 1)"),
        ("/disk print;\n/disk print", "expected end of command (line 2 column 1)"),
        (":bogus", "bad command name bogus (line 1 column 2)"),
        ("/disk print; :", "syntax error (line 1 column 15)"),
        (":put [/disk print; /disk print]", "syntax error (line 1 column 18)"),
        (":put [/disk print", "syntax error (line 1 column 18)"),
        (":put [/disk print] extra", "expected end of command (line 1 column 20)"),
        (":put [find]", "bad command name find (line 1 column 7)"),
        (":put $x", "syntax error (line 1 column 6)"),
        (";", "syntax error (line 1 column 2)"),
        ("", "syntax error (line 1 column 1)"),
    ],
)
def test_an_error_anywhere_rejects_the_whole_line(line: str, message: str) -> None:
    with pytest.raises(CommandSyntaxError) as raised:
        parse_line(line)

    assert str(raised.value) == message


def test_parse_still_takes_exactly_one_command() -> None:
    assert parse("/disk print;") == DISK_PRINT
    with pytest.raises(CommandSyntaxError, match=r"expected end of command \(line 1 column 14\)"):
        parse("/disk print; /disk print")


@given(st.text(alphabet=st.sampled_from(list('/disk print add[find]where slot~=!"\\$?;:put\n\t xé0A'))))
def test_any_line_parses_or_fails_with_a_console_error(line: str) -> None:
    try:
        parse_line(line)
    except CommandSyntaxError as error:
        assert re.fullmatch(r".+ \(line \d+ column \d+\)", str(error))
