"""Reading argument values of a parsed command, with the console's error for each bad value."""

from __future__ import annotations

from .commandline import ArgValue, Command
from .errors import InvalidValue, MissingArguments, NoMatchingValue
from .units import parse_size


def text(name: str, value: ArgValue) -> str:
    if not isinstance(value, str):
        raise InvalidValue(name)
    return value


def yes_no(name: str, value: ArgValue) -> bool:
    if value not in ("yes", "no"):
        raise NoMatchingValue(name)
    return value == "yes"


def port(name: str, value: ArgValue) -> int:
    number = text(name, value)
    if not number.isascii() or not number.isdigit() or not 1 <= int(number) <= 65535:
        raise InvalidValue(name)
    return int(number)


def size(name: str, value: ArgValue) -> int:
    try:
        parsed = parse_size(text(name, value))
    except ValueError:
        raise InvalidValue(name) from None
    if parsed <= 0:
        raise InvalidValue(name)
    return parsed


def require(command: Command, *names: str) -> None:
    missing = [name for name in names if name not in command.args]
    if missing:
        raise MissingArguments(*missing)


def the_item(command: Command) -> ArgValue:
    """The single unnamed item (`[find ...]` or a name) of set, remove and monitor-traffic."""
    if not command.items:
        raise MissingArguments("numbers")
    return command.items[0]
