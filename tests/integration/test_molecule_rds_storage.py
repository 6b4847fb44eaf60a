"""The rds_storage role's Molecule scenario: the emulator plays the RDS (extensions/molecule/rds_storage).

Check mode on the empty RDS, converge, a second run with no change, check mode again, then verify
reads the RDS back: system volumes, their exports and allowed hosts with srvlab.rds.disk_info as the
admin, key login as the driver's new user and its password refused, directories, the pinned host key.
"""

from __future__ import annotations

from tests.integration.molecule_scenarios import run_molecule_test


def test_rds_storage_scenario() -> None:
    run_molecule_test("rds_storage")
