"""Encrypted keys, a real ssh-agent and a real OpenSSH jump host, through ansible-playbook running
srvlab.rds.disk_info against the emulator; and the connection options' answers to bad values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rds_emulator.server import EmulatorServer

from tests.integration.openssh import keygen, openssh_server, ssh_agent
from tests.integration.playbooks import PlaybookRun, connection_defaults, run_playbook

pytestmark = pytest.mark.timeout(240)
PASSPHRASE = "correct horse battery"
NO_AGENT = {"SSH_AUTH_SOCK": ""}  # a developer's own agent must not log the tests in


def info(register: str, **options: Any) -> dict[str, Any]:
    return {"register": register, "srvlab.rds.disk_info": options}


def authorize(emulator: EmulatorServer, public_line: str) -> None:
    authorized = emulator.config.authorized_keys
    assert authorized is not None
    authorized.write_text(authorized.read_text() + public_line + "\n")


def succeeded(run: PlaybookRun, name: str) -> dict[str, Any]:
    result: dict[str, Any] = run[name]
    assert not result.get("failed"), "%s failed: %s" % (name, result.get("msg"))
    assert "pool" in result and "disks" in result, result
    return result


def failed(run: PlaybookRun, name: str, *phrases: str) -> str:
    """The task failed cleanly (fail_json, no traceback) with a message holding every phrase."""
    result = run[name]
    assert result.get("failed"), "%s did not fail: %s" % (name, result)
    assert "module_stderr" not in result and "Traceback" not in str(result), result
    message = str(result["msg"])
    for phrase in phrases:
        assert phrase in message, "%r not in the message of %s: %s" % (phrase, name, message)
    return message


@pytest.fixture
def encrypted_key(tmp_path: Path, emulator: EmulatorServer) -> Path:
    """An ed25519 key encrypted with PASSPHRASE by OpenSSH's ssh-keygen, authorized on the emulator."""
    path = tmp_path / "keys" / "encrypted_ed25519"
    path.parent.mkdir()
    authorize(emulator, keygen(path, PASSPHRASE))
    return path


def test_an_encrypted_key_logs_in_with_its_passphrase(
    tmp_path: Path, emulator: EmulatorServer, client_key: tuple[Path, Path], encrypted_key: Path
) -> None:
    defaults = dict(connection_defaults(emulator, client_key[0]), private_key_file=str(encrypted_key), use_agent=False)
    run = run_playbook(
        tmp_path,
        [
            info("right", private_key_passphrase=PASSPHRASE),
            info("missing"),
            info("wrong", private_key_passphrase="not " + PASSPHRASE),
        ],
        defaults,
        env=NO_AGENT,
    )
    succeeded(run, "right")
    failed(run, "missing", "is encrypted", str(encrypted_key), "private_key_passphrase")
    failed(run, "wrong", "does not decrypt", str(encrypted_key), "private_key_passphrase")
    # no_log: the results (with their invocation) never carry the passphrase. (ansible-playbook's own
    # error report quotes the playbook's lines around a failed task, so stdout may show the task's text.)
    assert PASSPHRASE not in json.dumps(run.results)


def test_the_passphrase_comes_from_the_environment_too(
    tmp_path: Path, emulator: EmulatorServer, client_key: tuple[Path, Path], encrypted_key: Path
) -> None:
    defaults = dict(connection_defaults(emulator, client_key[0]), private_key_file=str(encrypted_key), use_agent=False)
    run = run_playbook(
        tmp_path, [info("from_env")], defaults, env={**NO_AGENT, "RDS_PRIVATE_KEY_PASSPHRASE": PASSPHRASE}
    )
    succeeded(run, "from_env")


def test_keys_of_a_running_ssh_agent_log_in(
    tmp_path: Path, emulator: EmulatorServer, client_key: tuple[Path, Path], encrypted_key: Path
) -> None:
    defaults = connection_defaults(emulator, client_key[0])
    del defaults["private_key_file"]
    with ssh_agent(tmp_path / "agent") as agent:
        agent.add(encrypted_key, PASSPHRASE)
        assert "encrypted_ed25519" in agent.listed()
        run = run_playbook(
            tmp_path,
            [
                info("agent_only"),
                # OpenSSH's behaviour: an encrypted key file without its passphrase, but held by the agent.
                info("encrypted_file_in_agent", private_key_file=str(encrypted_key)),
                info("agent_refused", use_agent=False),
            ],
            defaults,
            env={"SSH_AUTH_SOCK": str(agent.socket)},
        )
    succeeded(run, "agent_only")
    succeeded(run, "encrypted_file_in_agent")
    failed(run, "agent_refused", "No private key, ssh-agent key or password", "use_agent")
    after = run_playbook(tmp_path, [info("agent_gone")], defaults, env={"SSH_AUTH_SOCK": str(agent.socket)})
    failed(after, "agent_gone", "ssh-agent")


