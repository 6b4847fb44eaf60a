"""Storage-fencing benchmark (issue 14): ControllerPublishVolume p50 with storage fencing on versus
off, in one run on one emulator, and the RDS round trips each publish and unpublish costs.

Two controller processes serve the same emulator (50 ms added to every command, as in
bench_controller.py): one with fencing on (``--node-ids`` and ``--node-host-nqns`` give the node's
host NQN), one with ``--no-storage-fencing``. Each round creates a volume on each, then times its
first publish (fencing changes the list: one more round trip), its unpublish (fencing narrows the
list: one round trip where there was none), a publish after it (the list changes again) and a
repeated publish (the list is already right: no extra round trip), alternating the two drivers so load hits both alike.
Target: at most one more RDS round trip per publish.
Run: ``.venv/bin/python csi_driver/bench/bench_fencing.py`` from the repository root.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from rds_emulator.process import EmulatorProcess, write_client_key

DRIVER_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(DRIVER_DIR))

from rds_csi.proto import csi_pb2, csi_pb2_grpc  # noqa: E402

NODE = "node-a"
HOST_NQN = "nqn.2014-08.org.nvmexpress:uuid:0b0d7b2e-54a2-4a6f-8f63-0b43f3c2b0a1"
CAPABILITY = csi_pb2.VolumeCapability(
    block=csi_pb2.VolumeCapability.BlockVolume(),
    access_mode=csi_pb2.VolumeCapability.AccessMode(mode=csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER),
)
STEPS = ("publish", "unpublish", "publish again", "publish repeated")


def start_driver(work: Path, name: str, emulator: EmulatorProcess, key: Path, *flags: str) -> Any:
    socket = work / ("%s.sock" % name)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(DRIVER_DIR), env.get("PYTHONPATH", "")])
    command = [
        sys.executable,
        "-m",
        "rds_csi",
        "--mode=controller",
        "--endpoint=unix://%s" % socket,
        "--rds-address=%s" % emulator.host,
        "--rds-port=%d" % emulator.port,
        "--rds-key-file=%s" % key,
        "--rds-host-key=%s" % emulator.host_key_line,
        "--node-ids=%s" % NODE,
        "--no-metrics",
        *flags,
    ]
    process = subprocess.Popen(command, env=env, stderr=(work / ("%s.log" % name)).open("wb"))
    channel = grpc.insecure_channel("unix:%s" % socket)
    grpc.channel_ready_future(channel).result(timeout=30)
    return process, csi_pb2_grpc.ControllerStub(channel)


def exec_requests(state: Path) -> int:
    time.sleep(0.6)  # stats.json is rewritten at most every 0.25 s after a change
    return int(json.loads((state / "stats.json").read_text())["exec_requests"])


def calls(controller: Any, volume_id: str) -> dict[str, Callable[[], Any]]:
    publish = csi_pb2.ControllerPublishVolumeRequest(volume_id=volume_id, node_id=NODE, volume_capability=CAPABILITY)
    unpublish = csi_pb2.ControllerUnpublishVolumeRequest(volume_id=volume_id, node_id=NODE)
    return {
        "publish": lambda: controller.ControllerPublishVolume(publish),
        "unpublish": lambda: controller.ControllerUnpublishVolume(unpublish),
        "publish again": lambda: controller.ControllerPublishVolume(publish),
        "publish repeated": lambda: controller.ControllerPublishVolume(publish),
    }


def create(controller: Any, name: str) -> str:
    request = csi_pb2.CreateVolumeRequest(
        name=name, capacity_range=csi_pb2.CapacityRange(required_bytes=1 << 30), volume_capabilities=[CAPABILITY]
    )
    return str(controller.CreateVolume(request).volume.volume_id)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30, help="volumes per driver (default 30)")
    parser.add_argument("--latency", type=float, default=0.05, help="emulator latency per command (default 0.05)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rds-csi-fencing-") as scratch:
        work = Path(scratch)
        key = work / "id_ed25519"
        state = work / "state"
        extra = ["--fault", "latency:%s" % args.latency]
        with EmulatorProcess(state, write_client_key(key), *extra) as emulator:
            drivers = {
                "on": start_driver(work, "on", emulator, key, "--node-host-nqns=%s=%s" % (NODE, HOST_NQN)),
                "off": start_driver(work, "off", emulator, key, "--no-storage-fencing"),
            }
            try:
                return measure(args.rounds, state, {name: driver[1] for name, driver in drivers.items()})
            finally:
                for driver in drivers.values():
                    driver[0].terminate()
                    driver[0].wait(timeout=30)


def measure(rounds: int, state: Path, controllers: dict[str, Any]) -> int:
    samples: dict[tuple[str, str], list[float]] = {(mode, step): [] for mode in controllers for step in STEPS}
    for index in range(rounds):
        for mode, controller in controllers.items():
            volume_id = create(controller, "bench-fencing-%s-%d" % (mode, index))
            for step, call in calls(controller, volume_id).items():
                started = time.perf_counter()
                call()
                samples[(mode, step)].append(time.perf_counter() - started)
    trips = {}
    for mode, controller in controllers.items():
        volume_id = create(controller, "bench-fencing-%s-count" % mode)
        for step, call in calls(controller, volume_id).items():
            before = exec_requests(state)
            call()
            trips[(mode, step)] = exec_requests(state) - before
    print("ControllerPublish/Unpublish with storage fencing on vs off (%d volumes each, one emulator)" % rounds)
    print("%-17s %10s %10s %7s %9s %9s" % ("step", "p50 on ms", "p50 off ms", "ratio", "RTs on", "RTs off"))
    for step in STEPS:
        on, off = (statistics.median(samples[(mode, step)]) * 1000 for mode in ("on", "off"))
        print(
            "%-17s %10.1f %10.1f %7.2f %9d %9d" % (step, on, off, on / off, trips[("on", step)], trips[("off", step)])
        )
    extra = max(trips[("on", step)] - trips[("off", step)] for step in STEPS)
    print("most extra RDS round trips per call: %d (target: at most 1)" % extra)
    return 0 if extra <= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
