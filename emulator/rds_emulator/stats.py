"""Counters that let tests prove how a client uses the server: sessions per connection, and
round trips (exec requests) apart from the console commands they carried.

The counters are exact at once through `snapshot()`. The file mirror, stats.json, is rewritten by
a background writer at most every `PUBLISH_INTERVAL` seconds after a change, and once more when
the recorder closes: rewriting it for every session and command cost a third of the emulator's
CPU. Closed connections are kept, the most recent `KEPT_CLOSED_CONNECTIONS` of them, so a test can
read a connection's peak after it ends.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from .atomicio import write_json_atomically

KEPT_CLOSED_CONNECTIONS = 64
PUBLISH_INTERVAL = 0.25


@dataclass(frozen=True)
class ConnectionStats:
    id: int
    peer: str
    open: bool
    exec_requests: int
    commands_run: int
    sessions_current: int
    sessions_peak: int
    sessions_refused: int


@dataclass(frozen=True)
class Stats:
    exec_requests: int
    """Every exec request received (one round trip), whatever became of it (errors and faults included)."""
    commands_run: int
    """Console statements started, over all exec lines: each of `a; b` counts, a failing one too,
    but none after it and none of a line refused by the parser or by a fault before it ran."""
    connections_accepted: int
    sessions_current: int
    sessions_peak: int
    sessions_refused: int
    connections: tuple[ConnectionStats, ...]


@dataclass
class _Counters:
    peer: str
    open: bool = True
    exec_requests: int = 0
    commands_run: int = 0
    sessions_current: int = 0
    sessions_peak: int = 0
    sessions_refused: int = 0


class StatsRecorder:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._connections: dict[int, _Counters] = {}
        self._accepted = 0
        self._exec_requests = 0
        self._commands_run = 0
        self._current = 0
        self._peak = 0
        self._refused = 0
        self._changed = threading.Event()
        self._closed = threading.Event()
        self._writer = threading.Thread(target=self._write_changes, name="rds-emulator-stats", daemon=True)
        self._writer.start()

    def close(self) -> None:
        """Write the final numbers and stop the writer."""
        self._closed.set()
        self._changed.set()
        self._writer.join(5)

    def connection_opened(self, peer: str) -> int:
        with self._lock:
            self._accepted += 1
            self._connections[self._accepted] = _Counters(peer=peer)
            self._publish()
            return self._accepted

    def connection_closed(self, connection: int) -> None:
        with self._lock:
            counters = self._connections[connection]
            counters.open = False
            self._current -= counters.sessions_current
            counters.sessions_current = 0
            closed = [key for key, value in self._connections.items() if not value.open]
            for key in closed[:-KEPT_CLOSED_CONNECTIONS]:
                del self._connections[key]
            self._publish()

    def try_open_session(self, connection: int, limit: int) -> bool:
        """Count a new session, or a refusal when the connection already has `limit` open."""
        with self._lock:
            counters = self._connections[connection]
            if counters.sessions_current >= limit:
                counters.sessions_refused += 1
                self._refused += 1
                self._publish()
                return False
            counters.sessions_current += 1
            counters.sessions_peak = max(counters.sessions_peak, counters.sessions_current)
            self._current += 1
            self._peak = max(self._peak, self._current)
            self._publish()
            return True

    def session_closed(self, connection: int) -> None:
        with self._lock:
            counters = self._connections.get(connection)
            if counters is None or counters.sessions_current == 0:
                return
            counters.sessions_current -= 1
            self._current -= 1
            self._publish()

    def exec_requested(self, connection: int) -> None:
        with self._lock:
            counters = self._connections.get(connection)
            if counters is not None:
                counters.exec_requests += 1
            self._exec_requests += 1
            self._publish()

    def commands_ran(self, connection: int, count: int) -> None:
        with self._lock:
            counters = self._connections.get(connection)
            if counters is not None:
                counters.commands_run += count
            self._commands_run += count
            self._publish()

    def snapshot(self) -> Stats:
        with self._lock:
            return self._snapshot()

    def _snapshot(self) -> Stats:
        return Stats(
            exec_requests=self._exec_requests,
            commands_run=self._commands_run,
            connections_accepted=self._accepted,
            sessions_current=self._current,
            sessions_peak=self._peak,
            sessions_refused=self._refused,
            connections=tuple(
                ConnectionStats(id=key, **asdict(counters)) for key, counters in self._connections.items()
            ),
        )

    def _publish(self) -> None:
        self._changed.set()

    def _write_changes(self) -> None:
        while not self._closed.is_set():
            self._changed.wait()
            self._closed.wait(PUBLISH_INTERVAL)  # one write for a burst of changes
            self._changed.clear()
            write_json_atomically(self._path, asdict(self.snapshot()), durable=False)
