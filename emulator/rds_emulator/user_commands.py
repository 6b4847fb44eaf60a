"""`/user`, `/user group` and `/user ssh-keys`: what provisioning a driver account needs.

Syntax as in RouterOS 7: `/user group add name=<g> policy=<p>,<p>,... [comment=]`,
`/user add name=<u> group=<g> [password=] [comment=] [disabled=]`,
`/user ssh-keys add user=<u> key="<OpenSSH public key line>" [comment=]`, with `remove` and `print`
on each and `set` on groups and users (RouterOS has no `set` for keys). Printing a key shows its
type, bits and owner (the key line's comment), never the key itself. Error texts for duplicates
and for entries in use are this emulator's wording: the real console's is unverified.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import TypeVar

from . import arguments
from .appliance import Appliance
from .commandline import ArgValue, Command
from .entries import Entry
from .errors import Failure, InvalidValue, NoMatchingValue
from .layout import DetailItem, DetailStyle
from .listing import print_entries
from .outcomes import Outcome, Reply
from .quoting import quote
from .selection import select
from .user_table import POLICIES, Group, SshKey, User, UserState, parse_public_key

_T = TypeVar("_T", Group, User)
_USER_STYLE = DetailStyle(legend="Flags: X - DISABLED", flag_width=2)
_GROUP_STYLE = DetailStyle(legend=None, flag_width=0)
_KEY_STYLE = DetailStyle(legend=None, flag_width=0)
_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")


# /user group


def group_add(appliance: Appliance, command: Command, width: int) -> Outcome:
    arguments.require(command, "name")
    state = appliance.users.state
    name = _name(command.args["name"])
    policy = _policy(command.args["policy"]) if "policy" in command.args else ()
    comment = _optional_text(command, "comment", "")
    if state.group(name) is not None:
        raise Failure("group with the same name already exists")
    appliance.users.commit(replace(state, groups=(*state.groups, Group(name, policy, comment))))
    return Reply("")


def group_set(appliance: Appliance, command: Command, width: int) -> Outcome:
    state = appliance.users.state
    chosen = _unless_builtin(select(_group_entries(state), arguments.the_item(command), "name"), "group")
    policy = _policy(command.args["policy"]) if "policy" in command.args else None
    changed = tuple(
        replace(
            group,
            policy=group.policy if policy is None else policy,
            comment=_optional_text(command, "comment", group.comment),
        )
        if group in chosen
        else group
        for group in state.groups
    )
    appliance.users.commit(replace(state, groups=changed))
    return Reply("")


def group_remove(appliance: Appliance, command: Command, width: int) -> Outcome:
    state = appliance.users.state
    chosen = _unless_builtin(select(_group_entries(state), arguments.the_item(command), "name"), "group")
    if any(user.group == group.name for user in state.users for group in chosen):
        raise Failure("group is in use")
    appliance.users.commit(replace(state, groups=tuple(group for group in state.groups if group not in chosen)))
    return Reply("")


def group_print(appliance: Appliance, command: Command, width: int) -> Outcome:
    entries = [entry for _group, entry in _group_entries(appliance.users.state)]
    return print_entries(entries, command, _GROUP_STYLE, width, ("name", "policy"))


# /user


def user_add(appliance: Appliance, command: Command, width: int) -> Outcome:
    arguments.require(command, "name", "group")
    state = appliance.users.state
    name = _name(command.args["name"])
    group = _existing_group(state, command.args["group"])
    user = User(
        name=name,
        group=group,
        password=_optional_text(command, "password", ""),
        comment=_optional_text(command, "comment", ""),
        disabled=arguments.yes_no("disabled", command.args["disabled"]) if "disabled" in command.args else False,
    )
    if state.user(name) is not None:
        raise Failure("user with the same name already exists")
    appliance.users.commit(replace(state, users=(*state.users, user)))
    return Reply("")


def user_set(appliance: Appliance, command: Command, width: int) -> Outcome:
    state = appliance.users.state
    chosen = _unless_builtin(select(_user_entries(state), arguments.the_item(command), "name"), "user")
    group = _existing_group(state, command.args["group"]) if "group" in command.args else None
    disabled = arguments.yes_no("disabled", command.args["disabled"]) if "disabled" in command.args else None
    changed = tuple(
        replace(
            user,
            group=user.group if group is None else group,
            password=_optional_text(command, "password", user.password),
            comment=_optional_text(command, "comment", user.comment),
            disabled=user.disabled if disabled is None else disabled,
        )
        if user in chosen
        else user
        for user in state.users
    )
    appliance.users.commit(replace(state, users=changed))
    return Reply("")


def user_remove(appliance: Appliance, command: Command, width: int) -> Outcome:
    """Removing a user removes its SSH keys too."""
    state = appliance.users.state
    chosen = _unless_builtin(select(_user_entries(state), arguments.the_item(command), "name"), "user")
    names = {user.name for user in chosen}
    appliance.users.commit(
        replace(
            state,
            users=tuple(user for user in state.users if user not in chosen),
            keys=tuple(key for key in state.keys if key.user not in names),
        )
    )
    return Reply("")


def user_print(appliance: Appliance, command: Command, width: int) -> Outcome:
    entries = [entry for _user, entry in _user_entries(appliance.users.state)]
    return print_entries(entries, command, _USER_STYLE, width, ("name", "group", "last-logged-in"))


# /user ssh-keys


def key_add(appliance: Appliance, command: Command, width: int) -> Outcome:
    arguments.require(command, "user", "key")
    state = appliance.users.state
    user = arguments.text("user", command.args["user"])
    if state.user(user) is None:
        raise NoMatchingValue("user")
    try:
        key_type, blob, bits, owner = parse_public_key(arguments.text("key", command.args["key"]))
    except ValueError:
        raise InvalidValue("key") from None
    key = SshKey(user, key_type, blob, bits, owner, _optional_text(command, "comment", ""))
    appliance.users.commit(replace(state, keys=(*state.keys, key)))
    return Reply("")


def key_remove(appliance: Appliance, command: Command, width: int) -> Outcome:
    state = appliance.users.state
    chosen = select(_key_entries(state), arguments.the_item(command), "user")
    appliance.users.commit(replace(state, keys=tuple(key for key in state.keys if key not in chosen)))
    return Reply("")


def key_print(appliance: Appliance, command: Command, width: int) -> Outcome:
    entries = [entry for _key, entry in _key_entries(appliance.users.state)]
    return print_entries(entries, command, _KEY_STYLE, width, ("user", "key-type", "bits", "key-owner"))


HANDLERS: Mapping[tuple[str, str], Callable[[Appliance, Command, int], Outcome]] = {
    ("/user/group", "add"): group_add,
    ("/user/group", "set"): group_set,
    ("/user/group", "remove"): group_remove,
    ("/user/group", "print"): group_print,
    ("/user", "add"): user_add,
    ("/user", "set"): user_set,
    ("/user", "remove"): user_remove,
    ("/user", "print"): user_print,
    ("/user/ssh-keys", "add"): key_add,
    ("/user/ssh-keys", "remove"): key_remove,
    ("/user/ssh-keys", "print"): key_print,
}


# Entries: printed properties plus the raw values `where` and `[find]` compare.


def _entry(printed: Sequence[tuple[str, str, str]], comment: str, flags: str = "") -> Entry:
    raw = {key: value for key, value, _shown in printed}
    raw["comment"] = comment
    item = DetailItem(tuple((key, shown) for key, _value, shown in printed), flags=flags, comment=comment)
    return Entry(item=item, raw=MappingProxyType(raw))


def _policy_text(group: Group) -> str:
    """Granted policies first, then the others negated with `!`, as the console prints them."""
    return ",".join([*group.policy, *(f"!{name}" for name in POLICIES if name not in group.policy)])


def _group_entries(state: UserState) -> list[tuple[Group, Entry]]:
    return [
        (
            group,
            _entry(
                [
                    ("name", group.name, quote(group.name)),
                    ("policy", _policy_text(group), _policy_text(group)),
                    ("skin", "default", "default"),
                ],
                group.comment,
            ),
        )
        for group in state.groups
    ]


def _user_entries(state: UserState) -> list[tuple[User, Entry]]:
    return [
        (
            user,
            _entry(
                [
                    ("name", user.name, quote(user.name)),
                    ("group", user.group, user.group),
                    ("address", "", '""'),
                    ("last-logged-in", "", '""'),
                    ("disabled", "yes" if user.disabled else "no", "yes" if user.disabled else "no"),
                ],
                user.comment,
                flags="X" if user.disabled else "",
            ),
        )
        for user in state.users
    ]


def _key_entries(state: UserState) -> list[tuple[SshKey, Entry]]:
    return [
        (
            key,
            _entry(
                [
                    ("user", key.user, quote(key.user)),
                    ("key-type", key.key_type, key.key_type),
                    ("bits", str(key.bits), str(key.bits)),
                    ("key-owner", key.key_owner, quote(key.key_owner)),
                ],
                key.comment,
            ),
        )
        for key in state.keys
    ]


# Argument values


def _name(value: ArgValue) -> str:
    name = arguments.text("name", value)
    if not name or not set(name) <= _NAME_CHARACTERS:
        raise InvalidValue("name")
    return name


def _policy(value: ArgValue) -> tuple[str, ...]:
    """`ssh,read,!local`: the granted policies in console order; an unknown name is refused."""
    words = [word for word in arguments.text("policy", value).split(",") if word]
    if any(word.removeprefix("!") not in POLICIES for word in words):
        raise NoMatchingValue("policy")
    granted = {word for word in words if not word.startswith("!")}
    return tuple(name for name in POLICIES if name in granted)


def _existing_group(state: UserState, value: ArgValue) -> str:
    group = arguments.text("group", value)
    if state.group(group) is None:
        raise NoMatchingValue("group")
    return group


def _optional_text(command: Command, name: str, default: str) -> str:
    return arguments.text(name, command.args[name]) if name in command.args else default


def _unless_builtin(chosen: list[_T], what: str) -> list[_T]:
    if any(entry.builtin for entry in chosen):
        raise Failure(f"can not change built-in {what}")
    return chosen
