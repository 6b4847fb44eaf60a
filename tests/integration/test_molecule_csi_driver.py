"""The csi_driver role's Molecule scenario: the Kubernetes API fake plays the cluster (extensions/molecule/csi_driver).

Check mode on the empty cluster, build + configure + deploy with rollout waits and a render,
a second run with no change, check mode again, then verify reads the objects back through
kubernetes.core.k8s_info and validates the rendered manifests with kubernetes-validate.
"""

from __future__ import annotations

import pytest

from tests.integration.molecule_scenarios import run_molecule_test


@pytest.mark.slow
def test_csi_driver_scenario() -> None:
    run_molecule_test("csi_driver")
