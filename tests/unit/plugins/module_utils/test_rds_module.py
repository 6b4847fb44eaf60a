"""The RDS modules' shared glue: the merged argument spec, settings from params, error sentences."""

from __future__ import annotations

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import (
    AuthenticationError,
    HostKeyError,
    InvalidValueError,
    RdsError,
    UnreachableError,
)
from ansible_collections.srvlab.rds.plugins.module_utils.rds_module import (
    CONNECTION_ARGUMENT_SPEC,
    argument_spec,
    error_message,
    ssh_settings,
)


def test_module_options_cannot_shadow_connection_options() -> None:
    with pytest.raises(ValueError, match="port clash"):
        argument_spec({"port": {"type": "int"}})
    assert "managed_slot_prefix" in argument_spec({}, managed=True)


def test_secrets_are_no_log_and_every_option_has_its_environment_fallback() -> None:
    assert CONNECTION_ARGUMENT_SPEC["password"]["no_log"] is True
    fallbacks = {name: spec["fallback"][1][0] for name, spec in CONNECTION_ARGUMENT_SPEC.items() if "fallback" in spec}
    assert fallbacks == {
        "host": "RDS_HOST",
        "port": "RDS_PORT",
        "username": "RDS_USERNAME",
        "private_key_file": "RDS_PRIVATE_KEY_FILE",
        "password": "RDS_PASSWORD",
        "host_key": "RDS_HOST_KEY",
        "private_key_passphrase": "RDS_PRIVATE_KEY_PASSPHRASE",
        "use_agent": "RDS_USE_AGENT",
        "jump_host": "RDS_JUMP_HOST",
        "jump_port": "RDS_JUMP_PORT",
        "jump_username": "RDS_JUMP_USERNAME",
        "jump_private_key_file": "RDS_JUMP_PRIVATE_KEY_FILE",
        "jump_private_key_passphrase": "RDS_JUMP_PRIVATE_KEY_PASSPHRASE",
        "jump_host_key": "RDS_JUMP_HOST_KEY",
        "jump_known_hosts_file": "RDS_JUMP_KNOWN_HOSTS_FILE",
    }
    secrets = {name for name, spec in CONNECTION_ARGUMENT_SPEC.items() if spec.get("no_log")}
    assert secrets == {"password", "private_key_passphrase", "jump_private_key_passphrase"}


def test_settings_keep_host_key_checking_on_by_default() -> None:
    params = {name: spec.get("default") for name, spec in CONNECTION_ARGUMENT_SPEC.items()}
    params.update(host="rds.test", host_key="ssh-ed25519 AAAA")
    settings = ssh_settings(params)
    assert settings.verify_host_key and settings.port == 22 and settings.command_timeout == 30.0


@pytest.mark.parametrize(
    ("error", "fix"),
    [
        (HostKeyError("The host key of rds.test changed"), "Check host_key or known_hosts_file"),
        (AuthenticationError("Login refused"), "Check username, private_key_file, use_agent and password"),
        (UnreachableError("No route"), "Check host, port and timeout"),
        (InvalidValueError("Disk 'pvc-1' needs a positive size."), "Disk 'pvc-1' needs a positive size."),
    ],
)
def test_errors_become_sentences_with_the_fix(error: RdsError, fix: str) -> None:
    message = error_message(error, "rds.test")
    assert fix in message and message.endswith(".")
