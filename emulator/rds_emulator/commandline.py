"""Tokenizer and parser for RouterOS console lines (the subset the emulator serves).

Grammar, informally:

    line      := (";" | blank)* statement (blank* ";" (";" | blank)* statement)* (";" | blank)* [newline rest]
    statement := command | ":put" blank+ ("[" blank* command blank* "]" | quoted | bare)
    command   := path blank+ verb (blank+ token)*
    path      := ["/"] word (("/" | blank+) word)*         words are menus of `grammar.MENUS`
    token     := name "=" value | "where" condition ("and" condition)* | flag | item
    value     := quoted | "[" "find" find-body "]" | bare | (nothing: the empty string)
    item      := quoted | "[" "find" find-body "]" | bare
    find-body := (condition)* | "where" condition ("and" condition)*
    condition := field ("=" | "~" | "!=") (quoted | bare)

`bare` is a run of the characters `quoting.is_bare_character` accepts; `blank` is space or tab.
Statements are separated by `;` (R-7.1). A newline ends the line: `rest` may hold only blanks,
`;` and newlines, anything else is `expected end of command`, because RouterOS runs no
newline-separated commands over exec. `$` (variables) and `?` (help) are refused wherever they are
not escaped inside quotes. Positions in errors are 1-based like the console's, counted over the
whole line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Union

from . import grammar
from .errors import CommandSyntaxError
from .quoting import ESCAPED_CHARACTERS, is_bare_character, is_control

__all__ = [
    "ArgValue",
    "Command",
    "CommandSyntaxError",
    "Condition",
    "Filter",
    "Operator",
    "Statement",
    "parse",
    "parse_line",
]

_BLANKS = " \t"
_LINE_ENDS = ";\n\r"
_NEWLINES = "\n\r"
_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_HEX_FIRST = frozenset("0123456789ABCDEF")
_HEX_SECOND = frozenset("0123456789ABCDEFabcdef")


class Operator(Enum):
    EQUALS = "="
    MATCHES = "~"
    DIFFERS = "!="


@dataclass(frozen=True)
class Condition:
    field: str
    operator: Operator
    value: str

    def holds_for(self, actual: str) -> bool:
        if self.operator is Operator.EQUALS:
            return actual == self.value
        if self.operator is Operator.DIFFERS:
            return actual != self.value
        return re.search(self.value, actual) is not None


@dataclass(frozen=True)
class Filter:
    """Conditions joined by `and`; no conditions matches everything (`[find]`)."""

    conditions: tuple[Condition, ...] = ()

    def matches(self, value_of: Callable[[str], str]) -> bool:
        return all(condition.holds_for(value_of(condition.field)) for condition in self.conditions)


ArgValue = Union[str, Filter]


@dataclass(frozen=True)
class Command:
    menu: str
    """Canonical menu path with slashes: `/disk`, `/system/resource`."""
    verb: str
    args: Mapping[str, ArgValue] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    """Named arguments in the order given, values unquoted."""
    items: tuple[ArgValue, ...] = ()
    flags: frozenset[str] = frozenset()
    where: Filter | None = None


@dataclass(frozen=True)
class Statement:
    """One statement of a line: a command, or `:put` of a command's value or of a literal."""

    command: Command | None
    text: str
    """The statement's source text, without the separators around it."""
    put: bool = False
    literal: str = ""
    """What `:put <value>` prints; only when `command` is None."""
    command_text: str = ""
    """The nested command's source text of `:put [<command>]`, else the statement's."""

    @property
    def texts(self) -> tuple[str, ...]:
        """The statement's text and, for `:put [<command>]`, the nested command's."""
        return tuple(dict.fromkeys(text for text in (self.text, self.command_text) if text))


def parse(line: str, menus: Mapping[str, grammar.MenuGrammar] | None = None) -> Command:
    """Parse a line of exactly one command; raise `CommandSyntaxError` with the console's text on
    any error, `expected end of command` where a second statement starts. `menus` defaults to the
    newest version's command table."""
    parser = _Parser(line, grammar.MENUS if menus is None else menus)
    parser.skip_blanks()
    command = parser.command(closing="")
    parser.end_of_line()
    return command


def parse_line(line: str, menus: Mapping[str, grammar.MenuGrammar] | None = None) -> tuple[Statement, ...]:
    """Parse every `;`-separated statement of a line against the command table `menus` (one
    version's names, the newest by default); any error rejects the whole line."""
    return _Parser(line, grammar.MENUS if menus is None else menus).statements()


