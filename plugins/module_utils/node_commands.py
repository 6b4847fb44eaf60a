# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Node side: the one way the node library runs a program (P-6.8: every subprocess has a timeout).

The driver runs programs with :class:`SubprocessRunner`; an Ansible module passes a runner that
wraps ``module.run_command`` so its subprocesses go through Ansible (P-10.1). Both return a
:class:`CommandResult` and raise :class:`CommandTimeout` when the deadline passes, after the
program has been killed.

Stays compatible with Python 3.9 and the standard library: it runs on nodes.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Optional, Protocol, Sequence

from ansible_collections.srvlab.rds.plugins.module_utils.library_errors import ErrorFamily, LibraryError

DEFAULT_TIMEOUT = 30.0


class CommandTimeout(LibraryError):
    """A program did not finish within its deadline and was killed."""

    family = ErrorFamily.TIMEOUT

    def __init__(self, argv: Sequence[str], timeout: float) -> None:
        super().__init__(
            "%s did not finish within %g s and was killed; the device or mount it worked on may be hung."
            % (" ".join(argv), timeout)
        )
        self.argv = list(argv)
        self.timeout = timeout


class CommandNotFound(LibraryError):
    """The program is not installed where the configuration says."""

    family = ErrorFamily.PRECONDITION

    def __init__(self, program: str) -> None:
        super().__init__("%s is not installed or not executable; install it or fix the configured path." % program)
        self.program = program


@dataclass(frozen=True)
class CommandResult:
    argv: Sequence[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def describe(self) -> str:
        """One line for error messages: the command, its exit code and the first line it printed."""
        output = (self.stderr.strip() or self.stdout.strip()).splitlines()
        first = output[0] if output else "no output"
        return "%s exited %d: %s" % (" ".join(self.argv), self.returncode, first)


class CommandRunner(Protocol):
    def run(self, argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT, stdin: Optional[str] = None) -> CommandResult:
        """Runs ``argv`` without a shell; raises CommandTimeout or CommandNotFound."""
        ...  # pylint: disable=unnecessary-ellipsis


class SubprocessRunner:
    """Runs programs directly with :mod:`subprocess`, killing them at the deadline."""

    def run(self, argv: Sequence[str], timeout: float = DEFAULT_TIMEOUT, stdin: Optional[str] = None) -> CommandResult:
        try:
            completed = subprocess.run(
                list(argv),
                input=stdin,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise CommandTimeout(argv, timeout) from error
        except FileNotFoundError as error:
            raise CommandNotFound(argv[0]) from error
        return CommandResult(
            argv=list(argv), returncode=completed.returncode, stdout=completed.stdout, stderr=completed.stderr
        )
