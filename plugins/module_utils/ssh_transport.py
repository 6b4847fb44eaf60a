# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSH transport to an RDS: one exec channel per command over one persistent connection (P-4.1, P-4.2).

Contract:
- the host key is verified before authenticating, against a pinned public key line or a
  known_hosts file; turning verification off is explicit and logged at WARNING on every connect;
- at most ``max_sessions`` channels are open at once on the connection, whatever the number
  of calling threads (appliances stop answering when many sessions open at once);
- every connect and every command has a timeout; a command that times out or loses its
  connection after it was sent raises with ``outcome_unknown=True``;
- a dropped connection is re-established on the next call, with exponential backoff and jitter;
- a connection on which a command or a session open timed out is probed (a session opened and
  closed, R-1) by the next call before it is used; one that does not answer within
  ``PROBE_TIMEOUT`` is closed and replaced, because a connection whose packets are dropped
  silently still looks active to paramiko until the kernel gives up (about 15 minutes);
- the RDS becoming unreachable, and reachable again, is logged once per transition.
"""

from __future__ import annotations

import base64
import logging
import random
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

try:
    import paramiko

    PARAMIKO_IMPORT_ERROR: Optional[ImportError] = None
except ImportError as import_error:  # the ansible-test import sanity check runs without it
    PARAMIKO_IMPORT_ERROR = import_error

from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import (
    AuthenticationError,
    ConnectionLostError,
    HostKeyError,
    RdsConnectionError,
    RdsTimeoutError,
    UnreachableError,
)

LOG = logging.getLogger("srvlab.rds.ssh")
_READ_CHUNK = 65536
PROBE_TIMEOUT = 5.0  # at most; half the command timeout when that is shorter
# TCP keepalive, answered by the appliance's kernel (RouterOS refuses SSH keepalives, R-7.2): keeps an
# idle connection's NAT or conntrack entry fresh, and finds a dead idle connection within about a minute.
_TCP_KEEPALIVE = (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3))


@dataclass(frozen=True)
class SshSettings:
    host: str
    username: str
    port: int = 22
    private_key_file: Optional[str] = None
    private_key_passphrase: Optional[str] = None
    password: Optional[str] = None
    host_key: Optional[str] = None
    known_hosts_file: Optional[str] = None
    verify_host_key: bool = True
    connect_timeout: float = 10.0
    command_timeout: float = 30.0
    max_sessions: int = 4
    backoff_initial: float = 0.2
    backoff_max: float = 10.0

    def __repr__(self) -> str:
        return "SshSettings(%s@%s:%d)" % (self.username, self.host, self.port)


@dataclass(frozen=True)
class CommandResult:
    exit_status: int
    output: str


class SshTransport:
    """Thread-safe runner of RouterOS commands over one SSH connection."""

    def __init__(self, settings: SshSettings, sleep: Callable[[float], None] = time.sleep) -> None:
        if PARAMIKO_IMPORT_ERROR is not None:
            raise RdsConnectionError(
                "The paramiko Python package is required to reach the RDS: %s" % PARAMIKO_IMPORT_ERROR
            )
        _check_settings(settings)
        self.settings = settings
        self._sleep = sleep
        self._sessions = threading.BoundedSemaphore(settings.max_sessions)
        self._connect_lock = threading.Lock()
        self._transport: Optional[Any] = None
        self._suspect: Optional[Any] = None
        self._reachability = _Reachability(settings)
        self._failures = 0
        self._next_attempt = 0.0
        self.generation = 0
        self.reconnects = 0

    def run(self, command: str, timeout: Optional[float] = None, log_as: Optional[str] = None) -> CommandResult:
        """Run one command in its own exec channel and return its exit status and output."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.settings.command_timeout)
        shown = log_as if log_as is not None else command
        if not self._sessions.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise RdsTimeoutError("No SSH session to %s became free in time for '%s'." % (self.settings.host, shown))
        try:
            transport = self._connected_transport(deadline)
            LOG.debug("rds command host=%s command=%s", self.settings.host, shown)
            return self._exec(transport, command, shown, deadline)
        finally:
            self._sessions.release()

    def is_alive(self) -> bool:
        """RouterOS refuses SSH keepalive requests, so liveness is a trivial command."""
        try:
            self.run("/system identity print", timeout=min(5.0, self.settings.command_timeout))
        except RdsConnectionError:
            return False
        return True

    def close(self) -> None:
        with self._connect_lock:
            self._drop_transport()

    def _exec(self, transport: Any, command: str, shown: str, deadline: float) -> CommandResult:
        channel = self._open_session(transport, shown, deadline)
        try:
            try:
                channel.exec_command(command)
            except (paramiko.SSHException, EOFError, OSError) as error:
                # The request goes out before its confirmation is awaited: the command may have run.
                self._connection_failed(transport)
                raise ConnectionLostError(
                    "Lost the connection to %s while sending '%s'; it may or may not have been applied: %s"
                    % (self.settings.host, shown, error),
                    outcome_unknown=True,
                ) from None
            try:
                output = self._read_until_closed(channel, shown, deadline)
            except ConnectionLostError:
                self._connection_failed(transport)
                raise
            except RdsTimeoutError:
                self._suspect = transport
                raise
            return CommandResult(self._exit_status(channel, deadline), output.decode("utf-8", errors="replace"))
        finally:
            _close_quietly(channel)

    def _open_session(self, transport: Any, shown: str, deadline: float) -> Any:
        try:
            return transport.open_session(timeout=max(0.1, deadline - time.monotonic()))
        except (paramiko.SSHException, EOFError, OSError) as error:
            if transport.is_active() and not isinstance(error, paramiko.ChannelException):
                # Assigned without the connect lock, which a probe may hold for its whole timeout.
                self._suspect = transport
                raise RdsTimeoutError(
                    "Opening an SSH session to %s for '%s' got no answer in time; the connection is probed "
                    "before the next command and replaced if it does not answer." % (self.settings.host, shown)
                ) from None
            self._connection_failed(transport)
            raise ConnectionLostError(
                "Could not open an SSH session to %s for '%s': %s" % (self.settings.host, shown, error)
            ) from None

    @staticmethod
    def _exit_status(channel: Any, deadline: float) -> int:
        """The channel's exit status; 0 when the server closed cleanly without sending one.

        Whether RouterOS sends an exit status over exec is unverified, so its error text,
        not this number, is what ``classify`` relies on.
        """
        channel.status_event.wait(max(0.0, min(2.0, deadline - time.monotonic())))
        status = channel.exit_status if channel.exit_status_ready() else -1
        return int(status) if status >= 0 else 0

    def _read_until_closed(self, channel: Any, shown: str, deadline: float) -> bytes:
        chunks: list[bytes] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RdsTimeoutError(
                    "'%s' did not finish on %s within its timeout; it may or may not have been applied."
                    % (shown, self.settings.host),
                    outcome_unknown=True,
                )
            channel.settimeout(min(remaining, 1.0))
            try:
                chunk = channel.recv(_READ_CHUNK)
            except socket.timeout:
                continue
            except (paramiko.SSHException, EOFError, OSError) as error:
                raise ConnectionLostError(
                    "Lost the connection to %s while running '%s': %s" % (self.settings.host, shown, error),
                    outcome_unknown=True,
                ) from None
            if not chunk:
                if not channel.eof_received:
                    raise ConnectionLostError(
                        "The connection to %s closed before '%s' reported its result; it may or may not "
                        "have been applied." % (self.settings.host, shown),
                        outcome_unknown=True,
                    )
                return b"".join(chunks)
            chunks.append(chunk)

    def _connected_transport(self, deadline: float) -> Any:
        with self._connect_lock:
            if self._usable(self._transport, deadline):
                return self._transport
            self._drop_transport()
            wait = self._next_attempt - time.monotonic()
            if wait > 0:
                if time.monotonic() + wait > deadline:
                    raise UnreachableError(
                        "The RDS at %s:%d is unreachable; the next connection attempt is in %.1f s."
                        % (self.settings.host, self.settings.port, wait)
                    )
                self._sleep(wait)
            try:
                self._transport = self._connect(
                    min(self.settings.connect_timeout, max(0.1, deadline - time.monotonic()))
                )
            except (UnreachableError, RdsTimeoutError) as error:
                self._reachability.failed(error)
                self._schedule_retry()
                raise
            self._reachability.connected()
            if self.generation:
                self.reconnects += 1
            self.generation += 1
            self._failures = 0
            self._next_attempt = 0.0
            return self._transport

    def _usable(self, transport: Optional[Any], deadline: float) -> bool:
        """Whether the connection can take a command; a suspect one must answer a probe first."""
        if transport is None or not transport.is_active():
            return False
        if transport is not self._suspect:
            return True
        self._suspect = None
        if self._answers_probe(transport, deadline):
            return True
        LOG.warning(
            "rds connection dead host=%s port=%d: it did not answer a liveness probe; replacing it",
            self.settings.host,
            self.settings.port,
        )
        return False

    def _answers_probe(self, transport: Any, deadline: float) -> bool:
        """Open and close a session (R-1); a refused session is an answer too. The probe runs in the
        caller's own session slot, so the session bound holds without taking another."""
        timeout = min(PROBE_TIMEOUT, self.settings.command_timeout / 2, deadline - time.monotonic())
        try:
            channel = transport.open_session(timeout=max(0.1, timeout))
        except paramiko.ChannelException:
            return True
        except (paramiko.SSHException, EOFError, OSError):
            return False
        _close_quietly(channel)
        return True

    def _schedule_retry(self) -> None:
        """Exponential backoff with full jitter between connection attempts."""
        self._failures += 1
        ceiling = min(self.settings.backoff_max, self.settings.backoff_initial * (2 ** (self._failures - 1)))
        self._next_attempt = time.monotonic() + random.uniform(ceiling / 2, ceiling)

    def _connection_failed(self, transport: Any) -> None:
        """Forget a dead connection. A failure of one channel on a live connection (a refused or
        closed session) leaves it alone: dropping it would fail every other command in flight."""
        with self._connect_lock:
            if not transport.is_active() and self._transport is transport:
                self._drop_transport()

    def _drop_transport(self) -> None:
        """Close without waiting: paramiko's close sends nothing, so a dead peer cannot hold it up."""
        self._suspect = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def _connect(self, timeout: float) -> Any:
        settings = self.settings
        try:
            sock = socket.create_connection((settings.host, settings.port), timeout=timeout)
        except socket.timeout:
            raise RdsTimeoutError(
                "Connecting to the RDS at %s:%d timed out." % (settings.host, settings.port)
            ) from None
        except OSError as error:
            raise UnreachableError(
                "Cannot reach the RDS at %s:%d: %s" % (settings.host, settings.port, error)
            ) from None
        # SSH exchanges many small packets per command; Nagle's algorithm against the peer's
        # delayed ACKs would add ~40 ms to every round trip.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _enable_tcp_keepalive(sock)
        transport = paramiko.Transport(sock)
        transport.banner_timeout = timeout
        transport.auth_timeout = timeout
        try:
            transport.start_client(timeout=timeout)
            self._verify_host_key(transport.get_remote_server_key())
            self._authenticate(transport)
        except (paramiko.SSHException, EOFError, OSError) as error:
            transport.close()
            raise UnreachableError(
                "The SSH handshake with the RDS at %s:%d failed: %s" % (settings.host, settings.port, error)
            ) from None
        except RdsConnectionError:
            transport.close()
            raise
        transport.set_keepalive(0)
        return transport

    def _verify_host_key(self, offered: Any) -> None:
        settings = self.settings
        if not settings.verify_host_key:
            LOG.warning(
                "host key verification is DISABLED for the RDS at %s:%d; the connection can be intercepted",
                settings.host,
                settings.port,
            )
            return
        trusted = self._trusted_keys(offered.get_name())
        if not trusted:
            raise HostKeyError(
                "No trusted %s host key is configured for the RDS at %s:%d; it offered %s. "
                "Pin its key with host_key (the output of '/ip ssh export-host-key' or ssh-keyscan) "
                "or add it to the known_hosts file."
                % (offered.get_name(), settings.host, settings.port, _fingerprint(offered))
            )
        if offered.asbytes() not in trusted:
            raise HostKeyError(
                "The RDS at %s:%d offered the host key %s, which does not match the trusted key. "
                "If the appliance was re-installed, verify and pin its new key; otherwise the connection "
                "may be intercepted." % (settings.host, settings.port, _fingerprint(offered))
            )

    def _trusted_keys(self, key_type: str) -> list[bytes]:
        settings = self.settings
        keys = []
        if settings.host_key:
            parts = settings.host_key.split()
            if len(parts) < 2:
                raise HostKeyError(
                    "The pinned host key %r is not an OpenSSH public key line ('type base64')." % settings.host_key
                )
            if parts[0] == key_type:
                keys.append(base64.b64decode(parts[1]))
        if settings.known_hosts_file:
            known = paramiko.HostKeys()
            try:
                known.load(settings.known_hosts_file)
            except OSError as error:
                raise HostKeyError(
                    "Cannot read the known_hosts file %s: %s" % (settings.known_hosts_file, error)
                ) from None
            name = settings.host if settings.port == 22 else "[%s]:%d" % (settings.host, settings.port)
            entry = known.lookup(name)
            if entry and key_type in entry:
                keys.append(entry[key_type].asbytes())
        return keys

    def _authenticate(self, transport: Any) -> None:
        settings = self.settings
        if settings.private_key_file:
            key = _load_private_key(settings.private_key_file, settings.private_key_passphrase)
            try:
                transport.auth_publickey(settings.username, key)
                return
            except paramiko.AuthenticationException:
                if not settings.password:
                    raise AuthenticationError(
                        "The RDS at %s refused the key %s for user %s; import its public key for that user."
                        % (settings.host, settings.private_key_file, settings.username)
                    ) from None
        if settings.password:
            try:
                transport.auth_password(settings.username, settings.password)
                return
            except paramiko.AuthenticationException:
                raise AuthenticationError(
                    "The RDS at %s refused the password of user %s (RouterOS refuses passwords for users "
                    "that have an SSH key; use the key)." % (settings.host, settings.username)
                ) from None
        raise AuthenticationError("No private key or password is configured for the RDS at %s." % settings.host)


