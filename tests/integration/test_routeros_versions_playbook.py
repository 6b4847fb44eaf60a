"""RouterOS versions through real ansible-playbook against emulators of each version (ROUTEROS.md R-3).

7.21 to 7.24 work silently; a newer version works with one warning per task once its field names
are confirmed on the appliance, and refuses by name only a change that needs a field it lacks;
7.17 to 7.20 cannot give an export its NQN; before 7.17 there are no file disks. Reading works on
every version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from rds_emulator.config import EmulatorConfig
from rds_emulator.pytest_fixtures import EMULATOR_POOL_SIZE
from rds_emulator.server import EmulatorServer

from tests.integration.playbooks import PlaybookRun, connection_defaults, run_playbook

StartVersion = Callable[..., EmulatorServer]
EXPORTED = {"srvlab.rds.disk": {"slot": "pvc-exported", "size": "1G", "nvme_export": True}}
PLAIN = {"srvlab.rds.disk": {"slot": "pvc-plain", "size": "1G"}}
INFO: dict[str, dict[str, Any]] = {"srvlab.rds.disk_info": {}}


@pytest.fixture
def start_version(tmp_path: Path, client_key: tuple[Path, Path]) -> Iterator[StartVersion]:
    servers: list[EmulatorServer] = []

    def start(version: str, field_names: Mapping[str, str] | None = None) -> EmulatorServer:
        config = EmulatorConfig(
            state_dir=tmp_path / ("state%d" % len(servers)),
            authorized_keys=client_key[1],
            pool_size=EMULATOR_POOL_SIZE,
            version=version,
            field_names=field_names or {},
        )
        server = EmulatorServer(config)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def play(tmp_path: Path, server: EmulatorServer, key: Path, tasks: Mapping[str, dict[str, Any]]) -> PlaybookRun:
    return run_playbook(
        tmp_path, [dict(task, register=name) for name, task in tasks.items()], connection_defaults(server, key)
    )


def warnings(result: dict[str, Any]) -> list[str]:
    return list(result.get("warnings", []))


def test_7_24_works_without_a_warning(
    tmp_path: Path, start_version: StartVersion, client_key: tuple[Path, Path]
) -> None:
    server = start_version("7.24 (stable)")
    run = play(tmp_path, server, client_key[0], {"exported": EXPORTED, "info": INFO})

    assert not run["exported"].get("failed") and run["exported"]["changed"], run["exported"]
    assert run["info"]["version"] == "7.24 (stable)"
    assert [disk["slot"] for disk in run["info"]["disks"]] == ["pvc-exported"]
    assert run["info"]["disks"][0]["nvme_nqn"] == "nqn.2000-02.com.mikrotik:pvc-exported"
    assert warnings(run["exported"]) == [] and warnings(run["info"]) == []


def test_a_newer_version_with_the_same_names_works_with_one_warning(
    tmp_path: Path, start_version: StartVersion, client_key: tuple[Path, Path]
) -> None:
    server = start_version("7.26 (stable)")
    run = play(tmp_path, server, client_key[0], {"exported": EXPORTED, "again": EXPORTED, "info": INFO})

    assert not run["exported"].get("failed") and run["exported"]["changed"], run["exported"]
    assert not run["again"].get("failed") and not run["again"]["changed"]
    assert [disk["slot"] for disk in run["info"]["disks"]] == ["pvc-exported"]
    for name in ("exported", "again", "info"):
        found = warnings(run[name])
        assert len(found) == 1, (name, found)
        assert "RouterOS 7.26 (stable), newer than the versions" in found[0]
        assert "confirmed every disk field name" in found[0]


def test_a_newer_version_without_a_used_field_refuses_only_what_needs_it(
    tmp_path: Path, start_version: StartVersion, client_key: tuple[Path, Path]
) -> None:
    server = start_version("7.26 (stable)", {"nvme-tcp-server-port": "nvme-tcp-port"})
    run = play(tmp_path, server, client_key[0], {"exported": EXPORTED, "plain": PLAIN, "info": INFO})

    refused = run["exported"]
    assert refused["failed"] and not refused.get("changed"), refused
    assert "RouterOS 7.26 (stable)" in refused["msg"] and "no argument nvme-tcp-server-port" in refused["msg"]
    assert refused["error_type"] == "UnsupportedVersionError"
    assert len(warnings(refused)) == 1 and "shows no nvme-tcp-server-port" in warnings(refused)[0]
    assert not run["plain"].get("failed") and run["plain"]["changed"], run["plain"]
    info = run["info"]
    assert not info.get("failed") and info["version"] == "7.26 (stable)", info
    assert [disk["slot"] for disk in info["disks"]] == ["pvc-plain"]
    assert len(warnings(info)) == 1 and "7.26 (stable)" in warnings(info)[0]


def test_7_20_cannot_export_and_says_7_21_is_the_first_full_version(
    tmp_path: Path, start_version: StartVersion, client_key: tuple[Path, Path]
) -> None:
    server = start_version("7.20 (stable)")
    tasks: dict[str, dict[str, Any]] = {
        "predicted": {**EXPORTED, "check_mode": True},
        "exported": EXPORTED,
        "plain": PLAIN,
        "info": INFO,
    }
    run = play(tmp_path, server, client_key[0], tasks)

    # Check mode foresees the refusal, and the refused task created nothing (not even the base directory).
    predicted = run["predicted"]
    assert predicted["failed"] and "which has no nvme-tcp-server-nqn" in predicted["msg"], predicted
    assert not run["exported"]["changed"]
    refused = run["exported"]
    assert refused["failed"], refused
    assert "RouterOS 7.20 (stable), which has no nvme-tcp-server-nqn" in refused["msg"]
    assert (
        "RouterOS 7.21 is the first version the srvlab.rds collection and the CSI driver fully support"
        in (refused["msg"])
    )
    assert not run["plain"].get("failed") and run["plain"]["changed"], run["plain"]
    info = run["info"]
    assert not info.get("failed") and [disk["slot"] for disk in info["disks"]] == ["pvc-plain"], info
    assert warnings(refused) == [] and warnings(info) == []


def test_7_16_has_no_file_disks_and_still_reads(
    tmp_path: Path, start_version: StartVersion, client_key: tuple[Path, Path]
) -> None:
    server = start_version("7.16 (stable)")
    run = play(tmp_path, server, client_key[0], {"plain": PLAIN, "info": INFO})

    refused = run["plain"]
    assert refused["failed"], refused
    assert "RouterOS 7.16 (stable), which has no file-backed disks" in refused["msg"]
    assert "7.21 is the first version" in refused["msg"]
    assert not run["info"].get("failed") and run["info"]["disks"] == [], run["info"]
    assert run["info"]["version"] == "7.16 (stable)"
