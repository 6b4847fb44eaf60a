"""NvmeHost: connect, wait, rescan, disconnect and orphans against sysfs trees and recorded nvme-cli 2.3 output.

The fake runner plays nvme-cli: it returns what the real binary printed (NVME_HOST.md §2.4-2.6) and
changes the sysfs tree the way the kernel would, so the library's own sysfs checks run for real.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, List, Optional, Sequence, Type

import pytest
from ansible_collections.srvlab.rds.plugins.module_utils.node_commands import (
    CommandNotFound,
    CommandResult,
    CommandTimeout,
)
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_cli import ConnectTarget
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_errors import (
    ConnectError,
    DeviceNotReadyError,
    FabricsUnavailableError,
    InvalidConnectOptionsError,
    InvalidPrefixError,
    NotConnectedError,
    NvmeAuthenticationError,
    NvmeCliError,
    NvmeCliNotFound,
    NvmeCliTimeout,
    SubsystemNotFoundError,
    TargetRefusedError,
    TargetUnreachableError,
    UnmanagedNqnError,
)
from ansible_collections.srvlab.rds.plugins.module_utils.nvme_host import NvmeHost

from tests.unit.module_utils.test_nvme_sysfs import (
    HOSTNQN,
    PREFIX,
    SYSTEM_NQN,
    TARGET,
    VOLUME_NQN,
    FakeSysfs,
)

SECRET = "DHHC-1:00:maEDoOK4QP4p/Uj0I44vTRuHOSKSHFriz0F25SyLGfZIIHxf:"
CTRL_SECRET = "DHHC-1:01:Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyMTIzNA==:"
# What nvme-cli 2.3 / libnvme 1.3 print on stderr (exit 1), from the §2.4 failure table.
ALREADY_CONNECTED = "already connected\n"
KERNEL_EALREADY = (
    "Failed to write to /dev/nvme-fabrics: Operation already in progress\n"
    "could not add new controller: already connected\n"
)
REFUSED = "Failed to write to /dev/nvme-fabrics: Connection refused\ncould not add new controller: connection refused\n"
TIMED_OUT = (
    "Failed to write to /dev/nvme-fabrics: Connection timed out\n"
    "could not add new controller: failed to write to nvme-fabrics device\n"
)
NO_ROUTE = (
    "Failed to write to /dev/nvme-fabrics: No route to host\n"
    "could not add new controller: failed to write to nvme-fabrics device\n"
)
NOT_EXPORTED = (
    "Failed to write to /dev/nvme-fabrics: Input/output error\n"
    "could not add new controller: failed to write to nvme-fabrics device\n"
)
KEY_REJECTED = (
    "Failed to write to /dev/nvme-fabrics: Key was rejected by service\n"
    "could not add new controller: failed to write to nvme-fabrics device\n"
)
INVALID = (
    "Failed to write to /dev/nvme-fabrics: Invalid argument\n"
    "could not add new controller: invalid arguments/configuration\n"
)
NO_MODULES = "Failed to scan topology: No such file or directory\n"
NO_FABRICS = "Failed to open /dev/nvme-fabrics: No such file or directory\nfailed to open nvme-fabrics device\n"
OLD_CLI_WRITE_FAILURE = "no controller found: failed to write to nvme-fabrics device\n"

Effect = Callable[[Sequence[str]], CommandResult]


class FakeNvme:
    """A CommandRunner that answers each nvme subcommand with a scripted effect and records every argv."""

    def __init__(self) -> None:
        self.calls: List[List[str]] = []
        self.effects: dict[str, Effect] = {}

    def on(self, subcommand: str, effect: Effect) -> None:
        self.effects[subcommand] = effect

    def run(self, argv: Sequence[str], timeout: float = 30.0, stdin: Optional[str] = None) -> CommandResult:
        self.calls.append(list(argv))
        if argv[1] not in self.effects:
            raise AssertionError("unexpected command %s" % " ".join(argv))
        return self.effects[argv[1]](argv)


def result(argv: Sequence[str], returncode: int = 0, stdout: str = "", stderr: str = "") -> CommandResult:
    return CommandResult(argv=list(argv), returncode=returncode, stdout=stdout, stderr=stderr)


class FakeClock:
    """Monotonic time that only moves when the code under test sleeps; ``on_sleep`` runs at each sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0
        self.on_sleep: Callable[[int], None] = lambda count: None

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds
        self.sleeps += 1
        self.on_sleep(self.sleeps)