class _Parser:
    def __init__(self, text: str, menus: Mapping[str, grammar.MenuGrammar]) -> None:
        self._text = text
        self._pos = 0
        self._menus = menus

    def statements(self) -> tuple[Statement, ...]:
        found: list[Statement] = []
        while True:
            while self._next_in(_BLANKS + ";"):
                self._pos += 1
            if self._pos >= len(self._text) or self._next_in(_NEWLINES):
                break
            found.append(self._statement())
            self.skip_blanks()
            if not self._at_line_end():
                raise self._error("expected end of command", self._pos)
        if not found:
            raise self._error("syntax error", self._pos)
        self.end_of_line()
        return tuple(found)

    def _statement(self) -> Statement:
        start = self._pos
        if self._peek() != ":":
            command = self.command(closing="")
            text = self._text[start : self._pos].rstrip(_BLANKS)
            return Statement(command=command, text=text, command_text=text)
        self._pos += 1
        word_start = self._pos
        word = self._run(_NAME_CHARACTERS.__contains__)
        if word != "put":
            raise self._error(f"bad command name {word}" if word else "syntax error", word_start)
        self._expect_separator(closing="")
        self.skip_blanks()
        if self._peek() != "[":
            literal = self._quoted() if self._peek() == '"' else self._bare_run()
            self._expect_separator(closing="")
            return Statement(command=None, text=self._text[start : self._pos], put=True, literal=literal)
        self._pos += 1
        self.skip_blanks()
        command_start = self._pos
        command = self.command(closing="]")
        command_text = self._text[command_start : self._pos].rstrip(_BLANKS)
        if self._peek() != "]":
            raise self._error("syntax error", self._pos)
        self._pos += 1
        self._expect_separator(closing="")
        text = self._text[start : self._pos]
        return Statement(command=command, text=text, put=True, command_text=command_text)

    def command(self, closing: str) -> Command:
        """A command from the current position up to the end of the line, a `;` or `closing`."""
        menu, verb = self._path(closing)
        verb_grammar = self._menus[menu].verbs[verb]
        args: dict[str, ArgValue] = {}
        items: list[ArgValue] = []
        flags: set[str] = set()
        where: Filter | None = None
        while self.skip_blanks() and not self._at_command_end(closing):
            start = self._pos
            if self._next_in('"['):
                self._add_item(items, self._value(menu), verb_grammar, start)
            else:
                word = self._bare_run()
                if not word:
                    raise self._error("syntax error", start)
                if self._peek() == "=":
                    if word not in verb_grammar.args or word in args:
                        raise self._error("expected end of command", start)
                    self._pos += 1
                    args[word] = self._value(menu)
                elif word == "where" and verb_grammar.where:
                    where = self._where(menu, closing=closing)
                    break
                elif word in verb_grammar.flags:
                    flags.add(word)
                else:
                    self._add_item(items, word, verb_grammar, start)
            self._expect_separator(closing=closing)
        return Command(
            menu=menu,
            verb=verb,
            args=MappingProxyType(args),
            items=tuple(items),
            flags=frozenset(flags),
            where=where,
        )

    def _path(self, closing: str) -> tuple[str, str]:
        node = ""
        if self._peek() == "/":
            self._pos += 1
        while True:
            self.skip_blanks()
            start = self._pos
            word = self._run(lambda character: is_bare_character(character) and character != "/")
            if not word:
                raise self._error("syntax error", start)
            candidate = f"{node}/{word}"
            if candidate in grammar.MENU_NODES:
                node = candidate
                if self._peek() == "/":
                    self._pos += 1
                continue
            menu = self._menus.get(node)
            if menu is None or word not in menu.verbs:
                raise self._error(f"bad command name {word}", start)
            self._expect_separator(closing=closing)
            return node, word

    def _add_item(self, items: list[ArgValue], item: ArgValue, verb: grammar.VerbGrammar, start: int) -> None:
        if len(items) >= verb.max_items:
            raise self._error("expected end of command", start)
        items.append(item)

    def _value(self, menu: str) -> ArgValue:
        character = self._peek()
        if character == '"':
            return self._quoted()
        if character == "[":
            return self._find(menu)
        return self._bare_run()

    def _find(self, menu: str) -> Filter:
        self._pos += 1
        self.skip_blanks()
        start = self._pos
        word = self._bare_run()
        if word != "find":
            raise self._error(f"bad command name {word}" if word else "syntax error", start)
        conditions: list[Condition] = []
        while self.skip_blanks() and self._peek() != "]":
            if self._at_line_end():
                raise self._error("syntax error", self._pos)
            start = self._pos
            if self._run(_NAME_CHARACTERS.__contains__) == "where":
                conditions.extend(self._where(menu, closing="]").conditions)
                break
            self._pos = start
            conditions.append(self._condition(menu, unknown_field="expected end of command"))
            self._expect_separator(closing="]")
        if self._peek() != "]":
            raise self._error("syntax error", self._pos)
        self._pos += 1
        return Filter(tuple(conditions))

    def _where(self, menu: str, closing: str) -> Filter:
        conditions = [self._condition(menu, unknown_field="syntax error")]
        while True:
            self._expect_separator(closing)
            self.skip_blanks()
            if self._at_command_end(closing):
                return Filter(tuple(conditions))
            start = self._pos
            if self._run(_NAME_CHARACTERS.__contains__) != "and" or not self._next_in(_BLANKS):
                raise self._error("syntax error", start)
            conditions.append(self._condition(menu, unknown_field="syntax error"))

    def _condition(self, menu: str, unknown_field: str) -> Condition:
        self.skip_blanks()
        start = self._pos
        name = self._run(_NAME_CHARACTERS.__contains__)
        if not name:
            raise self._error("syntax error", start)
        if name not in self._menus[menu].fields:
            raise self._error(unknown_field, start)
        operator = self._operator()
        value_start = self._pos
        value = self._quoted() if self._peek() == '"' else self._bare_run()
        if operator is Operator.MATCHES:
            try:
                re.compile(value)
            except re.error:
                raise self._error("syntax error", value_start) from None
        return Condition(name, operator, value)

    def _operator(self) -> Operator:
        for operator in (Operator.DIFFERS, Operator.EQUALS, Operator.MATCHES):
            if self._text.startswith(operator.value, self._pos):
                self._pos += len(operator.value)
                return operator
        raise self._error("syntax error", self._pos)

    def _quoted(self) -> str:
        opening = self._pos
        self._pos += 1
        decoded = bytearray()
        while True:
            character = self._peek()
            if character == "":
                raise self._error("syntax error", self._pos)
            if character == '"':
                self._pos += 1
                break
            if character == "\\":
                decoded += self._escape()
                continue
            if character in "$?" or is_control(character) or "\ud800" <= character <= "\udfff":
                raise self._error("syntax error", self._pos)
            decoded += character.encode("utf-8")
            self._pos += 1
        try:
            return decoded.decode("utf-8")
        except UnicodeDecodeError:
            raise self._error("syntax error", opening) from None

    def _escape(self) -> bytes:
        """Decode the escape at the backslash. Named escapes win; `\\XX` starts with 0-9 or A-F."""
        start = self._pos
        letter = self._text[start + 1 : start + 2]
        named = ESCAPED_CHARACTERS.get(letter)
        if named is not None:
            self._pos += 2
            return named.encode("utf-8")
        digits = self._text[start + 1 : start + 3]
        if len(digits) == 2 and digits[0] in _HEX_FIRST and digits[1] in _HEX_SECOND:
            self._pos += 3
            return bytes([int(digits, 16)])
        raise self._error("syntax error", start)

    def end_of_line(self) -> None:
        """Only blanks, `;` and newlines may follow the last statement."""
        while self._next_in(_BLANKS + _LINE_ENDS):
            self._pos += 1
        if self._pos < len(self._text):
            raise self._error("expected end of command", self._pos)

    def _expect_separator(self, closing: str) -> None:
        if self._pos < len(self._text) and not self._next_in(_BLANKS + _LINE_ENDS + closing):
            raise self._error("syntax error", self._pos)

    def _bare_run(self) -> str:
        return self._run(is_bare_character)

    def _run(self, accepts: Callable[[str], bool]) -> str:
        start = self._pos
        while self._pos < len(self._text) and accepts(self._text[self._pos]):
            self._pos += 1
        return self._text[start : self._pos]

    def skip_blanks(self) -> bool:
        """Skip blanks; true when there is anything left on the line to look at."""
        while self._next_in(_BLANKS):
            self._pos += 1
        return self._pos < len(self._text)

    def _at_line_end(self) -> bool:
        return self._pos >= len(self._text) or self._next_in(_LINE_ENDS)

    def _at_command_end(self, closing: str) -> bool:
        return self._at_line_end() or (closing != "" and self._peek() == closing)

    def _next_in(self, characters: str) -> bool:
        return self._pos < len(self._text) and self._text[self._pos] in characters

    def _peek(self) -> str:
        return self._text[self._pos : self._pos + 1]

    def _error(self, reason: str, position: int) -> CommandSyntaxError:
        line = self._text.count("\n", 0, position) + 1
        column = position - (self._text.rfind("\n", 0, position) + 1) + 1
        return CommandSyntaxError(reason, line, column)
