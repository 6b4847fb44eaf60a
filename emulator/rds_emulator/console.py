"""Runs a parsed line, statement by statement, against the appliance and turns console errors into
replies.

A line runs as RouterOS runs a script (R-7.1): the statements one by one, their outputs
concatenated; the first one that fails ends the line with its error after the output before it,
and the rest does not run. What ran stays done.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

from . import disk_commands, file_commands, inspect_command, system_commands, user_commands
from .appliance import Appliance
from .commandline import Command, Statement
from .errors import ConsoleError, Failure
from .outcomes import Monitor, Outcome, Reply

Handler = Callable[[Appliance, Command, int], Outcome]

_HANDLERS: Mapping[tuple[str, str], Handler] = {
    ("/disk", "add"): disk_commands.add,
    ("/disk", "set"): disk_commands.set_,
    ("/disk", "remove"): disk_commands.remove,
    ("/disk", "print"): disk_commands.print_,
    ("/disk", "monitor-traffic"): disk_commands.monitor_traffic,
    ("/file", "print"): file_commands.print_,
    ("/file", "remove"): file_commands.remove,
    ("/file", "add"): file_commands.add,
    ("/system/resource", "print"): system_commands.resource_print,
    ("/system/identity", "print"): system_commands.identity_print,
    ("/system/health", "print"): system_commands.health_print,
    ("/console", "inspect"): inspect_command.inspect,
    **user_commands.HANDLERS,
}

MUTATING_VERBS = frozenset({"add", "set", "remove"})
_NO_FAILURES: Mapping[int, ConsoleError] = MappingProxyType({})


@dataclass(frozen=True)
class LineResult:
    outcome: Outcome
    statements_run: int
    """Statements started, the failing one included; those after a failure are not."""


def is_mutating(statement: Statement) -> bool:
    return statement.command is not None and statement.command.verb in MUTATING_VERBS


def error_reply(error: ConsoleError) -> Reply:
    """Errors go to stdout like on the real console, and the exit status is 1."""
    return Reply(f"{error}\n", exit_status=1)


def run_line(
    appliance: Appliance,
    statements: Sequence[Statement],
    width: int,
    failures: Mapping[int, ConsoleError] = _NO_FAILURES,
) -> LineResult:
    """Run `statements` with the session's console `width`. `failures` maps the index of a
    statement to the error it fails with instead of running (how faults refuse a command)."""
    printed: list[str] = []
    for index, statement in enumerate(statements):
        try:
            outcome = _run_statement(appliance, statement, width, failures.get(index))
        except ConsoleError as error:
            return LineResult(Reply("".join(printed) + f"{error}\n", exit_status=1), index + 1)
        if isinstance(outcome, Monitor):
            # A monitor never ends, so nothing after it on the line ever runs.
            return LineResult(replace(outcome, lead="".join(printed) + outcome.lead), index + 1)
        printed.append(outcome.text)
    return LineResult(Reply("".join(printed)), len(statements))


def _run_statement(appliance: Appliance, statement: Statement, width: int, failure: ConsoleError | None) -> Outcome:
    if failure is not None:
        raise failure
    if statement.command is None:
        return Reply(f"{statement.literal}\n")
    outcome = _run_command(appliance, statement.command, width)
    if statement.put and isinstance(outcome, Reply):
        return Reply(f"{outcome.text}{outcome.value}\n")
    if isinstance(outcome, Reply) and outcome.prints_value:
        return Reply(f"{outcome.value}\n")
    return outcome


def _run_command(appliance: Appliance, command: Command, width: int) -> Outcome:
    """The command's outcome with the appliance locked; raise ConsoleError when it fails."""
    handler = _HANDLERS[(command.menu, command.verb)]
    if command.menu == "/disk":
        command = appliance.dialect.canonical(command)
    try:
        with appliance.lock:
            return handler(appliance, command, width)
    except ConsoleError:
        raise
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        raise Failure(f"emulator internal error: {error}") from error
