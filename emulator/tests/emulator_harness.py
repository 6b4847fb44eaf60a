"""Helpers the emulator tests share: client keys, an SSH wrapper around a running server."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko
from rds_emulator.process import write_client_key
from rds_emulator.server import EmulatorServer

TIMEOUT = 10.0


@dataclass(frozen=True)
class ClientKey:
    private_key: Path
    authorized_keys: Path


def make_client_key(directory: Path, name: str = "client") -> ClientKey:
    private_key = directory / name
    return ClientKey(private_key=private_key, authorized_keys=write_client_key(private_key))


class Emulator:
    """A running EmulatorServer plus helpers that talk to it over real SSH."""

    def __init__(self, server: EmulatorServer, key: ClientKey) -> None:
        self.server = server
        self.key = key
        self._clients: list[paramiko.SSHClient] = []
        self._shared: paramiko.SSHClient | None = None

    @property
    def files(self) -> Path:
        return self.server.state_dir / "files"

    def connect(self, username: str = "admin", **options: Any) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        host, port = self.server.address
        key_type, key_text = self.server.host_public_key_line.split(" ", 1)
        host_key = paramiko.PKey.from_type_string(key_type, base64.b64decode(key_text))
        client.get_host_keys().add(f"[{host}]:{port}", key_type, host_key)
        settings: dict[str, Any] = {
            "username": username,
            "key_filename": str(self.key.private_key),
            "look_for_keys": False,
            "allow_agent": False,
            "timeout": TIMEOUT,
            "banner_timeout": TIMEOUT,
            "auth_timeout": TIMEOUT,
        }
        settings.update(options)
        client.connect(host, port, **settings)
        client.get_transport().sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._clients.append(client)
        return client

    def run(self, command: str, client: paramiko.SSHClient | None = None) -> tuple[int, str]:
        """Run one command in its own exec channel (on a shared connection unless `client` is given)."""
        return run_on(client or self._shared_client(), command)

    def _shared_client(self) -> paramiko.SSHClient:
        transport = self._shared.get_transport() if self._shared is not None else None
        if self._shared is None or transport is None or not transport.is_active():
            self._shared = self.connect()
        return self._shared

    def ok(self, command: str) -> str:
        status, output = self.run(command)
        assert status == 0, f"{command!r} failed: {output}"
        return output

    def slots(self) -> list[str]:
        """Slots of the disk table as persisted in config.json."""
        document = json.loads((self.server.state_dir / "config.json").read_text(encoding="utf-8"))
        return [disk["slot"] for disk in document["disks"]]

    def close(self) -> None:
        for client in self._clients:
            client.close()


def run_on(client: paramiko.SSHClient, command: str, timeout: float = TIMEOUT) -> tuple[int, str]:
    _stdin, stdout, _stderr = client.exec_command(command, timeout=timeout)
    output = stdout.read().decode("utf-8")
    return stdout.channel.recv_exit_status(), output


StartEmulator = Callable[..., Emulator]
"""Fixture `start_emulator`: start a server with EmulatorConfig keywords, stopped after the test."""


def port_refuses(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1.0):
            return False
    except ConnectionRefusedError:
        return True


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)
