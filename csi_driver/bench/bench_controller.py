"""Controller benchmark: CreateVolume+DeleteVolume through the driver's gRPC socket against the
same library calls made directly, on one emulator, in one run; prints figures and ratios.

- The emulator runs as a subprocess with 50 ms added to every command (``latency:0.05``) and
  ``--max-sessions 16``; the driver runs as a subprocess with ``--rds-max-sessions 16``; the
  direct path uses an ``RdsClient`` with ``max_sessions=16``. The emulator refuses a 17th
  concurrent session, so ``sessions_refused == 0`` proves the bound held.
- The direct path makes exactly the library calls the driver makes for the pair: ``add_disk``
  (a survey and the create with its read-back; the volume directory is ensured once, as the
  driver remembers it), then ``survey`` (the driver's ownership check, P-4.7) and
  ``remove_known_disk`` (disk and file removed and verified in one exec).
- Round trips: each controller RPC once, counting the emulator's exec requests around it.
- Each operation of a pair is timed on its own, so the report gives p50 and p99 per operation
  (CreateVolume, DeleteVolume) as well as per pair, and the gRPC path's addition for each.
- Concurrency 1 alternates the paths pair by pair, concurrency 16 batch by batch, so load from
  other processes on a shared machine hits them all alike.
- Two gRPC clients: grpcio's (what a Python caller sees, its own threads included) and
  ``wire_client.WireClient``, which times each RPC on the socket, from the request's bytes leaving
  the process to the response's arriving: the driver's side of the path, which is what the Go
  sidecars see (one connection per thread).
- The addition is also measured call by call: each RPC's time minus the driver's own time for
  it (its ``rpc done`` log line), which removes the RDS's jitter from the figure; the driver's
  own time is compared with the library's.
- RSS of the driver process: idle after start, then after ``--rss-pairs`` create+delete pairs
  with the latency switched off (the pairs are the same RPCs; only the wait is removed).

Targets (issue 4): gRPC adds <= 2 ms at p50 per operation; 16 streams >= 8x one stream; RSS <= 80 MiB.
Run: ``.venv/bin/python csi_driver/bench/bench_controller.py`` from the repository root.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import DiskSpec, ExportSpec
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshSettings, SshTransport
from rds_emulator.process import EmulatorProcess, write_client_key

DRIVER_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(DRIVER_DIR))

from bench.wire_client import WireClient  # noqa: E402
from rds_csi.proto import csi_pb2, csi_pb2_grpc  # noqa: E402

BASE = "/storage-pool/metal-csi"
GIB = 1024**3
SESSIONS = 16


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


OPERATIONS = ("CreateVolume", "DeleteVolume")
Pair = Callable[[str], tuple[float, float]]  # runs one create+delete pair: seconds of each


def run_pairs(concurrency: int, pairs: int, pair: Pair) -> tuple[dict[str, list[float]], float]:
    """Run ``pairs`` create+delete pairs on ``concurrency`` threads: seconds per pair and per
    operation, elapsed seconds."""
    samples: dict[str, list[float]] = {"pair": [], **{name: [] for name in OPERATIONS}}
    lock = threading.Lock()

    def one(index: int) -> None:
        create, delete = pair("pvc-%s" % uuid.uuid4())  # the provisioner's form: the driver keeps it as the slot
        with lock:
            samples["pair"].append(create + delete)
            samples["CreateVolume"].append(create)
            samples["DeleteVolume"].append(delete)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(pairs)))
    return samples, time.perf_counter() - started


def compare(concurrency: int, pairs: int, rounds: int, paths: dict[str, Pair], pids: dict[str, int]) -> dict[str, Any]:
    """Alternate the paths in ``rounds`` batches so that load from elsewhere hits both alike."""
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in paths}
    elapsed = dict.fromkeys(paths, 0.0)
    cpu = {name: dict.fromkeys(pids, 0.0) for name in paths}
    for _round in range(rounds):
        for name, pair in paths.items():
            before = {who: cpu_seconds(pid) for who, pid in pids.items()}
            batch, seconds = run_pairs(concurrency, max(1, pairs // rounds), pair)
            for kind, values in batch.items():
                samples[name].setdefault(kind, []).extend(values)
            elapsed[name] += seconds
            for who, pid in pids.items():
                cpu[name][who] += cpu_seconds(pid) - before[who]
    results = {}
    for name in paths:
        count = len(samples[name]["pair"])
        figures: dict[str, Any] = {
            kind: {
                "p50_ms": statistics.median(values) * 1000,
                "p99_ms": percentile(values, 0.99) * 1000,
            }
            for kind, values in samples[name].items()
        }
        figures["ops_s"] = count / elapsed[name]
        figures.update({"cpu_" + who: seconds * 1000 / count for who, seconds in cpu[name].items()})
        results["%s-c%d" % (name, concurrency)] = figures
    return results


def rss_mib(pid: int) -> float:
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS for pid %d" % pid)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (or of this process for pid 0)."""
    if pid == 0:
        times = os.times()
        return times.user + times.system
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def set_latency(state: Path, seconds: float) -> None:
    spec = ["latency:%s" % seconds] if seconds else ["--clear"]
    subprocess.run([sys.executable, "-m", "rds_emulator.cli", "fault", "--state-dir", str(state), *spec], check=True)
    time.sleep(0.5)  # the server re-reads faults.json every 0.2 s


