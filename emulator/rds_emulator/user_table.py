"""RouterOS users, user groups and their SSH public keys, kept in `users.json` in the state directory.

The emulator's own login user (`--user`, authenticated by `--authorized-keys` or `--password`) is
built in: it shows in `/user print` as a member of the built-in group `full` and cannot be changed
here. Users added with `/user add` log in when their group grants the `ssh` policy and they are not
disabled: with one of their `/user ssh-keys`, or with their password only while they have no key
(R-1). The whole table is replaced at once on every change, so the SSH threads that check logins
always read a consistent snapshot without taking the appliance lock.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, replace
from pathlib import Path

import paramiko

from .atomicio import write_json_atomically
from .jsontypes import JsonObject

_FORMAT = 1

POLICIES = (
    "local",
    "telnet",
    "ssh",
    "ftp",
    "reboot",
    "read",
    "write",
    "policy",
    "test",
    "winbox",
    "password",
    "web",
    "sniff",
    "sensitive",
    "api",
    "romon",
    "rest-api",
)
"""RouterOS 7 user group policies, in the order the console prints them."""

BUILTIN_GROUPS = {
    "read": ("local", "telnet", "ssh", "reboot", "read", "test", "winbox", "password", "web", "sniff", "api"),
    "write": ("local", "telnet", "ssh", "reboot", "read", "write", "test", "winbox", "password", "web", "sniff", "api"),
    "full": POLICIES,
}


@dataclass(frozen=True)
class Group:
    name: str
    policy: tuple[str, ...]
    """Granted policies, in `POLICIES` order."""
    comment: str = ""
    builtin: bool = False


@dataclass(frozen=True)
class User:
    name: str
    group: str
    password: str = ""
    comment: str = ""
    disabled: bool = False
    builtin: bool = False


@dataclass(frozen=True)
class SshKey:
    user: str
    key_type: str
    """`ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`, ..."""
    blob: bytes
    bits: int
    key_owner: str
    """The comment at the end of the OpenSSH public key line."""
    comment: str = ""


@dataclass(frozen=True)
class UserState:
    groups: tuple[Group, ...]
    users: tuple[User, ...]
    keys: tuple[SshKey, ...]

    def group(self, name: str) -> Group | None:
        return next((group for group in self.groups if group.name == name), None)

    def user(self, name: str) -> User | None:
        return next((user for user in self.users if user.name == name), None)

    def keys_of(self, user: str) -> tuple[SshKey, ...]:
        return tuple(key for key in self.keys if key.user == user)


def parse_public_key(line: str) -> tuple[str, bytes, int, str]:
    """(key type, blob, bits, owner comment) of an OpenSSH public key line; ValueError if it is not one."""
    words = line.strip().split(None, 2)
    if len(words) < 2:
        raise ValueError("not an OpenSSH public key line")
    try:
        blob = base64.b64decode(words[1], validate=True)
        key = paramiko.PKey.from_type_string(words[0], blob)
    except (binascii.Error, paramiko.SSHException, ValueError, TypeError) as error:
        raise ValueError(f"unreadable public key: {error}") from None
    return words[0], blob, int(key.get_bits()), words[2] if len(words) == 3 else ""


class UserTable:
    def __init__(self, path: Path, login_user: str) -> None:
        self._path = path
        self._login_user = login_user
        self._state = self._with_builtins(UserState((), (), ()))

    @property
    def state(self) -> UserState:
        return self._state

    def load(self) -> None:
        """Read `users.json` if there is one; users and groups that clash with built-ins are refused."""
        if not self._path.exists():
            self.commit(self._state)
            return
        document = json.loads(self._path.read_text(encoding="utf-8"))
        if document.get("format") != _FORMAT:
            raise ValueError(f"{self._path}: unknown format {document.get('format')!r}")
        stored = UserState(
            groups=tuple(
                Group(name=entry["name"], policy=tuple(entry["policy"]), comment=entry["comment"])
                for entry in document["groups"]
            ),
            users=tuple(
                User(
                    name=entry["name"],
                    group=entry["group"],
                    password=entry["password"],
                    comment=entry["comment"],
                    disabled=entry["disabled"],
                )
                for entry in document["users"]
            ),
            keys=tuple(
                SshKey(
                    user=entry["user"],
                    key_type=entry["key-type"],
                    blob=base64.b64decode(entry["key"]),
                    bits=entry["bits"],
                    key_owner=entry["key-owner"],
                    comment=entry["comment"],
                )
                for entry in document["keys"]
            ),
        )
        self._state = self._with_builtins(stored)

    def commit(self, state: UserState) -> None:
        document: JsonObject = {
            "format": _FORMAT,
            "groups": [
                {"name": group.name, "policy": list(group.policy), "comment": group.comment}
                for group in state.groups
                if not group.builtin
            ],
            "users": [
                {
                    "name": user.name,
                    "group": user.group,
                    "password": user.password,
                    "comment": user.comment,
                    "disabled": user.disabled,
                }
                for user in state.users
                if not user.builtin
            ],
            "keys": [
                {
                    "user": key.user,
                    "key-type": key.key_type,
                    "key": base64.b64encode(key.blob).decode("ascii"),
                    "bits": key.bits,
                    "key-owner": key.key_owner,
                    "comment": key.comment,
                }
                for key in state.keys
            ],
        }
        write_json_atomically(self._path, document)
        self._state = state

    def accepts_key(self, name: str, blob: bytes) -> bool:
        state = self._state
        return self._may_log_in(state, name) and any(key.blob == blob for key in state.keys_of(name))

    def accepts_password(self, name: str, password: str) -> bool:
        """RouterOS refuses password login for a user with a public key (R-1); an empty password never logs in."""
        state = self._state
        user = state.user(name)
        return (
            user is not None
            and self._may_log_in(state, name)
            and not state.keys_of(name)
            and user.password != ""
            and user.password == password
        )

    def password_login_possible(self, name: str) -> bool:
        state = self._state
        user = state.user(name)
        return user is not None and user.password != "" and not state.keys_of(name)

    def _may_log_in(self, state: UserState, name: str) -> bool:
        user = state.user(name)
        if user is None or user.builtin or user.disabled:
            return False
        group = state.group(user.group)
        return group is not None and "ssh" in group.policy

    def _with_builtins(self, stored: UserState) -> UserState:
        builtin_groups = tuple(Group(name, policy, builtin=True) for name, policy in BUILTIN_GROUPS.items())
        login = User(self._login_user, "full", builtin=True)
        clashes = {group.name for group in stored.groups} & set(BUILTIN_GROUPS)
        clashes |= {user.name for user in stored.users} & {self._login_user}
        if clashes:
            raise ValueError(f"{self._path}: {', '.join(sorted(clashes))} clash with built-in names")
        return replace(stored, groups=builtin_groups + stored.groups, users=(login, *stored.users))
