"""Run one Molecule scenario of the collection (extensions/molecule/<name>) as `molecule test`.

Molecule and ansible-playbook come from this interpreter's environment. A run that outlives its
timeout is killed and followed by `molecule destroy`, so a scenario's background processes (the
RDS emulator) and throwaway directories never outlive the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCENARIO_TIMEOUT = 900
DESTROY_TIMEOUT = 120


def _environment() -> dict[str, str]:
    environment = dict(os.environ)
    environment["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), environment.get("PATH", "")])
    environment["ANSIBLE_NOCOLOR"] = "1"
    environment["NO_COLOR"] = "1"
    return environment


def _molecule(*arguments: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "molecule"), *arguments],
        cwd=REPO,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_molecule_test(scenario: str) -> None:
    """`molecule test -s <scenario>`; fails with Molecule's output when any step fails."""
    try:
        completed = _molecule("test", "-s", scenario, timeout=SCENARIO_TIMEOUT)
    except subprocess.TimeoutExpired as expired:
        _molecule("destroy", "-s", scenario, timeout=DESTROY_TIMEOUT)
        output = expired.stdout.decode() if isinstance(expired.stdout, bytes) else expired.stdout
        raise AssertionError(
            "molecule test -s %s did not finish within %d s:\n%s" % (scenario, SCENARIO_TIMEOUT, output)
        ) from None
    if completed.returncode != 0:
        raise AssertionError(
            "molecule test -s %s failed (exit status %d):\n%s\n%s"
            % (scenario, completed.returncode, completed.stdout, completed.stderr)
        )
