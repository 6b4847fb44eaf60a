"""Tokenizer and parser for one RouterOS console line (the subset the emulator serves).

Grammar, informally:

    line      := blank* path blank+ verb (blank+ token)* blank* [";" | newline] rest-is-blank
    path      := ["/"] word (("/" | blank+) word)*         words are menus of `grammar.MENUS`
    token     := name "=" value | "where" condition ("and" condition)* | flag | item
    value     := quoted | "[" "find" find-body "]" | bare | (nothing: the empty string)
    item      := quoted | "[" "find" find-body "]" | bare
    find-body := (condition)* | "where" condition ("and" condition)*
    condition := field ("=" | "~" | "!=") (quoted | bare)

`bare` is a run of the characters `quoting.is_bare_character` accepts; `blank` is space or tab.
A `;` or a newline ends the command, and anything but blanks after it is refused: this emulator
runs one command per exec request. `$` (variables) and `?` (help) are refused wherever they are
not escaped inside quotes. Positions in errors are 1-based like the console's.
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

__all__ = ["ArgValue", "Command", "CommandSyntaxError", "Condition", "Filter", "Operator", "parse"]

_BLANKS = " \t"
_LINE_ENDS = ";\n\r"
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


def parse(line: str) -> Command:
    """Parse one console line; raise `CommandSyntaxError` with the console's text on any error."""
    return _Parser(line).command()


class _Parser:
    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0

    def command(self) -> Command:
        self._skip_blanks()
        menu, verb = self._path()
        verb_grammar = grammar.MENUS[menu].verbs[verb]
        args: dict[str, ArgValue] = {}
        items: list[ArgValue] = []
        flags: set[str] = set()
        where: Filter | None = None
        while self._skip_blanks() and not self._at_line_end():
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
                    where = self._where(menu, closing="")
                    break
                elif word in verb_grammar.flags:
                    flags.add(word)
                else:
                    self._add_item(items, word, verb_grammar, start)
            self._expect_separator(closing="")
        self._end_of_line()
        return Command(
            menu=menu,
            verb=verb,
            args=MappingProxyType(args),
            items=tuple(items),
            flags=frozenset(flags),
            where=where,
        )

    def _path(self) -> tuple[str, str]:
        node = ""
        if self._peek() == "/":
            self._pos += 1
        while True:
            self._skip_blanks()
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
            menu = grammar.MENUS.get(node)
            if menu is None or word not in menu.verbs:
                raise self._error(f"bad command name {word}", start)
            self._expect_separator(closing="")
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
        self._skip_blanks()
        start = self._pos
        word = self._bare_run()
        if word != "find":
            raise self._error(f"bad command name {word}" if word else "syntax error", start)
        conditions: list[Condition] = []
        while self._skip_blanks() and self._peek() != "]":
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
            self._skip_blanks()
            if self._at_line_end() or (closing and self._peek() == closing):
                return Filter(tuple(conditions))
            start = self._pos
            if self._run(_NAME_CHARACTERS.__contains__) != "and" or not self._next_in(_BLANKS):
                raise self._error("syntax error", start)
            conditions.append(self._condition(menu, unknown_field="syntax error"))

    def _condition(self, menu: str, unknown_field: str) -> Condition:
        self._skip_blanks()
        start = self._pos
        name = self._run(_NAME_CHARACTERS.__contains__)
        if not name:
            raise self._error("syntax error", start)
        if name not in grammar.MENUS[menu].fields:
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

    def _end_of_line(self) -> None:
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

    def _skip_blanks(self) -> bool:
        """Skip blanks; true when there is anything left on the line to look at."""
        while self._next_in(_BLANKS):
            self._pos += 1
        return self._pos < len(self._text)

    def _at_line_end(self) -> bool:
        return self._pos >= len(self._text) or self._next_in(_LINE_ENDS)

    def _next_in(self, characters: str) -> bool:
        return self._pos < len(self._text) and self._text[self._pos] in characters

    def _peek(self) -> str:
        return self._text[self._pos : self._pos + 1]

    def _error(self, reason: str, position: int) -> CommandSyntaxError:
        line = self._text.count("\n", 0, position) + 1
        column = position - (self._text.rfind("\n", 0, position) + 1) + 1
        return CommandSyntaxError(reason, line, column)
