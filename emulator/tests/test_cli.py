"""The `rds-emulator` command: serve as a real process on port 0, and the fault subcommand."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import paramiko
import pytest
from emulator_harness import ClientKey, run_on
from rds_emulator.cli import main

pytestmark = pytest.mark.timeout(60)


def test_serve_prints_its_address_and_serves(tmp_path: Path, client_key: ClientKey) -> None:
    state_dir = tmp_path / "state"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rds_emulator.cli",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
            str(state_dir),
            "--authorized-keys",
            str(client_key.authorized_keys),
            "--version",
            "7.18 (stable)",
            "--fault",
            "latency:0.01",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        key_line = process.stdout.readline()
        listening = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", process.stdout.readline())
        assert key_line.startswith("host key: ssh-ed25519 ")
        assert listening is not None
        port = int(listening.group(1))
        assert (state_dir / "listen").read_text() == f"127.0.0.1:{port}\n"

        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        client.connect(
            "127.0.0.1",
            port,
            username="admin",
            key_filename=str(client_key.private_key),
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
        )
        assert client.get_transport().get_remote_server_key().get_base64() in key_line
        status, output = run_on(client, "/system resource print")
        client.close()
        assert status == 0 and "version: 7.18 (stable)" in output
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--version", "6.49.1"], "cannot read RouterOS version"),
        (["--version", "7.9 (stable)"], "use a version from 7.10 to 7.99"),
        (["--field-name", "nvme-tcp-server-port"], "expected FIELD=NAME"),
        (["--field-name", "no-such-field=x"], "has no such /disk field"),
        (["--version", "7.20", "--field-name", "nvme-tcp-server-nqn=x"], "has no such /disk field"),
        (["--field-name", "slot=Bad Name"], "is not a RouterOS name"),
        (["--fault", "explode"], "unknown kind"),
        (["--pool-size", "big"], "--pool-size"),
        (["--listen", "nowhere"], "HOST:PORT"),
    ],
)
def test_serve_rejects_bad_settings_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--state-dir", str(tmp_path), "--authorized-keys", str(tmp_path / "keys"), *arguments])

    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_fault_command_writes_and_clears_faults_json(tmp_path: Path) -> None:
    assert main(["fault", "--state-dir", str(tmp_path), "latency:0.5~print", "drop@1"]) == 0
    assert json.loads((tmp_path / "faults.json").read_text()) == {
        "faults": [
            {"kind": "latency", "seconds": 0.5, "count": None, "match": "print"},
            {"kind": "drop", "seconds": None, "count": 1, "match": None},
        ]
    }

    assert main(["fault", "--state-dir", str(tmp_path), "--clear"]) == 0
    assert json.loads((tmp_path / "faults.json").read_text()) == {"faults": []}


def test_fault_command_needs_specs_or_clear(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["fault", "--state-dir", str(tmp_path)])