def start_driver(work: Path, emulator: EmulatorProcess, key: Path) -> tuple[subprocess.Popen[bytes], Any]:
    socket = work / "bench.sock"
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
        "--rds-max-sessions=%d" % SESSIONS,
    ]
    log = (work / "driver.log").open("wb")
    process = subprocess.Popen(command, env=env, stderr=log)
    channel = grpc.insecure_channel("unix:%s" % socket)
    grpc.channel_ready_future(channel).result(timeout=30)
    return process, channel


def emulator_pid(emulator: EmulatorProcess) -> int:
    process = emulator._process  # the benchmark reads the emulator's CPU time from /proc
    assert process is not None
    return process.pid


Timed = Callable[[str], tuple[str, float]]  # one RPC on a name or volume ID: the volume ID, seconds


def create_request(name: str) -> Any:
    capability = csi_pb2.VolumeCapability(
        mount=csi_pb2.VolumeCapability.MountVolume(fs_type="ext4"),
        access_mode=csi_pb2.VolumeCapability.AccessMode(mode=csi_pb2.VolumeCapability.AccessMode.SINGLE_NODE_WRITER),
    )
    return csi_pb2.CreateVolumeRequest(
        name=name, capacity_range=csi_pb2.CapacityRange(required_bytes=GIB), volume_capabilities=[capability]
    )


def grpcio_operations(controller: Any) -> tuple[Timed, Timed]:
    """CreateVolume and DeleteVolume through grpcio's client: seconds as the caller sees them."""

    def create(name: str) -> tuple[str, float]:
        started = time.perf_counter()
        volume = controller.CreateVolume(create_request(name)).volume
        return volume.volume_id, time.perf_counter() - started

    def delete(volume_id: str) -> tuple[str, float]:
        started = time.perf_counter()
        controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=volume_id))
        return volume_id, time.perf_counter() - started

    return create, delete


class WireClients:
    """One ``WireClient`` per calling thread, as each serves one call at a time; a new connection
    makes one GetPluginInfo call first, so that the HTTP/2 handshake stays out of the figures."""

    def __init__(self, socket_path: str) -> None:
        self._socket_path = socket_path
        self._local = threading.local()
        self._opened: list[WireClient] = []
        self._lock = threading.Lock()

    def __call__(self) -> WireClient:
        client: WireClient | None = getattr(self._local, "client", None)
        if client is None:
            client = WireClient(self._socket_path)
            client.call("/csi.v1.Identity/GetPluginInfo", csi_pb2.GetPluginInfoRequest(), csi_pb2.GetPluginInfoResponse)
            self._local.client = client
            with self._lock:
                self._opened.append(client)
        return client

    def close(self) -> None:
        for client in self._opened:
            client.close()


def wire_operations(clients: WireClients) -> tuple[Timed, Timed]:
    """CreateVolume and DeleteVolume timed on the socket: seconds from the request's bytes leaving
    this process to the response's arriving (the driver's side, without a client library's own)."""

    def create(name: str) -> tuple[str, float]:
        response, seconds = clients().call(
            "/csi.v1.Controller/CreateVolume", create_request(name), csi_pb2.CreateVolumeResponse
        )
        return response.volume.volume_id, seconds

    def delete(volume_id: str) -> tuple[str, float]:
        request = csi_pb2.DeleteVolumeRequest(volume_id=volume_id)
        _response, seconds = clients().call("/csi.v1.Controller/DeleteVolume", request, csi_pb2.DeleteVolumeResponse)
        return volume_id, seconds

    return create, delete


