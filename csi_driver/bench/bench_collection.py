"""Appliance collection benchmark (issue 13): RDS commands per minute that the controller spends on
appliance health and per-volume traffic at the default interval with 1,000 volumes.

- The emulator runs as a subprocess with ``--latency`` seconds added to every command (0.05, as
  in bench_controller.py). Its state is written before it starts, through its own disk table:
  ``--volumes`` volumes the driver manages (``pvc-<uuid>`` exported under the managed NQN prefix,
  sparse backing files) and 10 disks it must leave alone (other slots or NQNs).
- The collector is the driver's own: a ``Driver`` in mode controller (not serving) builds it as it
  does in production, and ``--rounds`` rounds run one after the other through ``collect_round``.
  Each round is counted with the driver's ``rds_csi_rds_commands_total{purpose="collection"}``,
  cross-checked with the emulator's exec requests, and the console statements those lines carried
  (a ``:put`` marker and a ``monitor-traffic`` per volume) are reported beside them.
- Commands per minute = commands per round x 60 / interval; the interval is the driver's default
  ``appliance_metrics_interval`` unless ``--interval`` says otherwise. The first round also reads
  the RouterOS version once for the new connection; the figure uses the later rounds.
- Round time is compared with the interval, which is also the round's deadline.

Run: ``.venv/bin/python csi_driver/bench/bench_collection.py [--volumes 1000] [--rounds 3]
[--latency 0.05] [--interval SECONDS] [--json]`` from the repository root.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import nqn_for
from rds_emulator.files import FileTree
from rds_emulator.model import PARTITION_ID, Disk
from rds_emulator.process import EmulatorProcess, write_client_key
from rds_emulator.store import DiskTable

DRIVER_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(DRIVER_DIR))

from rds_csi import appliance, metrics  # noqa: E402
from rds_csi.config import Config, validate  # noqa: E402
from rds_csi.server import Driver  # noqa: E402

BASE = "storage-pool/metal-csi"
GIB = 1024**3
FOREIGN = 10
STATS_SETTLE = 0.4  # the emulator rewrites stats.json within a quarter second of a change


def write_volumes(state: Path, volumes: int) -> list[str]:
    """The emulator's disk table with ``volumes`` managed volumes and ``FOREIGN`` other disks; their slots."""
    tree = FileTree(state / "files")
    tree.host_path(BASE).mkdir(parents=True)
    slots = ["pvc-%s" % uuid.uuid4() for index in range(volumes)]
    disks: list[Disk] = []
    for slot in slots:
        disks.append(_disk(tree, slot, nqn_for(slot), len(disks)))
    for number in range(FOREIGN):
        slot = "pvc-%s" % uuid.uuid4() if number % 2 else "system-%d" % number
        disks.append(_disk(tree, slot, "nqn.2001-01.org.example:%s" % slot, len(disks)))
    table = DiskTable(state, tree)
    table.load()
    table.commit(disks)
    return slots


def _disk(tree: FileTree, slot: str, nqn: str, index: int) -> Disk:
    name = "%s/%s.img" % (BASE, slot)
    tree.create_sparse(name, GIB)
    return Disk(
        slot=slot,
        file_path="/" + name,
        file_size=GIB,
        nvme_tcp_export=True,
        nvme_tcp_server_nqn=nqn,
        item_id=PARTITION_ID + 1 + index,
    )


def collection_commands() -> float:
    return sum(
        metrics.REGISTRY.get_sample_value("rds_csi_rds_commands_total", {"purpose": "collection", "status": status})
        or 0.0
        for status in (metrics.SUCCESS, metrics.FAILURE)
    )


def emulator_counts(state: Path) -> tuple[int, int]:
    time.sleep(STATS_SETTLE)
    path = state / "stats.json"
    if not path.exists():
        return 0, 0  # written at the first connection
    stats = json.loads(path.read_text())
    return int(stats["exec_requests"]), int(stats["commands_run"])


