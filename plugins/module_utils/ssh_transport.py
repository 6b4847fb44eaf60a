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
- the RDS becoming unreachable, and reachable again, is logged once per transition;
- authentication tries the private key file, then the keys of a running ssh-agent (when asked), then
  the password; an encrypted key without its passphrase, or with a wrong one, fails with that reason;
- with a jump host, the connection to the RDS is tunnelled through it (``direct-tcpip``, as
  ``ssh -J``); the jump host's key is verified like the RDS's, the connect timeout bounds both hops
  together, and losing the jump host drops the RDS connection, which is then re-established as above.
"""

from __future__ import annotations

import base64
import logging
import os
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol

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
# A jump host runs OpenSSH, which answers SSH keepalives: they find a jump host that died while the
# tunnelled connection was idle, since the RDS's TCP keepalive only reaches the jump host's socket.
JUMP_KEEPALIVE = 30


class KeyPassphraseError(AuthenticationError):
    """An encrypted private key came without its passphrase, or with one that does not decrypt it."""


class JumpHostKeyError(HostKeyError):
    """The jump host's host key is not the one we trust."""


class JumpAuthenticationError(AuthenticationError):
    """The jump host refused our credentials."""


class JumpKeyPassphraseError(KeyPassphraseError, JumpAuthenticationError):
    """The jump host's encrypted private key came without its passphrase, or with a wrong one."""


class JumpUnreachableError(UnreachableError):
    """No SSH connection to the jump host could be established."""


@dataclass(frozen=True)
class JumpHost:
    """An OpenSSH server through which the RDS is reached (``ssh -J``).

    Without a private key file of its own, the RDS's key file and passphrase log in to it; without
    a pinned key or known_hosts file of its own, the RDS's known_hosts file must hold its key. The
    RDS's ``use_agent`` applies to both hops.
    """

    host: str
    username: str
    port: int = 22
    private_key_file: Optional[str] = None
    private_key_passphrase: Optional[str] = field(default=None, repr=False)
    host_key: Optional[str] = None
    known_hosts_file: Optional[str] = None
    verify_host_key: bool = True


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
    use_agent: bool = False
    jump: Optional[JumpHost] = None

    def __repr__(self) -> str:
        via = " via %s@%s:%d" % (self.jump.username, self.jump.host, self.jump.port) if self.jump else ""
        return "SshSettings(%s@%s:%d%s)" % (self.username, self.host, self.port, via)


@dataclass(frozen=True)
class _Hop:
    """One SSH server on the way to the RDS: how to verify and log in to it, and the errors naming it."""

    label: str
    host: str
    port: int
    username: str
    private_key_file: Optional[str]
    private_key_passphrase: Optional[str] = field(repr=False)
    password: Optional[str] = field(repr=False)
    host_key: Optional[str]
    known_hosts_file: Optional[str]
    verify_host_key: bool
    use_agent: bool
    trust_options: str = "host_key or known_hosts_file"
    host_key_error: type[HostKeyError] = HostKeyError
    auth_error: type[AuthenticationError] = AuthenticationError
    passphrase_error: type[KeyPassphraseError] = KeyPassphraseError
    unreachable_error: type[UnreachableError] = UnreachableError

    @property
    def where(self) -> str:
        return "the %s at %s:%d" % (self.label, self.host, self.port)


def _rds_hop(settings: SshSettings) -> _Hop:
    return _Hop(
        label="RDS",
        host=settings.host,
        port=settings.port,
        username=settings.username,
        private_key_file=settings.private_key_file,
        private_key_passphrase=settings.private_key_passphrase,
        password=settings.password,
        host_key=settings.host_key,
        known_hosts_file=settings.known_hosts_file,
        verify_host_key=settings.verify_host_key,
        use_agent=settings.use_agent,
    )