@pytest.fixture
def sysfs(tmp_path: Path) -> FakeSysfs:
    return FakeSysfs(tmp_path)


@pytest.fixture
def nvme() -> FakeNvme:
    return FakeNvme()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def host(sysfs: FakeSysfs, nvme: FakeNvme, clock: FakeClock) -> NvmeHost:
    return NvmeHost(sysfs.config, PREFIX, runner=nvme, sleep=clock.sleep, clock=clock.time)


def target(**changes: object) -> ConnectTarget:
    values: dict[str, object] = {"nqn": VOLUME_NQN, "traddr": TARGET, "hostnqn": HOSTNQN}
    values.update(changes)
    return ConnectTarget(**values)  # type: ignore[arg-type]


def connects_like_the_kernel(sysfs: FakeSysfs, output: str = "", returncode: int = 0) -> Effect:
    """nvme connect that creates nvme0 in nvme-subsys0 with its disk, as the kernel does on success."""

    def effect(argv: Sequence[str]) -> CommandResult:
        sysfs.subsystem(0, VOLUME_NQN)
        sysfs.disk(sysfs.controller(0, 0), "nvme0n1", 1, "259:0")
        return result(argv, returncode, stderr=output)

    return effect


def disconnects_like_the_kernel(sysfs: FakeSysfs) -> Effect:
    def effect(argv: Sequence[str]) -> CommandResult:
        nqn = argv[2].split("=", 1)[1]
        removed = 0
        for link in sorted((sysfs.sys / "class/nvme-subsystem").iterdir()):
            if (link / "subsysnqn").read_text().strip() != nqn:
                continue
            for controller in sorted(link.glob("nvme[0-9]*")):
                if controller.name.isalnum() and "n" not in controller.name[4:]:
                    controller.unlink()
                    (sysfs.sys / "class/nvme" / controller.name).unlink()
                    removed += 1
        return result(argv, stdout="NQN:%s disconnected %d controller(s)\n" % (nqn, removed))

    return effect


def test_connect_runs_nvme_cli_with_the_product_defaults(host: NvmeHost, sysfs: FakeSysfs, nvme: FakeNvme) -> None:
    nvme.on("connect", connects_like_the_kernel(sysfs))
    outcome = host.connect(target(keep_alive_tmo=10))
    assert outcome.created
    assert outcome.subsystem.name == "nvme-subsys0"
    assert [controller.name for controller in outcome.subsystem.controllers] == ["nvme0"]
    assert nvme.calls == [
        [
            "nvme",
            "connect",
            "--transport=tcp",
            "--traddr=10.0.0.5",
            "--trsvcid=4420",
            "--nqn=" + VOLUME_NQN,
            "--ctrl-loss-tmo=-1",
            "--reconnect-delay=5",
            "--hostnqn=" + HOSTNQN,
            "--keep-alive-tmo=10",
        ]
    ]


def test_an_active_path_is_success_without_running_nvme_cli(host: NvmeHost, sysfs: FakeSysfs, nvme: FakeNvme) -> None:
    sysfs.subsystem(0, VOLUME_NQN)
    sysfs.controller(0, 0, state="connecting")  # reconnecting after a path loss still counts (§6.2)
    outcome = host.connect(target())
    assert not outcome.created
    assert nvme.calls == []


