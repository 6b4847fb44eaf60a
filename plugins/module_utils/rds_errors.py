# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception hierarchy for talking to an RDS, and the classifier of RouterOS error text.

Modules turn these into ``fail_json`` messages and the CSI driver into gRPC codes, each in one
place. ``transient`` says whether retrying the same call can succeed; ``outcome_unknown`` says
whether a mutating command may have been applied although no answer arrived (P-4.5).
"""

from __future__ import annotations

import re
from typing import Optional

from ansible_collections.srvlab.rds.plugins.module_utils.library_errors import ErrorFamily, LibraryError


class RdsError(LibraryError):
    """Base of every error raised by the RDS client."""


class RdsCommandError(RdsError):
    """The appliance answered a command with an error message."""

    def __init__(self, message: str, command: str = "", output: str = "") -> None:
        super().__init__(message)
        self.command = command
        self.output = output


class NotFoundError(RdsCommandError):
    """The item the command names does not exist."""

    family = ErrorFamily.NOT_FOUND


class AlreadyExistsError(RdsCommandError):
    """An item with the same key (slot, file, NQN) already exists."""

    family = ErrorFamily.ALREADY_EXISTS


class NoSpaceError(RdsCommandError):
    """The storage pool has not enough free space."""

    family = ErrorFamily.NO_SPACE


class InvalidValueError(RdsCommandError):
    """A value or a command was refused as invalid, by the appliance or before sending."""

    family = ErrorFamily.INVALID


class InUseError(RdsCommandError):
    """The item is still used by something else (a file backing a disk)."""

    family = ErrorFamily.PRECONDITION


class RdsConnectionError(RdsError):
    """The SSH connection could not be used."""

    family = ErrorFamily.UNAVAILABLE

    def __init__(self, message: str, outcome_unknown: bool = False) -> None:
        super().__init__(message)
        self.outcome_unknown = outcome_unknown


class AuthenticationError(RdsConnectionError):
    """The appliance refused our credentials."""


class HostKeyError(RdsConnectionError):
    """The appliance's host key is not the one we trust."""


class UnreachableError(RdsConnectionError):
    """No SSH connection could be established."""

    transient = True


class ConnectionLostError(RdsConnectionError):
    """The connection dropped while a command was running."""

    transient = True


class RdsTimeoutError(RdsConnectionError):
    """A connection attempt or a command did not finish within its timeout."""

    transient = True


class UnsupportedVersionError(RdsError):
    """The appliance runs a RouterOS version the field table does not know."""

    family = ErrorFamily.PRECONDITION


class ParseError(RdsError):
    """RouterOS output did not have a layout the parser understands."""


_CLASSES = (
    (re.compile(r"(failure:\s*)?(no such item|.*\b(not found|does not exist))", re.I), NotFoundError),
    (
        re.compile(r"(failure:\s*)?.*\b(already exists|already have such|already in use)", re.I),
        AlreadyExistsError,
    ),
    (re.compile(r"(failure:\s*)?(not enough space|no space left|disk full)", re.I), NoSpaceError),
    (re.compile(r"(failure:\s*)?.*\b(in use|busy)\b", re.I), InUseError),
    (
        re.compile(
            r"(failure:\s*)?(invalid value|bad command name|expected end of command|syntax error|ambiguous value|"
            r"input does not match any value|expected command name|missing value)",
            re.I,
        ),
        InvalidValueError,
    ),
)
_ERROR_START = re.compile(r"(failure|error):", re.I)


def classify(output: str, exit_status: int, command: str, several: bool = False) -> Optional[RdsCommandError]:
    """Return the error a command's output and exit status describe, or None on success.

    RouterOS prints an error as one message, and its exit status over exec is not reliable: a
    known message counts as an error whatever the status, and a non-zero status with an unknown
    message is an error too. A single command's message starts the output. In a line of
    ``several`` commands, the ones before the failure print first and the message comes last, so
    the last line is read too when it starts at the margin (item lines are indented or numbered).
    Printed items never match, because the patterns are anchored at the start of a line.
    """
    lines = [line for line in output.splitlines() if line.strip()]
    candidates = [lines[0].strip()] if lines else [""]
    if several and len(lines) > 1 and not lines[-1][:1].isspace() and not lines[-1][:1].isdigit():
        candidates.append(lines[-1].strip())
    for line in candidates:
        for pattern, error_class in _CLASSES:
            if pattern.match(line) and (exit_status != 0 or _is_message(line)):
                return error_class(_message(line, command), command, output)
    if exit_status != 0 or any(_ERROR_START.match(line) for line in candidates):
        text = candidates[-1] or "exit status %d" % exit_status
        return RdsCommandError(_message(text, command), command, output)
    return None


def _is_message(line: str) -> bool:
    """A printed item or key: value screen contains '=' or ': ' after a key; a message does not."""
    if _ERROR_START.match(line):
        return True
    return "=" not in line and not re.match(r"[a-z][a-z0-9-]*: ", line)


def _message(text: str, command: str) -> str:
    return "RouterOS refused '%s': %s" % (command, text)