def test_the_rds_behind_an_openssh_jump_host(
    tmp_path: Path, emulator: EmulatorServer, client_key: tuple[Path, Path]
) -> None:
    defaults = connection_defaults(emulator, client_key[0])
    _host, rds_port = emulator.address
    with openssh_server(tmp_path / "jump", client_key[1]) as jump:
        known_hosts = tmp_path / "jump" / "known_hosts"
        known_hosts.write_text("[127.0.0.1]:%d %s\n" % (jump.port, jump.host_key_line))
        via = {"jump_host": "127.0.0.1", "jump_port": jump.port}
        run = run_playbook(
            tmp_path,
            [
                info("pinned", jump_host_key=jump.host_key_line, **via),
                info("known_hosts", jump_known_hosts_file=str(known_hosts), **via),
                info("unverified", **via),
                info("impostor", jump_host_key=emulator.host_public_key_line.replace("ed25519", "rsa"), **via),
                info("wrong_key", jump_host_key=emulator.host_public_key_line, **via),
                info("unchecked", jump_host_key_checking=False, **via),
                info("rds_closed", jump_host_key=jump.host_key_line, port=1, **via),
            ],
            defaults,
            env=NO_AGENT,
        )
        log = jump.log_text()
    succeeded(run, "pinned")
    succeeded(run, "known_hosts")
    failed(run, "unverified", "jump host at 127.0.0.1:%d" % jump.port, "jump_host_key", "jump_known_hosts_file")
    failed(run, "impostor", "No trusted ssh-ed25519 host key", "jump_host_key")
    failed(run, "wrong_key", "does not match the trusted key", "jump_host_key")
    assert any("Host key checking is off for the jump host" in text for text in run["unchecked"]["warnings"])
    succeeded(run, "unchecked")
    failed(run, "rds_closed", "cannot reach the RDS at %s:1" % _host, "Check host, port")
    # The connections went through sshd: it logged the key login and the forwarded connections.
    assert "Accepted publickey for" in log
    assert "server_request_direct_tcpip" in log and "port %d" % rds_port in log
    stopped = run_playbook(tmp_path, [info("jump_down", jump_host_key=jump.host_key_line, **via)], defaults)
    failed(stopped, "jump_down", "Cannot reach the jump host", "jump_host, jump_port")


# Each bad value, and phrases its message must hold: the option, the value, the fix.
BAD_OPTIONS: list[tuple[dict[str, Any], tuple[str, ...]]] = [
    ({"timeout": -5}, ("timeout=-5", "1 to 3600")),
    ({"timeout": 0}, ("timeout=0", "1 to 3600")),
    ({"timeout": 99999999999999999}, ("timeout=99999999999999999", "1 to 3600")),
    ({"timeout": 3601}, ("timeout=3601", "1 to 3600")),
    ({"port": 0}, ("port=0", "1 to 65535")),
    ({"port": 70000}, ("port=70000", "1 to 65535")),
    ({"host": ""}, ("host is empty", "RDS_HOST")),
    ({"host": "rds one"}, ("host='rds one'", "spaces or control characters")),
    ({"host": "rds\u0000"}, ("host=", "spaces or control characters")),
    ({"host": "a" * 64 + ".example"}, ("not a valid host name",)),
    ({"username": ""}, ("username is empty",)),
    ({"jump_host_key": "ssh-ed25519 AAAA"}, ("jump_host_key applies only with a jump host", "jump_host is not set")),
    ({"jump_host": "127.0.0.1", "jump_port": 0}, ("jump_port=0", "1 to 65535")),
    ({"jump_host": " "}, ("jump_host is empty",)),
    ({"host_key": "ssh-ed25519 !!not-base64"}, ("not an OpenSSH public key line", "host_key")),
]


def test_bad_connection_options_fail_with_a_sentence(
    tmp_path: Path, emulator: EmulatorServer, client_key: tuple[Path, Path]
) -> None:
    tasks = [info("bad%d" % number, **options) for number, (options, _phrases) in enumerate(BAD_OPTIONS)]
    run = run_playbook(tmp_path, [*tasks, info("good", timeout=3600)], connection_defaults(emulator, client_key[0]))
    for number, (_options, phrases) in enumerate(BAD_OPTIONS):
        failed(run, "bad%d" % number, *phrases)
    succeeded(run, "good")
