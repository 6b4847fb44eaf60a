"""routeros_user, directory and host_key_info run by real ansible-playbook against the emulator over SSH.

The roles' Molecule scenario covers the happy path; these cover key rotation, check mode and diff,
removal, refusals and a changed host key, with the emulator's user table and logins as the truth.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import paramiko
import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_public_key import PublicKey
from rds_emulator.process import write_client_key
from rds_emulator.server import EmulatorServer

from tests.integration.playbooks import connection_defaults, run_playbook


@pytest.fixture
def driver_keys(tmp_path: Path) -> list[tuple[Path, str]]:
    """Two driver key pairs: (private key file, public key line)."""
    keys = []
    for name in ("driver_old", "driver_new"):
        public = write_client_key(tmp_path / name).read_text(encoding="utf-8").strip()
        keys.append((tmp_path / name, public))
    return keys


def _user_task(register: str, connection: dict[str, Any], **options: Any) -> dict[str, Any]:
    arguments = dict(connection, name="rds-csi", group="rds-csi", comment="rds.csi.srvlab.io driver")
    arguments.update(options)
    return {"register": register, "srvlab.rds.routeros_user": arguments}


def _users(emulator: EmulatorServer) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((emulator.state_dir / "users.json").read_text(encoding="utf-8"))
    return document


def _logs_in(emulator: EmulatorServer, user: str, **credentials: Any) -> bool:
    host, port = emulator.address
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(host, port, username=user, look_for_keys=False, allow_agent=False, timeout=10, **credentials)
        return True
    except paramiko.AuthenticationException:
        return False
    finally:
        client.close()


def _run_as_admin(emulator: EmulatorServer, private_key: Path, command: str) -> None:
    host, port = emulator.address
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(host, port, username="admin", key_filename=str(private_key), look_for_keys=False, timeout=10)
        _stdin, stdout, _stderr = client.exec_command(command, timeout=10)
        output = stdout.read().decode()
        assert stdout.channel.recv_exit_status() == 0, output
    finally:
        client.close()


def test_account_lifecycle_with_check_mode_and_key_rotation(
    tmp_path: Path,
    emulator: EmulatorServer,
    client_key: tuple[Path, Path],
    driver_keys: list[tuple[Path, str]],
) -> None:
    connection = connection_defaults(emulator, client_key[0])
    (old_private, old_public), (new_private, new_public) = driver_keys
    first = _user_task("user", connection, public_keys=[old_public], user_password="first-password")

    predicted = run_playbook(tmp_path, [first], extra_args=("--check", "--diff"))
    assert predicted["user"]["changed"] is True
    assert predicted["user"]["after"]["user"]["group"] == "rds-csi"
    assert predicted["user"]["diff"] == {"before": predicted["user"]["before"], "after": predicted["user"]["after"]}
    assert predicted["user"]["before"] == {"group": None, "user": None, "keys": []}
    assert "first-password" not in json.dumps(predicted.results)
    assert "********" in " ".join(predicted["user"]["commands"])
    assert _users(emulator)["users"] == []

    created = run_playbook(tmp_path, [first])
    assert created["user"]["changed"] is True
    assert _logs_in(emulator, "rds-csi", key_filename=str(old_private))
    assert not _logs_in(emulator, "rds-csi", password="first-password")

    again = run_playbook(tmp_path, [_user_task("user", connection, public_keys=[old_public], user_password="other")])
    assert again["user"]["changed"] is False
    assert again["user"]["commands"] == []
    assert _users(emulator)["users"][0]["password"] == "first-password"

    both = run_playbook(tmp_path, [_user_task("user", connection, public_keys=[old_public, new_public])])
    assert both["user"]["changed"] is True
    assert _logs_in(emulator, "rds-csi", key_filename=str(new_private))
    rotated = run_playbook(
        tmp_path, [_user_task("user", connection, public_keys=[new_public], group_policy=["ssh", "read", "write"])]
    )
    assert rotated["user"]["changed"] is True
    assert [key["fingerprint"] for key in rotated["user"]["after"]["keys"]] == [PublicKey(new_public).fingerprint]
    assert not _logs_in(emulator, "rds-csi", key_filename=str(old_private))
    assert _logs_in(emulator, "rds-csi", key_filename=str(new_private))
    assert _users(emulator)["groups"][0]["policy"] == ["ssh", "read", "write"]

    removed = run_playbook(tmp_path, [_user_task("user", connection, state="absent")])
    assert removed["user"]["changed"] is True
    assert removed["user"]["after"] == {"group": None, "user": None, "keys": []}
    assert _users(emulator) == {"format": 1, "groups": [], "users": [], "keys": []}
    assert not _logs_in(emulator, "rds-csi", key_filename=str(new_private))


def test_hand_added_keys_are_left_alone_and_bad_keys_refused(
    tmp_path: Path, emulator: EmulatorServer, client_key: tuple[Path, Path], driver_keys: list[tuple[Path, str]]
) -> None:
    connection = connection_defaults(emulator, client_key[0])
    (hand_private, hand_public), (_managed_private, managed_public) = driver_keys
    created = run_playbook(tmp_path, [_user_task("create", connection, public_keys=[managed_public])])
    assert created["create"]["changed"] is True
    _run_as_admin(emulator, client_key[0], '/user ssh-keys add user=rds-csi key="%s"' % hand_public)
    run = run_playbook(
        tmp_path,
        [
            _user_task("again", connection, public_keys=[managed_public]),
            _user_task("bad_key", connection, public_keys=["ssh-ed25519 not-base64!"]),
        ],
    )
    assert run["again"]["changed"] is False
    assert _logs_in(emulator, "rds-csi", key_filename=str(hand_private))
    assert run["bad_key"]["failed"] is True
    assert "User 'rds-csi'" in run["bad_key"]["msg"] and "base64" in run["bad_key"]["msg"]

    _run_as_admin(emulator, client_key[0], "/user add name=other group=rds-csi")
    removed = run_playbook(tmp_path, [_user_task("absent", connection, state="absent")])
    assert removed["absent"]["changed"] is True
    assert removed["absent"]["after"]["user"] is None
    assert removed["absent"]["after"]["group"]["name"] == "rds-csi"
    assert [group["name"] for group in _users(emulator)["groups"]] == ["rds-csi"]
    assert [user["name"] for user in _users(emulator)["users"]] == ["other"]


def test_directories_and_host_key(tmp_path: Path, emulator: EmulatorServer, client_key: tuple[Path, Path]) -> None:
    connection = connection_defaults(emulator, client_key[0])
    host, port = emulator.address
    wrong_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKe+mxKWXOithgk2cWj/ntoFWcYEy/G2cixQpKZbLq3q"
    directories = {"paths": ["/storage-pool/metal-csi", "/storage-pool/a/b"]}
    run = run_playbook(
        tmp_path,
        [
            {"register": "checked", "srvlab.rds.directory": dict(connection, **directories), "check_mode": True},
            {"register": "created", "srvlab.rds.directory": dict(connection, **directories)},
            {"register": "again", "srvlab.rds.directory": dict(connection, **directories)},
            {"register": "offered", "srvlab.rds.host_key_info": {"host": host, "port": port}},
            {
                "register": "pinned",
                "srvlab.rds.host_key_info": {"host": host, "port": port, "expected": emulator.host_public_key_line},
            },
            {
                "register": "changed_key",
                "srvlab.rds.host_key_info": {"host": host, "port": port, "expected": wrong_key},
            },
        ],
    )
    # Every directory that did not exist is listed, parents first, in check mode as when created.
    expected = ["/storage-pool/metal-csi", "/storage-pool/a", "/storage-pool/a/b"]
    assert run["checked"]["changed"] is True and run["checked"]["created"] == expected
    assert run["created"]["created"] == expected
    assert run["again"]["changed"] is False
    files = emulator.state_dir / "files" / "storage-pool"
    assert (files / "metal-csi").is_dir() and (files / "a" / "b").is_dir()

    assert run["offered"]["host_key"] == emulator.host_public_key_line
    assert run["offered"]["fingerprint"].startswith("SHA256:")
    assert run["offered"]["matches_expected"] is None
    assert run["pinned"]["matches_expected"] is True
    assert run["changed_key"]["failed"] is True
    assert run["changed_key"]["matches_expected"] is False
    assert "not the pinned one" in run["changed_key"]["msg"]
