"""Metrics benchmark (issue 13): a scrape of each metrics endpoint with 1,000 volumes' series, and the
driver's memory with metrics on and off. Prints figures and ratios measured in one run.

Method:

- Controller: ``python -m rds_csi --mode controller`` against the emulator (a process of its own).
  The series come from real operations: 1,000 CreateVolume RPCs over the socket (8 at a time), then
  the controller's own appliance collection at the default ``--appliance-metrics-interval`` (60 s)
  until a scrape shows the traffic series of every volume. The run without metrics does the same
  RPCs and then waits as long as the run with metrics waited for its collection.
- Node: ``python -m rds_csi --mode node`` on the test fabric with 1,000 connected subsystems under
  the managed prefix (the fabric's sysfs-only synthetic controllers: no loop devices, no mkfs) and
  1,000 stage records written with the driver's own ``StageRecords``, which is what a node holding
  1,000 staged volumes shows. The node's series carry no volume label: what grows with volumes is
  its gauges of staged volumes and active connections, which are computed on each scrape from
  those records and sysfs. Both runs send the same few RPCs (one of them failing).
- Scrape: ``--scrapes`` GETs of /metrics from this process, spread evenly over one collection
  interval, so that they meet the collector as Prometheus would (busy or idle); median, p90 and the
  slowest, the body's size and its number of samples.
- RSS: VmRSS of the driver process after the workload and the timed scrapes, started with metrics
  (the default) and with ``--no-metrics``; the controller also with metrics but collection off
  (``--appliance-metrics-interval 0``), which tells the endpoint's cost from the collection's. Each
  run starts a fresh driver (and, for the controller, a fresh emulator). The controller's RSS is
  also shown after the RPCs and after the collection.
The driver inherits this process's environment: ``MALLOC_ARENA_MAX=2 .venv/bin/python ...`` measures
it with glibc's malloc arenas bounded (by default each new thread, such as one per HTTP request of
the metrics endpoint, may get an arena of its own, up to 8 per core, and keeps what it allocated).

Targets: a scrape < 50 ms; RSS with metrics <= RSS without + 10 MiB.
Run: ``.venv/bin/python csi_driver/bench/bench_metrics.py`` from the repository root, as root.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import DEFAULT_NQN_PREFIX
from rds_emulator.nvme_fabric.fabric import TestFabric
from rds_emulator.process import EmulatorProcess, write_client_key

DRIVER_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(DRIVER_DIR))
from rds_csi.node_runtime import StageRecords, records_directory  # noqa: E402
from rds_csi.proto import csi_pb2, csi_pb2_grpc  # noqa: E402

GIB = 1024**3
SESSIONS = 8
START_TIMEOUT = 60.0
COLLECTION_TIMEOUT = 600.0
SCRAPE_TARGET_MS = 50.0
RSS_TARGET_MIB = 10.0
TRAFFIC_SERIES = "rds_csi_volume_read_bytes_total{"
SOCKET = "csi.sock"


@dataclass
class DriverProcess:
    process: subprocess.Popen[bytes]
    channel: grpc.Channel
    metrics_port: int

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d/metrics" % self.metrics_port

    def rss_mib(self) -> float:
        for line in Path("/proc/%d/status" % self.process.pid).read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS for pid %d" % self.process.pid)

    def stop(self) -> None:
        self.channel.close()
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(30)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_driver(work: Path, arguments: list[str], metrics: bool) -> DriverProcess:
    socket_path = work / SOCKET
    port = free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(DRIVER_DIR), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "rds_csi", "--endpoint=unix://%s" % socket_path, *arguments]
    command += ["--metrics-address=127.0.0.1", "--metrics-port=%d" % port] if metrics else ["--no-metrics"]
    with (work / "driver.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, stderr=log)
    channel = grpc.insecure_channel("unix:%s" % socket_path)
    try:
        grpc.channel_ready_future(channel).result(timeout=START_TIMEOUT)
    except grpc.FutureTimeoutError:
        process.kill()
        raise RuntimeError("the driver did not start:\n%s" % (work / "driver.log").read_text()) from None
    return DriverProcess(process, channel, port)


def scrape(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return bytes(answer.read())


def scrape_figures(url: str, count: int, spread: float) -> dict[str, float]:
    """``count`` timed scrapes, one every ``spread / count`` seconds."""
    scrape(url)  # the first scrape after a change is not timed
    times = []
    for _scrape in range(count):
        started = time.perf_counter()
        body = scrape(url)
        spent = time.perf_counter() - started
        times.append(spent * 1000)
        time.sleep(max(0.0, spread / count - spent))
    samples = [line for line in body.decode("utf-8").splitlines() if line and not line.startswith("#")]
    return {
        "p50_ms": statistics.median(times),
        "p90_ms": statistics.quantiles(times, n=10)[-1],
        "max_ms": max(times),
        "kib": len(body) / 1024,
        "samples": len(samples),
        "volume_series": sum(1 for line in samples if line.startswith(TRAFFIC_SERIES)),
    }


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until ``condition`` held."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise RuntimeError("waited %.0f s for %s" % (timeout, what))
        time.sleep(0.5)
    return time.monotonic() - started


def create_volumes(channel: grpc.Channel, count: int) -> None:
    controller = csi_pb2_grpc.ControllerStub(channel)
    capability = csi_pb2.VolumeCapability(
        mount=csi_pb2.VolumeCapability.MountVolume(fs_type="ext4"),
        access_mode=csi_pb2.VolumeCapability.AccessMode(mode=csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER),
    )

    def create(number: int) -> None:
        controller.CreateVolume(
            csi_pb2.CreateVolumeRequest(
                name="pvc-bench-metrics-%04d" % number,
                capacity_range=csi_pb2.CapacityRange(required_bytes=GIB),
                volume_capabilities=[capability],
            )
        )

    with ThreadPoolExecutor(SESSIONS) as pool:
        list(pool.map(create, range(count)))


ON, ENDPOINT, OFF = "on", "endpoint", "off"
"""Controller runs: metrics and appliance collection; metrics with collection off (interval 0); no metrics."""


def controller_run(work: Path, args: argparse.Namespace, mode: str, wait: float) -> dict[str, Any]:
    """One controller run; ``wait``: seconds to wait after the RPCs where no collection is awaited (the
    run ``ON`` waits for its collection and reports how long that took)."""
    work.mkdir()
    key = work / "id_ed25519"
    authorized = write_client_key(key)
    extra = ["--max-sessions", str(2 * SESSIONS)]
    with EmulatorProcess(work / "state", authorized, *extra, pool_size="4T") as emulator:
        arguments = [
            "--mode=controller",
            "--rds-address=%s" % emulator.host,
            "--rds-port=%d" % emulator.port,
            "--rds-key-file=%s" % key,
            "--rds-host-key=%s" % emulator.host_key_line,
            "--rds-max-sessions=%d" % SESSIONS,
            "--appliance-metrics-interval=%s" % ("0" if mode == ENDPOINT else args.interval),
        ]
        driver = start_driver(work, arguments, mode != OFF)
        try:
            started = time.monotonic()
            create_volumes(driver.channel, args.volumes)
            created = time.monotonic() - started
            result: dict[str, Any] = {"create_s": created, "rss_rpcs_mib": driver.rss_mib(), "wait_s": wait}
            volumes = int(args.volumes)
            if mode == ON:

                def collected() -> bool:
                    return scrape(driver.url).decode("utf-8").count(TRAFFIC_SERIES) >= volumes

                result["wait_s"] = wait_until(collected, COLLECTION_TIMEOUT, "a collection of every volume")
                result["rss_collected_mib"] = driver.rss_mib()
            else:
                time.sleep(wait)
            if mode == OFF:
                time.sleep(float(args.interval))  # as long as the others' timed scrapes
            else:
                result.update(scrape_figures(driver.url, args.scrapes, float(args.interval)))
            result["rss_mib"] = driver.rss_mib()
            return result
        finally:
            driver.stop()


def node_run(work: Path, args: argparse.Namespace, metrics: bool) -> dict[str, Any]:
    work.mkdir()
    node = work / "node"
    fabric = TestFabric.create(work / "fabric", work / "state", node / "sys", node / "dev")
    try:
        fabric.add_synthetic_controllers(args.volumes, nqn_prefix=DEFAULT_NQN_PREFIX + "bench-")
        records = StageRecords(records_directory("unix://%s" % (work / SOCKET)))
        for number in range(args.volumes):
            records.write("pvc-bench-%d" % number, DEFAULT_NQN_PREFIX + "bench-%d" % number)
        host_nqn_file = node / "hostnqn"
        host_nqn_file.write_text(fabric.config.hostnqn + "\n")
        arguments = [
            "--mode=node",
            "--node-id=bench-node",
            "--managed-nqn-prefix=%s" % DEFAULT_NQN_PREFIX,
            "--nvme-binary=%s" % fabric.write_nvme_executable(node / "bin" / "nvme"),
            "--sysfs-root=%s" % fabric.config.sysfs_root,
            "--dev-root=%s" % fabric.config.dev_root,
            "--host-nqn-file=%s" % host_nqn_file,
        ]
        driver = start_driver(work, arguments, metrics)
        try:
            stub = csi_pb2_grpc.NodeStub(driver.channel)
            stub.NodeGetInfo(csi_pb2.NodeGetInfoRequest())
            stub.NodeGetCapabilities(csi_pb2.NodeGetCapabilitiesRequest())
            try:
                stub.NodeGetVolumeStats(
                    csi_pb2.NodeGetVolumeStatsRequest(volume_id="pvc-bench-0", volume_path=str(work / "nowhere"))
                )
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.NOT_FOUND, error.details()
            result: dict[str, Any] = {}
            if metrics:
                result.update(scrape_figures(driver.url, args.scrapes, float(args.interval)))
            result["rss_mib"] = driver.rss_mib()
            return result
        finally:
            driver.stop()
    finally:
        fabric.teardown()


def report(args: argparse.Namespace, controller: dict[str, dict[str, Any]], node: dict[str, dict[str, Any]]) -> None:
    print(
        "Metrics benchmark: %d volumes, %d scrapes per endpoint over %s s" % (args.volumes, args.scrapes, args.interval)
    )
    print(
        "controller series from real operations: %d CreateVolume in %.1f s, then the appliance collection "
        "(interval %s s) reported %d volumes' traffic after %.1f s"
        % (
            args.volumes,
            controller["on"]["create_s"],
            args.interval,
            controller["on"]["volume_series"],
            controller["on"]["wait_s"],
        )
    )
    print(
        "node series from %d stage records and %d connected managed subsystems in the fabric's sysfs "
        "(synthetic controllers; the node has no per-volume series)" % (args.volumes, args.volumes)
    )
    on, endpoint, off = controller[ON], controller[ENDPOINT], controller[OFF]
    print(
        "controller RSS with metrics and collection: %.1f MiB after the RPCs, %.1f MiB after the collection, "
        "%.1f MiB after the timed scrapes; with metrics, collection off (--appliance-metrics-interval 0): %.1f, "
        "%.1f MiB; without metrics: %.1f, %.1f MiB"
        % (
            on["rss_rpcs_mib"],
            on["rss_collected_mib"],
            on["rss_mib"],
            endpoint["rss_rpcs_mib"],
            endpoint["rss_mib"],
            off["rss_rpcs_mib"],
            off["rss_mib"],
        )
    )
    print(
        "controller scrape with collection off (no per-volume series): p50 %.1f ms, %.1f KiB, %d samples"
        % (endpoint["p50_ms"], endpoint["kib"], endpoint["samples"])
    )
    print()
    header = "%-10s %10s %10s %10s %9s %8s %10s %10s %9s %7s"
    print(
        header
        % (
            "endpoint",
            "scrape p50",
            "scrape p90",
            "slowest",
            "body KiB",
            "samples",
            "RSS on",
            "RSS off",
            "on - off",
            "on/off",
        )
    )
    for name, runs in (("controller", controller), ("node", node)):
        on, off = runs["on"], runs["off"]
        print(
            "%-10s %7.1f ms %7.1f ms %7.1f ms %9.1f %8d %6.1f MiB %6.1f MiB %5.1f MiB %7.3f"
            % (
                name,
                on["p50_ms"],
                on["p90_ms"],
                on["max_ms"],
                on["kib"],
                on["samples"],
                on["rss_mib"],
                off["rss_mib"],
                on["rss_mib"] - off["rss_mib"],
                on["rss_mib"] / off["rss_mib"],
            )
        )
    print()
    for name, runs in (("controller", controller), ("node", node)):
        on, off = runs["on"], runs["off"]
        print(
            "%s: scrape p50 / target %.2f (%s); RSS added %.1f MiB / target %.2f (%s)"
            % (
                name,
                on["p50_ms"] / SCRAPE_TARGET_MS,
                "met" if on["p50_ms"] < SCRAPE_TARGET_MS else "MISSED",
                on["rss_mib"] - off["rss_mib"],
                (on["rss_mib"] - off["rss_mib"]) / RSS_TARGET_MIB,
                "met" if on["rss_mib"] - off["rss_mib"] <= RSS_TARGET_MIB else "MISSED",
            )
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volumes", type=int, default=1000, help="volumes (default 1000)")
    parser.add_argument(
        "--scrapes", type=int, default=60, help="timed scrapes per endpoint, over one interval (default 60)"
    )
    parser.add_argument(
        "--interval", default="60", help="the controller's --appliance-metrics-interval in seconds (default 60)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rds-csi-bench-metrics-") as scratch:
        work = Path(scratch)
        controller = {ON: controller_run(work / "controller-on", args, ON, 0.0)}
        for mode in (ENDPOINT, OFF):
            controller[mode] = controller_run(work / ("controller-" + mode), args, mode, controller[ON]["wait_s"])
        node = {"off": node_run(work / "node-off", args, False), "on": node_run(work / "node-on", args, True)}
    report(args, controller, node)
    return 0


if __name__ == "__main__":
    sys.exit(main())
