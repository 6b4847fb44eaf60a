"""One exec channel: parse its line, apply the faults planned for it, run it, reply.

The reply is the line's output on stdout followed by its exit status (0, or 1 when a statement
failed); the caller closes the channel afterwards. Faults are planned once per exec request: a
fault whose `match` finds any command of the line applies to the whole line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .appliance import Appliance
from .commandline import Statement, parse_line
from .console import error_reply, is_mutating, run_line
from .errors import CommandSyntaxError, ConsoleError, Failure
from .fault_board import FaultPlan
from .faults import FaultKind
from .outcomes import Monitor, Outcome, Reply


@dataclass(frozen=True)
class SessionContext:
    appliance: Appliance
    width: int
    stopping: threading.Event
    plan_faults: Callable[[str, bool, Sequence[str]], FaultPlan]
    """(raw line, whether a command of it mutates, the commands' own texts) -> the plan."""
    drop_connection: Callable[[], None]
    """Close this session's connection abruptly: no reply, no exit status, no SSH goodbye."""
    reboot: Callable[[float], None]
    abandoned: Callable[[], bool]
    """True once the connection is gone or the server is stopping."""
    release_session: Callable[[], None]
    """Stop counting this session as open; called before the exit status goes out, so a client
    that opens its next session as soon as it has the status is never refused (idempotent)."""
    commands_ran: Callable[[int], None]
    """Count the statements of the line that were started (for the stats)."""


def run_command(channel: Any, raw_command: bytes, context: SessionContext) -> None:
    line = raw_command.decode("utf-8", errors="replace")
    parsed: tuple[Statement, ...] | CommandSyntaxError
    try:
        parsed = parse_line(line, context.appliance.menus)
    except CommandSyntaxError as error:
        parsed = error
    statements = () if isinstance(parsed, CommandSyntaxError) else parsed
    texts = [text for statement in statements for text in statement.texts]
    plan = context.plan_faults(line, any(is_mutating(statement) for statement in statements), texts)
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
    outcome = error_reply(parsed) if isinstance(parsed, ConsoleError) else _run(statements, plan, context)
    if plan.action is FaultKind.LOSE_REPLY:
        context.drop_connection()
        return
    _send(channel, outcome, context)


def _run(statements: Sequence[Statement], plan: FaultPlan, context: SessionContext) -> Outcome:
    result = run_line(context.appliance, statements, context.width, _injected_failures(statements, plan))
    context.commands_ran(result.statements_run)
    return result.outcome


def _injected_failures(statements: Sequence[Statement], plan: FaultPlan) -> Mapping[int, ConsoleError]:
    """`no_space` refuses one mutating command of the line: the first its pattern finds (else the
    first mutating one); the commands before it run, the rest does not."""
    fault = plan.fault
    if fault is None or fault.kind is not FaultKind.NO_SPACE:
        return {}
    mutating = [index for index, statement in enumerate(statements) if is_mutating(statement)]
    matching = [index for index in mutating if fault.matches(*statements[index].texts)]
    return {(matching or mutating)[0]: Failure("not enough space")}


def _send(channel: Any, outcome: Outcome, context: SessionContext) -> None:
    if isinstance(outcome, Reply):
        channel.sendall(outcome.text.encode("utf-8"))
        context.release_session()
        channel.send_exit_status(outcome.exit_status)
        return
    _stream(channel, outcome, context)


def _stream(channel: Any, monitor: Monitor, context: SessionContext) -> None:
    """Repeat the monitor's output until the client closes the channel or the server stops."""
    if monitor.lead:
        channel.sendall(monitor.lead.encode("utf-8"))
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
