"""Authentication, channel admission, session limits and the stats that prove them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import paramiko
import pytest
from emulator_harness import ClientKey, Emulator, StartEmulator, make_client_key, run_on, wait_for
from rds_emulator.faults import Fault, FaultKind

pytestmark = pytest.mark.timeout(60)


def test_extra_concurrent_sessions_are_refused_and_counted(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(max_sessions=2, faults=(Fault(FaultKind.HANG, match="identity"),))
    transport = emulator.connect().get_transport()
    held = [transport.open_session(timeout=5) for _index in range(2)]
    for channel in held:
        channel.exec_command("/system identity print")

    with pytest.raises(paramiko.ChannelException) as refused:
        transport.open_session(timeout=5)

    assert refused.value.code == paramiko.OPEN_FAILED_RESOURCE_SHORTAGE
    stats = emulator.server.stats
    assert (stats.sessions_refused, stats.sessions_peak, stats.sessions_current) == (1, 2, 2)
    connection = stats.connections[-1]
    assert (connection.sessions_refused, connection.sessions_peak) == (1, 2)
    for channel in held:
        channel.close()
    wait_for(lambda: emulator.server.stats.sessions_current == 0)
    assert run_on(emulator.connect(), "/system resource print")[0] == 0


def test_sequential_sessions_never_hit_the_limit(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(max_sessions=1)
    client = emulator.connect()

    for _attempt in range(20):
        assert run_on(client, "/system identity print")[0] == 0

    assert emulator.server.stats.sessions_refused == 0


def test_stats_count_commands_and_connections_and_mirror_to_a_file(emulator: Emulator) -> None:
    client = emulator.connect()
    run_on(client, "/system identity print")
    run_on(client, "/nonsense")

    stats = emulator.server.stats
    assert stats.exec_requests == 2
    assert stats.connections_accepted == 1
    assert stats.connections[0].exec_requests == 2
    mirror = emulator.server.state_dir / "stats.json"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not (
        mirror.exists() and json.loads(mirror.read_text())["exec_requests"] == 2
    ):
        time.sleep(0.05)
    mirrored = json.loads(mirror.read_text())
    assert mirrored["exec_requests"] == 2
    assert mirrored["connections"][0]["sessions_peak"] == 1


def test_password_is_refused_for_a_user_with_a_key(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(password="secret")

    with pytest.raises(paramiko.AuthenticationException):
        emulator.connect(password="secret", key_filename=None)


def test_password_works_for_a_user_without_keys(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(password="secret", authorized_keys=None)

    client = emulator.connect(password="secret", key_filename=None)

    assert run_on(client, "/system identity print") == (0, "  name: rds-emulator\n")
    with pytest.raises(paramiko.AuthenticationException):
        emulator.connect(password="wrong", key_filename=None)


def test_unknown_key_and_unknown_user_are_refused(emulator: Emulator, tmp_path: Path) -> None:
    stranger: ClientKey = make_client_key(tmp_path, "stranger")

    with pytest.raises(paramiko.AuthenticationException):
        emulator.connect(key_filename=str(stranger.private_key))
    with pytest.raises(paramiko.AuthenticationException):
        emulator.connect(username="root")


def test_rsa_keys_are_accepted(start_emulator: StartEmulator, tmp_path: Path) -> None:
    key = paramiko.RSAKey.generate(2048)
    key.write_private_key_file(str(tmp_path / "rsa"))
    authorized = tmp_path / "rsa.authorized_keys"
    authorized.write_text(f'no-pty,command="x y" {key.get_name()} {key.get_base64()} rsa-user\n')
    emulator = start_emulator(authorized_keys=authorized)

    client = emulator.connect(key_filename=str(tmp_path / "rsa"))

    assert run_on(client, "/system identity print")[0] == 0


def test_shell_and_pty_are_refused(emulator: Emulator) -> None:
    transport = emulator.connect().get_transport()

    with pytest.raises(paramiko.SSHException):
        transport.open_session(timeout=5).get_pty()
    with pytest.raises(paramiko.SSHException):
        transport.open_session(timeout=5).invoke_shell()


def test_generated_host_key_is_kept_and_published(start_emulator: StartEmulator, state_dir: Path) -> None:
    first = start_emulator().server
    line = first.host_public_key_line
    first.stop()

    again = start_emulator().server

    assert again.host_public_key_line == line
    assert line.startswith("ssh-ed25519 AAAA")
    assert (state_dir / "ssh_host_ed25519_key.pub").read_text().startswith(line)
    assert (state_dir / "ssh_host_ed25519_key").stat().st_mode & 0o077 == 0
    assert (state_dir / "listen").read_text() == "{}:{}\n".format(*again.address)
