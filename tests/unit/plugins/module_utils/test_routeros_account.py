"""routeros_user's planning as pure functions: which steps an account as read and an account asked for produce."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import InvalidValueError
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_account import (
    Account,
    AccountPlan,
    GroupView,
    KeyView,
    UserView,
    WantedAccount,
    key_comment,
    plan_absent,
    plan_present,
    wanted_account,
)
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_public_key import PublicKey

from tests.unit.plugins.module_utils.test_ssh_public_key import ED25519, RSA

OLD, NEW = PublicKey(ED25519), PublicKey(RSA)
DEFAULT_POLICY = ("ssh", "read", "write", "test")
NOTHING = Account(None, None)


def wanted(**changes: Any) -> WantedAccount:
    options: dict[str, Any] = {"comment": "driver", "public_keys": [ED25519], "password": "pw"}
    options.update(changes)
    return wanted_account("rds-csi", "rds-csi", options.pop("policy", DEFAULT_POLICY), **options)


def account(policy: tuple[str, ...], disabled: bool = False, keys: tuple[PublicKey, ...] = (OLD,)) -> Account:
    return Account(
        GroupView("rds-csi", tuple(sorted(policy)), "driver"),
        UserView("rds-csi", "rds-csi", "driver", disabled),
        tuple(KeyView(key.fingerprint, "ed25519", key.owner) for key in sorted(keys, key=lambda key: key.fingerprint)),
    )


def commands(plan: AccountPlan) -> list[str]:
    return plan.commands_for_log()


def add_key(key: PublicKey) -> str:
    comment = key_comment("rds-csi", key.fingerprint)
    return '/user ssh-keys add user="rds-csi" key="%s" comment="%s"' % (key.line, comment)


@pytest.mark.parametrize(
    ("before", "options", "expected"),
    [
        (
            NOTHING,
            {},
            [
                '/user group add name="rds-csi" policy="read,ssh,test,write" comment="driver"',
                '/user add name="rds-csi" group="rds-csi" comment="driver" password=********',
                add_key(OLD),
            ],
        ),
        (account(DEFAULT_POLICY), {"public_keys": [ED25519, ED25519]}, []),
        (account(("test", "write", "read", "ssh")), {"policy": ["write", "ssh", "test", "read", "ssh"]}, []),
        (
            account(("ssh", "read"), disabled=True),
            {},
            [
                '/user group set [find name="rds-csi"] policy="read,ssh,test,write" comment="driver"',
                '/user set [find name="rds-csi"] group="rds-csi" comment="driver" disabled=no',
            ],
        ),
        (
            account(DEFAULT_POLICY),
            {"public_keys": [RSA]},
            [
                add_key(NEW),
                '/user ssh-keys remove [find where user="rds-csi" and comment="%s"]'
                % key_comment("rds-csi", OLD.fingerprint),
            ],
        ),
    ],
    ids=["create", "unchanged-duplicate-key", "policy-order-ignored", "policy-and-re-enable", "key-rotation"],
)
def test_plan_present(before: Account, options: dict[str, Any], expected: list[str]) -> None:
    assert commands(plan_present(before, wanted(**options))) == expected


def test_password_is_sent_only_when_the_user_is_created() -> None:
    created = plan_present(NOTHING, wanted())
    assert 'password="pw"' in created.steps[1].command.render()
    assert "pw" not in repr(wanted())
    assert commands(plan_present(account(DEFAULT_POLICY), wanted(password="new"))) == []


def test_the_prediction_is_the_account_asked_for_and_shows_every_step() -> None:
    plan = plan_present(account(("ssh",), keys=(OLD,)), wanted(public_keys=[RSA, ED25519]))
    assert plan.after.to_dict() == {
        "group": {"name": "rds-csi", "policy": ["read", "ssh", "test", "write"], "comment": "driver"},
        "user": {"name": "rds-csi", "group": "rds-csi", "comment": "driver", "disabled": False},
        "keys": [
            {"fingerprint": key.fingerprint, "key_type": key.key_type, "key_owner": key.owner}
            for key in sorted((OLD, NEW), key=lambda key: key.fingerprint)
        ],
    }
    assert [step.shown_by(plan.after) for step in plan.steps] == [True, True]
    assert [step.shown_by(plan.before) for step in plan.steps] == [False, False]


@pytest.mark.parametrize(
    ("before", "group_shared", "expected", "group_after"),
    [
        (
            account(DEFAULT_POLICY),
            False,
            ['/user remove [find name="rds-csi"]', '/user group remove [find name="rds-csi"]'],
            None,
        ),
        (account(DEFAULT_POLICY), True, ['/user remove [find name="rds-csi"]'], "rds-csi"),
        (Account(account(DEFAULT_POLICY).group, None), False, ['/user group remove [find name="rds-csi"]'], None),
        (NOTHING, False, [], None),
    ],
    ids=["user-and-group", "group-shared-with-another-user", "group-left-behind", "already-absent"],
)
def test_plan_absent(before: Account, group_shared: bool, expected: list[str], group_after: str | None) -> None:
    plan = plan_absent(before, wanted(present=False), group_shared)
    assert commands(plan) == expected
    assert plan.after.user is None and plan.after.keys == ()
    assert (plan.after.group.name if plan.after.group else None) == group_after
    assert all(step.shown_by(plan.after) for step in plan.steps)


def test_a_line_that_is_not_a_public_key_is_refused_naming_the_user() -> None:
    with pytest.raises(InvalidValueError, match=r"User 'rds-csi': The public key .* is not valid base64\."):
        wanted(public_keys=[ED25519, "ssh-ed25519 not-base64!"])


def test_key_owners_and_types_do_not_count_as_differences() -> None:
    read_back = account(DEFAULT_POLICY)
    predicted = plan_present(read_back, wanted()).after
    assert read_back != predicted
    assert read_back.shows(predicted)
    assert not read_back.shows(account(DEFAULT_POLICY, keys=(NEW,)))
