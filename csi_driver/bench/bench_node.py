"""Node benchmark: a stage+publish+unpublish+unstage cycle through the node plugin's gRPC socket
against the same commands run by a bash script, in one run; node plugin RSS idle and after the
cycles. Prints figures and ratios. Needs root (loop devices, mkfs, mount).

Method:

- The emulator (in this process) exports one 1 GiB volume; the test fabric connects it as a
  loop-backed namespace (case A naming). The node plugin runs as its own process
  (``python -m rds_csi --mode node``) with the fabric's ``nvme``, sysfs and /dev; this process is
  the CO.
- Both paths do the same work per cycle: ``nvme connect``, find the disk of the NQN in sysfs and
  wait for its /dev node, ``blkid -p`` probe, ``e2fsck -n -f`` read-only check, mount at the
  staging path, mkdir + bind mount at the target, unmount + rmdir the target, unmount the staging
  path, ``nvme disconnect``. The driver adds its own checks (mountinfo reads, the device read
  before blkid, the in-use check) and the gRPC round trips: that is the overhead measured.
- The fabric's ``nvme`` stand-in is a Python program taking ~100 ms per call, which a real host
  does not have. Both paths call it through one wrapper that logs how long each call took; that
  time is subtracted from each path, so the figures exclude the fabric's connect and disconnect.
- The two paths alternate in rounds so that load from other processes hits both alike. A first
  driver cycle formats the volume; it is not timed.
- RSS of the node plugin process (VmRSS): after start and one NodeGetInfo, then after all cycles.

Targets: driver <= 1.3x the script per cycle; RSS <= 64 MiB.
Run: ``.venv/bin/python csi_driver/bench/bench_node.py`` from the repository root, as root.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import DiskSpec, ExportSpec
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshSettings, SshTransport
from rds_emulator.config import EmulatorConfig
from rds_emulator.nvme_fabric.fabric import TestFabric
from rds_emulator.process import write_client_key
from rds_emulator.server import EmulatorServer

DRIVER_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(DRIVER_DIR))
from rds_csi.proto import csi_pb2, csi_pb2_grpc  # noqa: E402

GIB = 1024**3
BASE = "/storage-pool/metal-csi"
VOLUME_ID = "pvc-0b5e7a3c-1d2f-4e6a-9b8c-7d6e5f4a3b2c"
NQN = "nqn.2000-02.com.mikrotik:" + VOLUME_ID
ADDRESS, PORT = "127.0.0.1", 4420
RSS_TARGET_MIB = 64
RATIO_TARGET = 1.3

NVME_WRAPPER = """#!/bin/bash
started=$EPOCHREALTIME
"{real}" "$@"
status=$?
echo "$started $EPOCHREALTIME" >> "{log}"
exit $status
"""

SHELL_CYCLES = r"""#!/bin/bash
set -eu
nvme=$1 sysfs=$2 devdir=$3 nqn=$4 staging=$5 target=$6 hostnqn=$7 count=$8
find_disk() {
    local subsystem entry
    for subsystem in "$sysfs"/class/nvme-subsystem/nvme-subsys*; do
        [ "$(cat "$subsystem/subsysnqn")" = "$nqn" ] || continue
        for entry in "$subsystem"/*; do
            entry=${entry##*/}
            if [[ $entry =~ ^nvme[0-9]+n[0-9]+$ ]]; then echo "$entry"; return 0; fi
        done
    done
    return 1
}
for ((cycle = 0; cycle < count; cycle++)); do
    "$nvme" connect --transport=tcp --traddr=127.0.0.1 --trsvcid=4420 --nqn="$nqn" --ctrl-loss-tmo=-1 \
        --reconnect-delay=5 --hostnqn="$hostnqn" > /dev/null
    until disk=$(find_disk) && [ -b "$devdir/$disk" ]; do sleep 0.01; done
    device=$devdir/$disk
    blkid -p -o export "$device" > /dev/null
    e2fsck -n -f "$device" > /dev/null 2>&1
    mount -t ext4 "$device" "$staging"
    mkdir "$target"
    mount --bind "$staging" "$target"
    umount "$target"
    rmdir "$target"
    umount "$staging"
    "$nvme" disconnect --nqn="$nqn" > /dev/null
