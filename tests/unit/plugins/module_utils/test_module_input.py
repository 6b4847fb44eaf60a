"""new_module: numbers ansible-core cannot convert and NUL paths end in fail_json, never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import math
from typing import Any

import pytest
from ansible.module_utils.basic import AnsibleModule  # type: ignore[import-untyped]
from ansible.module_utils.testing import patch_module_args  # type: ignore[import-untyped]
from ansible_collections.srvlab.rds.plugins.module_utils.module_input import new_module

SPEC: dict[str, Any] = {
    "port": {"type": "int"},
    "nsid": {"type": "int", "default": 1},
    "wait": {"type": "float", "default": 30.0},
    "secret": {"type": "str", "no_log": True},
    "config_file": {"type": "path", "default": "/etc/x.yaml"},
    "disks": {
        "type": "list",
        "elements": "dict",
        "options": {"slot": {"type": "str"}, "nvme_port": {"type": "int"}},
    },
}


def outcome(args: dict[str, Any]) -> dict[str, Any]:
    """The JSON the module printed when it exited."""
    out = io.StringIO()
    with patch_module_args(args), contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        new_module(SPEC, supports_check_mode=True).exit_json(changed=False)
    result: dict[str, Any] = json.loads(out.getvalue().strip().splitlines()[-1])
    return result


def test_plain_core_raises_overflow_for_an_infinite_int() -> None:
    """The ansible-core behaviour new_module exists for; when core fixes it, new_module's branch is moot."""
    with patch_module_args({"port": math.inf}), pytest.raises(OverflowError):
        AnsibleModule(argument_spec=SPEC)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"port": math.inf}, "port=inf is not a finite number; give a whole number."),
        ({"nsid": -math.inf}, "nsid=-inf is not a finite number; give a whole number (the default is 1)."),
        ({"port": "-Infinity"}, "port='-Infinity' is not a finite number; give a whole number."),
        ({"wait": 10**400}, "wait=1000000000000000000000000000000000000... is not a finite number; give a number"),
        (
            {"disks": [{"slot": "a"}, {"slot": "b", "nvme_port": math.inf}]},
            "disks[1].nvme_port=inf is not a finite number; give a whole number.",
        ),
    ],
)
def test_unconvertible_numbers_fail_with_a_sentence_naming_the_option(args: dict[str, Any], message: str) -> None:
    result = outcome(dict(args, secret="hunter2"))
    assert result["failed"] and result["msg"].startswith(message)
    assert "hunter2" not in json.dumps(result)


def test_a_nul_in_a_path_fails_with_a_sentence() -> None:
    result = outcome({"config_file": "/etc/a\x00b"})
    assert result["failed"]
    assert result["msg"] == (
        "config_file='/etc/a\\x00b' contains a NUL character, which no path can hold; give a file path."
    )


def test_valid_arguments_come_through_converted() -> None:
    result = outcome({"port": "4420", "wait": 2, "disks": [{"slot": "a", "nvme_port": 1.0}]})
    assert not result.get("failed")
    assert result["invocation"]["module_args"]["port"] == 4420
    assert result["invocation"]["module_args"]["disks"][0]["nvme_port"] == 1
