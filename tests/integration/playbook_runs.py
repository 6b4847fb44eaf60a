"""Run a whole playbook file with real ``ansible-playbook`` and an inventory, for role and runbook tests.

``playbooks.run_playbook`` builds one play of tasks on localhost; these tests need roles, tags and
inventories of their own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.integration.playbooks import COLLECTIONS, PLAYBOOK_TIMEOUT


def run_ansible_playbook(
    work: Path, inventory: Path, playbook: Path, *arguments: str
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
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(playbook), *arguments],
        cwd=work,
        env=environment,
        capture_output=True,
        text=True,
        timeout=PLAYBOOK_TIMEOUT,
        check=False,
    )
