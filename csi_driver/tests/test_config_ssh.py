"""The driver's SSH settings: an encrypted key with its passphrase from a file, a real OpenSSH jump
host in front of the emulator; and ``rds-csi-driver --help`` and the documentation's table of settings,
both made from the one description each setting carries."""

from __future__ import annotations

import getpass
import os
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshTransport
from rds_csi.config import Config, ConfigError, load, settings_markdown
from rds_emulator.server import EmulatorServer

from tests.integration.openssh import keygen, openssh_server

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "csi-driver.md"
PASSPHRASE = "driver passphrase"


def controller_argv(emulator: EmulatorServer, key: Path, *more: str) -> list[str]:
    host, port = emulator.address
    return [
        "--mode=controller",
        "--rds-address=%s" % host,
        "--rds-port=%d" % port,
        "--rds-key-file=%s" % key,
        "--rds-host-key=%s" % emulator.host_public_key_line,
        "--rds-connect-timeout=5",
        *more,
    ]


def version_through(config: Config) -> str:
    transport = SshTransport(config.ssh_settings())
    try:
        return str(RdsClient(transport).version())
    finally:
        transport.close()


@pytest.mark.timeout(120)
def test_encrypted_key_with_its_passphrase_from_a_file_behind_a_jump_host(
    tmp_path: Path, emulator: EmulatorServer, client_key: tuple[Path, Path]
) -> None:
    key = tmp_path / "driver_ed25519"
    public = keygen(key, PASSPHRASE)
    authorized = emulator.config.authorized_keys
    assert authorized is not None
    authorized.write_text(authorized.read_text() + public + "\n")
    passphrase_file = tmp_path / "key-passphrase"
    passphrase_file.write_text(PASSPHRASE + "\n")  # as a Secret mounted by hand often ends
    no_environment: dict[str, str] = {}
    direct = load(controller_argv(emulator, key, "--rds-key-passphrase-file=%s" % passphrase_file), no_environment)
    assert direct.ssh_settings().use_agent is False
    assert version_through(direct)
    with openssh_server(tmp_path / "jump", client_key[1]) as jump:
        via = [
            "--rds-jump-host=127.0.0.1",
            "--rds-jump-port=%d" % jump.port,
            "--rds-jump-user=%s" % getpass.getuser(),
            "--rds-jump-key-file=%s" % client_key[0],
            "--rds-key-passphrase-file=%s" % passphrase_file,
        ]
        config = load(controller_argv(emulator, key, *via, "--rds-jump-host-key=%s" % jump.host_key_line), {})
        assert version_through(config)
        assert "server_request_direct_tcpip" in jump.log_text()
        with pytest.raises(ConfigError, match="host key verification of the jump host is on"):
            load(controller_argv(emulator, key, *via), {})
        assert PASSPHRASE not in repr(config) and PASSPHRASE not in str(config.summary())


def test_jump_host_settings_are_validated(tmp_path: Path, client_key: tuple[Path, Path]) -> None:
    argv = [
        "--mode=controller",
        "--rds-address=rds.test",
        "--rds-key-file=%s" % client_key[0],
        "--rds-host-key=ssh-ed25519 AAAA",
        "--rds-jump-host=jump.test",
        "--rds-jump-port=0",
        "--rds-key-passphrase-file=%s" % (tmp_path / "missing"),
        "--rds-jump-known-hosts=%s" % (tmp_path / "known_hosts"),
    ]
    with pytest.raises(ConfigError) as raised:
        load(argv, {"RDS_CSI_RDS_KEY_PASSPHRASE": "x"})
    message = str(raised.value)
    assert "rds_jump_user is required" in message
    assert "rds_jump_port=0: use 1 to 65535" in message
    assert "rds_key_passphrase_file=%s cannot be read" % (tmp_path / "missing") in message
    assert "not both" in message


def help_entries() -> dict[str, str]:
    """Flag -> its help text, from ``python -m rds_csi --help`` (the console script's entry point)."""
    environment = dict(os.environ, COLUMNS="100", PYTHONPATH=os.pathsep.join([str(REPO / "csi_driver"), str(REPO)]))
    result = subprocess.run(
        [sys.executable, "-m", "rds_csi", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=environment,
    )
    options = result.stdout.split("\noptions:\n", 1)[1]
    entries: dict[str, str] = {}
    flag = ""
    for line in options.splitlines():
        match = re.match(r"  (-\S+(?: [A-Z_]+)?(?:, -\S+)*)\s*(.*)", line)
        if match:
            flag = match.group(1).split()[0].rstrip(",")
            entries[flag] = match.group(2)
        elif flag:
            entries[flag] += " " + line.strip()
    return {flag: " ".join(text.split()) for flag, text in entries.items()}


def test_every_flag_says_what_it_does_its_default_and_its_environment_variable() -> None:
    entries = help_entries()
    for item in fields(Config):
        flag = "--" + item.name.replace("_", "-")
        text = entries.get(flag, "")
        assert text, "%s has no help line" % flag
        described = text.split(" (default: ")[0]
        assert len(described.split()) >= 4, "%s: %r says too little" % (flag, text)
        assert re.search(r"\(default: [^;]+; env RDS_CSI_%s\b" % item.name.upper(), text), (flag, text)
    assert "env RDS_CSI_CONFIG" in entries["--config"]
    assert "(default: 22; env RDS_CSI_RDS_PORT)" in entries["--rds-port"]
    assert "CSI_MANAGED_NQN_PREFIX" in entries["--managed-nqn-prefix"]


def test_the_documented_table_of_settings_is_the_one_the_code_makes() -> None:
    text = DOCS.read_text(encoding="utf-8")
    header = settings_markdown().splitlines()[0]
    assert header in text, "docs/csi-driver.md has no table of settings starting with %r" % header
    start = text.index(header)
    documented = text[start : text.index("\n\n", start) + 1]
    assert documented == settings_markdown(), (
        "docs/csi-driver.md's table of settings differs from the settings' descriptions in "
        "csi_driver/rds_csi/config.py; replace it with the output of "
        "PYTHONPATH=csi_driver python -c 'from rds_csi.config import settings_markdown; print(settings_markdown())'"
    )
