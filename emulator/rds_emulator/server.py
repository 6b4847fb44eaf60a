"""The SSH server: listener, connections, exec channels, faults and the reboot window.

Threads (all daemons, all ended by `stop()`): one accepting connections, one per connection
(key exchange, then accepting its channels), one per channel (its command), one watching
faults.json, and one waiting out a reboot window. Every wait is bounded or wakes on `stop()`.
Each connection's transport talks through a `GatedSocket`, which the `blackhole` fault shuts.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import paramiko

from .appliance import Appliance, ApplianceSettings
from .config import MAX_WIDTH, MIN_WIDTH, EmulatorConfig
from .fault_board import FaultBoard, FaultFile, FaultPlan
from .faults import Fault, FaultKind
from .gate import GatedSocket
from .health import Sensor
from .hostkey import load_or_create_host_key, public_key_line
from .session import SessionContext, run_command
from .ssh_interface import ConnectionInterface
from .stats import Stats, StatsRecorder

_POLL_SECONDS = 0.2
_JOIN_SECONDS = 5.0


class _Connection:
    def __init__(self, number: int, sock: socket.socket) -> None:
        self.number = number
        self.sock = sock
        self.gate = GatedSocket(sock)
        self.transport: Any = None

    def drop(self) -> None:
        """Cut the connection without any SSH goodbye, like a crashed or rebooting appliance."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        if self.transport is not None:
            self.transport.close()
        self.sock.close()

    def active(self) -> bool:
        return self.transport is not None and bool(self.transport.is_active())