def rpc_pair(operations: tuple[Timed, Timed], client_ms: dict[str, dict[str, float]] | None = None) -> Pair:
    """A pair of RPCs; with ``client_ms``, each RPC's time is kept by operation and volume, to be set
    against the driver's own time for it."""
    create, delete = operations

    def pair(name: str) -> tuple[float, float]:
        volume_id, create_seconds = create(name)
        _volume_id, delete_seconds = delete(volume_id)
        if client_ms is not None:
            client_ms["CreateVolume"][name] = create_seconds * 1000
            client_ms["DeleteVolume"][volume_id] = delete_seconds * 1000
        return create_seconds, delete_seconds

    return pair


def server_side_ms(log: Path) -> dict[str, dict[str, float]]:
    """The driver's own time of each CreateVolume and DeleteVolume, by volume, from its ``rpc done`` lines."""
    spent: dict[str, dict[str, float]] = {name: {} for name in OPERATIONS}
    for line in log.read_text().splitlines():
        if 'msg="rpc done"' not in line:
            continue
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        if fields.get("rpc") in spent:
            volume = fields.get("name") or fields.get("volume_id", "")
            spent[fields["rpc"]][volume] = float(fields["ms"])
    return spent


def noop_rpc_ms(identity: Any, count: int, idle: float = 0.0) -> list[float]:
    """Round trips of GetPluginInfo: the gRPC cost of one call with no RDS work behind it, back to back or
    each after ``idle`` seconds of quiet (as between the RPCs of a pair, which wait on the RDS)."""
    samples = []
    for _index in range(count):
        time.sleep(idle)
        started = time.perf_counter()
        identity.GetPluginInfo(csi_pb2.GetPluginInfoRequest())
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def library_pair(client: RdsClient) -> Pair:
    def pair(name: str) -> tuple[float, float]:
        spec = DiskSpec(
            slot=name,
            file_path="%s/%s.img" % (BASE, name),
            size=GIB,
            export=ExportSpec(nqn="nqn.2000-02.com.mikrotik:" + name),
        )
        started = time.perf_counter()
        client.add_disk(spec)
        created = time.perf_counter()
        found = client.survey(slots=[name], files=[spec.file_path])
        client.remove_known_disk(found.disks[name])
        return created - started, time.perf_counter() - created

    return pair


def exec_requests(state: Path) -> int:
    """The emulator's count of exec requests (round trips) so far, once its stats file has caught up."""
    time.sleep(0.6)  # stats.json is rewritten at most every 0.25 s after a change
    return int(json.loads((state / "stats.json").read_text())["exec_requests"])


def round_trips_per_rpc(controller: Any, state: Path) -> list[tuple[str, int]]:
    """Exec requests each controller RPC sends to the RDS, once the volume directory is known."""
    volume, restored, snapshot = ("%s-%s" % (kind, uuid.uuid4()) for kind in ("pvc", "pvc", "snapshot"))
    restore = create_request(restored)
    restore.volume_content_source.snapshot.snapshot_id = snapshot
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("CreateVolume", lambda: controller.CreateVolume(create_request(volume))),
        (
            "ControllerExpandVolume",
            lambda: controller.ControllerExpandVolume(
                csi_pb2.ControllerExpandVolumeRequest(
                    volume_id=volume, capacity_range=csi_pb2.CapacityRange(required_bytes=2 * GIB)
                )
            ),
        ),
        (
            "CreateSnapshot",
            lambda: controller.CreateSnapshot(csi_pb2.CreateSnapshotRequest(name=snapshot, source_volume_id=volume)),
        ),
        ("CreateVolume (restore)", lambda: controller.CreateVolume(restore)),
        ("DeleteSnapshot", lambda: controller.DeleteSnapshot(csi_pb2.DeleteSnapshotRequest(snapshot_id=snapshot))),
        ("DeleteVolume", lambda: controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=volume))),
        ("DeleteVolume (unknown ID)", lambda: controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=volume))),
        ("ListVolumes", lambda: controller.ListVolumes(csi_pb2.ListVolumesRequest())),
    ]
    counts = []
    for name, call in steps:
        before = exec_requests(state)
        call()
        counts.append((name, exec_requests(state) - before))
    controller.DeleteVolume(csi_pb2.DeleteVolumeRequest(volume_id=restored))
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs-single", type=int, default=40, help="pairs at concurrency 1 (default 40)")
    parser.add_argument("--pairs-parallel", type=int, default=96, help="pairs at concurrency 16 (default 96)")
    parser.add_argument("--rss-pairs", type=int, default=1000, help="pairs for the RSS figure (default 1000)")
    parser.add_argument("--latency", type=float, default=0.05, help="emulator latency per command (default 0.05)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rds-csi-bench-") as scratch:
        work = Path(scratch)
        key = work / "id_ed25519"
        authorized = write_client_key(key)
        state = work / "state"
        extra = ["--max-sessions", str(SESSIONS), "--fault", "latency:%s" % args.latency]
        with EmulatorProcess(state, authorized, *extra) as emulator:
            return measure(args, work, state, emulator, key)


