"""No input produces a traceback (issue 12, item 1): generated values for every option of every module.

Each module's ``main()`` runs in process with ``patch_module_args``. One or two options of an
otherwise valid task get a generated value (wrong types, huge, negative, empty, unicode, control
characters, unit strings); the rest stay valid, so values that pass validation reach the real
thing: the emulator over SSH for the RDS modules, the Kubernetes API fake for ``orphans``, a sysfs
tree and a stand-in ``nvme`` under the test's directory for the node modules. A case passes when
the module exits through ``exit_json`` or ``fail_json`` with a message that is a sentence and no
traceback; any exception that escapes ``main()`` fails the test with the input that caused it.

Nothing can reach the real host: the node modules' paths are confined to the test's directory,
``nvme_binary`` never names an executable that exists, and no port other than the emulator's
that listens on this machine is tried.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import math
import shutil
import stat
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from ansible.module_utils.testing import patch_module_args  # type: ignore[import-untyped]
from ansible_collections.srvlab.rds.plugins.module_utils import rds_module
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_module import TARGET_ARGUMENT_SPEC
from ansible_collections.srvlab.rds.plugins.module_utils.rds_client import RdsClient
from ansible_collections.srvlab.rds.plugins.module_utils.rds_disk import DiskSpec
from ansible_collections.srvlab.rds.plugins.module_utils.ssh_transport import SshSettings, SshTransport
from ansible_collections.srvlab.rds.plugins.modules import (
    directory,
    disk,
    disk_info,
    host_key_info,
    nqn_filter,
    nvme_connection,
    nvme_connection_info,
    nvme_export,
    orphans,
    routeros_user,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rds_emulator.process import EmulatorProcess

from tests.integration.conftest import BASE, GIB
from tests.integration.kube_api_fake import START_TIMEOUT
from tests.integration.playbooks import REPO
from tests.unit.plugins.module_utils.test_nqn_filter import CSI_NQN, SYSTEM_NQN, build_sysfs

CASES_PER_MODULE = 2000
VOLUME = "pvc-property"
MODULES: dict[str, Any] = {
    module.__name__.rsplit(".", 1)[-1]: module
    for module in (
        directory,
        disk,
        disk_info,
        host_key_info,
        nqn_filter,
        nvme_connection,
        nvme_connection_info,
        nvme_export,
        orphans,
        routeros_user,
    )
}
# Options whose value names a file the module writes: generated values stay under the test's directory.
WRITTEN_PATHS = {"nqn_filter": ("config_file", "hostnqn_file", "hostid_file")}
# Options naming a program the module runs: generated values never name one that exists.
PROGRAMS = {"nvme_connection": ("nvme_binary",)}
PORTS = {"host_key_info": ("port",), "nvme_connection": ("port",)}
TRACEBACK_MARKS = ("Traceback (most recent call last)", "MODULE FAILURE")

# Strings chosen for the parsers behind the options: sizes, numbers, paths, NQNs, booleans.
PROBES = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\n",
    "\t\r",
    "\x1b[31m",
    "\u202e",
    "\ufeff",
    "\U0001f4a5",
    "-5",
    "-1",
    "0",
    "1",
    "99999999999999999",
    "99999999999999999999999999999999",
    "1e400",
    "-1e400",
    "nan",
    "inf",
    "1.5",
    "0x10",
    "1_000",
    "10GB",
    "10 GB",
    "10gb",
    "10Gi",
    "0.5K",
    "1.5G",
    "1610612736.0",
    "1G",
    "-1G",
    "yes",
    "off",
    "None",
    "null",
    "/",
    ".",
    "..",
    "/storage-pool",
    "/storage-pool/metal-csi/x.img",
    "/etc/x.img",
    "pvc-a/b",
    "pvc-",
    "nqn.",
    "nqn.2000-02.com.mikrotik:",
    "nqn.2000-02.com.mikrotik:pvc-",
    "nqn.2000-02.com.mikrotik:pvc-x y",
    "nqn." + "a" * 300,
    "ssh-ed25519 AAAA",
    "ssh-ed25519",
    "ssh-rsa !!!",
    "DHHC-1:00:x:",
    "present",
    "absent",
    "always",
    "on_create",
    "reconnected",
    "'; /system reboot",
    '"',
    "\\",
    "$(reboot)",
    "{{ 1 }}",
    "a" * 5000,
)
BIG_NUMBERS = (2**31, 2**32, 2**63 - 1, 2**63, 2**64, 10**30, -(2**63), 99999999999999999, -99999999999999999)
ODD_FLOATS = (1.5, 0.5, -0.0, -5.5, 1e300, -1e300, 1610612736.0, 1e-300, math.inf, -math.inf, math.nan)


def scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-10, max_value=70000),
        st.sampled_from(BIG_NUMBERS),
        st.integers(),
        st.sampled_from(ODD_FLOATS),
        st.floats(),
        st.sampled_from(PROBES),
        st.text(max_size=40),
        st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=20),
    )


def hostile_values() -> st.SearchStrategy[Any]:
    """Any JSON value a task can carry, weighted towards the edges."""
    items = scalars()
    return st.one_of(
        items,
        items,
        items,
        st.lists(items, max_size=4),
        st.dictionaries(st.text(max_size=8), items, max_size=3),
        st.lists(st.dictionaries(st.sampled_from(("slot", "size", "state", "x", "")), items, max_size=3), max_size=3),
    )


# Built once: building strategies inside each draw costs more than running many of the modules.
HOSTILE = hostile_values()


def sanitized(value: Any, root: Path) -> Any:
    """``value`` with every string turned into a path under ``root``: nothing can write outside it.

    The module expands ``~`` and ``$VAR`` and the strings of non-string values land in the working
    directory (the test's directory), so those characters and ``..`` are replaced; the rest of the
    string (control characters, unicode, NUL) stays as generated.
    """
    if isinstance(value, str):
        tame = value.replace("$", "_").replace("~", "_").replace("..", "__")
        return str(root / "confined") + "/" + tame.lstrip("/")
    if isinstance(value, list):
        return [sanitized(item, root) for item in value]
    if isinstance(value, dict):
        return {str(sanitized(key, root)): sanitized(item, root) for key, item in value.items()}
    if value is None:
        return str(root / "confined" / "none")
    return value


def no_program(value: Any) -> Any:
    """``value`` unless, as a string, it names an existing executable (this host has a real ``nvme``)."""
    text = value if isinstance(value, str) else json.dumps(value)
    if shutil.which(text) is not None or shutil.which(str(value)) is not None or "/" in text:
        return "missing-program-" + text.replace("/", "_")
    return value


def as_number(value: Any) -> float | None:
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def listening_ports() -> set[int]:
    """TCP ports that listen on this machine (from /proc/net/tcp*)."""
    ports = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(name) as table:
            for line in table.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":  # LISTEN
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@dataclass(frozen=True)
class Outcome:
    """How one run of a module ended: its result, or the traceback of what escaped ``main()``."""

    result: Mapping[str, Any] | None
    problem: str | None

    @property
    def clean(self) -> bool:
        return self.problem is None


def run_main(main: Callable[[], None], args: Mapping[str, Any]) -> Outcome:
    """Run a module in process; return its JSON result or what went wrong."""
    out = io.StringIO()
    try:
        with patch_module_args(dict(args)), contextlib.redirect_stdout(out):
            main()
    except SystemExit:
        pass
    except BaseException:  # the property under test: nothing but SystemExit may leave main()
        return Outcome(None, traceback.format_exc())
    text = out.getvalue().strip()
    try:
        result = json.loads(text.splitlines()[-1]) if text else None
    except ValueError:
        return Outcome(None, "output is not JSON: %r" % text[-2000:])
    return Outcome(result, judge(result))


def judge(result: Any) -> str | None:
    """Why a module's JSON result is not a clean success or a clean failure, or None."""
    if not isinstance(result, dict):
        return "no result printed"
    if not result.get("failed"):
        return None
    message = result.get("msg")
    if not isinstance(message, str) or len(message.strip()) < 10:
        return "failure without a sentence: %r" % (message,)
    if any(mark in message for mark in TRACEBACK_MARKS) or "exception" in result:
        return "failure with a traceback: %s" % message
    return None


@dataclass
class Target:
    """One module, its options with valid values, and how generated values are made safe for it."""

    name: str
    valid: dict[str, Any]
    root: Path
    listening: set[int] = field(default_factory=set)
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def options(self) -> list[str]:
        module = MODULES[self.name]
        # nvme_connection_info (the shared target options) and host_key_info build their spec inside main().
        built_in_main: dict[str, Mapping[str, Any]] = {
            "nvme_connection_info": TARGET_ARGUMENT_SPEC,
            "host_key_info": dict.fromkeys(HOST_KEY_INFO_OPTIONS),
        }
        spec: Mapping[str, Any] = getattr(module, "ARGUMENT_SPEC", None) or built_in_main[self.name]
        return sorted(spec)

    @functools.cached_property
    def chosen_options(self) -> st.SearchStrategy[list[str]]:
        return st.lists(st.sampled_from(self.options), min_size=1, max_size=2, unique=True)

    @functools.cached_property
    def entry_changes(self) -> dict[str, st.SearchStrategy[dict[str, Any]]]:
        """For list-of-dict options: generated values for one or two fields of a valid entry."""
        return {
            option: st.dictionaries(st.sampled_from([*sorted(entry), "state", "x"]), HOSTILE, max_size=2)
            for option, entry in self.entries.items()
        }

    def safe(self, option: str, value: Any) -> Any:
        if option in WRITTEN_PATHS.get(self.name, ()):
            return sanitized(value, self.root)
        if option in PROGRAMS.get(self.name, ()):
            return no_program(value)
        if option in PORTS.get(self.name, ()) or (option == "port" and "host" in self.valid):
            number = as_number(value)
            if number is not None and int(number) in self.listening:
                return self.valid.get(option)
        return value


HOST_KEY_INFO_OPTIONS = ("host", "port", "timeout", "expected")


@st.composite
def tasks(draw: st.DrawFn, target: Target) -> dict[str, Any]:
    """A valid task with one or two options replaced by generated values (or left out), in check mode or not."""
    args = dict(target.valid, _ansible_check_mode=draw(st.booleans()))
    for option in draw(target.chosen_options):
        entry = target.entries.get(option)
        if entry is not None and draw(st.booleans()):
            value: Any = [dict(entry, **draw(target.entry_changes[option]))]
        else:
            value = draw(HOSTILE)
        args[option] = target.safe(option, value)
        if args[option] is None:
            args.pop(option)
    return args


def fake_nvme(path: Path) -> str:
    """An ``nvme`` that refuses everything the way nvme-cli does when the target is unreachable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "#!/bin/sh\necho 'Failed to write to /dev/nvme-fabrics: Connection refused' >&2\nexit 1\n", encoding="utf-8"
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.fixture
def kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The Kubernetes API fake in its own process (the second core), with one PersistentVolume of the driver.

    Its kubeconfig is also KUBECONFIG, so a task without one never reaches a real cluster.
    """
    path = tmp_path / "kubeconfig"
    command = [sys.executable, "-m", "tests.integration.kube_api_fake", "--kubeconfig", str(path)]
    with subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as server:
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not path.exists() and server.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert path.exists(), "the Kubernetes API fake did not start"
            monkeypatch.setenv("KUBECONFIG", str(path))
            monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
            yield str(path)
        finally:
            server.terminate()
            server.wait(timeout=START_TIMEOUT)


@pytest.fixture
def node_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A node's sysfs, /dev and /etc under the test's directory, which is also the working directory."""
    root = tmp_path / "node"
    build_sysfs(root / "sys", {"nvme0": SYSTEM_NQN, "nvme3": CSI_NQN})
    (root / "dev").mkdir()
    (root / "etc" / "nvme").mkdir(parents=True)
    (root / "etc" / "nvme" / "hostnqn").write_text("nqn.2014-08.org.nvmexpress:uuid:property\n")
    monkeypatch.chdir(root)
    return root


def connection(emulator: EmulatorProcess, client_key: tuple[Path, Path]) -> dict[str, Any]:
    return {
        "host": emulator.host,
        "port": emulator.port,
        "username": "admin",
        "private_key_file": str(client_key[0]),
        "host_key": emulator.host_key_line,
        "timeout": 5,
    }


def node_options(root: Path) -> dict[str, Any]:
    return {
        "volume_id": VOLUME,
        "sysfs_root": str(root / "sys"),
        "dev_root": str(root / "dev"),
        "config_file": str(root / "etc" / "srvlab-rds" / "node.yaml"),
    }


def rds_target(name: str, rds_options: dict[str, Any], own: dict[str, Any], root: Path) -> Target:
    return Target(name, dict(rds_options, **own), root, listening_ports())


class KeptTransport:
    """A transport the module may close: it stays open for the next case with the same settings."""

    def __init__(self, transport: SshTransport) -> None:
        self._transport = transport

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def close(self) -> None:
        """The case is over; the connection is kept for the next one."""


def no_wait(seconds: float) -> None:
    """Backoff without the wait: generated connection options are mostly unreachable, by design."""


@pytest.fixture
def shared_transports(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, SshTransport]]:
    """One SSH connection per distinct set of connection options, kept for every case that gives them,
    and retries without waiting (both through the seams SshTransport and RdsClient offer: ``sleep``).

    Opening a connection costs more than the rest of a case, and an unreachable RDS costs a second of
    backoff per case; everything else in the module runs as in production.
    """
    opened: dict[str, SshTransport] = {}

    def connect(ssh: SshSettings) -> KeptTransport:
        key = repr(ssh)
        if key not in opened:
            opened[key] = SshTransport(ssh, sleep=no_wait)
        return KeptTransport(opened[key])

    monkeypatch.setattr(rds_module, "SshTransport", connect)
    monkeypatch.setattr(rds_module, "RdsClient", functools.partial(RdsClient, sleep=no_wait))
    yield opened
    for transport in opened.values():
        transport.close()


@pytest.fixture
def emulator_process(tmp_path: Path, client_key: tuple[Path, Path]) -> Iterator[EmulatorProcess]:
    """The emulator in its own process, so it runs on the second core while the modules run on this one."""
    with EmulatorProcess(tmp_path / "state", client_key[1], pool_size="64G") as process:
        yield process


@pytest.fixture
def targets(
    request: pytest.FixtureRequest,
    emulator_process: EmulatorProcess,
    client_key: tuple[Path, Path],
    shared_transports: dict[str, SshTransport],
) -> Callable[[str], Target]:
    """Build the target of one module, starting only the services it needs."""
    rds_options = connection(emulator_process, client_key)
    setup = SshSettings(
        host=emulator_process.host,
        port=emulator_process.port,
        username="admin",
        private_key_file=str(client_key[0]),
        host_key=emulator_process.host_key_line,
    )
    client = RdsClient(SshTransport(setup))
    client.ensure_directory(BASE)
    client.add_disk(DiskSpec(VOLUME, "%s/%s.img" % (BASE, VOLUME), GIB))

    def make(name: str) -> Target:
        tmp_path: Path = request.getfixturevalue("tmp_path")
        if name in ("nqn_filter", "nvme_connection", "nvme_connection_info"):
            root = request.getfixturevalue("node_root")
            valid: dict[str, Any]
            if name == "nqn_filter":
                valid = {
                    "sysfs_root": str(root / "sys"),
                    "config_file": str(root / "etc" / "srvlab-rds" / "node.yaml"),
                    "hostnqn_file": str(root / "etc" / "nvme" / "hostnqn"),
                    "hostid_file": str(root / "etc" / "nvme" / "hostid"),
                    "host_identity": True,
                }
            elif name == "nvme_connection":
                valid = dict(
                    node_options(root),
                    address="127.0.0.1",
                    host_nqn_file=str(root / "etc" / "nvme" / "hostnqn"),
                    nvme_binary=fake_nvme(root / "bin" / "nvme"),
                    command_timeout=5.0,
                    device_timeout=0.0,
                )
            else:
                valid = node_options(root)
            return Target(name, valid, root)
        if name == "host_key_info":
            endpoint = {"host": emulator_process.host, "port": emulator_process.port, "timeout": 5}
            return Target(name, endpoint, tmp_path, listening_ports())
        own_options: dict[str, dict[str, Any]] = {
            "directory": {"paths": [BASE + "/property"]},
            "disk": {"slot": "pvc-property-new", "size": "1G"},
            "disk_info": {},
            "nvme_export": {"slot": VOLUME},
            "orphans": {"kubeconfig": request.getfixturevalue("kubeconfig") if name == "orphans" else None},
            "routeros_user": {"name": "property", "group": "property"},
        }
        target = rds_target(name, rds_options, own_options[name], tmp_path)
        if name == "disk":
            target.entries["disks"] = {"slot": "pvc-property-entry", "size": "1G"}
        return target

    return make


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_input_produces_a_traceback(name: str, targets: Callable[[str], Target]) -> None:
    target = targets(name)
    escaped: dict[tuple[str, str], str] = {}
    runs = []

    @settings(
        max_examples=CASES_PER_MODULE,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(tasks(target))
    def check(args: dict[str, Any]) -> None:
        outcome = run_main(MODULES[name].main, args)
        runs.append(outcome.result is not None and bool(outcome.result.get("failed")))
        if outcome.problem is None:
            return
        changed = {key: value for key, value in args.items() if target.valid.get(key, object()) != value}
        changed["_ansible_check_mode"] = args["_ansible_check_mode"]
        changed.update({key: None for key in target.valid if key not in args})
        kind = (
            ", ".join(sorted(key for key in changed if not key.startswith("_"))),
            outcome.problem.strip().splitlines()[-1][:120],
        )
        escaped.setdefault(kind, "%s with %r:\n%s" % (name, changed, outcome.problem))

    check()
    assert len(runs) >= CASES_PER_MODULE, "only %d cases ran" % len(runs)
    assert 0 < runs.count(True) < len(runs), "the cases should end both in success and in failure"
    assert not escaped, "%s: %d kinds of input escaped main():\n%s\n\n%s" % (
        name,
        len(escaped),
        "\n".join("  %s: %s" % kind for kind in sorted(escaped)),
        "\n\n".join(list(escaped.values())[:3]),
    )
