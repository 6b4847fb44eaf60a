# Copyright: srvlab developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A RouterOS user with its own group and SSH public keys (``srvlab.rds.routeros_user``): read, plan, apply.

RouterOS never prints a key back, so every key added here carries the comment
``srvlab.rds <user> SHA256:<fingerprint>``; keys without such a comment (added by hand) are left alone.

``plan_present`` and ``plan_absent`` are pure: from the account as read and the account asked for
they compute the steps (each a command and the test that the account read back shows it) and
predict the account after them, so check mode can stop there. ``apply_account`` runs every step
through ``RdsClient.mutate``: a lost reply is re-checked by reading the account back, not repeated.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import InvalidValueError, RdsError
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_command import (
    ArgValue,
    Command,
    build,
    equals,
    print_detail,
)
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_output import Item, parse_detail
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_public_key import PublicKey

KEY_MARKER = "srvlab.rds"


@dataclass(frozen=True)
class GroupView:
    name: str
    policy: Tuple[str, ...]
    """Sorted; RouterOS' negated policies (``!ftp``) are left out."""
    comment: str

    def to_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "policy": list(self.policy), "comment": self.comment}


@dataclass(frozen=True)
class UserView:
    name: str
    group: str
    comment: str
    disabled: bool


@dataclass(frozen=True)
class KeyView:
    """A key this module added: the fingerprint from its comment, type and owner as RouterOS read the key line."""

    fingerprint: str
    key_type: str
    key_owner: str


@dataclass(frozen=True)
class Account:
    """A user, its group and its managed keys (sorted by fingerprint); None for what does not exist."""

    group: Optional[GroupView]
    user: Optional[UserView]
    keys: Tuple[KeyView, ...] = ()

    @property
    def fingerprints(self) -> Tuple[str, ...]:
        return tuple(key.fingerprint for key in self.keys)

    def shows(self, other: Account) -> bool:
        """Whether both agree on what this module controls; key types and owners come from the key lines."""
        return (self.group, self.user, self.fingerprints) == (other.group, other.user, other.fingerprints)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "group": self.group.to_dict() if self.group is not None else None,
            "user": asdict(self.user) if self.user is not None else None,
            "keys": [asdict(key) for key in self.keys],
        }


@dataclass(frozen=True)
class WantedAccount:
    """What a task asks for. ``policy`` is sorted without repeats, ``keys`` unique in the order given."""

    name: str
    group: str
    policy: Tuple[str, ...]
    comment: str = ""
    keys: Tuple[PublicKey, ...] = ()
    password: Optional[str] = field(default=None, repr=False)
    """Sent only when the user is created: RouterOS never prints it, and refuses it once the user has a key."""
    present: bool = True

    @property
    def group_view(self) -> GroupView:
        return GroupView(self.group, self.policy, self.comment)

    @property
    def user_view(self) -> UserView:
        return UserView(self.name, self.group, self.comment, disabled=False)


@dataclass(frozen=True)
class Step:
    """One change: its command, what it does (for messages) and the test that an account read back shows it."""

    command: Command
    what: str
    shown_by: Callable[[Account], bool]


@dataclass(frozen=True)
class AccountPlan:
    wanted: WantedAccount
    before: Account
    steps: Tuple[Step, ...]
    after: Account
    """Predicted: what the RDS shows once every step ran."""

    def commands_for_log(self) -> List[str]:
        return [step.command.render_for_log() for step in self.steps]


def wanted_account(
    name: str,
    group: str,
    policy: Sequence[str],
    *,
    comment: str = "",
    public_keys: Sequence[str] = (),
    password: Optional[str] = None,
    present: bool = True,
) -> WantedAccount:
    """The account a task asks for; InvalidValueError naming the user when a line is not a public key."""
    keys: Dict[str, PublicKey] = {}
    for line in public_keys:
        try:
            key = PublicKey(line)
        except ValueError as error:
            raise InvalidValueError("User %r: %s" % (name, error)) from None
        keys.setdefault(key.fingerprint, key)
    return WantedAccount(name, group, tuple(sorted(set(policy))), comment, tuple(keys.values()), password, present)


def key_comment(user: str, fingerprint: str) -> str:
    """Names a key this module added; removal matches the user as well."""
    return "%s %s %s" % (KEY_MARKER, user, fingerprint)


# Reading


def read_account(client: RdsClient, name: str, group: str) -> Account:
    groups = _print(client, "/user group", "name", group)
    users = _print(client, "/user", "name", name)
    keys = [_managed_key(item, name) for item in _print(client, "/user ssh-keys", "user", name)]
    return Account(
        group=_group_view(groups[0]) if groups else None,
        user=_user_view(users[0]) if users else None,
        keys=tuple(sorted((key for key in keys if key is not None), key=lambda key: key.fingerprint)),
    )


def group_has_other_users(client: RdsClient, group: str, user: str) -> bool:
    return any(item.fields.get("name") != user for item in _print(client, "/user", "group", group))


# Planning


def plan_account(client: RdsClient, wanted: WantedAccount) -> AccountPlan:
    """Read the account and plan the steps that make it as wanted."""
    before = read_account(client, wanted.name, wanted.group)
    if wanted.present:
        return plan_present(before, wanted)
    shared = before.group is not None and group_has_other_users(client, wanted.group, wanted.name)
    return plan_absent(before, wanted, group_shared=shared)


