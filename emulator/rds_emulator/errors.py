"""Errors the emulated console prints instead of a reply.

`str(error)` is the exact text written to the channel; every command that fails exits with status 1.
"""

from __future__ import annotations


class ConsoleError(Exception):
    """Base class: the message is the console text."""


class CommandSyntaxError(ConsoleError):
    """The command line could not be parsed; the text carries the RouterOS position suffix."""

    def __init__(self, reason: str, line: int, column: int) -> None:
        super().__init__(f"{reason} (line {line} column {column})")
        self.reason = reason
        self.line = line
        self.column = column


class InvalidValue(ConsoleError):
    def __init__(self, argument: str) -> None:
        super().__init__(f"invalid value for argument {argument}")
        self.argument = argument


class NoMatchingValue(ConsoleError):
    """A value outside an enumeration such as yes/no."""

    def __init__(self, argument: str) -> None:
        super().__init__(f"input does not match any value of {argument}")
        self.argument = argument


class AmbiguousValue(ConsoleError):
    def __init__(self, argument: str) -> None:
        super().__init__(f"ambiguous value of {argument}")
        self.argument = argument


class MissingArguments(ConsoleError):
    def __init__(self, *arguments: str) -> None:
        super().__init__(f"missing value(s) of argument(s) {', '.join(arguments)}")
        self.arguments = arguments


class Failure(ConsoleError):
    """A well-formed command the appliance refused: `failure: <reason>`."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"failure: {reason}")
        self.reason = reason
