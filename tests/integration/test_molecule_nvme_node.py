"""The nvme_node role's Molecule scenario on both paths (extensions/molecule/nvme_node).

A regular node written below a throwaway root with a fake sysfs, and a diskless node rendered into a
directory: check mode, converge, a second run with no change, then verify checks files, contents and
modes, distinct host identities, that this machine's own /etc files are unchanged, and that prefixes
matching a declared or a connected system volume are refused before anything is written. Package
installation and modprobe are switched off there (documented in docs/operator-guide.md).
"""

from __future__ import annotations

from tests.integration.molecule_scenarios import run_molecule_test


def test_nvme_node_scenario() -> None:
    run_molecule_test("nvme_node")