def test_a_path_to_another_address_does_not_count(host: NvmeHost, sysfs: FakeSysfs, nvme: FakeNvme) -> None:
    sysfs.subsystem(0, VOLUME_NQN)
    sysfs.controller(0, 0, traddr="10.9.9.9")

    def adds_a_path(argv: Sequence[str]) -> CommandResult:
        sysfs.controller(1, 0)
        return result(argv)

    nvme.on("connect", adds_a_path)
    outcome = host.connect(target())
    assert outcome.created
    assert [controller.name for controller in outcome.subsystem.controllers] == ["nvme0", "nvme1"]


@pytest.mark.parametrize("output", [ALREADY_CONNECTED, KERNEL_EALREADY])
def test_already_connected_from_nvme_cli_is_success_once_sysfs_confirms(
    host: NvmeHost, sysfs: FakeSysfs, nvme: FakeNvme, output: str
) -> None:
    nvme.on("connect", connects_like_the_kernel(sysfs, output, returncode=1))  # a concurrent connect won
    outcome = host.connect(target())
    assert not outcome.created
    assert outcome.subsystem.controllers[0].name == "nvme0"


def test_already_connected_without_an_active_controller_is_an_error(
    host: NvmeHost, sysfs: FakeSysfs, nvme: FakeNvme
) -> None:
    sysfs.subsystem(0, VOLUME_NQN)
    sysfs.controller(0, 0, state="deleting")  # nvme-cli 2.3 ignores the state in its own check
    nvme.on("connect", lambda argv: result(argv, 1, stderr=ALREADY_CONNECTED))
    with pytest.raises(ConnectError, match=r"reported the path as already connected.*retry once it is gone"):
        host.connect(target())


@pytest.mark.parametrize(
    ("output", "error_class", "message"),
    [
        (REFUSED, TargetRefusedError, "10.0.0.5:4420 refused the TCP connection"),
        (TIMED_OUT, TargetUnreachableError, "10.0.0.5:4420 is unreachable"),
        (NO_ROUTE, TargetUnreachableError, "No route to host"),
        (NOT_EXPORTED, SubsystemNotFoundError, "not exported there or host NQN %s is not allowed" % HOSTNQN),
        (KEY_REJECTED, NvmeAuthenticationError, "DH-HMAC-CHAP authentication failed"),
        (INVALID, InvalidConnectOptionsError, "the kernel refused the options"),
        (NO_MODULES, FabricsUnavailableError, "modprobe nvme-tcp"),
        (NO_FABRICS, FabricsUnavailableError, "kernel modules are not loaded"),
        (OLD_CLI_WRITE_FAILURE, ConnectError, "no controller found: failed to write to nvme-fabrics device"),
    ],
)
def test_connect_failures_map_to_error_types_that_never_show_the_secret(
    host: NvmeHost, nvme: FakeNvme, output: str, error_class: Type[Exception], message: str
) -> None:
    nvme.on("connect", lambda argv: result(argv, 1, stderr=output))
    with pytest.raises(error_class, match=message) as raised:
        host.connect(target(dhchap_secret=SECRET, dhchap_ctrl_secret=CTRL_SECRET))
    assert raised.type is error_class  # exactly this class, not a subclass
    assert "--dhchap-secret=" + SECRET in nvme.calls[0]
    assert "--dhchap-ctrl-secret=" + CTRL_SECRET in nvme.calls[0]
    error = raised.value
    assert isinstance(error, NvmeCliError)
    for text in (str(error), error.command, error.output, repr(target(dhchap_secret=SECRET))):
        assert SECRET not in text and CTRL_SECRET not in text
    assert "--dhchap-secret=********" in error.command
    assert VOLUME_NQN in str(error)


def test_an_echoed_secret_is_redacted_from_nvme_cli_output(host: NvmeHost, nvme: FakeNvme) -> None:
    echo = "Failed to write to /dev/nvme-fabrics: Invalid argument\nInvalid DH-CHAP secret %s\n" % SECRET
    nvme.on("connect", lambda argv: result(argv, 1, stderr=echo))
    with pytest.raises(InvalidConnectOptionsError) as raised:
        host.connect(target(dhchap_secret=SECRET))
    assert SECRET not in str(raised.value) and "********" in str(raised.value)