class EmulatorServer:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        state_dir = config.state_dir
        self._appliance = Appliance(
            ApplianceSettings(
                pool_name=config.pool_name,
                pool_size=config.pool_size,
                version=config.routeros_version,
                field_names=config.field_names,
                identity=config.identity,
                login_user=config.user,
                block_root=config.block_root,
            ),
            state_dir,
        )
        self._stats = StatsRecorder(state_dir / "stats.json")
        self._faults = FaultBoard()
        self._fault_file: FaultFile | None = None
        self._fault_file_lock = threading.Lock()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._rebooting = False
        self._connections: dict[int, _Connection] = {}
        self._threads: list[threading.Thread] = []
        self._address: tuple[str, int] | None = None
        self._host_key: Any = None

    @property
    def address(self) -> tuple[str, int]:
        if self._address is None:
            raise RuntimeError("the emulator has not been started")
        return self._address

    @property
    def host_public_key_line(self) -> str:
        """`ssh-ed25519 AAAA...`, to pin the server's key in a client's known hosts."""
        if self._host_key is None:
            raise RuntimeError("the emulator has not been started")
        return public_key_line(self._host_key)

    @property
    def stats(self) -> Stats:
        return self._stats.snapshot()

    @property
    def state_dir(self) -> Path:
        return self.config.state_dir

    def start(self) -> None:
        """Load state, open the listener and return once connections are accepted."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._host_key = load_or_create_host_key(self.config.host_key_path)
        self._appliance.open()
        self._fault_file = FaultFile(self.state_dir / "faults.json")
        listener = self._open_listener(self.config.listen_host, self.config.listen_port)
        host, port = listener.getsockname()[:2]
        self._address = (host, port)
        (self.state_dir / "listen").write_text(f"{format_address(host, port)}\n", encoding="utf-8")
        self._spawn("faults-watch", self._watch_fault_file)
        self.set_faults(self.config.faults)

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            listener, self._listener = self._listener, None
            connections = list(self._connections.values())
        if listener is not None:
            _close_listener(listener)
        for connection in connections:
            connection.drop()
        for thread in list(self._threads):
            if thread is not threading.current_thread():
                thread.join(_JOIN_SECONDS)
        self._stats.close()

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def set_faults(self, faults: Iterable[Fault]) -> None:
        """Replace the faults in force; a `reboot` without `match` happens right away. A `blackhole`
        silences the connections established now; any replacement lifts the previous one."""
        immediate = self._faults.replace(faults)
        blackholes = [fault for fault in immediate if fault.kind is FaultKind.BLACKHOLE]
        self._blackhole(blackholes[0] if blackholes else None)
        for fault in immediate:
            if fault.kind is FaultKind.REBOOT:
                self._reboot(fault.seconds or 0.0)

    def set_health(self, sensors: Sequence[Sensor]) -> None:
        """Replace the sensors `/system health print` shows (rewrites `health.json`)."""
        self._appliance.sensors.set(sensors)

    def set_traffic(self, slot: str, values: Mapping[str, int]) -> None:
        """Set the counters `traffic.json` adds for `slot` (`{"read-bytes": 4096}`; gauges such as
        `read-rate` replace the computed value); an empty mapping removes them."""
        self._appliance.traffic.set(slot, values)

    def _blackhole(self, fault: Fault | None) -> None:
        """Shut the gate of every established connection (for the fault's seconds, or until the
        next call), or open them all when `fault` is None. Returns once nothing more is read."""
        with self._lock:
            connections = list(self._connections.values())
        for connection in connections:
            if fault is None:
                connection.gate.open()
            else:
                connection.gate.shut(fault.seconds)
        for connection in connections:
            connection.gate.settle()

    def _open_listener(self, host: str, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
            listener.listen(64)
        except OSError:
            listener.close()
            raise
        listener.settimeout(_POLL_SECONDS)
        with self._lock:
            self._listener = listener
        self._spawn("accept", self._accept_loop, listener)
        return listener

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                sock, peer = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._spawn("connection", self._serve_connection, sock, peer)

    def _serve_connection(self, sock: socket.socket, peer: tuple[Any, ...]) -> None:
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        number = self._stats.connection_opened(format_address(peer[0], peer[1]))
        connection = _Connection(number, sock)
        with self._lock:
            admitted = not (self._stopping.is_set() or self._rebooting)
            if admitted:
                self._connections[number] = connection
        try:
            if admitted:
                self._run_transport(connection)
        except (paramiko.SSHException, EOFError, OSError):
            return
        finally:
            connection.drop()
            with self._lock:
                self._connections.pop(number, None)
            self._stats.connection_closed(number)

    def _run_transport(self, connection: _Connection) -> None:
        transport = paramiko.Transport(connection.gate)
        transport.local_version = "SSH-2.0-ROSSSH"
        transport.add_server_key(self._host_key)
        connection.transport = transport
        interface = ConnectionInterface(
            user=self.config.user,
            password=self.config.password,
            authorized_keys=self.config.authorized_keys,
            default_width=self.config.width,
            width_limits=(MIN_WIDTH, MAX_WIDTH),
            connection=connection.number,
            stats=self._stats,
            max_sessions=self.config.max_sessions,
            users=self._appliance.users,
        )
        transport.start_server(server=interface)
        while transport.is_active() and not self._stopping.is_set():
            channel = transport.accept(_POLL_SECONDS)
            if channel is not None:
                self._spawn("channel", self._serve_channel, channel, interface, connection)

    def _serve_channel(self, channel: Any, interface: ConnectionInterface, connection: _Connection) -> None:
        def abandoned() -> bool:
            return self._stopping.is_set() or not connection.active()

        released = threading.Event()

        def release_session() -> None:
            if not released.is_set():
                released.set()
                self._stats.session_closed(connection.number)

        try:
            command = interface.wait_for_exec(channel, abandoned)
            if command is None:
                return
            self._stats.exec_requested(connection.number)
            self._poll_fault_file()
            context = SessionContext(
                appliance=self._appliance,
                width=interface.width,
                stopping=self._stopping,
                plan_faults=self._plan_faults,
                drop_connection=connection.drop,
                reboot=self._reboot,
                abandoned=abandoned,
                release_session=release_session,
                commands_ran=lambda count: self._stats.commands_ran(connection.number, count),
            )
            run_command(channel, command, context)
        except (OSError, EOFError, paramiko.SSHException):
            pass  # the client or the connection went away: there is no one left to answer
        finally:
            release_session()
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                channel.close()

    def _plan_faults(self, line: str, mutating: bool, commands: Sequence[str]) -> FaultPlan:
        return self._faults.plan(line, mutating=mutating, commands=commands)

    def _reboot(self, seconds: float) -> None:
        """Drop every connection and refuse new ones (no listener) for `seconds`."""
        with self._lock:
            if self._rebooting or self._stopping.is_set() or self._listener is None:
                return
            self._rebooting = True
            listener, self._listener = self._listener, None
            connections = list(self._connections.values())
        host, port = listener.getsockname()[:2]
        _close_listener(listener)
        for connection in connections:
            connection.drop()
        self._spawn("reboot", self._come_back, host, port, seconds)

    def _come_back(self, host: str, port: int, seconds: float) -> None:
        """Listen again on the same address once the window is over (retrying while it is taken)."""
        if self._stopping.wait(seconds):
            return
        with self._lock:
            self._rebooting = False
        while not self._stopping.is_set():
            try:
                self._open_listener(host, port)
                return
            except OSError as error:
                print(f"rds-emulator: cannot listen again on port {port}: {error}", file=sys.stderr)
                self._stopping.wait(_POLL_SECONDS)

    def _watch_fault_file(self) -> None:
        while not self._stopping.wait(_POLL_SECONDS):
            self._poll_fault_file()

    def _poll_fault_file(self) -> None:
        if self._fault_file is None:
            return
        try:
            with self._fault_file_lock:
                changed = self._fault_file.changed_faults()
        except (OSError, ValueError) as error:
            print(f"rds-emulator: ignoring faults.json: {error}", file=sys.stderr)
            return
        if changed is not None:
            self.set_faults(changed)

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=f"rds-emulator-{name}", daemon=True)
        with self._lock:
            self._threads = [known for known in self._threads if known.is_alive()]
            self._threads.append(thread)
        thread.start()


def _close_listener(listener: socket.socket) -> None:
    """Stop listening at once: shutdown wakes a thread blocked in accept, which close alone does not."""
    with contextlib.suppress(OSError):
        listener.shutdown(socket.SHUT_RDWR)
    listener.close()


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
