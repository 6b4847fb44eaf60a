"""Run the emulator as a separate process through its documented command, for demos and benchmarks.

A separate process keeps the server's threads from competing with the client for one
interpreter, so timings of the client are not distorted.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from .hostkey import write_ed25519_key

_LISTENING = re.compile(r"listening on (?P<host>[^\s:]+):(?P<port>\d+)")
START_TIMEOUT = 20.0


def write_client_key(private_key_file: Path) -> Path:
    """Write a new ed25519 client key (OpenSSH format) and an authorized_keys file beside it."""
    public_line = write_ed25519_key(private_key_file)
    authorized_keys = private_key_file.with_name(private_key_file.name + ".authorized_keys")
    authorized_keys.write_bytes(public_line + b" emulator-client\n")
    return authorized_keys


class EmulatorProcess:
    """``rds-emulator serve`` on a free loopback port, stopped on exit."""

    def __init__(self, state_dir: Path, authorized_keys: Path, *extra_args: str, pool_size: str = "1T") -> None:
        self.state_dir = state_dir
        self.command = [
            sys.executable,
            "-m",
            "rds_emulator.cli",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
            str(state_dir),
            "--authorized-keys",
            str(authorized_keys),
            "--pool-size",
            pool_size,
            *extra_args,
        ]
        self.host = ""
        self.port = 0
        self.host_key_line = ""
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> EmulatorProcess:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ)
        )
        assert self._process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        seen = []
        while time.monotonic() < deadline:
            line = self._process.stdout.readline()
            if not line:
                break
            seen.append(line)
            match = _LISTENING.search(line)
            if match:
                self.host, self.port = match.group("host"), int(match.group("port"))
                self.host_key_line = (self.state_dir / "ssh_host_ed25519_key.pub").read_text().strip()
                threading.Thread(target=self._drain, args=(self._process.stdout,), daemon=True).start()
                return self
        self.stop()
        raise RuntimeError(f"The emulator did not start: {''.join(seen)}")

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    @staticmethod
    def _drain(stream: IO[str]) -> None:
        """Keep reading the server's output so a full pipe never blocks it."""
        while stream.readline():
            continue

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._process = None