done
"""


def rss_mib(pid: int) -> float:
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS for pid %d" % pid)


def nvme_seconds(log: Path) -> float:
    """Time spent inside the fabric's nvme stand-in since the log was last emptied."""
    if not log.exists():
        return 0.0
    total = 0.0
    for line in log.read_text().splitlines():
        started, ended = line.split()
        total += float(ended) - float(started)
    log.write_text("")
    return total


class Paths:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.node = work / "node"
        self.staging = work / "kubelet" / "staging"
        self.target_parent = work / "kubelet" / "pod"
        self.nvme_log = work / "nvme-times.log"
        self.socket = work / "node.sock"


def create_volume(emulator: EmulatorServer, key: Path) -> None:
    host, port = emulator.address
    settings = SshSettings(
        host=host, port=port, username="admin", private_key_file=str(key), host_key=emulator.host_public_key_line
    )
    transport = SshTransport(settings)
    try:
        client = RdsClient(transport)
        client.ensure_directory(BASE)
        export = ExportSpec(enabled=True, port=PORT, nqn=NQN)
        client.add_disk(DiskSpec(slot=VOLUME_ID, file_path="%s/%s.img" % (BASE, VOLUME_ID), size=GIB, export=export))
    finally:
        transport.close()


def start_plugin(paths: Paths, fabric: TestFabric, nvme: Path, host_nqn_file: Path) -> subprocess.Popen[bytes]:
    """``rds-csi-driver --mode node`` (``python -m rds_csi``) on the fabric's nvme, sysfs and /dev."""
    command = [
        sys.executable,
        "-m",
        "rds_csi",
        "--mode=node",
        "--endpoint=unix://%s" % paths.socket,
        "--node-id=bench-node",
        "--managed-nqn-prefix=nqn.2000-02.com.mikrotik:pvc-",
        "--nvme-binary=%s" % nvme,
        "--sysfs-root=%s" % fabric.config.sysfs_root,
        "--dev-root=%s" % fabric.config.dev_root,
        "--host-nqn-file=%s" % host_nqn_file,
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(DRIVER_DIR), env.get("PYTHONPATH", "")])
    log = (paths.work / "node-plugin.log").open("wb")
    return subprocess.Popen(command, env=env, stderr=log)


class DriverCycle:
    def __init__(self, node: Any, paths: Paths) -> None:
        self.node = node
        self.paths = paths
        self.capability = csi_pb2.VolumeCapability(
            mount=csi_pb2.VolumeCapability.MountVolume(fs_type="ext4"),
            access_mode=csi_pb2.VolumeCapability.AccessMode(
                mode=csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER
            ),
        )
        self.context = {"nvmeAddress": ADDRESS, "nvmePort": str(PORT), "nqn": NQN}

    def run(self) -> None:
        staging, target = str(self.paths.staging), str(self.paths.target_parent / "target")
        self.node.NodeStageVolume(
            csi_pb2.NodeStageVolumeRequest(
                volume_id=VOLUME_ID,
                publish_context=self.context,
                staging_target_path=staging,
                volume_capability=self.capability,
            )
        )
        self.node.NodePublishVolume(
            csi_pb2.NodePublishVolumeRequest(
                volume_id=VOLUME_ID,
                publish_context=self.context,
                staging_target_path=staging,
                target_path=target,
                volume_capability=self.capability,
            )
        )
        self.node.NodeUnpublishVolume(csi_pb2.NodeUnpublishVolumeRequest(volume_id=VOLUME_ID, target_path=target))
        self.node.NodeUnstageVolume(csi_pb2.NodeUnstageVolumeRequest(volume_id=VOLUME_ID, staging_target_path=staging))


