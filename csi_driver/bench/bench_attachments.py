"""Attachment state rebuild benchmark (issue 14): how long a controller takes, from building its
attachment manager until it can answer ``published_nodes`` for every volume, when the cluster holds
5,000 VolumeAttachments of this driver; and the same with 500, for the ratio, in the same run.

Method: two Kubernetes API fakes (``tests/integration/kube_api_fake.py``, over HTTP on loopback)
each hold one population: attached VolumeAttachments of ``rds.csi.srvlab.io`` spread over three
nodes, one per volume, except every tenth volume, a ReadWriteMany block volume held by two nodes
(a live migration: the target's VolumeAttachment is the newer), and each volume's PV. A run builds
what the driver builds with a kubeconfig (``ClusterLedger``, started: it lists then watches both
kinds through the real ``kubernetes`` client, and an ``AttachmentManager`` on it), waits until it
stops answering Unavailable, then asks ``published_nodes`` of every volume and checks each answer
against what was stored. The first run, on the large population, is a restarted controller's: it
pays the ``kubernetes`` client's import (``ClusterLedger`` imports it lazily) and the process's
first connections; it is reported alone. Then ``--runs`` runs per population, alternating so that
load hits both alike; their medians give the ratio.
Target: < 2 s with 5,000 VolumeAttachments, for the first run and for the median.
Run: ``.venv/bin/python csi_driver/bench/bench_attachments.py`` from the repository root.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc

DRIVER_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(DRIVER_DIR))
sys.path.insert(0, str(DRIVER_DIR.parent))

from rds_csi.attachment_cluster import DRIVER, ClusterLedger  # noqa: E402
from rds_csi.attachments import AttachmentManager  # noqa: E402
from rds_csi.errors import CsiError  # noqa: E402
from rds_csi.events import Recorder  # noqa: E402
from rds_csi.nodes import StaticNodes  # noqa: E402

from tests.integration.kube_api_fake import KubeApiFake  # noqa: E402

NODES = ("node-a", "node-b", "node-c")
MIGRATION_EVERY = 10  # every tenth volume is a RWX block volume in a live migration
TARGET = 2.0  # seconds, with 5,000 VolumeAttachments
SYNC_TIMEOUT = 60.0


def stamp(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def populate(fake: KubeApiFake, count: int) -> dict[str, list[str]]:
    """Store ``count`` attached VolumeAttachments and their volumes' PVs; the nodes each volume is published to."""
    expected: dict[str, list[str]] = {}
    created = int(time.time()) - 3600
    stored = 0
    index = 0
    while stored < count:
        volume_id = "pvc-bench-%05d" % index
        migrating = index % MIGRATION_EVERY == 0 and count - stored >= 2
        nodes = [NODES[index % 3], NODES[(index + 1) % 3]] if migrating else [NODES[index % 3]]
        add_volume(fake, volume_id, migrating)
        for position, node in enumerate(nodes):
            name = "va-%05d-%s" % (index, node)
            metadata = {"name": name, "creationTimestamp": stamp(created + index + 60 * position)}
            body = {
                "apiVersion": "storage.k8s.io/v1",
                "kind": "VolumeAttachment",
                "metadata": metadata,
                "spec": {"attacher": DRIVER, "nodeName": node, "source": {"persistentVolumeName": "pv-" + volume_id}},
                "status": {"attached": True},
            }
            fake.put("storage.k8s.io/v1/volumeattachments", None, name, body)
        expected[volume_id] = nodes
        stored += len(nodes)
        index += 1
    return expected


def add_volume(fake: KubeApiFake, volume_id: str, rwx_block: bool) -> None:
    name = "pv-" + volume_id
    spec = {
        "capacity": {"storage": "1Gi"},
        "accessModes": ["ReadWriteMany" if rwx_block else "ReadWriteOnce"],
        "volumeMode": "Block" if rwx_block else "Filesystem",
        "csi": {"driver": DRIVER, "volumeHandle": volume_id, "volumeAttributes": {"migrationTimeoutSeconds": "300"}},
    }
    body = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name}, "spec": spec}
    fake.put("v1/persistentvolumes", None, name, body)


def rebuild(kubeconfig: Path, expected: dict[str, list[str]]) -> float:
    """Seconds from building the ledger and manager until every volume's published nodes are answered."""
    started = time.perf_counter()
    ledger = ClusterLedger(str(kubeconfig))
    ledger.start()
    try:
        manager = AttachmentManager(
            ledger,
            StaticNodes(frozenset(NODES)),
            Recorder(None, host="bench"),
            handoff_grace=30,
            deleted_node_grace=300,
        )
        first = next(iter(expected))
        while True:
            try:
                manager.published_nodes(first)
                break
            except CsiError as error:
                if error.code is not grpc.StatusCode.UNAVAILABLE or time.perf_counter() - started > SYNC_TIMEOUT:
                    raise
                time.sleep(0.002)
        answers = {volume_id: manager.published_nodes(volume_id) for volume_id in expected}
        elapsed = time.perf_counter() - started
    finally:
        ledger.stop()
    wrong = [volume_id for volume_id, nodes in expected.items() if sorted(answers[volume_id]) != sorted(nodes)]
    if wrong:
        raise SystemExit(
            "published_nodes is wrong for %d of %d volumes (first: %s answered %s, stored %s)"
            % (len(wrong), len(expected), wrong[0], answers[wrong[0]], expected[wrong[0]])
        )
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="rebuilds per population (default 5)")
    parser.add_argument("--large", type=int, default=5000, help="VolumeAttachments of the large population")
    parser.add_argument("--small", type=int, default=500, help="VolumeAttachments of the small population")
    args = parser.parse_args()
    counts = (args.small, args.large)
    fakes = {count: KubeApiFake().start() for count in counts}
    try:
        with tempfile.TemporaryDirectory(prefix="rds-csi-attachments-") as scratch:
            populations: dict[int, tuple[Path, dict[str, list[str]]]] = {}
            for count, fake in fakes.items():
                started = time.perf_counter()
                expected = populate(fake, count)
                print(
                    "stored %d VolumeAttachments over %d volumes in %.1f s"
                    % (count, len(expected), time.perf_counter() - started)
                )
                populations[count] = (fake.write_kubeconfig(Path(scratch) / ("kubeconfig-%d" % count)), expected)
            first = rebuild(*populations[args.large])
            samples: dict[int, list[float]] = {count: [] for count in counts}
            for _run in range(args.runs):
                for count in counts:
                    samples[count].append(rebuild(*populations[count]))
    finally:
        # The stopped ledgers' watches end with the fakes; their warnings say nothing about the runs.
        logging.getLogger("rds_csi.attachment_cluster").setLevel(logging.ERROR)
        for fake in fakes.values():
            fake.stop()
    report(first, samples, args.small, args.large)
    return 0


def report(first: float, samples: dict[int, list[float]], small: int, large: int) -> None:
    print("first rebuild of the process (a restart: client import, first connections), %d: %.3f s" % (large, first))
    print("%-18s %10s %10s %10s" % ("VolumeAttachments", "median s", "min s", "max s"))
    for count, times in samples.items():
        print("%-18d %10.3f %10.3f %10.3f" % (count, statistics.median(times), min(times), max(times)))
    ratio = statistics.median(samples[large]) / statistics.median(samples[small])
    print("ratio %d/%d: %.2f (objects: %.0fx)" % (large, small, ratio, large / small))
    met = max(first, statistics.median(samples[large])) < TARGET
    print("state rebuild from %d VolumeAttachments < %.0f s: %s" % (large, TARGET, "met" if met else "NOT met"))


if __name__ == "__main__":
    sys.exit(main())
