"""Capacity tracking end to end (P-5.5, P-5.9): the csi_driver role, applied to the Kubernetes API
fake, claims capacity in the CSIDriver object and has the provisioner publish it; the driver on the
emulator then answers GetCapacity, asked as the external-provisioner asks it (a StorageClass's
parameters, a topology segment its nodes report, no volume capabilities), with the pool's free space
as the RDS itself prints it over SSH.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes
import paramiko
import pytest
from csi_helpers import GIB, Csi, create_request
from rds_csi.proto import csi_pb2
from rds_emulator.server import EmulatorServer

from tests.integration.kube_api_fake import KubeApiFake
from tests.integration.test_csi_driver_role import SETTINGS, run_deploy

DRIVER = "rds.csi.srvlab.io"
NAMESPACE = "rds-csi"
MIB = 1024**2
# `free=68 719 476 736` in `/disk print detail`: digits grouped by spaces.
FREE = re.compile(r"(?<![\w-])free=(\d{1,3}(?: \d{3})*)(?!\d)")


def printed_free_space(emulator: EmulatorServer, private_key: Path, pool: str) -> int:
    """The pool's free bytes as the RDS prints them, read over a separate SSH session."""
    host, port = emulator.address
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(host, port, username="admin", key_filename=str(private_key), look_for_keys=False, timeout=10)
        _stdin, stdout, _stderr = client.exec_command('/disk print detail where mount-point="%s"' % pool, timeout=10)
        output = stdout.read().decode()
    finally:
        client.close()
    (free,) = FREE.findall(output)
    return int(free.replace(" ", ""))


def applied_objects(tmp_path: Path) -> tuple[Any, str, list[Any], list[str]]:
    """Apply the role to the API fake and read back, with the real client: the CSIDriver, the zone the
    plugins are configured with, the driver's StorageClasses and the provisioner's arguments."""
    fake = KubeApiFake().start()
    try:
        kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")
        runs = tmp_path / "role"
        runs.mkdir()
        run_deploy(runs, dict(SETTINGS, csi_driver_kubeconfig=str(kubeconfig)))
        client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
        storage = kubernetes.client.StorageV1Api(client)
        csidriver = storage.read_csi_driver(DRIVER)
        classes = [item for item in storage.list_storage_class().items if item.provisioner == DRIVER]
        core: Any = kubernetes.client.CoreV1Api(client)
        apps: Any = kubernetes.client.AppsV1Api(client)
        zone: str = core.read_namespaced_config_map("rds-csi-config", NAMESPACE).data["zone"]
        deployment = apps.read_namespaced_deployment("rds-csi-controller", NAMESPACE)
        (provisioner,) = [item for item in deployment.spec.template.spec.containers if item.name == "csi-provisioner"]
        client.close()
        return csidriver, zone, classes, list(provisioner.args)
    finally:
        fake.stop()


@pytest.mark.slow
def test_the_role_claims_capacity_and_get_capacity_is_the_pools_free_space(
    tmp_path: Path,
    start_driver: Callable[..., Csi],
    emulator: EmulatorServer,
    client_key: tuple[Path, Path],
) -> None:
    csidriver, zone, classes, provisioner_args = applied_objects(tmp_path)
    assert csidriver.spec.storage_capacity is True
    assert {"--enable-capacity", "--capacity-ownerref-level=2"} <= set(provisioner_args)
    assert sorted(item.metadata.name for item in classes) == ["rds-nvme", "rds-nvme-block"]

    csi = start_driver(zone=zone)
    # The segment the node plugins report: the provisioner publishes one capacity object per
    # StorageClass and segment of the CSINode topology.
    segment = dict(csi.node.NodeGetInfo(csi_pb2.NodeGetInfoRequest()).accessible_topology.segments)
    assert segment == {"topology.rds.csi.srvlab.io/zone": zone}

    def published(storage_class: Any, segments: dict[str, str]) -> int:
        request = csi_pb2.GetCapacityRequest(
            parameters=storage_class.parameters, accessible_topology=csi_pb2.Topology(segments=segments)
        )
        available: int = csi.controller.GetCapacity(request).available_capacity
        return available

    pools = {item.parameters["volumePath"].strip("/").split("/")[0] for item in classes}
    assert pools == {"storage-pool"}
    (pool,) = pools
    empty = printed_free_space(emulator, client_key[0], pool)
    assert [published(item, segment) for item in classes] == [empty, empty]

    # A volume whose node wrote 64 MiB: the pool's free space drops, and GetCapacity follows it.
    volume = csi.controller.CreateVolume(create_request("pvc-capacity", size=GIB)).volume
    with open(csi.backing_file(volume.volume_id), "r+b") as backing:
        backing.write(b"\xa5" * (64 * MIB))
        backing.flush()
        os.fsync(backing.fileno())
    used = printed_free_space(emulator, client_key[0], pool)
    assert used <= empty - 64 * MIB
    assert [published(item, segment) for item in classes] == [used, used]

    # Another zone's segment holds none of this RDS's space.
    assert published(classes[0], {"topology.rds.csi.srvlab.io/zone": zone + "-elsewhere"}) == 0