def measure(args: argparse.Namespace, work: Path, state: Path, emulator: EmulatorProcess, key: Path) -> int:
    settings = SshSettings(
        host=emulator.host,
        port=emulator.port,
        username="admin",
        private_key_file=str(key),
        host_key=emulator.host_key_line,
        max_sessions=SESSIONS,
    )
    transport = SshTransport(settings)
    client = RdsClient(transport)
    client.ensure_directory(BASE)
    process, channel = start_driver(work, emulator, key)
    wire = WireClients(str(work / "bench.sock"))
    try:
        controller = csi_pb2_grpc.ControllerStub(channel)
        idle = rss_mib(process.pid)
        pids = {"emulator": emulator_pid(emulator), "driver": process.pid, "client": 0}
        grpcio, on_wire = grpcio_operations(controller), wire_operations(wire)
        library = library_pair(client)
        for pair in (library, rpc_pair(grpcio), rpc_pair(on_wire)):
            pair("pvc-%s" % uuid.uuid4())  # connect and read the version outside the measurement
        round_trips = round_trips_per_rpc(controller, state)
        client_ms: dict[str, dict[str, dict[str, float]]] = {
            label: {name: {} for name in OPERATIONS}
            for label in ("grpc-c1", "wire-c1", "grpc-c%d" % SESSIONS, "wire-c%d" % SESSIONS)
        }
        single = {
            "library": library,
            "grpc": rpc_pair(grpcio, client_ms["grpc-c1"]),
            "wire": rpc_pair(on_wire, client_ms["wire-c1"]),
        }
        results = compare(1, args.pairs_single, args.pairs_single, single, pids)
        parallel = {
            "library": library,
            "grpc": rpc_pair(grpcio, client_ms["grpc-c%d" % SESSIONS]),
            "wire": rpc_pair(on_wire, client_ms["wire-c%d" % SESSIONS]),
        }
        results.update(compare(SESSIONS, args.pairs_parallel, 2, parallel, pids))
        identity = csi_pb2_grpc.IdentityStub(channel)
        noop = (noop_rpc_ms(identity, 200), noop_rpc_ms(identity, 20, idle=0.25))
        after_latency = rss_mib(process.pid)
        set_latency(state, 0)
        rss_samples, rss_seconds = run_pairs(SESSIONS, args.rss_pairs, rpc_pair(grpcio))
        after = rss_mib(process.pid)
        stats = json.loads((state / "stats.json").read_text())
    finally:
        wire.close()
        channel.close()
        process.terminate()
        process.wait(timeout=30)
        transport.close()
    print("RDS round trips (exec requests) per RPC: " + ", ".join("%s %d" % entry for entry in round_trips))
    report(args, results, (idle, after_latency, after), len(rss_samples["pair"]) / rss_seconds, stats)
    report_split(results, client_ms, server_side_ms(work / "driver.log"), noop)
    return 0


def library_label(label: str) -> str:
    """The library's results at the concurrency of ``label`` (``grpc-c16`` -> ``library-c16``)."""
    return "library-" + label.split("-")[1]


