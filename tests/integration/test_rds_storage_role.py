"""The rds_storage role's refusals and host key pinning, by real ansible-playbook against the emulator.

The Molecule scenario covers a pinned, valid configuration; these runs cover what the role must
refuse before it touches the RDS, and the first run on an appliance whose key is not pinned yet.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_public_key import fingerprint
from rds_emulator.process import write_client_key
from rds_emulator.server import EmulatorServer

from tests.integration.playbooks import run_ansible_playbook


def _run_role(
    tmp_path: Path, emulator: EmulatorServer, admin_key: Path, **variables: Any
) -> subprocess.CompletedProcess[str]:
    host, port = emulator.address
    driver_public = write_client_key(tmp_path / "driver").read_text(encoding="utf-8").strip()
    role_vars: dict[str, Any] = {
        "rds_storage_host": host,
        "rds_storage_port": port,
        "rds_storage_private_key_file": str(admin_key),
        "rds_storage_timeout": 20,
        "rds_storage_driver_public_keys": [driver_public],
    }
    role_vars.update(variables)
    play = {
        "hosts": "localhost",
        "gather_facts": False,
        "roles": [{"role": "srvlab.rds.rds_storage", "vars": role_vars}],
    }
    (tmp_path / "play.yml").write_text(yaml.safe_dump([play], sort_keys=False))
    (tmp_path / "inventory").write_text(
        "localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable
    )
    return run_ansible_playbook(tmp_path, tmp_path / "inventory", tmp_path / "play.yml")


def _users(emulator: EmulatorServer) -> list[str]:
    document = json.loads((emulator.state_dir / "users.json").read_text(encoding="utf-8"))
    return [user["name"] for user in document["users"]]


def test_overlapping_system_prefix_is_refused_before_connecting(
    tmp_path: Path, emulator: EmulatorServer, client_key: tuple[Path, Path]
) -> None:
    run = _run_role(
        tmp_path,
        emulator,
        client_key[0],
        rds_storage_host_key=emulator.host_public_key_line,
        rds_storage_system_slot_prefix="pvc-sys-",
        rds_storage_system_nqn_prefix="nqn.2000-02.com.mikrotik:pvc-sys-",
    )
    assert run.returncode != 0
    assert "overlap the CSI-managed prefixes" in run.stdout
    assert emulator.stats.connections_accepted == 0


def test_system_volume_outside_its_prefix_is_refused(
    tmp_path: Path, emulator: EmulatorServer, client_key: tuple[Path, Path]
) -> None:
    run = _run_role(
        tmp_path,
        emulator,
        client_key[0],
        rds_storage_host_key=emulator.host_public_key_line,
        rds_storage_system_volumes=[
            {"slot": "nixos-a-var", "size": "1G", "nvme_nqn": "nqn.2000-02.com.mikrotik:pvc-x"}
        ],
    )
    assert run.returncode != 0
    assert "System volume nixos-a-var (NQN nqn.2000-02.com.mikrotik:pvc-x)" in " ".join(run.stdout.split())
    assert emulator.stats.connections_accepted == 0


def test_unpinned_host_key_stops_with_its_fingerprint_until_accepted(
    tmp_path: Path, emulator: EmulatorServer, client_key: tuple[Path, Path]
) -> None:
    (tmp_path / "first").mkdir()
    stopped = _run_role(tmp_path / "first", emulator, client_key[0])
    assert stopped.returncode != 0
    output = " ".join(stopped.stdout.split())
    assert fingerprint(base64.b64decode(emulator.host_public_key_line.split()[1])) in output
    assert "is not pinned" in output
    assert _users(emulator) == []

    (tmp_path / "second").mkdir()
    key_file = tmp_path / "pinned.pub"
    accepted = _run_role(
        tmp_path / "second",
        emulator,
        client_key[0],
        rds_storage_host_key_accept_new=True,
        rds_storage_host_key_file=str(key_file),
    )
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert key_file.read_text(encoding="utf-8") == emulator.host_public_key_line + "\n"
    assert _users(emulator) == ["rds-csi"]