def _jump_hop(settings: SshSettings, jump: JumpHost) -> _Hop:
    own_key = jump.private_key_file is not None
    own_trust = bool(jump.host_key or jump.known_hosts_file)
    return _Hop(
        label="jump host",
        host=jump.host,
        port=jump.port,
        username=jump.username,
        private_key_file=jump.private_key_file if own_key else settings.private_key_file,
        private_key_passphrase=jump.private_key_passphrase if own_key else settings.private_key_passphrase,
        password=None,
        host_key=jump.host_key,
        known_hosts_file=jump.known_hosts_file if own_trust else settings.known_hosts_file,
        verify_host_key=jump.verify_host_key,
        use_agent=settings.use_agent,
        trust_options="pinned jump host key, jump known_hosts file or known_hosts_file",
        host_key_error=JumpHostKeyError,
        auth_error=JumpAuthenticationError,
        passphrase_error=JumpKeyPassphraseError,
        unreachable_error=JumpUnreachableError,
    )


@dataclass(frozen=True)
class CommandResult:
    exit_status: int
    output: str


class TransportObserver(Protocol):
    """What a transport reports as it works, for metrics and events; called on the thread that did
    the work and expected to return at once."""

    def command_done(self, seconds: float, ok: bool) -> None: ...

    def connect_attempt(self, seconds: float, ok: bool, reconnect: bool) -> None: ...

    def reachability_changed(self, reachable: bool, detail: str) -> None:
        """The RDS became unreachable (``detail``: the error) or reachable again (``detail``: after how
        long); once per transition, as the transport logs it."""


class _NoObserver:
    def command_done(self, seconds: float, ok: bool) -> None:
        pass

    def connect_attempt(self, seconds: float, ok: bool, reconnect: bool) -> None:
        pass

    def reachability_changed(self, reachable: bool, detail: str) -> None:
        pass


class SshTransport:
    """Thread-safe runner of RouterOS commands over one SSH connection."""

    def __init__(
        self,
        settings: SshSettings,
        sleep: Callable[[float], None] = time.sleep,
        observer: Optional[TransportObserver] = None,
    ) -> None:
        if PARAMIKO_IMPORT_ERROR is not None:
            raise RdsConnectionError(
                "The paramiko Python package is required to reach the RDS: %s" % PARAMIKO_IMPORT_ERROR
            )
        self._hops = [_rds_hop(settings)] + ([_jump_hop(settings, settings.jump)] if settings.jump else [])
        # Decrypting a key costs about half a second of CPU (bcrypt); a reconnection reuses it.
        self._keys: dict[str, Any] = {}
        _check_settings(settings, self._hops)
        self.settings = settings
        self._sleep = sleep
        self._sessions = threading.BoundedSemaphore(settings.max_sessions)
        self._in_use = 0
        self._in_use_lock = threading.Lock()
        self._observer: TransportObserver = observer or _NoObserver()
        self._connect_lock = threading.Lock()
        self._transport: Optional[Any] = None
        self._jump_transport: Optional[Any] = None
        self._suspect: Optional[Any] = None
        self._reachability = _Reachability(settings, self._observer)
        self._failures = 0
        self._next_attempt = 0.0
        self.generation = 0
        self.reconnects = 0

    def run(self, command: str, timeout: Optional[float] = None, log_as: Optional[str] = None) -> CommandResult:
        """Run one command in its own exec channel and return its exit status and output."""
        started = time.monotonic()
        deadline = started + (timeout if timeout is not None else self.settings.command_timeout)
        shown = log_as if log_as is not None else command
        ok = False
        try:
            if not self._sessions.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise RdsTimeoutError(
                    "No SSH session to %s became free in time for '%s'." % (self.settings.host, shown)
                )
            self._count_session(1)
            try:
                transport = self._connected_transport(deadline)
                LOG.debug("rds command host=%s command=%s", self.settings.host, shown)
                result = self._exec(transport, command, shown, deadline)
            finally:
                self._count_session(-1)
                self._sessions.release()
            ok = True
            return result
        finally:
            self._observer.command_done(time.monotonic() - started, ok)

    @property
    def sessions_in_use(self) -> int:
        """SSH sessions open for commands at this moment (at most ``settings.max_sessions``)."""
        return self._in_use

    @property
    def connected(self) -> bool:
        """Whether the connection to the RDS is up, as last seen (no command is sent to find out)."""
        transport = self._transport
        return transport is not None and bool(transport.is_active())

    def _count_session(self, change: int) -> None:
        with self._in_use_lock:
            self._in_use += change

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
            attempt_started = time.monotonic()
            reconnect = self.generation > 0 or self._failures > 0
            try:
                self._transport = self._connect(
                    min(self.settings.connect_timeout, max(0.1, deadline - time.monotonic()))
                )
            except (UnreachableError, RdsTimeoutError) as error:
                self._observer.connect_attempt(time.monotonic() - attempt_started, False, reconnect)
                self._reachability.failed(error)
                self._schedule_retry()
                raise
            except RdsConnectionError:
                self._observer.connect_attempt(time.monotonic() - attempt_started, False, reconnect)
                raise
            self._observer.connect_attempt(time.monotonic() - attempt_started, True, reconnect)
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
        if self._jump_transport is not None:
            self._jump_transport.close()
            self._jump_transport = None

    def _connect(self, timeout: float) -> Any:
        """A verified, authenticated connection to the RDS, through the jump host when there is one."""
        deadline = time.monotonic() + timeout
        rds = self._hops[0]
        if len(self._hops) == 1:
            return _handshake(rds, _open_socket(rds, timeout), deadline, self._keys)
        jump_hop = self._hops[1]
        jump = _handshake(jump_hop, _open_socket(jump_hop, timeout), deadline, self._keys)
        try:
            jump.set_keepalive(JUMP_KEEPALIVE)
            transport = _handshake(rds, _tunnel(jump, jump_hop, rds, deadline), deadline, self._keys)
        except RdsConnectionError:
            jump.close()
            raise
        self._jump_transport = jump
        return transport


