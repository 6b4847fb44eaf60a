"""What a command handler gives back to the session that runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Union


@dataclass(frozen=True)
class Reply:
    text: str
    exit_status: int = 0
    value: str = ""
    """The command's return value, what `:put [<command>]` prints: the new item's id for `add`."""
    prints_value: bool = False
    """Run on its own (not under `:put`), the command prints its value instead of `text` (`as-value`)."""


@dataclass(frozen=True)
class Monitor:
    """Output that repeats every `interval` seconds until the client closes the channel."""

    render: Callable[[], str]
    interval: float = 1.0
    lead: str = ""
    """Sent once before the first block: the output of the commands before it on the line."""


Outcome = Union[Reply, Monitor]
