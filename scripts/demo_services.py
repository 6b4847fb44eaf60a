"""The demo's local services, started and stopped by playbooks/demo.yml: the RDS emulator, the test
NVMe fabric on loop devices, and the driver built from its wheel. Each ``start-*`` prints the facts
the playbook needs as one JSON object; ``stop`` undoes everything a previous run left, in order
(driver, mounts under the demo directory, fabric, emulator), and is safe to run twice.

Everything lives under one directory (``--dir``); processes are detached with their pid in a file
there, so the playbook's tasks return while they keep running.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from rds_emulator.hostkey import write_ed25519_key
from rds_emulator.nvme_fabric.fabric import TestFabric

START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
T = TypeVar("T")
LISTENING = re.compile(r"listening on (?P<host>[^\s:]+):(?P<port>\d+)")


def start_emulator(work: Path, pool_size: str) -> dict[str, str | int]:
    state = work / "rds-state"
    state.mkdir(parents=True, exist_ok=True)
    admin_key = work / "keys" / "admin_ed25519"
    admin_key.parent.mkdir(parents=True, exist_ok=True)
    authorized = admin_key.with_name("admin_ed25519.authorized_keys")
    if not admin_key.exists():
        authorized.write_bytes(write_ed25519_key(admin_key) + b" demo-admin\n")
    driver_key = work / "keys" / "driver_ed25519"
    driver_public = driver_key.with_name("driver_ed25519.pub")
    if not driver_key.exists():
        driver_public.write_bytes(write_ed25519_key(driver_key) + b" rds-csi-demo\n")
    log = work / "emulator.log"
    command = [
        str(Path(sys.executable).with_name("rds-emulator")),
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--state-dir",
        str(state),
        "--authorized-keys",
        str(authorized),
        "--pool-size",
        pool_size,
    ]
    process = detach(command, log, work / "emulator.pid")
    match = wait_for(lambda: LISTENING.search(log.read_text()), "the emulator to listen", log, process)
    return {
        "address": match.group("host"),
        "port": int(match.group("port")),
        "host_key": (state / "ssh_host_ed25519_key.pub").read_text().strip(),
        "admin_key_file": str(admin_key),
        "driver_key_file": str(driver_key),
        "driver_public_key": driver_public.read_text().strip(),
        "state_dir": str(state),
    }


def create_fabric(work: Path) -> dict[str, str]:
    fabric_dir = work / "fabric"
    fabric = TestFabric.create(fabric_dir, work / "rds-state", work / "node" / "sys", work / "node" / "dev")
    nvme = fabric.write_nvme_executable(work / "node" / "bin" / "nvme")
    host_nqn_file = work / "node" / "etc" / "nvme" / "hostnqn"
    host_nqn_file.parent.mkdir(parents=True, exist_ok=True)
    host_nqn_file.write_text(fabric.config.hostnqn + "\n")
    return {
        "nvme_binary": str(nvme),
        "sysfs_root": str(fabric.config.sysfs_root),
        "dev_root": str(fabric.config.dev_root),
        "host_nqn_file": str(host_nqn_file),
        "host_nqn": fabric.config.hostnqn,
    }


def start_driver(work: Path, executable: str, driver_args: list[str]) -> dict[str, str]:
    socket = work / "csi" / "csi.sock"
    socket.parent.mkdir(parents=True, exist_ok=True)
    log = work / "driver.log"
    process = detach([executable, "--endpoint=unix://%s" % socket, *driver_args], log, work / "driver.pid")
    wait_for(lambda: socket.is_socket() or None, "the driver's socket %s" % socket, log, process)
    return {"endpoint": "unix://%s" % socket, "log": str(log), "pid": str(process.pid)}


def stop(work: Path) -> list[str]:
    done = []
    if stop_process(work / "driver.pid"):
        done.append("driver stopped")
    for mount_point in mounts_under(work):
        subprocess.run(["umount", mount_point], check=False, timeout=STOP_TIMEOUT)
        done.append("unmounted %s" % mount_point)
    if (work / "fabric").is_dir():
        try:
            TestFabric.open(work / "fabric").teardown()
            done.append("fabric torn down")
        except FileNotFoundError:
            pass
    if stop_process(work / "emulator.pid"):
        done.append("emulator stopped")
    return done


def mounts_under(work: Path) -> list[str]:
    """Mount points below the demo directory, deepest first (a failed run may leave some)."""
    prefix = str(work.resolve()) + "/"
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point.startswith(prefix):
            points.append(point)
    return sorted(points, key=len, reverse=True)


def detach(command: list[str], log: Path, pid_file: Path) -> subprocess.Popen[bytes]:
    stop_process(pid_file)
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    pid_file.write_text("%d\n" % process.pid)
    return process


def stop_process(pid_file: Path) -> bool:
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text())
    pid_file.unlink()
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return True


def wait_for(check: Callable[[], T | None], what: str, log: Path, process: subprocess.Popen[bytes]) -> T:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise SystemExit("Timed out waiting for %s; its log %s ends with:\n%s" % (what, log, log.read_text()[-2000:]))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="start-driver passes every argument after -- to the driver.",
    )
    parser.add_argument("action", choices=("start-emulator", "create-fabric", "start-driver", "stop"))
    parser.add_argument("--dir", type=Path, required=True, help="the demo's working directory")
    parser.add_argument("--pool-size", default="50G", help="the emulated storage pool (start-emulator)")
    parser.add_argument("--driver", help="the installed rds-csi-driver executable (start-driver)")
    arguments = sys.argv[1:]
    split = arguments.index("--") if "--" in arguments else len(arguments)
    options = parser.parse_args(arguments[:split])
    driver_args = arguments[split + 1 :]  # everything after -- goes to the driver unchanged
    work: Path = options.dir.absolute()
    work.mkdir(parents=True, exist_ok=True)
    if options.action == "start-emulator":
        facts: object = start_emulator(work, options.pool_size)
    elif options.action == "create-fabric":
        facts = create_fabric(work)
    elif options.action == "start-driver":
        if not options.driver:
            parser.error("start-driver needs --driver")
        facts = start_driver(work, options.driver, driver_args)
    else:
        facts = {"done": stop(work)}
    print(json.dumps(facts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
