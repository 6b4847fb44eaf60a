"""What a command handler gives back to the session that runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Union


@dataclass(frozen=True)
class Reply:
    text: str
    exit_status: int = 0


@dataclass(frozen=True)
class Monitor:
    """Output that repeats every `interval` seconds until the client closes the channel."""

    render: Callable[[], str]
    interval: float = 1.0


Outcome = Union[Reply, Monitor]
