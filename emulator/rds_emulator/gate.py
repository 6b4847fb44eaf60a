"""A connection's TCP socket as paramiko's transport sees it, with a gate for the `blackhole` fault.

While the gate is shut, `recv` and `send` time out without touching the socket: paramiko's
transport retries both, so it neither reads nor writes and the connection stays open. The peer
sees what an expired NAT or conntrack entry looks like: no answer, no RST, no FIN. The kernel
still acknowledges what the peer sends; it is only read once the gate opens again.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from typing import Any

_DEFAULT_WAIT = 0.1


class GatedSocket:
    """Implements the part of the socket interface paramiko's Transport and Packetizer use."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._timeout: float | None = None
        self._shut_until = 0.0
        self._opened = threading.Event()
        self._opened.set()
        self._reading = threading.Lock()

    def shut(self, seconds: float | None) -> None:
        """Stop all traffic for `seconds`, or until `open()` when None. Returns at once; call
        `settle()` to wait for a read already in progress."""
        self._shut_until = math.inf if seconds is None else time.monotonic() + seconds
        self._opened.clear()

    def settle(self) -> None:
        """Wait for a `recv` that started before `shut()`: after this, nothing more is read."""
        with self._reading:
            pass

    def open(self) -> None:
        self._shut_until = 0.0
        self._opened.set()

    def silent(self) -> bool:
        return time.monotonic() < self._shut_until

    def settimeout(self, timeout: float | None) -> None:
        self._timeout = timeout
        self._sock.settimeout(timeout)

    def recv(self, size: int) -> bytes:
        with self._reading:
            self._wait_for_open()
            return self._sock.recv(size)

    def send(self, data: bytes) -> int:
        self._wait_for_open()
        return self._sock.send(data)

    def close(self) -> None:
        self._sock.close()

    def getpeername(self) -> Any:
        return self._sock.getpeername()

    @property
    def _closed(self) -> bool:
        """paramiko's `Transport.stop_thread` reads the socket's private `_closed`."""
        return bool(getattr(self._sock, "_closed", False))

    def _wait_for_open(self) -> None:
        """Return when the gate is open; raise `socket.timeout` after the socket's timeout if not."""
        if not self.silent():
            return
        wait = self._timeout if self._timeout is not None else _DEFAULT_WAIT
        self._opened.wait(min(wait, max(0.0, self._shut_until - time.monotonic())))
        if self.silent():
            raise socket.timeout("connection is blackholed")
