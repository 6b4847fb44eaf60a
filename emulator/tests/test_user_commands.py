"""`/user`, `/user group` and `/user ssh-keys` over real SSH, and logins of the users they create."""

from __future__ import annotations

import json
from pathlib import Path

import paramiko
import pytest
from emulator_harness import Emulator, StartEmulator, make_client_key


def _public_key_line(emulator_key_dir: Path, name: str) -> tuple[Path, str]:
    key = make_client_key(emulator_key_dir, name)
    return key.private_key, key.authorized_keys.read_text(encoding="utf-8").strip()


def _driver_account(emulator: Emulator, password: str = "initial-secret") -> None:
    emulator.ok('/user group add name=rds-csi policy="ssh,read,write,test,!local" comment="CSI driver"')
    emulator.ok(f'/user add name=rds-csi group=rds-csi password="{password}" comment="rds.csi.srvlab.io"')


def test_group_user_and_key_print_back(emulator: Emulator, tmp_path: Path) -> None:
    _driver_account(emulator)
    _private, line = _public_key_line(tmp_path, "driver")
    emulator.ok(f'/user ssh-keys add user=rds-csi key="{line} driver@ci" comment="srvlab.rds test"')

    group = emulator.ok("/user group print detail without-paging where name=rds-csi")
    assert 'name="rds-csi" policy=ssh,read,write,test,!local,!telnet' in group
    assert ";;; CSI driver" in group
    user = emulator.ok("/user print detail without-paging where name=rds-csi")
    assert user.startswith("Flags: X - DISABLED\n")
    assert 'name="rds-csi" group=rds-csi' in user
    assert "initial-secret" not in user
    keys = emulator.ok("/user ssh-keys print detail without-paging where user=rds-csi")
    assert ";;; srvlab.rds test" in keys
    assert 'user="rds-csi" key-type=ssh-ed25519 bits=256' in keys
    assert line.split()[1] not in keys


def test_builtin_user_and_groups_are_listed_and_protected(emulator: Emulator) -> None:
    users = emulator.ok("/user print detail without-paging")
    assert 'name="admin" group=full' in users
    assert emulator.run("/user remove admin") == (1, "failure: can not change built-in user\n")
    assert emulator.run("/user group set full policy=read") == (1, "failure: can not change built-in group\n")
    assert emulator.run("/user add name=admin group=read") == (1, "failure: user with the same name already exists\n")


def test_errors_name_the_argument(emulator: Emulator) -> None:
    assert emulator.run("/user group add name=g policy=ssh,fly") == (1, "input does not match any value of policy\n")
    assert emulator.run("/user add name=u group=nope") == (1, "input does not match any value of group\n")
    assert emulator.run('/user add name="a b" group=read') == (1, "invalid value for argument name\n")
    assert emulator.run('/user ssh-keys add user=nobody key="ssh-ed25519 AAAA"') == (
        1,
        "input does not match any value of user\n",
    )
    emulator.ok("/user add name=u group=read")
    assert emulator.run('/user ssh-keys add user=u key="ssh-ed25519 notbase64!"') == (
        1,
        "invalid value for argument key\n",
    )
    emulator.ok("/user group add name=g policy=ssh")
    emulator.ok("/user set u group=g")
    assert emulator.run("/user group remove g") == (1, "failure: group is in use\n")


def test_key_login_then_password_refused_once_a_key_is_attached(emulator: Emulator, tmp_path: Path) -> None:
    _driver_account(emulator, password="pw-1")
    client = emulator.connect(username="rds-csi", password="pw-1", key_filename=None)
    assert emulator.run("/system identity print", client)[0] == 0

    private, line = _public_key_line(tmp_path, "driver")
    emulator.ok(f'/user ssh-keys add user=rds-csi key="{line}"')
    with pytest.raises(paramiko.AuthenticationException):
        emulator.connect(username="rds-csi", password="pw-1", key_filename=None)
    by_key = emulator.connect(username="rds-csi+200w", key_filename=str(private))
    assert emulator.run("/disk print detail without-paging", by_key)[0] == 0

    other_private, _other_line = _public_key_line(tmp_path, "stranger")
    with pytest.raises(paramiko.AuthenticationException):
        emulator.connect(username="rds-csi", key_filename=str(other_private))


def test_disabled_user_or_group_without_ssh_cannot_log_in(emulator: Emulator, tmp_path: Path) -> None:
    _driver_account(emulator)
    private, line = _public_key_line(tmp_path, "driver")
    emulator.ok(f'/user ssh-keys add user=rds-csi key="{line}"')
    emulator.ok("/user set [find name=rds-csi] disabled=yes")
    with pytest.raises(paramiko.AuthenticationException):
        emulator.connect(username="rds-csi", key_filename=str(private))
    emulator.ok("/user set [find name=rds-csi] disabled=no")
    emulator.ok('/user group set [find name=rds-csi] policy="read,write"')
    with pytest.raises(paramiko.AuthenticationException):
        emulator.connect(username="rds-csi", key_filename=str(private))
    emulator.ok('/user group set [find name=rds-csi] policy="ssh,read,write"')
    assert emulator.connect(username="rds-csi", key_filename=str(private)) is not None


def test_removing_the_key_or_the_user_ends_key_login(emulator: Emulator, tmp_path: Path) -> None:
    _driver_account(emulator)
    private, line = _public_key_line(tmp_path, "driver")
    emulator.ok(f'/user ssh-keys add user=rds-csi key="{line}" comment=k1')
    emulator.ok("/user ssh-keys remove [find user=rds-csi comment=k1]")
    with pytest.raises(paramiko.AuthenticationException):
        emulator.connect(username="rds-csi", key_filename=str(private))
    emulator.connect(username="rds-csi", password="initial-secret", key_filename=None)
    emulator.ok(f'/user ssh-keys add user=rds-csi key="{line}"')
    emulator.ok("/user remove [find name=rds-csi]")
    assert "rds-csi" not in emulator.ok("/user ssh-keys print detail without-paging")
    with pytest.raises(paramiko.AuthenticationException):
        emulator.connect(username="rds-csi", key_filename=str(private))


def test_users_survive_a_restart(start_emulator: StartEmulator, state_dir: Path, tmp_path: Path) -> None:
    first = start_emulator()
    _driver_account(first)
    private, line = _public_key_line(tmp_path, "driver")
    first.ok(f'/user ssh-keys add user=rds-csi key="{line}"')
    first.close()
    first.server.stop()

    stored = json.loads((state_dir / "users.json").read_text(encoding="utf-8"))
    assert [user["name"] for user in stored["users"]] == ["rds-csi"]
    second = start_emulator()
    assert second.connect(username="rds-csi", key_filename=str(private)) is not None