def _remaining(deadline: float) -> float:
    return max(0.1, deadline - time.monotonic())


def _open_socket(hop: _Hop, timeout: float) -> socket.socket:
    try:
        sock = socket.create_connection((hop.host, hop.port), timeout=timeout)
    except socket.timeout:
        raise _timeout_error(hop)("Connecting to %s timed out." % hop.where) from None
    except OSError as error:
        raise hop.unreachable_error("Cannot reach %s: %s" % (hop.where, error)) from None
    # SSH exchanges many small packets per command; Nagle's algorithm against the peer's
    # delayed ACKs would add ~40 ms to every round trip.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    _enable_tcp_keepalive(sock)
    return sock


def _timeout_error(hop: _Hop) -> type[RdsConnectionError]:
    """A timed-out connect to the RDS is a timeout; one to the jump host says which hop failed."""
    return RdsTimeoutError if hop.unreachable_error is UnreachableError else hop.unreachable_error


def _tunnel(jump: Any, jump_hop: _Hop, rds: _Hop, deadline: float) -> Any:
    """A ``direct-tcpip`` channel from the jump host to the RDS's SSH port."""
    try:
        return jump.open_channel("direct-tcpip", (rds.host, rds.port), ("127.0.0.1", 0), timeout=_remaining(deadline))
    except paramiko.ChannelException as error:
        raise UnreachableError(
            "%s cannot reach %s (it answered: %s)." % (_sentence(jump_hop.where), rds.where, error.text)
        ) from None
    except (paramiko.SSHException, EOFError, OSError) as error:
        raise UnreachableError(
            "Opening a tunnel through %s to %s failed: %s" % (jump_hop.where, rds.where, error or "timed out")
        ) from None


def _handshake(hop: _Hop, sock: Any, deadline: float, keys: dict[str, Any]) -> Any:
    transport = paramiko.Transport(sock)
    transport.banner_timeout = _remaining(deadline)
    transport.auth_timeout = _remaining(deadline)
    try:
        transport.start_client(timeout=_remaining(deadline))
        _verify_host_key(hop, transport.get_remote_server_key())
        _authenticate(transport, hop, keys)
    except (paramiko.SSHException, EOFError, OSError) as error:
        transport.close()
        raise hop.unreachable_error("The SSH handshake with %s failed: %s" % (hop.where, error)) from None
    except RdsConnectionError:
        transport.close()
        raise
    transport.set_keepalive(0)
    return transport