class _Reachability:
    """Logs the RDS becoming unreachable and reachable again: one line per transition, not one per
    failed call. Its callers hold the transport's connect lock."""

    def __init__(self, settings: SshSettings) -> None:
        self._settings = settings
        self._lost_since: Optional[float] = None

    def failed(self, error: RdsConnectionError) -> None:
        if self._lost_since is None:
            self._lost_since = time.monotonic()
            LOG.warning("rds unreachable host=%s port=%d error=%s", self._settings.host, self._settings.port, error)

    def connected(self) -> None:
        if self._lost_since is not None:
            LOG.info(
                "rds reachable again host=%s port=%d after=%.1fs",
                self._settings.host,
                self._settings.port,
                time.monotonic() - self._lost_since,
            )
            self._lost_since = None


def _enable_tcp_keepalive(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in _TCP_KEEPALIVE:
        option = getattr(socket, name, None)
        if option is not None:  # macOS has no TCP_KEEPIDLE; the system default idle time applies there
            sock.setsockopt(socket.IPPROTO_TCP, option, value)


def _close_quietly(channel: Any) -> None:
    """Close a channel whose connection may already be gone; the command's outcome is decided already."""
    try:
        channel.close()
    except (paramiko.SSHException, EOFError, OSError):
        LOG.debug("closing a channel of a lost connection failed; ignored")


def _check_settings(settings: SshSettings) -> None:
    if settings.max_sessions < 1:
        raise RdsConnectionError("max_sessions must be at least 1, not %d." % settings.max_sessions)
    if settings.verify_host_key and not (settings.host_key or settings.known_hosts_file):
        raise HostKeyError(
            "Host key verification is on but no host_key or known_hosts_file is given for the RDS at %s. "
            "Pin the appliance's public key, or turn verification off explicitly." % settings.host
        )


def _load_private_key(path: str, passphrase: Optional[str]) -> Any:
    try:
        return paramiko.PKey.from_path(path, passphrase.encode("utf-8") if passphrase else None)
    except paramiko.PasswordRequiredException:
        raise AuthenticationError("The private key %s is encrypted; give its passphrase." % path) from None
    except TypeError as error:  # paramiko 5 passes on cryptography's error for a missing passphrase
        if not passphrase:
            raise AuthenticationError("The private key %s is encrypted; give its passphrase." % path) from None
        raise AuthenticationError("Cannot load the private key %s: %s" % (path, error)) from None
    except (paramiko.SSHException, ValueError) as error:
        raise AuthenticationError("Cannot load the private key %s: %s" % (path, error)) from None
    except OSError as error:
        raise AuthenticationError("Cannot read the private key %s: %s" % (path, error)) from None


def _fingerprint(key: Any) -> str:
    return "%s SHA256:%s" % (
        key.get_name(),
        key.fingerprint.split(":", 1)[-1] if hasattr(key, "fingerprint") else "",
    )
