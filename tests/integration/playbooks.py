"""Run real ``ansible-playbook`` against the emulator and collect every registered task result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rds_emulator.server import EmulatorServer

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / "build" / "collections"
PLAYBOOK_TIMEOUT = 180


@dataclass(frozen=True)
class PlaybookRun:
    returncode: int
    stdout: str
    results: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return self.results[name]


def connection_defaults(emulator: EmulatorServer, private_key: Path) -> dict[str, Any]:
    host, port = emulator.address
    return {
        "host": host,
        "port": port,
        "username": "admin",
        "private_key_file": str(private_key),
        "host_key": emulator.host_public_key_line,
        "timeout": 20,
    }


def run_playbook(
    tmp_path: Path,
    tasks: list[dict[str, Any]],
    defaults: dict[str, Any] | None = None,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> PlaybookRun:
    """Run ``tasks`` in one play on localhost; each task's ``register`` name keys its result.

    Tasks may fail (they run with ``ignore_errors``) so one playbook can check refusals too.
    """
    work = tmp_path / ("run%d" % len(list(tmp_path.glob("run*"))))
    work.mkdir()
    out = work / "results.json"
    names = [task["register"] for task in tasks]
    collect = {
        "name": "collect results",
        "ansible.builtin.copy": {
            "dest": str(out),
            "content": "{{ {%s} | to_json }}" % ", ".join("'%s': %s" % (name, name) for name in names),
        },
        "check_mode": False,
        "diff": False,
    }
    play = {
        "hosts": "localhost",
        "gather_facts": False,
        "module_defaults": {"group/srvlab.rds.rds": defaults or {}},
        "tasks": [dict(task, ignore_errors=True) for task in tasks] + [collect],
    }
    (work / "play.yml").write_text(yaml.safe_dump([play], sort_keys=False))
    (work / "inventory").write_text(
        "localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable
    )
    completed = run_ansible_playbook(work, work / "inventory", work / "play.yml", *extra_args, env=env)
    if not out.exists():
        raise AssertionError("ansible-playbook did not finish:\n%s\n%s" % (completed.stdout, completed.stderr))
    return PlaybookRun(completed.returncode, completed.stdout, json.loads(out.read_text()))


def run_ansible_playbook(
    work: Path, inventory: Path, playbook: Path, *arguments: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """ansible-playbook with the collection from the repository and its temp and home under ``work``."""
    environment = dict(os.environ)
    environment.update(
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_LOCAL_TEMP=str(work / "tmp"),
        ANSIBLE_HOME=str(work / "home"),
    )
    environment.update(env or {})
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(playbook), *arguments],
        cwd=work,
        env=environment,
        capture_output=True,
        text=True,
        timeout=PLAYBOOK_TIMEOUT,
        check=False,
    )