def measure_collection(
    volumes: int = 1000, rounds: int = 3, latency: float = 0.05, interval: float | None = None
) -> dict[str, Any]:
    """Run ``rounds`` collection rounds over ``volumes`` volumes; the figures as a dictionary."""
    default_interval = Config().appliance_metrics_interval
    with tempfile.TemporaryDirectory(prefix="rds-csi-bench-collection-") as scratch:
        work = Path(scratch)
        key = work / "id_ed25519"
        authorized = write_client_key(key)
        state = work / "state"
        state.mkdir()
        write_volumes(state, volumes)
        extra = ["--fault", "latency:%s" % latency] if latency else []
        with EmulatorProcess(state, authorized, *extra) as emulator:
            config = validate(
                Config(
                    mode="controller",
                    endpoint="unix://%s" % (work / "bench.sock"),
                    rds_address=emulator.host,
                    rds_port=emulator.port,
                    rds_key_file=str(key),
                    rds_host_key=emulator.host_key_line,
                    appliance_metrics_interval=interval if interval is not None else default_interval,
                )
            )
            driver = Driver(config)
            try:
                assert driver.collector is not None, "collection is on at the default settings"
                per_round = [_one_round(driver.collector, state) for index in range(rounds)]
                published = len(appliance.APPLIANCE.reading.traffic)
            finally:
                driver.stop(grace=0)
    steady = per_round[1:] or per_round
    commands = statistics.mean(entry["commands"] for entry in steady)
    return {
        "volumes": volumes,
        "interval_seconds": config.appliance_metrics_interval,
        "latency_seconds": latency,
        "batch": appliance.TRAFFIC_BATCH,
        "rounds": per_round,
        "volumes_published": published,
        "commands_per_round": commands,
        "commands_per_minute": commands * 60 / config.appliance_metrics_interval,
        "statements_per_minute": statistics.mean(entry["statements"] for entry in steady)
        * 60
        / config.appliance_metrics_interval,
        "expected_commands_per_round": 3 + math.ceil(volumes / appliance.TRAFFIC_BATCH),
    }


def _one_round(collector: appliance.ApplianceCollector, state: Path) -> dict[str, Any]:
    commands = collection_commands()
    requests, statements = emulator_counts(state)
    started = time.perf_counter()
    status = collector.collect_round()
    seconds = time.perf_counter() - started
    after_requests, after_statements = emulator_counts(state)
    return {
        "status": status,
        "seconds": round(seconds, 3),
        "commands": collection_commands() - commands,
        "exec_requests": after_requests - requests,
        "statements": after_statements - statements,
    }


def report(figures: dict[str, Any]) -> None:
    print(
        "Appliance collection: %d volumes, one round every %g s (the deadline too), %d volumes per exec line, "
        "emulator latency %.0f ms per command"
        % (figures["volumes"], figures["interval_seconds"], figures["batch"], figures["latency_seconds"] * 1000)
    )
    print("%-6s %-8s %9s %9s %14s %11s" % ("round", "status", "seconds", "commands", "exec requests", "statements"))
    for number, entry in enumerate(figures["rounds"], start=1):
        print(
            "%-6d %-8s %9.2f %9d %14d %11d"
            % (
                number,
                entry["status"],
                entry["seconds"],
                entry["commands"],
                entry["exec_requests"],
                entry["statements"],
            )
        )
    print(
        "RDS commands per minute on collection: %.1f (%.1f per round; health, pool, volume list and %d traffic "
        "lines; expected %d). Console statements per minute: %.0f. Volumes published: %d."
        % (
            figures["commands_per_minute"],
            figures["commands_per_round"],
            math.ceil(figures["volumes"] / figures["batch"]),
            figures["expected_commands_per_round"],
            figures["statements_per_minute"],
            figures["volumes_published"],
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volumes", type=int, default=1000, help="volumes the driver manages (default 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="collection rounds (default 3)")
    parser.add_argument("--latency", type=float, default=0.05, help="emulator latency per command (default 0.05)")
    parser.add_argument("--interval", type=float, help="collection interval (default: the driver's default)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = measure_collection(args.volumes, args.rounds, args.latency, args.interval)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        report(figures)
    return 0 if all(entry["status"] == metrics.SUCCESS for entry in figures["rounds"]) else 1


if __name__ == "__main__":
    sys.exit(main())
