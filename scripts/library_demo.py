"""The main job until the full demo playbook exists: a scripted session through the shared library.

Starts the RDS emulator with its documented command, connects over SSH with the emulator's host
key pinned, and creates, inspects, grows, copies and removes disks, printing what happened.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import DiskSpec, ExportSpec, RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import Disk, ManagedPolicy
from ansible_collections.srvlab.rds.plugins.module_utils.rds_sizes import format_size, parse_size
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshSettings, SshTransport
from rds_emulator.process import EmulatorProcess, write_client_key

BASE_PATH = "/storage-pool/metal-csi"
NQN_PREFIX = "nqn.2000-02.com.mikrotik:"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--state-dir", type=Path, help="keep the emulator's state here instead of a temporary directory"
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rds-demo-") as scratch:
        state_dir = options.state_dir or Path(scratch) / "state"
        key_file = Path(scratch) / "id_ed25519"
        authorized_keys = write_client_key(key_file)
        with EmulatorProcess(state_dir, authorized_keys, pool_size="20G") as emulator:
            step("emulator", "listening on %s:%d, state in %s" % (emulator.host, emulator.port, state_dir))
            step("host key", "pinned %s" % emulator.host_key_line.split()[0])
            settings = SshSettings(
                host=emulator.host,
                port=emulator.port,
                username="admin",
                private_key_file=str(key_file),
                host_key=emulator.host_key_line,
            )
            transport = SshTransport(settings)
            try:
                run_session(RdsClient(transport))
            finally:
                transport.close()
    return 0


def run_session(rds: RdsClient) -> None:
    started = time.monotonic()
    step("version", "RouterOS %s" % rds.version())
    show_capacity(rds)
    rds.ensure_directory(BASE_PATH)
    rds.ensure_directory("/storage-pool/system")

    volume = "pvc-%s" % uuid.uuid4()
    disk = rds.add_disk(
        DiskSpec(volume, "%s/%s.img" % (BASE_PATH, volume), parse_size("1G"), ExportSpec(nqn=NQN_PREFIX + volume))
    )
    step("create", describe(disk))
    system = rds.add_disk(
        DiskSpec(
            "nixos-demo-var",
            "/storage-pool/system/nixos-demo-var.img",
            parse_size("2G"),
            ExportSpec(nqn=NQN_PREFIX + "nixos-demo-var"),
        )
    )
    step("create", describe(system) + " (a diskless node's system volume)")
    again = rds.add_disk(
        DiskSpec(volume, "%s/%s.img" % (BASE_PATH, volume), parse_size("1G"), ExportSpec(nqn=NQN_PREFIX + volume))
    )
    step("create again", "idempotent: %s" % ("same disk" if again == disk else "DIFFERENT"))

    policy = ManagedPolicy()
    for listed in rds.list_disks():
        step(
            "inspect",
            "%s (%s)" % (describe(listed), "managed" if policy.is_managed(listed) else "not managed: read-only"),
        )

    grown = rds.resize_disk(volume, parse_size("1G") + 512 * 1024 * 1024 + 4096)
    step("grow", "%s is now exactly %d bytes" % (volume, grown.size or 0))

    snapshot = "snap-%s" % volume[4:]
    copy = rds.copy_disk(
        volume,
        DiskSpec(snapshot, "%s/%s.img" % (BASE_PATH, snapshot), grown.size or 0, comment="snapshot-of=%s" % volume),
    )
    step("copy", "%s from %s, comment %r" % (describe(copy), volume, copy.comment))
    clone = "pvc-%s" % uuid.uuid4()
    bigger = rds.copy_disk(
        snapshot,
        DiskSpec(clone, "%s/%s.img" % (BASE_PATH, clone), parse_size("3G"), ExportSpec(nqn=NQN_PREFIX + clone)),
    )
    step("copy+grow", describe(bigger))

    for entry in rds.list_files(r"\.img$"):
        step("file", "%s %s" % (entry.path, format_size(entry.size or 0)))
    show_capacity(rds)

    for slot in (clone, snapshot, volume, "nixos-demo-var"):
        step("remove", "%s: %s" % (slot, "removed with its file" if rds.remove_disk(slot) else "already gone"))
    step(
        "remove again",
        "%s: %s" % (volume, "removed" if rds.remove_disk(volume) else "already gone (idempotent)"),
    )
    leftovers = [entry.path for entry in rds.list_files(r"\.img$")]
    step("leftovers", ", ".join(leftovers) if leftovers else "none: no disk, no backing file")
    show_capacity(rds)
    step("done", "%.2f s" % (time.monotonic() - started))


def describe(disk: Disk) -> str:
    export = "exported as %s:%d" % (disk.export.nqn, disk.export.port or 0) if disk.export.enabled else "not exported"
    return "%s %s (%d bytes) %s" % (disk.slot, format_size(disk.size or 0), disk.size or 0, export)


def show_capacity(rds: RdsClient) -> None:
    pool = rds.pool_capacity()
    step("capacity", "%s: %s of %s free" % (pool.pool, format_size(pool.free), format_size(pool.size)))


def step(what: str, detail: str) -> None:
    print("%-13s %s" % (what, detail), flush=True)


if __name__ == "__main__":
    sys.exit(main())