def test_a_hung_connect_is_a_timeout_without_the_secret(host: NvmeHost, nvme: FakeNvme) -> None:
    def hangs(argv: Sequence[str]) -> CommandResult:
        raise CommandTimeout(argv, 30.0)

    nvme.on("connect", hangs)
    with pytest.raises(NvmeCliTimeout, match="did not finish within 30 s") as raised:
        host.connect(target(dhchap_secret=SECRET))
    assert SECRET not in str(raised.value)
    assert raised.value.transient


def test_a_missing_nvme_binary_says_what_to_install(host: NvmeHost, nvme: FakeNvme) -> None:
    def missing(argv: Sequence[str]) -> CommandResult:
        raise CommandNotFound(argv[0])

    nvme.on("connect", missing)
    with pytest.raises(NvmeCliNotFound, match="install nvme-cli"):
        host.connect(target())


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"nqn": "pvc-1"}, "the NQN is not valid: it must start with 'nqn.'"),
        ({"trsvcid": 70000}, "the port 70000 is out of range"),
        ({"reconnect_delay": 0}, "reconnect_delay must be at least 1 s"),
        ({"ctrl_loss_tmo": -2}, "ctrl_loss_tmo must be -1"),
        ({"keep_alive_tmo": 0}, "keep_alive_tmo must be at least 1 s"),
        ({"dhchap_secret": "hunter2"}, "dhchap_secret is not a DH-HMAC-CHAP key"),
    ],
)
def test_invalid_options_are_refused_before_running_anything(
    host: NvmeHost, nvme: FakeNvme, changes: dict[str, object], problem: str
) -> None:
    with pytest.raises(InvalidConnectOptionsError, match=problem) as raised:
        host.connect(target(**changes))
    assert nvme.calls == []
    assert "hunter2" not in str(raised.value)


def test_disconnect_never_touches_an_nqn_outside_the_managed_prefix(
    host: NvmeHost, sysfs: FakeSysfs, nvme: FakeNvme
) -> None:
    sysfs.subsystem(0, SYSTEM_NQN)
    sysfs.disk(sysfs.controller(0, 0), "nvme0n1", 1, "259:0")
    nvme.on("disconnect", disconnects_like_the_kernel(sysfs))
    with pytest.raises(UnmanagedNqnError) as raised:
        host.disconnect(SYSTEM_NQN)
    assert SYSTEM_NQN in str(raised.value) and PREFIX in str(raised.value)
    assert nvme.calls == []
    assert host.subsystem(SYSTEM_NQN) is not None
    assert host.disconnect(SYSTEM_NQN, force=True) == 1
    assert nvme.calls == [["nvme", "disconnect", "--nqn=" + SYSTEM_NQN]]


def test_disconnect_removes_every_controller_and_is_idempotent(
    host: NvmeHost, sysfs: FakeSysfs, nvme: FakeNvme
) -> None:
    sysfs.subsystem(1, VOLUME_NQN)
    sysfs.controller(1, 1)
    sysfs.controller(2, 1, traddr="10.0.1.5")
    nvme.on("disconnect", disconnects_like_the_kernel(sysfs))
    assert host.disconnect(VOLUME_NQN) == 2
    assert host.disconnect(VOLUME_NQN) == 0
    assert len(nvme.calls) == 1
    subsystem = host.subsystem(VOLUME_NQN)
    assert subsystem is not None and subsystem.controllers == ()


def test_a_controller_that_stays_after_disconnect_is_reported(
    host: NvmeHost, sysfs: FakeSysfs, nvme: FakeNvme, clock: FakeClock
) -> None:
    sysfs.subsystem(0, VOLUME_NQN)
    sysfs.controller(7, 0, state="connecting")
    nvme.on("disconnect", lambda argv: result(argv, stdout="NQN:%s disconnected 0 controller(s)\n" % VOLUME_NQN))
    with pytest.raises(NvmeCliError, match=r"controllers nvme7 connecting .* remain.*delete_controller"):
        host.disconnect(VOLUME_NQN)
    assert clock.now >= 5.0


