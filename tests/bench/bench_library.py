"""Library benchmark against the emulator on loopback; prints ratios measured in this one run.

- raw: an exec round trip on an already open paramiko connection, no library code;
- get-disk: ``RdsClient.get_disk`` against the raw exec of the same ``print`` command;
- add+remove: ``add_disk`` + ``remove_disk`` against raw execs of exactly the commands the
  library sent for them (captured from its debug log), so the ratio is the library's overhead;
- parse: ``parse_detail`` + the disk model over a real 1,000-disk ``print detail``.

Targets (issue 2): library calls at most 1.5x the raw round trips; 1,000-disk parse under 0.1 s.
"""

from __future__ import annotations

import argparse
import logging
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, List

import paramiko
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import DiskSpec, ExportSpec, disk_from_item
from ansible_collections.srvlab.rds.plugins.module_utils.rds_versions import DiskFields
from ansible_collections.srvlab.rds.plugins.module_utils.routeros_output import parse_detail
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshSettings, SshTransport
from rds_emulator.process import EmulatorProcess, write_client_key

BASE = "/storage-pool/metal-csi"


class CommandLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.commands: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.commands.append(str(record.args[1]) if isinstance(record.args, tuple) else "")


def raw_exec(transport: paramiko.Transport, command: str) -> str:
    channel = transport.open_session()
    channel.exec_command(command)
    chunks = []
    while True:
        chunk = channel.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
    channel.recv_exit_status()
    channel.close()
    return b"".join(chunks).decode()


def timed(repeat: int, action: Callable[[int], object]) -> List[float]:
    samples = []
    for index in range(repeat):
        started = time.perf_counter()
        action(index)
        samples.append(time.perf_counter() - started)
    return samples


def report(name: str, samples: List[float], baseline: List[float] | None = None) -> None:
    p50 = statistics.median(samples)
    p99 = sorted(samples)[max(0, int(len(samples) * 0.99) - 1)]
    line = "%-22s n=%-5d p50=%7.2f ms  p99=%7.2f ms  %8.1f ops/s" % (
        name,
        len(samples),
        p50 * 1e3,
        p99 * 1e3,
        1 / p50,
    )
    if baseline is not None:
        line += "  ratio p50 %.2fx" % (p50 / statistics.median(baseline))
    print(line, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--disks", type=int, default=1000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rds-bench-") as scratch:
        key_file = Path(scratch) / "id_ed25519"
        authorized_keys = write_client_key(key_file)
        with EmulatorProcess(Path(scratch) / "state", authorized_keys, pool_size="64T") as emulator:
            settings = SshSettings(
                host=emulator.host,
                port=emulator.port,
                username="admin",
                private_key_file=str(key_file),
                host_key=emulator.host_key_line,
            )
            run(settings, options.repeat, options.disks)
    return 0


def run(settings: SshSettings, repeat: int, disk_count: int) -> None:
    sock = socket.create_connection((settings.host, settings.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # the same socket options as the library
    raw = paramiko.Transport(sock)
    raw.connect(username=settings.username, pkey=paramiko.PKey.from_path(str(settings.private_key_file)))
    transport = SshTransport(settings)
    rds = RdsClient(transport)
    rds.ensure_directory(BASE)
    spec = DiskSpec("pvc-bench", BASE + "/pvc-bench.img", 1 << 30, ExportSpec(nqn="nqn.2000-02.com.mikrotik:pvc-bench"))
    rds.add_disk(spec)
    print("emulator on %s:%d, %d samples per figure" % (settings.host, settings.port, repeat))

    identity = timed(repeat, lambda _: raw_exec(raw, "/system identity print"))
    report("raw exec identity", identity)

    get_command = '/disk print detail without-paging where slot="pvc-bench"'
    raw_get = timed(repeat, lambda _: raw_exec(raw, get_command))
    library_get = timed(repeat, lambda _: rds.get_disk("pvc-bench"))
    report("raw exec print slot", raw_get)
    report("library get_disk", library_get, raw_get)

    log = CommandLog()
    logger = logging.getLogger("srvlab.rds.ssh")
    logger.addHandler(log)
    logger.setLevel(logging.DEBUG)
    rounds = max(10, repeat // 6)

    def add_remove(index: int) -> None:
        slot = "pvc-cycle-%d" % index
        rds.add_disk(
            DiskSpec(slot, "%s/%s.img" % (BASE, slot), 1 << 30, ExportSpec(nqn="nqn.2000-02.com.mikrotik:" + slot))
        )
        rds.remove_disk(slot)

    library_cycle = timed(rounds, add_remove)
    logger.removeHandler(log)
    per_cycle = len(log.commands) // rounds
    commands = log.commands[:per_cycle]
    raw_cycle = timed(
        rounds,
        lambda index: [raw_exec(raw, command.replace("pvc-cycle-0", "pvc-raw-%d" % index)) for command in commands],
    )
    report("raw exec same cmds", raw_cycle)
    report("library add+remove", library_cycle, raw_cycle)
    print(
        "  add+remove sends %d commands: %s"
        % (per_cycle, "; ".join(command.split(" [")[0].split(" where")[0] for command in commands))
    )

    for index in range(disk_count):
        slot = "pvc-many-%04d" % index
        raw_exec(
            raw,
            '/disk add type=file file-path="%s/%s.img" file-size=1073741824 slot="%s" nvme-tcp-export=yes '
            'nvme-tcp-server-port=4420 nvme-tcp-server-nqn="nqn.2000-02.com.mikrotik:%s"' % (BASE, slot, slot, slot),
        )
    text = raw_exec(raw, "/disk print detail without-paging")
    names = DiskFields()

    def parse_only(_round: int) -> None:
        assert len(parse_detail(text)) > disk_count

    def parse_and_model(_round: int) -> None:
        assert len([disk_from_item(item, names) for item in parse_detail(text)]) > disk_count

    print(
        "%d-disk print detail: %d bytes, %d lines (target: parse < 100 ms)" % (disk_count, len(text), text.count("\n"))
    )
    for name, action in (("parse_detail", parse_only), ("parse + disk model", parse_and_model)):
        samples = timed(15, action)
        print(
            "  %-20s best=%6.1f ms  p50=%6.1f ms  (best is the code's own cost; p50 adds this machine's noise)"
            % (name, min(samples) * 1e3, statistics.median(samples) * 1e3)
        )
    transport.close()
    raw.close()


if __name__ == "__main__":
    sys.exit(main())
