# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RouterOS command lines built from validated parts.

Every value that reaches a RouterOS command goes through ``quote``; names (menus, verbs,
argument and field names) are checked against a fixed pattern. A ``Command`` renders itself
twice: once for the wire and once for logs, where secret arguments are masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import FrozenSet, Mapping, Optional, Sequence, Tuple, Union

from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import InvalidValueError

Value = Union[str, int, bool]

_NAME = re.compile(r"[a-z][a-z0-9-]*\Z")
_MENU = re.compile(r"/[a-z][a-z0-9-]*([/ ][a-z][a-z0-9-]*)*\Z")
_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "$": "\\$",
    "?": "\\?",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
# Other control characters go out as \XX: the letter escapes \a, \b and \f are hex digits too,
# so "\a" followed by "b" would read back as the byte 0xAB. NUL is refused before translating.
_ESCAPE_TABLE = {code: "\\%02X" % code for code in range(0x20)}
_ESCAPE_TABLE[0x7F] = "\\7F"
_ESCAPE_TABLE.update({ord(char): escaped for char, escaped in _ESCAPES.items()})
SECRET_MASK = "********"


def quote(value: Value) -> str:
    """Render one value for a RouterOS command line.

    Booleans become ``yes``/``no`` and integers plain decimals. Every string is put inside
    double quotes with ``"``, ``\\``, ``$``, ``?`` and control characters escaped, so no value
    can end the command, start a nested command or a variable, or ask for help. Text that
    cannot be represented (NUL, unpaired surrogates) is refused before anything is sent.
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise InvalidValueError(
            "Cannot send a %s to RouterOS; use text, an integer or a boolean." % type(value).__name__
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidValueError(
            "The value %r is not valid UTF-8 text and cannot be sent to RouterOS." % value
        ) from None
    if "\0" in value:
        raise InvalidValueError("A NUL character cannot be stored on RouterOS; remove it from the value.")
    return '"' + value.translate(_ESCAPE_TABLE) + '"'


def check_name(name: str, what: str = "argument name") -> str:
    if not _NAME.match(name):
        raise InvalidValueError("%r is not a valid RouterOS %s (lower-case letters, digits and '-')." % (name, what))
    return name


@dataclass(frozen=True)
class Condition:
    """``field=value`` (equality) or ``field~"regex"`` (regular expression search)."""

    field: str
    value: Value
    regex: bool = False

    def render(self) -> str:
        return "%s%s%s" % (
            check_name(self.field, "field name"),
            "~" if self.regex else "=",
            quote(self.value),
        )


ArgValue = Union[Value, Tuple[Condition, ...]]
"""An argument's value: a plain value, or a ``[find ...]`` selection (``copy-from``)."""


def equals(field_name: str, value: Value) -> Condition:
    return Condition(field_name, value)


def matches(field_name: str, pattern: str) -> Condition:
    return Condition(field_name, pattern, regex=True)


def _render_conditions(conditions: Sequence[Condition]) -> str:
    return " and ".join(condition.render() for condition in conditions)


def _render_find(conditions: Sequence[Condition]) -> str:
    """``[find slot="x"]`` for one condition; several are joined with ``and`` after ``where``, the
    form RouterOS documents for expressions inside ``find``."""
    if len(conditions) > 1:
        return "[find where %s]" % _render_conditions(conditions)
    return "[find %s]" % _render_conditions(conditions)


@dataclass(frozen=True)
class Command:
    """One RouterOS console command.

    ``target`` selects the items a ``set``/``remove``/``monitor`` acts on (``[find ...]``);
    ``args`` are ``name=value`` pairs, where a value may itself be a ``[find ...]`` selection
    (``copy-from``); ``where`` filters a ``print``; ``words`` are fixed keywords (``detail``).
    """

    menu: str
    verb: str
    target: Tuple[Condition, ...] = ()
    args: Tuple[Tuple[str, ArgValue], ...] = ()
    words: Tuple[str, ...] = ()
    where: Tuple[Condition, ...] = ()
    secret_args: FrozenSet[str] = field(default_factory=frozenset)

    def render(self) -> str:
        return self._render(mask_secrets=False)

    def render_for_log(self) -> str:
        return self._render(mask_secrets=True)

    @property
    def mutates(self) -> bool:
        return self.verb in ("add", "set", "remove")

    def _render(self, mask_secrets: bool) -> str:
        if not _MENU.match(self.menu):
            raise InvalidValueError("%r is not a valid RouterOS menu path." % self.menu)
        parts = [self.menu, check_name(self.verb, "command")]
        if self.target:
            parts.append(_render_find(self.target))
        for name, value in self.args:
            check_name(name)
            if isinstance(value, tuple):
                rendered = _render_find(value)
            elif mask_secrets and name in self.secret_args:
                rendered = SECRET_MASK
            else:
                rendered = quote(value)
            parts.append("%s=%s" % (name, rendered))
        parts.extend(check_name(word, "keyword") for word in self.words)
        if self.where:
            parts.append("where " + _render_conditions(self.where))
        return " ".join(parts)


def print_detail(menu: str, where: Sequence[Condition] = ()) -> Command:
    return Command(menu, "print", words=("detail", "without-paging"), where=tuple(where))


def build(
    menu: str,
    verb: str,
    *,
    target: Sequence[Condition] = (),
    args: Optional[Mapping[str, ArgValue]] = None,
    words: Sequence[str] = (),
    secret_args: Sequence[str] = (),
) -> Command:
    return Command(
        menu,
        verb,
        target=tuple(target),
        args=tuple((args or {}).items()),
        words=tuple(words),
        secret_args=frozenset(secret_args),
    )


@dataclass(frozen=True)
class Script:
    """Several commands for one exec request, joined with ``;`` on one line.

    RouterOS parses the whole line first (a syntax error anywhere runs nothing), then runs the
    commands in order and stops at the first runtime error; newlines would not work over exec.
    A script costs one round trip to the appliance, which is what makes the appliance's latency.
    """

    commands: Tuple[Command, ...]

    def render(self) -> str:
        return "; ".join(command.render() for command in self.commands)

    def render_for_log(self) -> str:
        return "; ".join(command.render_for_log() for command in self.commands)

    @property
    def mutates(self) -> bool:
        return any(command.mutates for command in self.commands)


@dataclass(frozen=True)
class Inspect:
    """``:put [/console inspect as-value request=child path=disk,add]``: the children of a console
    node, here the arguments a command takes (R-7.4). Read-only."""

    menu: str
    verb: str

    def render(self) -> str:
        if not _MENU.match(self.menu):
            raise InvalidValueError("%r is not a valid RouterOS menu path." % self.menu)
        path = [*re.split(r"[/ ]", self.menu.lstrip("/")), check_name(self.verb, "command")]
        return ":put [/console inspect as-value request=child path=%s]" % ",".join(path)

    def render_for_log(self) -> str:
        return self.render()

    @property
    def mutates(self) -> bool:
        return False


Runnable = Union[Command, Script, Inspect]
"""What the client sends in one exec request."""


def script(*commands: Command) -> Script:
    return Script(tuple(commands))