def test_rescan_asks_each_active_controller(host: NvmeHost, sysfs: FakeSysfs, nvme: FakeNvme) -> None:
    sysfs.subsystem(1, VOLUME_NQN)
    sysfs.controller(1, 1)
    sysfs.controller(2, 1, traddr="10.0.1.5", state="resetting")
    sysfs.controller(3, 1, traddr="10.0.2.5", state="deleting")
    nvme.on("ns-rescan", result)
    assert host.rescan(VOLUME_NQN) == ["nvme1", "nvme2"]
    assert nvme.calls == [
        ["nvme", "ns-rescan", str(sysfs.dev / "nvme1")],
        ["nvme", "ns-rescan", str(sysfs.dev / "nvme2")],
    ]
    with pytest.raises(NotConnectedError, match="Cannot rescan %s" % SYSTEM_NQN):
        host.rescan(SYSTEM_NQN)


def test_a_failed_rescan_names_the_controller(host: NvmeHost, sysfs: FakeSysfs, nvme: FakeNvme) -> None:
    sysfs.subsystem(1, VOLUME_NQN)
    sysfs.controller(1, 1)
    nvme.on("ns-rescan", lambda argv: result(argv, 1, stderr="Namespace Rescan"))
    with pytest.raises(NvmeCliError, match="namespaces of %s on controller nvme1" % VOLUME_NQN):
        host.rescan(VOLUME_NQN)


def test_wait_polls_until_the_disk_and_its_node_appear(host: NvmeHost, sysfs: FakeSysfs, clock: FakeClock) -> None:
    sysfs.subsystem(0, VOLUME_NQN)
    controller = sysfs.controller(0, 0)

    def appear(count: int) -> None:
        if count == 3:
            sysfs.disk(controller, "nvme0n1", 1, "259:0")
        if count == 5:
            sysfs.node("nvme0n1", "259:0")

    clock.on_sleep = appear
    device = host.wait_for_device(VOLUME_NQN, timeout=10)
    assert device.path == str(sysfs.dev / "nvme0n1")
    assert clock.sleeps == 5


def test_wait_gives_up_at_the_deadline_saying_what_it_saw(host: NvmeHost, sysfs: FakeSysfs, clock: FakeClock) -> None:
    sysfs.subsystem(0, VOLUME_NQN)
    sysfs.controller(4, 0, state="connecting")
    with pytest.raises(DeviceNotReadyError) as raised:
        host.wait_for_device(VOLUME_NQN, timeout=2)
    assert str(raised.value) == (
        "The block device of %s namespace 1 did not appear within 2 s: controllers nvme4 connecting "
        "(tcp 10.0.0.5:4420); no namespace disk yet." % VOLUME_NQN
    )
    assert clock.now == pytest.approx(2.0)
    assert raised.value.transient


def test_orphans_come_only_from_the_managed_prefix(host: NvmeHost, sysfs: FakeSysfs) -> None:
    sysfs.subsystem(0, SYSTEM_NQN)
    sysfs.controller(0, 0)
    sysfs.subsystem(1, VOLUME_NQN)
    sysfs.controller(1, 1)
    assert [orphan.nqn for orphan in host.orphans()] == [VOLUME_NQN]


@pytest.mark.parametrize("prefix", ["pvc-", "nqn.2000-02.com.mikrotik", "nqn.x:" + "a" * 220, "nqn.x: pvc-"])
def test_the_host_refuses_an_invalid_managed_prefix(sysfs: FakeSysfs, prefix: str) -> None:
    with pytest.raises(InvalidPrefixError, match="managed NQN prefix"):
        NvmeHost(sysfs.config, prefix)
