"""Debian's OpenSSH, run by the tests: ``sshd`` on a loopback port as a jump host, and ``ssh-agent``.

Both run in the foreground as children of the test, with every file in a temporary directory, and
are stopped (and waited for, with a bound) when the test leaves the context.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"  # sshd refuses to start from a relative path (it re-executes itself)
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
PRIVSEP_DIR = Path("/run/sshd")  # sshd started by root checks that its privilege separation directory exists


def require(program: str) -> str:
    path = shutil.which(program) or (program if os.path.isabs(program) and os.access(program, os.X_OK) else None)
    if path is None:
        raise AssertionError(
            "%s is missing: install openssh-server and openssh-client (scripts/system-deps.sh)" % program
        )
    return path


def keygen(path: Path, passphrase: str = "", kind: str = "ed25519") -> str:
    """Write a new key pair with OpenSSH's ssh-keygen; return the public key line."""
    subprocess.run(
        [require("ssh-keygen"), "-q", "-t", kind, "-N", passphrase, "-C", path.name, "-f", str(path)],
        check=True,
        timeout=30,
        capture_output=True,
    )
    return Path(str(path) + ".pub").read_text().strip()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class JumpServer:
    port: int
    host_key_line: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def openssh_server(work: Path, authorized_keys: Path) -> Iterator[JumpServer]:
    """sshd on 127.0.0.1 in the foreground with its own configuration, host key and authorized_keys;
    no PAM, StrictModes off (the files live in a temp dir), TCP forwarding on."""
    work.mkdir(parents=True, exist_ok=True)
    host_key = work / "ssh_host_ed25519_key"
    host_key_line = " ".join(keygen(host_key).split()[:2])
    port = free_port()
    config = work / "sshd_config"
    config.write_text(
        "\n".join(
            [
                "ListenAddress 127.0.0.1",
                "Port %d" % port,
                "HostKey %s" % host_key,
                "AuthorizedKeysFile %s" % authorized_keys,
                "PidFile none",
                "UsePAM no",
                "StrictModes no",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "AllowTcpForwarding yes",
                "LogLevel DEBUG1",
                "",
            ]
        )
    )
    if os.geteuid() == 0:
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    log = work / "sshd.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [require(SSHD), "-D", "-e", "-f", str(config)], stdout=output, stderr=subprocess.STDOUT
        )
    try:
        _wait_for_banner(port, process, log)
        yield JumpServer(port, host_key_line, log)
    finally:
        _stop(process)


def _wait_for_banner(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("sshd exited with %s:\n%s" % (process.returncode, log.read_text(errors="replace")))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as probe:
                if probe.recv(64).startswith(b"SSH-2.0-"):
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("sshd did not answer on port %d within %.0f s:\n%s" % (port, START_TIMEOUT, log.read_text()))


@dataclass(frozen=True)
class Agent:
    socket: Path

    def add(self, private_key: Path, passphrase: str = "") -> None:
        """ssh-add the key; an encrypted key's passphrase is given through SSH_ASKPASS, as a desktop does."""
        askpass = private_key.parent / ("askpass-%s" % private_key.name)
        askpass.write_text("#!/bin/sh\nprintf '%%s\\n' '%s'\n" % passphrase)
        askpass.chmod(0o700)
        environment = dict(
            os.environ, SSH_AUTH_SOCK=str(self.socket), SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force"
        )
        subprocess.run(
            [require("ssh-add"), str(private_key)],
            env=environment,
            stdin=subprocess.DEVNULL,
            check=True,
            timeout=30,
            capture_output=True,
        )
        askpass.unlink()

    def listed(self) -> str:
        completed = subprocess.run(
            [require("ssh-add"), "-l"],
            env=dict(os.environ, SSH_AUTH_SOCK=str(self.socket)),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return completed.stdout


@contextmanager
def ssh_agent(work: Path) -> Iterator[Agent]:
    """A real ssh-agent in the foreground (-D) on a socket in ``work``; killed when the context ends."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / "agent.sock"
    process = subprocess.Popen(
        [require("ssh-agent"), "-D", "-a", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not path.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("ssh-agent did not create its socket %s" % path)
            time.sleep(0.02)
        yield Agent(path)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)