def report(
    args: argparse.Namespace,
    results: dict[str, Any],
    rss: tuple[float, float, float],
    rss_pairs_per_second: float,
    stats: dict[str, Any],
) -> None:
    idle, after_latency, after = rss
    print("CreateVolume+DeleteVolume pairs, emulator latency %.0f ms per command" % (args.latency * 1000))
    print("p50/p99 in ms per pair and per operation; CPU ms per pair of each process (2 cores shared by all three)")
    header = ("path", "pair p50", "pair p99", "create p50", "delete p50", "pairs/s", "cpu emul", "cpu drv", "cpu cli")
    print("%-12s %9s %9s %10s %10s %8s %9s %8s %8s" % header)
    for name, figures in results.items():
        print(
            "%-12s %9.1f %9.1f %10.1f %10.1f %8.2f %9.1f %8.1f %8.1f"
            % (
                name,
                figures["pair"]["p50_ms"],
                figures["pair"]["p99_ms"],
                figures["CreateVolume"]["p50_ms"],
                figures["DeleteVolume"]["p50_ms"],
                figures["ops_s"],
                figures["cpu_emulator"],
                figures["cpu_driver"],
                figures["cpu_client"],
            )
        )
    for label, figures in results.items():
        if label.startswith("library"):
            continue
        client_name = "wire" if label.startswith("wire") else "grpcio"
        library = results[library_label(label)]
        added = {kind: figures[kind]["p50_ms"] - library[kind]["p50_ms"] for kind in (*OPERATIONS, "pair")}
        print(
            "gRPC adds at p50, %s (%s client): CreateVolume %+.1f ms, DeleteVolume %+.1f ms, pair %+.1f ms "
            "(ratio %.3f)"
            % (
                label,
                client_name,
                added["CreateVolume"],
                added["DeleteVolume"],
                added["pair"],
                figures["pair"]["p50_ms"] / library["pair"]["p50_ms"],
            )
        )
    scale = results["grpc-c16"]["ops_s"] / results["grpc-c1"]["ops_s"]
    scale_lib = results["library-c16"]["ops_s"] / results["library-c1"]["ops_s"]
    print("16 streams / 1 stream throughput: gRPC %.1fx, library %.1fx (target >= 8x)" % (scale, scale_lib))
    print(
        "emulator sessions: peak %d, refused %d (bound %d)"
        % (stats.get("sessions_peak", -1), stats.get("sessions_refused", -1), SESSIONS)
    )
    print(
        "driver RSS: idle %.1f MiB, after the latency runs %.1f MiB, after %d more pairs (no latency, %.0f pairs/s) "
        "%.1f MiB (target <= 80 MiB)" % (idle, after_latency, args.rss_pairs, rss_pairs_per_second, after)
    )


def report_split(
    results: dict[str, Any],
    client_ms: dict[str, dict[str, dict[str, float]]],
    server_ms: dict[str, dict[str, float]],
    noop: tuple[list[float], list[float]],
) -> None:
    """Call by call: what each RPC took beyond the driver's own time for it (the RDS's jitter cancels
    out), and the driver's own time against the library's for the same operation."""
    print("call by call: RPC time minus the driver's own time for it (its rpc done line); target <= 2 ms p50 each")
    for label, kept in client_ms.items():
        for kind in OPERATIONS:
            both = [volume for volume in kept[kind] if volume in server_ms[kind]]
            added = [kept[kind][volume] - server_ms[kind][volume] for volume in both]
            driver_p50 = statistics.median(server_ms[kind][volume] for volume in both)
            library_p50 = results[library_label(label)][kind]["p50_ms"]
            print(
                "  %-9s %-12s (%3d calls): gRPC adds p50 %.2f ms, p99 %.2f ms; driver's own time p50 %.1f ms, "
                "library %.1f ms (%+.1f ms)"
                % (
                    label,
                    kind,
                    len(added),
                    statistics.median(added),
                    percentile(added, 0.99),
                    driver_p50,
                    library_p50,
                    driver_p50 - library_p50,
                )
            )
    hot, idle = noop
    print(
        "no-op RPC (GetPluginInfo, grpcio client) round trip: p50 %.2f ms back to back, p50 %.2f ms after 0.25 s idle"
        % (statistics.median(hot), statistics.median(idle))
    )


if __name__ == "__main__":
    sys.exit(main())
