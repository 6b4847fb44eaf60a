"""The SSH side of one connection: authentication, channel admission and exec requests.

paramiko calls these methods on its transport thread. Only `session` channels with `exec`
requests are served; shell, pty and subsystem requests are refused, as are keepalive global
requests (RouterOS rejects them, R-1).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paramiko

from .logins import parse_login, read_authorized_keys
from .stats import StatsRecorder
from .user_table import UserTable


class _ExecRequest:
    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.command: bytes | None = None


class ConnectionInterface(paramiko.ServerInterface):  # type: ignore[misc]
    def __init__(
        self,
        *,
        user: str,
        password: str | None,
        authorized_keys: Path | None,
        default_width: int,
        width_limits: tuple[int, int],
        connection: int,
        stats: StatsRecorder,
        max_sessions: int,
        users: UserTable | None = None,
    ) -> None:
        self._user = user
        self._password = password
        self._authorized_keys = authorized_keys
        self._width_limits = width_limits
        self._connection = connection
        self._stats = stats
        self._max_sessions = max_sessions
        self._users = users
        self._requests: dict[int, _ExecRequest] = {}
        self._requests_lock = threading.Lock()
        self.width = default_width
        """Console width of this login: the `+<digits>w` option when in range, else the default."""

    def get_allowed_auths(self, username: str) -> str:
        login = parse_login(username)
        if login.user == self._user:
            password = self._password_allowed()
        else:
            password = self._users is not None and self._users.password_login_possible(login.user)
        return "publickey,password" if password else "publickey"

    def check_auth_publickey(self, username: str, key: Any) -> int:
        """The built-in user's authorized_keys file, or the keys of a user added with `/user add`."""
        login = parse_login(username)
        if login.user == self._user:
            accepted = key.asbytes() in read_authorized_keys(self._authorized_keys)
        else:
            accepted = self._users is not None and self._users.accepts_key(login.user, key.asbytes())
        if accepted:
            self._accept_login(login.width)
            return int(paramiko.AUTH_SUCCESSFUL)
        return int(paramiko.AUTH_FAILED)

    def check_auth_password(self, username: str, password: str) -> int:
        """RouterOS refuses passwords for a user that has a public key (R-1)."""
        login = parse_login(username)
        if login.user == self._user:
            accepted = self._password_allowed() and password == self._password
        else:
            accepted = self._users is not None and self._users.accepts_password(login.user, password)
        if accepted:
            self._accept_login(login.width)
            return int(paramiko.AUTH_SUCCESSFUL)
        return int(paramiko.AUTH_FAILED)

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind != "session":
            return int(paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED)
        if not self._stats.try_open_session(self._connection, self._max_sessions):
            return int(paramiko.OPEN_FAILED_RESOURCE_SHORTAGE)
        with self._requests_lock:
            self._requests[chanid] = _ExecRequest()
        return int(paramiko.OPEN_SUCCEEDED)

    def check_channel_exec_request(self, channel: Any, command: bytes) -> bool:
        with self._requests_lock:
            request = self._requests.get(channel.get_id())
        if request is None or request.arrived.is_set():
            return False
        request.command = command
        request.arrived.set()
        return True

    def check_channel_pty_request(self, *args: Any) -> bool:
        return False

    def check_channel_shell_request(self, channel: Any) -> bool:
        return False

    def wait_for_exec(self, channel: Any, abandoned: Callable[[], bool]) -> bytes | None:
        """The command of the channel's exec request; None if the channel or server goes first."""
        with self._requests_lock:
            request = self._requests[channel.get_id()]
        try:
            while not request.arrived.wait(0.1):
                if channel.closed or abandoned():
                    return None
            return request.command
        finally:
            # Channel ids are reused as soon as a channel closes: remove only this channel's entry,
            # never a newer channel's that took over the id.
            with self._requests_lock:
                if self._requests.get(channel.get_id()) is request:
                    del self._requests[channel.get_id()]

    def _password_allowed(self) -> bool:
        return self._password is not None and not read_authorized_keys(self._authorized_keys)

    def _accept_login(self, width: int | None) -> None:
        low, high = self._width_limits
        if width is not None and low <= width <= high:
            self.width = width
