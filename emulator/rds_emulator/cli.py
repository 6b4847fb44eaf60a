"""`rds-emulator serve` runs the emulator; `rds-emulator fault` changes a running one's faults."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from .config import EmulatorConfig
from .faults import Fault, parse_fault_spec, write_faults_file
from .server import EmulatorServer, format_address
from .units import parse_size
from .version import DEFAULT_VERSION


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    options = parser.parse_args(argv)
    if options.command == "serve":
        return _serve(parser, options)
    return _fault(parser, options)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rds-emulator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the SSH server until interrupted")
    serve.add_argument("--listen", default="127.0.0.1:2222", metavar="HOST:PORT", help="port 0 picks one")
    serve.add_argument("--state-dir", type=Path, required=True, metavar="DIR")
    serve.add_argument("--authorized-keys", type=Path, required=True, metavar="FILE")
    serve.add_argument("--host-key", type=Path, metavar="FILE", help="default DIR/ssh_host_ed25519_key")
    serve.add_argument("--user", default="admin", metavar="NAME")
    serve.add_argument("--password", metavar="PW", help="only for a user without authorized keys")
    serve.add_argument("--version", default=DEFAULT_VERSION, metavar="VERSION", help="7.10 to 7.99")
    serve.add_argument(
        "--field-name",
        action="append",
        default=[],
        metavar="FIELD=NAME",
        help="rename a /disk field, repeatable",
    )
    serve.add_argument("--width", type=int, default=80, metavar="COLUMNS")
    serve.add_argument("--pool-name", default="storage-pool", metavar="NAME")
    serve.add_argument("--pool-size", default="1T", metavar="SIZE", help="bytes or K/M/G/T")
    serve.add_argument("--max-sessions", type=int, default=8, metavar="N", help="per connection")
    serve.add_argument("--identity", default="rds-emulator", metavar="NAME")
    serve.add_argument(
        "--fault",
        action="extend",
        nargs="+",
        default=[],
        metavar="SPEC",
        help="kind[:seconds][@count][~match]",
    )

    fault = commands.add_parser("fault", help="replace the faults of a running emulator")
    fault.add_argument("--state-dir", type=Path, required=True, metavar="DIR")
    fault.add_argument("--clear", action="store_true", help="remove every fault")
    fault.add_argument("specs", nargs="*", metavar="SPEC", help="kind[:seconds][@count][~match]")
    return parser


def _serve(parser: argparse.ArgumentParser, options: argparse.Namespace) -> int:
    try:
        config = _config(options)
    except ValueError as error:
        parser.error(str(error))
    server = EmulatorServer(config)
    server.start()
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    print(f"host key: {server.host_public_key_line}", flush=True)
    print(f"listening on {format_address(*server.address)}", flush=True)
    try:
        while not stop.wait(1.0):
            continue
    finally:
        server.stop()
    return 0


def _config(options: argparse.Namespace) -> EmulatorConfig:
    host, separator, port = options.listen.rpartition(":")
    if not separator or not port.isdigit():
        raise ValueError(f"--listen {options.listen!r}: expected HOST:PORT")
    try:
        pool_size = parse_size(options.pool_size)
    except ValueError:
        raise ValueError(f"--pool-size {options.pool_size!r}: expected bytes or a K/M/G/T size") from None
    return EmulatorConfig(
        state_dir=options.state_dir,
        authorized_keys=options.authorized_keys,
        listen_host=host.strip("[]"),
        listen_port=int(port),
        host_key=options.host_key,
        user=options.user,
        password=options.password,
        version=options.version,
        field_names=_renames(options.field_name),
        width=options.width,
        pool_name=options.pool_name,
        pool_size=pool_size,
        max_sessions=options.max_sessions,
        identity=options.identity,
        faults=_faults(options.fault),
    )


def _renames(specs: Sequence[str]) -> dict[str, str]:
    renames: dict[str, str] = {}
    for spec in specs:
        name, equals, new = spec.partition("=")
        if not equals or not name or not new:
            raise ValueError(f"--field-name {spec!r}: expected FIELD=NAME")
        renames[name] = new
    return renames


def _fault(parser: argparse.ArgumentParser, options: argparse.Namespace) -> int:
    if options.clear == bool(options.specs):
        parser.error("give either fault specs or --clear")
    try:
        faults = _faults(options.specs)
    except ValueError as error:
        parser.error(str(error))
    write_faults_file(options.state_dir / "faults.json", faults)
    return 0


def _faults(specs: Sequence[str]) -> tuple[Fault, ...]:
    return tuple(parse_fault_spec(spec) for spec in specs)


if __name__ == "__main__":
    sys.exit(main())
