"""routeros_user's planning: which RouterOS commands a current account and the options produce."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_public_key import PublicKey
from ansible_collections.srvlab.rds.plugins.modules.routeros_user import ARGUMENT_SPEC, key_comment, plan_present

from tests.unit.plugins.module_utils.test_ssh_public_key import ED25519, RSA

OLD, NEW = PublicKey(ED25519), PublicKey(RSA)


def params(**changes: Any) -> dict[str, Any]:
    filled = {name: option.get("default") for name, option in ARGUMENT_SPEC.items()}
    filled.update(name="rds-csi", group="rds-csi", comment="driver", user_password="pw")
    filled.update(changes)
    return filled


def account(policy: list[str], disabled: bool = False, keys: tuple[PublicKey, ...] = ()) -> dict[str, Any]:
    return {
        "group": {"name": "rds-csi", "policy": sorted(policy), "comment": "driver"},
        "user": {"name": "rds-csi", "group": "rds-csi", "comment": "driver", "disabled": disabled},
        "keys": [{"fingerprint": key.fingerprint, "key_type": key.key_type, "key_owner": key.owner} for key in keys],
    }


EMPTY: dict[str, Any] = {"group": None, "user": None, "keys": []}
DEFAULT_POLICY = ["ssh", "read", "write", "test"]


@pytest.mark.parametrize(
    ("current", "options", "expected"),
    [
        (
            EMPTY,
            {"public_keys": [ED25519]},
            [
                '/user group add name="rds-csi" policy="read,ssh,test,write" comment="driver"',
                '/user add name="rds-csi" group="rds-csi" comment="driver" password=********',
                '/user ssh-keys add user="rds-csi" key="%s" comment="%s"' % (OLD.line, key_comment("rds-csi", OLD)),
            ],
        ),
        (account(DEFAULT_POLICY, keys=(OLD,)), {"public_keys": [ED25519, ED25519]}, []),
        (account(["test", "write", "read", "ssh"], keys=(OLD,)), {"public_keys": [ED25519]}, []),
        (
            account(["ssh", "read"], disabled=True, keys=(OLD,)),
            {"public_keys": [ED25519]},
            [
                '/user group set [find name="rds-csi"] policy="read,ssh,test,write" comment="driver"',
                '/user set [find name="rds-csi"] group="rds-csi" comment="driver" disabled=no',
            ],
        ),
        (
            account(DEFAULT_POLICY, keys=(OLD,)),
            {"public_keys": [RSA]},
            [
                '/user ssh-keys add user="rds-csi" key="%s" comment="%s"' % (NEW.line, key_comment("rds-csi", NEW)),
                '/user ssh-keys remove [find where user="rds-csi" and comment="%s"]' % key_comment("rds-csi", OLD),
            ],
        ),
    ],
    ids=["create", "unchanged-duplicate-key", "policy-order-ignored", "policy-and-disabled", "key-rotation"],
)
def test_plan_present(current: dict[str, Any], options: dict[str, Any], expected: list[str]) -> None:
    keys = [PublicKey(line) for line in options.get("public_keys", [])]
    commands = plan_present(current, params(**options), keys)
    assert [command.render_for_log() for command in commands] == expected


def test_password_is_sent_only_when_the_user_is_created() -> None:
    created = plan_present(EMPTY, params(public_keys=[ED25519]), [OLD])
    assert 'password="pw"' in created[1].render()
    existing = plan_present(account(DEFAULT_POLICY, keys=(OLD,)), params(user_password="new"), [OLD])
    assert existing == []
