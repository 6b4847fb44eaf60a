"""Runs one parsed command against the appliance and turns console errors into replies."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from . import disk_commands, file_commands, system_commands, user_commands
from .appliance import Appliance
from .commandline import Command
from .errors import ConsoleError
from .outcomes import Outcome, Reply

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
    **user_commands.HANDLERS,
}

MUTATING_VERBS = frozenset({"add", "set", "remove"})


def error_reply(error: ConsoleError) -> Reply:
    """Errors go to stdout like on the real console, and the exit status is 1."""
    return Reply(f"{error}\n", exit_status=1)


def execute(appliance: Appliance, command: Command, width: int) -> Outcome:
    """Run `command` with the appliance locked; `width` is the session's console width."""
    handler = _HANDLERS[(command.menu, command.verb)]
    try:
        with appliance.lock:
            return handler(appliance, command, width)
    except ConsoleError as error:
        return error_reply(error)
