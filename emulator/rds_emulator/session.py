"""One exec channel: parse the command, apply the faults planned for it, run it, reply.

The reply is the command's output on stdout followed by its exit status (0 or 1); the caller
closes the channel afterwards.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .appliance import Appliance
from .commandline import Command, parse
from .console import MUTATING_VERBS, error_reply, execute
from .errors import CommandSyntaxError, ConsoleError, Failure
from .fault_board import FaultPlan
from .faults import FaultKind
from .outcomes import Monitor, Outcome, Reply


@dataclass(frozen=True)
class SessionContext:
    appliance: Appliance
    width: int
    stopping: threading.Event
    plan_faults: Callable[[str, bool], FaultPlan]
    drop_connection: Callable[[], None]
    """Close this session's connection abruptly: no reply, no exit status, no SSH goodbye."""
    reboot: Callable[[float], None]
    abandoned: Callable[[], bool]
    """True once the connection is gone or the server is stopping."""
    release_session: Callable[[], None]
    """Stop counting this session as open; called before the exit status goes out, so a client
    that opens its next session as soon as it has the status is never refused (idempotent)."""


def run_command(channel: Any, raw_command: bytes, context: SessionContext) -> None:
    line = raw_command.decode("utf-8", errors="replace")
    command: Command | ConsoleError
    try:
        command = parse(line)
    except CommandSyntaxError as error:
        command = error
    mutating = isinstance(command, Command) and command.verb in MUTATING_VERBS
    plan = context.plan_faults(line, mutating)
    if plan.latency and context.stopping.wait(plan.latency):
        return
    if plan.action is FaultKind.DROP:
        context.drop_connection()
        return
    if plan.action is FaultKind.REBOOT:
        context.reboot(plan.reboot_seconds)
        return
    if plan.action is FaultKind.HANG:
        _wait_until_gone(channel, context)
        return
    if plan.action is FaultKind.NO_SPACE:
        command = Failure("not enough space")
    outcome = error_reply(command) if isinstance(command, ConsoleError) else _execute(command, context)
    if plan.action is FaultKind.LOSE_REPLY:
        context.drop_connection()
        return
    _send(channel, outcome, context)


def _execute(command: Command, context: SessionContext) -> Outcome:
    try:
        return execute(context.appliance, command, context.width)
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        return Reply(f"failure: emulator internal error: {error}\n", exit_status=1)


def _send(channel: Any, outcome: Outcome, context: SessionContext) -> None:
    if isinstance(outcome, Reply):
        channel.sendall(outcome.text.encode("utf-8"))
        context.release_session()
        channel.send_exit_status(outcome.exit_status)
        return
    _stream(channel, outcome, context)


def _stream(channel: Any, monitor: Monitor, context: SessionContext) -> None:
    """Repeat the monitor's output until the client closes the channel or the server stops."""
    while not (channel.closed or context.abandoned()):
        with context.appliance.lock:
            block = monitor.render()
        try:
            channel.sendall(block.encode("utf-8"))
        except OSError:
            return
        context.stopping.wait(monitor.interval)


def _wait_until_gone(channel: Any, context: SessionContext) -> None:
    while not (channel.closed or context.abandoned()):
        context.stopping.wait(0.1)
