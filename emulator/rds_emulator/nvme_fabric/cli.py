"""`rds-test-nvme --fabric-dir DIR <nvme arguments>`: the nvme-cli 2.3 (Debian 12) subset the node
code uses, with its output, messages and exit codes (NVME_HOST.md §2), acting on a test fabric."""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from .connect_checks import DEFAULT_TRSVCID, ConnectRequest
from .errors import FabricError, UnknownDevice
from .fabric import BACKGROUND_SCAN_COMMAND, TestFabric, new_hostnqn
from .listing import json_c_pretty, libnvme_topology, list_simple, list_subsys, list_verbose
from .naming import controller_name, subsystem_name
from .sysfs_tree import format_address

FABRIC_DIR_ENV = "RDS_TEST_NVME_FABRIC_DIR"
_NAMESPACE = re.compile(r"nvme\d+n\d+\Z")


class UsageError(Exception):
    """Bad arguments: nvme-cli prints the problem and exits 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _connect_parser() -> _Parser:
    parser = _Parser(prog="nvme connect", add_help=False)
    parser.add_argument("-t", "--transport")
    parser.add_argument("-n", "--nqn")
    parser.add_argument("-a", "--traddr")
    parser.add_argument("-s", "--trsvcid")
    parser.add_argument("-w", "--host-traddr", default="")
    parser.add_argument("-f", "--host-iface", default="")
    parser.add_argument("-q", "--hostnqn")
    parser.add_argument("-I", "--hostid")
    parser.add_argument("-S", "--dhchap-secret", default="")
    parser.add_argument("-C", "--dhchap-ctrl-secret", default="")
    parser.add_argument("-l", "--ctrl-loss-tmo", type=int, default=600)
    parser.add_argument("-c", "--reconnect-delay", type=int, default=0)
    parser.add_argument("-k", "--keep-alive-tmo", type=int, default=0)
    parser.add_argument("-F", "--fast_io_fail_tmo", type=int)
    parser.add_argument("-i", "--nr-io-queues", type=int)
    parser.add_argument("-W", "--nr-write-queues", type=int)
    parser.add_argument("-P", "--nr-poll-queues", type=int)
    parser.add_argument("-Q", "--queue-size", type=int)
    parser.add_argument("-T", "--tos", type=int)
    parser.add_argument("-D", "--duplicate-connect", action="store_true")
    parser.add_argument("-d", "--disable-sqflow", action="store_true")
    parser.add_argument("-g", "--hdr-digest", action="store_true")
    parser.add_argument("-G", "--data-digest", action="store_true")
    parser.add_argument("-J", "--config")
    parser.add_argument("-O", "--dump-config", action="store_true")
    parser.add_argument("-o", "--output-format", default="")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    return parser


def connect(fabric: TestFabric, arguments: Sequence[str], out: TextIO) -> int:
    options = _connect_parser().parse_args(arguments)
    if not options.nqn:
        raise UsageError("required argument [--nqn | -n] not specified")
    if not options.transport:
        raise UsageError("required argument [--transport | -t] not specified")
    if not options.traddr:
        raise UsageError("need a address (-a) argument")
    # nvme-cli 2.3 checks -D only from 2.9 on; ignoring it here is the 2.3 behaviour.
    name = fabric.connect(
        ConnectRequest(
            nqn=options.nqn,
            traddr=options.traddr,
            trsvcid=options.trsvcid or DEFAULT_TRSVCID,
            transport=options.transport,
            hostnqn=options.hostnqn,
            hostid=options.hostid,
            ctrl_loss_tmo=options.ctrl_loss_tmo,
            reconnect_delay=options.reconnect_delay,
            kato=options.keep_alive_tmo,
            dhchap_secret=options.dhchap_secret,
            dhchap_ctrl_secret=options.dhchap_ctrl_secret,
            host_traddr=options.host_traddr,
            host_iface=options.host_iface,
        )
    )
    if options.output_format == "json":
        out.write(json_c_pretty({"device": name}) + "\n")
    elif fabric.config.cli_profile.announces_connect:
        out.write(f"connecting to device: {name}\n")
    elif options.output_format == "normal":
        out.write(f"device: {name}\n")
    return 0


def disconnect(fabric: TestFabric, arguments: Sequence[str], out: TextIO) -> int:
    parser = _Parser(prog="nvme disconnect", add_help=False)
    parser.add_argument("-n", "--nqn")
    parser.add_argument("-d", "--device")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    options = parser.parse_args(arguments)
    if options.nqn:
        for nqn in options.nqn.split(","):
            count = fabric.disconnect_nqn(nqn)
            out.write(f"NQN:{nqn} disconnected {count} controller(s)\n")
        return 0
    if options.device:
        for device in options.device.split(","):
            fabric.disconnect_controller(Path(device).name)
        return 0
    raise UsageError("Neither device name [--device | -d] nor NQN [--nqn | -n] provided")


def _output_options(prog: str, arguments: Sequence[str], device: bool) -> argparse.Namespace:
    parser = _Parser(prog=prog, add_help=False)
    parser.add_argument("-o", "--output-format", default="normal")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    if device:
        parser.add_argument("device", nargs="?")
    options = parser.parse_args(arguments)
    if options.output_format not in ("normal", "json"):
        raise UsageError(f"Invalid output format: {options.output_format}")
    return options


def list_subsystems(fabric: TestFabric, arguments: Sequence[str], out: TextIO) -> int:
    options = _output_options("nvme list-subsys", arguments, device=True)
    state = fabric.snapshot()
    if options.device:
        name = Path(options.device).name
        if not _NAMESPACE.match(name):
            raise UsageError("Invalid device name")
        disk = next((item for item in state.disks if item.name == name), None)
        if disk is None:
            raise FabricError([f"Failed to open {options.device}: No such file or directory"])
        state.controllers = [item for item in state.controllers if item.subsystem == disk.subsystem]
        state.subsystems = [item for item in state.subsystems if item.instance == disk.subsystem]
    if options.output_format == "json":
        out.write(json_c_pretty(list_subsys(state, fabric.config)) + "\n")
        return 0
    for _host, subsystems in libnvme_topology(state, (fabric.config.hostnqn, fabric.config.hostid)):
        for subsystem, controllers in subsystems:
            out.write(f"{subsystem_name(subsystem.instance)} - NQN={subsystem.nqn}\n\\\n")
            for controller in controllers:
                out.write(
                    f" +- {controller_name(controller.instance)} {controller.transport} "
                    f"{format_address(controller)} {controller.state}\n"
                )
    return 0


def list_devices(fabric: TestFabric, arguments: Sequence[str], out: TextIO) -> int:
    options = _output_options("nvme list", arguments, device=False)
    if options.output_format != "json":
        raise UsageError("the test fabric prints `nvme list` only with -o json")
    state = fabric.snapshot()
    document = list_verbose(state, fabric.config) if options.verbose else list_simple(state, fabric.config)
    out.write(json_c_pretty(document) + "\n")
    return 0


_USAGE_NS_RESCAN = "usage: nvme ns-rescan <device> [OPTIONS]"


def ns_rescan(fabric: TestFabric, arguments: Sequence[str], out: TextIO) -> int:
    parser = _Parser(prog="nvme ns-rescan", add_help=False)
    parser.add_argument("device", nargs="?")
    options = parser.parse_args(arguments)
    if not options.device:
        raise UsageError("ns-rescan: a device (/dev/nvmeN) is required")
    name = Path(options.device).name
    if fabric.snapshot().controller_named(name) is None:
        raise FabricError([f"{options.device}: No such file or directory", _USAGE_NS_RESCAN])
    fabric.rescan(name)
    return 0


def background_scan(fabric: TestFabric, arguments: Sequence[str], out: TextIO) -> int:
    """Internal: the delayed namespace scan started by `connect` or `ns-rescan` (scan_delay > 0)."""
    name, delay = arguments
    time.sleep(float(delay))
    try:
        fabric.scan_now(name)
    except (UnknownDevice, FileNotFoundError):
        return 0  # disconnected or torn down meanwhile: the kernel would drop the scan too
    return 0


def gen_hostnqn(fabric: TestFabric, arguments: Sequence[str], out: TextIO) -> int:
    out.write(new_hostnqn() + "\n")
    return 0


def show_hostnqn(fabric: TestFabric, arguments: Sequence[str], out: TextIO) -> int:
    out.write(fabric.config.hostnqn + "\n")
    return 0


def version(fabric: TestFabric, arguments: Sequence[str], out: TextIO) -> int:
    out.write(fabric.config.cli_profile.version_text)
    return 0


COMMANDS: dict[str, Callable[[TestFabric, Sequence[str], TextIO], int]] = {
    "connect": connect,
    "disconnect": disconnect,
    "list-subsys": list_subsystems,
    "list": list_devices,
    "ns-rescan": ns_rescan,
    "gen-hostnqn": gen_hostnqn,
    "show-hostnqn": show_hostnqn,
    "version": version,
    BACKGROUND_SCAN_COMMAND: background_scan,
}


def _split_fabric_dir(argv: Sequence[str]) -> tuple[Path | None, list[str]]:
    arguments = list(argv)
    if arguments and arguments[0] == "--fabric-dir" and len(arguments) > 1:
        return Path(arguments[1]), arguments[2:]
    if arguments and arguments[0].startswith("--fabric-dir="):
        return Path(arguments[0].partition("=")[2]), arguments[1:]
    environment = os.environ.get(FABRIC_DIR_ENV)
    return (Path(environment) if environment else None), arguments


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    fabric_dir, arguments = _split_fabric_dir(sys.argv[1:] if argv is None else argv)
    if fabric_dir is None:
        err.write(f"usage: rds-test-nvme --fabric-dir DIR <nvme arguments> (or set {FABRIC_DIR_ENV})\n")
        return 1
    if not arguments or arguments[0] not in COMMANDS:
        given = arguments[0] if arguments else ""
        err.write(f"ERROR: Invalid sub-command '{given}'\n")
        return 1
    try:
        fabric = TestFabric.open(fabric_dir)
        return COMMANDS[arguments[0]](fabric, arguments[1:], out)
    except UsageError as error:
        err.write(f"{error}\n")
        return 1
    except FabricError as error:
        err.write("\n".join(error.lines) + "\n")
        return 1
    except FileNotFoundError as error:
        err.write(f"{error}\n")
        return 1