def _verify_host_key(hop: _Hop, offered: Any) -> None:
    if not hop.verify_host_key:
        LOG.warning(
            "host key verification is DISABLED for %s; the connection can be intercepted",
            hop.where,
        )
        return
    trusted = _trusted_keys(hop, offered.get_name())
    if not trusted:
        raise hop.host_key_error(
            "No trusted %s host key is configured for %s; it offered %s. "
            "Pin its key (the output of '/ip ssh export-host-key' or ssh-keyscan) "
            "or add it to the known_hosts file." % (offered.get_name(), hop.where, _fingerprint(offered))
        )
    if offered.asbytes() not in trusted:
        raise hop.host_key_error(
            "%s offered the host key %s, which does not match the trusted key. "
            "If it was re-installed, verify and pin its new key; otherwise the connection "
            "may be intercepted." % (_sentence(hop.where), _fingerprint(offered))
        )


def _trusted_keys(hop: _Hop, key_type: str) -> list[bytes]:
    keys = []
    if hop.host_key:
        pinned_type, pinned = _pinned_key(hop)
        if pinned_type == key_type:
            keys.append(pinned)
    if hop.known_hosts_file:
        known = paramiko.HostKeys()
        try:
            known.load(hop.known_hosts_file)
        except (OSError, ValueError, paramiko.SSHException) as error:
            raise hop.host_key_error(
                "Cannot read the known_hosts file %s: %s" % (hop.known_hosts_file, error)
            ) from None
        name = hop.host if hop.port == 22 else "[%s]:%d" % (hop.host, hop.port)
        entry = known.lookup(name)
        if entry and key_type in entry:
            keys.append(entry[key_type].asbytes())
    return keys


def _pinned_key(hop: _Hop) -> tuple[str, bytes]:
    """The type and blob of the pinned host key line (``type base64 [comment]``)."""
    parts = (hop.host_key or "").split()
    try:
        if len(parts) < 2:
            raise ValueError("missing fields")
        return parts[0], base64.b64decode(parts[1], validate=True)
    except ValueError:  # binascii.Error is one
        raise hop.host_key_error(
            "The pinned host key %r of %s is not an OpenSSH public key line ('ssh-ed25519 AAAA...')."
            % (hop.host_key, hop.where)
        ) from None


def _authenticate(transport: Any, hop: _Hop, keys: dict[str, Any]) -> None:
    """The private key file, then the agent's keys, then the password, as OpenSSH orders them.
    ``keys`` holds the keys loaded by earlier connections, by file."""
    tried: list[str] = []
    missing_passphrase: Optional[KeyPassphraseError] = None
    if hop.private_key_file:
        try:
            key = keys.get(hop.private_key_file) or _load_private_key(hop, hop.private_key_file)
        except KeyPassphraseError as error:
            if hop.private_key_passphrase:
                raise  # a wrong passphrase is a mistake to report, not a reason to try something else
            missing_passphrase = error  # the agent may hold the decrypted key, as with OpenSSH
        else:
            keys[hop.private_key_file] = key
            if _accepts_key(transport, hop, key):
                return
            tried.append("the key %s" % hop.private_key_file)
    agent_note = "the ssh-agent is not used"
    if hop.use_agent:
        accepted, offered, agent_note = _agent_login(transport, hop)
        if accepted:
            return
        if offered:
            tried.append("the %d key(s) of the ssh-agent" % offered)
    if hop.password:
        try:
            transport.auth_password(hop.username, hop.password)
            return
        except paramiko.AuthenticationException:
            raise hop.auth_error(
                "%s refused the password of user %s (RouterOS refuses passwords for users "
                "that have an SSH key; use the key)." % (_sentence(hop.where), hop.username)
            ) from None
    if missing_passphrase is not None:
        raise missing_passphrase
    if tried:
        raise hop.auth_error(
            "%s refused %s for user %s; import its public key for that user."
            % (_sentence(hop.where), " and ".join(tried), hop.username)
        )
    raise hop.auth_error(
        "No private key, ssh-agent key or password is configured for %s (%s)." % (hop.where, agent_note)
    )