def plan_present(before: Account, wanted: WantedAccount) -> AccountPlan:
    steps = _group_steps(before.group, wanted) + _user_steps(before.user, wanted) + _key_steps(before, wanted)
    keys = sorted(wanted.keys, key=lambda key: key.fingerprint)
    after = Account(
        wanted.group_view,
        wanted.user_view,
        tuple(KeyView(key.fingerprint, key.key_type, key.owner) for key in keys),
    )
    return AccountPlan(wanted, before, tuple(steps), after)


def plan_absent(before: Account, wanted: WantedAccount, group_shared: bool) -> AccountPlan:
    """Remove the user (RouterOS removes its keys with it), then its group unless another user is in it."""
    steps: List[Step] = []
    if before.user is not None:
        command = build("/user", "remove", target=[equals("name", wanted.name)])
        steps.append(Step(command, "remove user %r" % wanted.name, lambda found: found.user is None))
    removes_group = before.group is not None and not group_shared
    if removes_group:
        command = build("/user group", "remove", target=[equals("name", wanted.group)])
        steps.append(Step(command, "remove group %r" % wanted.group, lambda found: found.group is None))
    return AccountPlan(wanted, before, tuple(steps), Account(None if removes_group else before.group, None))


# Applying


def apply_account(client: RdsClient, plan: AccountPlan) -> Account:
    """Run every step with the client's retries and re-checks; the account as read back after the last one."""
    after = plan.before
    for step in plan.steps:
        after = client.mutate(step.command, _read_back(client, plan.wanted, step), step.what)
    if not after.shows(plan.after):
        raise RdsError(
            "The RDS accepted the changes to user %r but shows %r instead of %r."
            % (plan.wanted.name, after.to_dict(), plan.after.to_dict())
        )
    return after


# Internals: may change without notice.


def _group_steps(group: Optional[GroupView], wanted: WantedAccount) -> List[Step]:
    view = wanted.group_view
    if group == view:
        return []
    args: Dict[str, ArgValue] = {"policy": ",".join(view.policy), "comment": view.comment}
    if group is None:
        command = build("/user group", "add", args={"name": view.name, **args})
        what = "create group %r" % view.name
    else:
        command = build("/user group", "set", target=[equals("name", view.name)], args=args)
        what = "change group %r" % view.name
    return [Step(command, what, lambda found: found.group == view)]


def _user_steps(user: Optional[UserView], wanted: WantedAccount) -> List[Step]:
    view = wanted.user_view
    if user == view:
        return []
    if user is None:
        args: Dict[str, ArgValue] = {"name": view.name, "group": view.group, "comment": view.comment}
        if wanted.password:
            args["password"] = wanted.password
        command = build("/user", "add", args=args, secret_args=["password"])
        what = "create user %r" % view.name
    else:
        changes: Dict[str, ArgValue] = {"group": view.group, "comment": view.comment, "disabled": False}
        command = build("/user", "set", target=[equals("name", view.name)], args=changes)
        what = "change user %r" % view.name
    return [Step(command, what, lambda found: found.user == view)]


def _key_steps(before: Account, wanted: WantedAccount) -> List[Step]:
    present = set(before.fingerprints)
    kept = {key.fingerprint for key in wanted.keys}
    added = [_add_key(wanted.name, key) for key in wanted.keys if key.fingerprint not in present]
    return added + [_remove_key(wanted.name, fingerprint) for fingerprint in sorted(present - kept)]


def _add_key(user: str, key: PublicKey) -> Step:
    comment = key_comment(user, key.fingerprint)
    command = build("/user ssh-keys", "add", args={"user": user, "key": key.line, "comment": comment})
    what = "add key %s to user %r" % (key.fingerprint, user)
    return Step(command, what, lambda found: key.fingerprint in found.fingerprints)


def _remove_key(user: str, fingerprint: str) -> Step:
    target = [equals("user", user), equals("comment", key_comment(user, fingerprint))]
    command = build("/user ssh-keys", "remove", target=target)
    what = "remove key %s from user %r" % (fingerprint, user)
    return Step(command, what, lambda found: fingerprint not in found.fingerprints)


def _read_back(client: RdsClient, wanted: WantedAccount, step: Step) -> Callable[[], Optional[Account]]:
    def applied() -> Optional[Account]:
        found = read_account(client, wanted.name, wanted.group)
        return found if step.shown_by(found) else None

    return applied


def _print(client: RdsClient, menu: str, field_name: str, value: str) -> List[Item]:
    return parse_detail(client.read(print_detail(menu, [equals(field_name, value)])))


def _managed_key(item: Item, user: str) -> Optional[KeyView]:
    words = item.comment.split()
    if len(words) != 3 or words[:2] != [KEY_MARKER, user]:
        return None
    return KeyView(words[2], item.fields.get("key-type", ""), item.fields.get("key-owner", ""))


def _group_view(item: Item) -> GroupView:
    policy = [word for word in item.fields.get("policy", "").split(",") if word and not word.startswith("!")]
    return GroupView(item.fields.get("name", ""), tuple(sorted(policy)), item.comment)


def _user_view(item: Item) -> UserView:
    disabled = item.fields.get("disabled") == "yes" or "X" in item.flags
    return UserView(item.fields.get("name", ""), item.fields.get("group", ""), item.comment, disabled)