def measure(cycles: int, rounds: int, driver: DriverCycle, script: list[str], paths: Paths) -> dict[str, float]:
    spent = {"driver": 0.0, "script": 0.0}
    nvme = {"driver": 0.0, "script": 0.0}
    per_round = max(1, cycles // rounds)
    done = 0
    while done < cycles:
        batch = min(per_round, cycles - done)
        nvme_seconds(paths.nvme_log)
        started = time.perf_counter()
        for _cycle in range(batch):
            driver.run()
        spent["driver"] += time.perf_counter() - started
        nvme["driver"] += nvme_seconds(paths.nvme_log)
        started = time.perf_counter()
        subprocess.run([*script, str(batch)], check=True, timeout=600)
        spent["script"] += time.perf_counter() - started
        nvme["script"] += nvme_seconds(paths.nvme_log)
        done += batch
    return {
        "driver_ms": (spent["driver"] - nvme["driver"]) * 1000 / cycles,
        "script_ms": (spent["script"] - nvme["script"]) * 1000 / cycles,
        "driver_nvme_ms": nvme["driver"] * 1000 / cycles,
        "script_nvme_ms": nvme["script"] * 1000 / cycles,
    }


def run(cycles: int, rounds: int, work: Path) -> dict[str, Any]:
    paths = Paths(work)
    key = work / "id_ed25519"
    emulator = EmulatorServer(
        EmulatorConfig(state_dir=work / "state", authorized_keys=write_client_key(key), pool_size=8 * GIB)
    )
    emulator.start()
    fabric = TestFabric.create(work / "fabric", work / "state", paths.node / "sys", paths.node / "dev")
    plugin = None
    try:
        create_volume(emulator, key)
        real = fabric.write_nvme_executable(paths.node / "bin" / "nvme-fabric")
        nvme = paths.node / "bin" / "nvme"
        nvme.write_text(NVME_WRAPPER.format(real=real, log=paths.nvme_log))
        nvme.chmod(0o755)
        host_nqn_file = paths.node / "hostnqn"
        host_nqn_file.write_text(fabric.config.hostnqn + "\n")
        paths.staging.mkdir(parents=True)
        paths.target_parent.mkdir(parents=True)
        script_file = work / "cycles.sh"
        script_file.write_text(SHELL_CYCLES)
        script = ["bash", str(script_file), str(nvme), str(fabric.config.sysfs_root), str(fabric.config.dev_root)]
        script += [NQN, str(paths.staging), str(paths.target_parent / "target"), fabric.config.hostnqn]

        plugin = start_plugin(paths, fabric, nvme, host_nqn_file)
        channel = grpc.insecure_channel("unix:%s" % paths.socket)
        grpc.channel_ready_future(channel).result(timeout=30)
        node = csi_pb2_grpc.NodeStub(channel)
        node.NodeGetInfo(csi_pb2.NodeGetInfoRequest())
        rss_idle = rss_mib(plugin.pid)
        driver = DriverCycle(node, paths)
        driver.run()  # formats the volume; not timed
        figures = measure(cycles, rounds, driver, script, paths)
        figures.update(
            cycles=cycles,
            ratio=figures["driver_ms"] / figures["script_ms"],
            rss_idle_mib=rss_idle,
            rss_after_mib=rss_mib(plugin.pid),
        )
        channel.close()
        return figures
    finally:
        if plugin is not None:
            plugin.send_signal(signal.SIGTERM)
            plugin.wait(timeout=30)
        for mount_point in (paths.target_parent / "target", paths.staging):
            subprocess.run(["umount", str(mount_point)], check=False, capture_output=True, timeout=30)
        fabric.teardown()
        emulator.stop()


def report(figures: dict[str, Any]) -> None:
    print("node benchmark: %d stage+publish+unpublish+unstage cycles per path (ext4, 1 GiB)" % figures["cycles"])
    print(
        "  fabric nvme time subtracted per cycle: driver %.1f ms, script %.1f ms"
        % (figures["driver_nvme_ms"], figures["script_nvme_ms"])
    )
    print("  per cycle without nvme: driver %.1f ms, script %.1f ms" % (figures["driver_ms"], figures["script_ms"]))
    verdict = "ok" if figures["ratio"] <= RATIO_TARGET else "ABOVE TARGET"
    print("  ratio driver/script: %.2fx (target <= %.1fx: %s)" % (figures["ratio"], RATIO_TARGET, verdict))
    worst = max(figures["rss_idle_mib"], figures["rss_after_mib"])
    verdict = "ok" if worst <= RSS_TARGET_MIB else "ABOVE TARGET"
    print(
        "  node plugin RSS: idle %.1f MiB, after %d cycles %.1f MiB (target <= %d MiB: %s)"
        % (figures["rss_idle_mib"], figures["cycles"] + 1, figures["rss_after_mib"], RSS_TARGET_MIB, verdict)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=10, help="alternations between the two paths")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rds-node-bench-"))
    try:
        figures = run(options.cycles, options.rounds, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(figures)
    if options.json:
        print(json.dumps(figures, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