def _accepts_key(transport: Any, hop: _Hop, key: Any) -> bool:
    try:
        transport.auth_publickey(hop.username, key)
    except paramiko.AuthenticationException:
        return False
    return True


def _agent_login(transport: Any, hop: _Hop) -> tuple[bool, int, str]:
    """Offer the keys of the ssh-agent at SSH_AUTH_SOCK: (one was accepted, how many were offered,
    why none was offered)."""
    address = os.environ.get("SSH_AUTH_SOCK")
    if not address:
        return False, 0, "SSH_AUTH_SOCK names no ssh-agent"
    try:
        agent = paramiko.Agent()
    except paramiko.SSHException as error:
        return False, 0, "the ssh-agent at %s cannot be used: %s" % (address, error)
    try:
        keys = agent.get_keys()
        for key in keys:
            if _accepts_key(transport, hop, key):
                return True, len(keys), ""
    finally:
        agent.close()
    return False, len(keys), "the ssh-agent at %s is not running or holds no key" % address


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


class _Reachability:
    """Logs the RDS becoming unreachable and reachable again, and tells the observer: once per
    transition, not once per failed call. Its callers hold the transport's connect lock."""

    def __init__(self, settings: SshSettings, observer: TransportObserver) -> None:
        self._settings = settings
        self._observer = observer
        self._lost_since: Optional[float] = None

    def failed(self, error: RdsConnectionError) -> None:
        if self._lost_since is None:
            self._lost_since = time.monotonic()
            LOG.warning("rds unreachable host=%s port=%d error=%s", self._settings.host, self._settings.port, error)
            self._observer.reachability_changed(False, str(error))

    def connected(self) -> None:
        if self._lost_since is not None:
            after = time.monotonic() - self._lost_since
            LOG.info("rds reachable again host=%s port=%d after=%.1fs", self._settings.host, self._settings.port, after)
            self._lost_since = None
            self._observer.reachability_changed(True, "after %.1f s" % after)


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


def _check_settings(settings: SshSettings, hops: list[_Hop]) -> None:
    if settings.max_sessions < 1:
        raise RdsConnectionError("max_sessions must be at least 1, not %d." % settings.max_sessions)
    for hop in hops:
        if hop.verify_host_key and not (hop.host_key or hop.known_hosts_file):
            raise hop.host_key_error(
                "Host key verification is on but no %s is given for %s. "
                "Pin its public key, or turn verification off explicitly." % (hop.trust_options, hop.where)
            )
        if hop.host_key:
            _pinned_key(hop)


def _load_private_key(hop: _Hop, path: str) -> Any:
    """The key, loaded without a passphrase first: an unencrypted key needs none, and the attempt
    tells an encrypted key apart from a damaged file before the passphrase is tried."""
    try:
        return paramiko.PKey.from_path(path)
    except (paramiko.PasswordRequiredException, TypeError):  # paramiko 5 passes on cryptography's TypeError
        pass
    except (paramiko.SSHException, ValueError) as error:
        raise hop.auth_error("Cannot load the private key %s for %s: %s" % (path, hop.where, error)) from None
    except OSError as error:
        raise hop.auth_error("Cannot read the private key %s for %s: %s" % (path, hop.where, error)) from None
    if not hop.private_key_passphrase:
        raise hop.passphrase_error(
            "The private key %s for %s is encrypted; give its passphrase, or add the key to a running "
            "ssh-agent." % (path, hop.where)
        )
    try:
        return paramiko.PKey.from_path(path, hop.private_key_passphrase.encode("utf-8"))
    except (paramiko.SSHException, ValueError, TypeError):
        raise hop.passphrase_error(
            "The passphrase given for the private key %s (for %s) does not decrypt it." % (path, hop.where)
        ) from None


def _fingerprint(key: Any) -> str:
    return "%s SHA256:%s" % (
        key.get_name(),
        key.fingerprint.split(":", 1)[-1] if hasattr(key, "fingerprint") else "",
    )
